/**
 * An HDR-style latency histogram: log-linear buckets over microseconds, so a percentile is known to
 * within a bounded relative error whatever the scale (1 ms and 10 s alike), in constant memory per
 * decade, without keeping every sample.
 *
 * Values below 2 x SUB_BUCKETS µs get one bucket per microsecond. Above that, each power of two
 * [2^e, 2^(e+1)) is cut into SUB_BUCKETS equal buckets, so a bucket is at most 1/SUB_BUCKETS of its
 * lower bound wide; reporting its midpoint is off by at most half of that: 1/256, under 0.4 %.
 * (The layout of Gil Tene's HdrHistogram with 2 significant digits; see hdrhistogram.org.)
 */

/** Linear sub-buckets per power of two. */
const SUB_BUCKETS = 128
const LINEAR_LIMIT = 2 * SUB_BUCKETS

/** The worst relative error of a reported percentile (half a bucket over its lower bound). */
export const MAX_RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS)

export class LatencyHistogram {
  private readonly counts = new Map<number, number>()
  private total = 0
  private sumUs = 0
  private minUs = Number.POSITIVE_INFINITY
  private maxUs = 0

  /** Records one latency in milliseconds (negative values count as 0). */
  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000))
    const index = bucketIndex(us)
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1)
    this.total += 1
    this.sumUs += us
    this.minUs = Math.min(this.minUs, us)
    this.maxUs = Math.max(this.maxUs, us)
  }

  get count(): number {
    return this.total
  }

  /** Exact mean in milliseconds; undefined when empty. */
  mean(): number | undefined {
    return this.total === 0 ? undefined : this.sumUs / this.total / 1000
  }

  max(): number | undefined {
    return this.total === 0 ? undefined : this.maxUs / 1000
  }

  /**
   * The latency (ms) at or below which `q` (0..1) of the values lie: the midpoint of the bucket that
   * holds the ceil(q x count)-th smallest value, clamped to the recorded min and max. Undefined when empty.
   */
  percentile(q: number): number | undefined {
    if (this.total === 0) return undefined
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.total))
    if (rank === this.total) return this.maxUs / 1000
    let seen = 0
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(index)!
      if (seen >= rank) {
        const { low, width } = bucketBounds(index)
        const mid = width === 1 ? low : low + width / 2
        return Math.min(this.maxUs, Math.max(this.minUs, mid)) / 1000
      }
    }
    return this.maxUs / 1000
  }
}

function bucketIndex(us: number): number {
  if (us < LINEAR_LIMIT) return us
  let exponent = Math.floor(Math.log2(us))
  // Math.log2 is a float: correct it at the edges of a power of two.
  if (2 ** exponent > us) exponent -= 1
  else if (2 ** (exponent + 1) <= us) exponent += 1
  const shift = exponent - Math.log2(SUB_BUCKETS)
  const mantissa = Math.floor(us / 2 ** shift) // in [SUB_BUCKETS, 2 x SUB_BUCKETS)
  return LINEAR_LIMIT + (exponent - Math.log2(LINEAR_LIMIT)) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)
}

function bucketBounds(index: number): { low: number; width: number } {
  if (index < LINEAR_LIMIT) return { low: index, width: 1 }
  const above = index - LINEAR_LIMIT
  const exponent = Math.floor(above / SUB_BUCKETS) + Math.log2(LINEAR_LIMIT)
  const mantissa = (above % SUB_BUCKETS) + SUB_BUCKETS
  const width = 2 ** (exponent - Math.log2(SUB_BUCKETS))
  return { low: mantissa * width, width }
}
