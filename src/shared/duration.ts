/**
 * Durations as people write them: `90s`, `30m`, `2h`, `1h30m`, `1d`, or a bare number of seconds.
 * Used for --timeout, --max-runtime and config values; validated before any AWS call.
 */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/**
 * The longest duration any mlops setting takes: a year. Every AWS limit it feeds is far below (a
 * training job runs at most 28 days), and past it numbers stop being exact (`99999999999999999999d`).
 * Settings with a tighter AWS limit check it where they are declared.
 */
export const MAX_DURATION_SECONDS = 366 * 86400

export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input <= 0) throw new Error(`expected a positive duration, got ${input}`)
    if (input > MAX_DURATION_SECONDS) throw new Error(`${input} seconds is longer than 366d, the longest mlops accepts`)
    return Math.round(input)
  }
  const text = input.trim().toLowerCase()
  if (/^\d+$/.test(text)) return parseDuration(Number(text))
  const re = /(\d+(?:\.\d+)?)([smhd])/gy
  let total = 0
  let consumed = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]]
    consumed = re.lastIndex
  }
  if (consumed !== text.length || text.length === 0 || total <= 0) {
    throw new Error(`"${input}" is not a duration: use forms like 90s, 30m, 2h or 1h30m`)
  }
  if (total > MAX_DURATION_SECONDS) throw new Error(`"${input}" is longer than 366d, the longest mlops accepts`)
  return Math.round(total)
}

/** 5400 -> "1h30m"; 45 -> "45s". For messages. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = s % 60
  if (h > 0) return `${h}h${m ? `${m}m` : ''}`
  if (m > 0) return `${m}m${rest ? `${rest}s` : ''}`
  return `${rest}s`
}
