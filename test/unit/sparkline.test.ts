import { describe, expect, it } from 'vitest'
import { sparkline } from '../../src/shared/sparkline.js'

describe('sparkline', () => {
  it('scales between the series minimum and maximum', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█')
    expect(sparkline([10, 20])).toBe('▁█')
  })
  it('draws a flat series at mid height and gaps as spaces', () => {
    expect(sparkline([5, 5, 5])).toBe('▄▄▄')
    expect(sparkline([1, null, Number.NaN, 3])).toBe('▁  █')
    expect(sparkline([null, null])).toBe('  ')
  })
  it('averages into buckets when a width is given', () => {
    expect(sparkline([0, 0, 7, 7], 2)).toBe('▁█')
    expect(sparkline([1, 2, 3], 5)).toBe('▁▅█')
  })
})
