/**
 * Where a command's wall time goes, for measuring (issue 30): `MLOPS_TIMINGS=1 mlops upload-data`
 * prints, on stderr after the command, one line per phase with the milliseconds since the process
 * started (`performance.now()`: Node's own start-up is in the first figure). Off by default, when a
 * mark costs one comparison; features mark phases and never print (bin.ts prints).
 */

const marks: { label: string; at: number }[] = []
let enabled = false

/** MLOPS_TIMINGS=1 (or on/true/yes). */
export function timingsRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  return /^(1|on|true|yes)$/i.test(env.MLOPS_TIMINGS ?? '')
}

export function enableTimings(): void {
  enabled = true
}

/** Records that `label` finished now. */
export function markPhase(label: string): void {
  if (enabled) marks.push({ label, at: performance.now() })
}

/** The phases as text: since start, and the time each took since the mark before it. */
export function formatTimings(): string {
  let last = 0
  const lines = marks.map(({ label, at }) => {
    const line = `  ${at.toFixed(0).padStart(6)} ms  +${(at - last).toFixed(0).padStart(5)} ms  ${label}`
    last = at
    return line
  })
  return `timings (MLOPS_TIMINGS):\n${lines.join('\n')}\n`
}
