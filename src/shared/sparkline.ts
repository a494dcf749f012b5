/**
 * A one-line chart of a series for the terminal: eight block heights, scaled between the series' own
 * minimum and maximum. Used by `train` (per-epoch accuracy and loss) and `status --metrics` (CloudWatch series).
 */
const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const

/**
 * Draws `values` as blocks. Missing points (null, NaN) are a space, so gaps in a metric stay visible.
 * A flat series is drawn at mid height rather than as the lowest block, which would read as "zero".
 * With `width` set and more points than that, consecutive points are averaged into `width` buckets.
 */
export function sparkline(values: readonly (number | null)[], width?: number): string {
  const points = width !== undefined && values.length > width ? bucket(values, width) : values
  const finite = points.filter((v): v is number => v !== null && Number.isFinite(v))
  if (finite.length === 0) return ' '.repeat(points.length)
  const lo = Math.min(...finite)
  const hi = Math.max(...finite)
  return points
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' '
      if (hi === lo) return BLOCKS[3]
      const index = Math.round(((v - lo) / (hi - lo)) * (BLOCKS.length - 1))
      return BLOCKS[index]
    })
    .join('')
}

function bucket(values: readonly (number | null)[], width: number): (number | null)[] {
  const out: (number | null)[] = []
  for (let i = 0; i < width; i++) {
    const slice = values
      .slice(Math.floor((i * values.length) / width), Math.floor(((i + 1) * values.length) / width))
      .filter((v): v is number => v !== null && Number.isFinite(v))
    out.push(slice.length === 0 ? null : slice.reduce((a, b) => a + b, 0) / slice.length)
  }
  return out
}
