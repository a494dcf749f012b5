import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { pyRound, summarizeRows, type ScoredRow } from '../../src/features/evaluation/summary.js'

/**
 * `evaluate --endpoint` computes evaluation.json in TypeScript (summary.ts) because Python's
 * summarize imports torch. This runs both on the same rows and requires the same document, so the
 * two copies cannot drift: per-class numbers, confusion, top-1/top-5, worst files and their order.
 */

const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts')
const PYTHON = process.env.MLOPS_TEST_TORCH_PYTHON ?? '/usr/bin/python3'

function pythonSummary(rows: readonly ScoredRow[], classes: readonly string[]): unknown {
  const program = `
import json, sys
sys.path.insert(0, ${JSON.stringify(SCRIPTS)})
import evaluation
doc = json.load(sys.stdin)
rows = [((r["file"], "/nonexistent/" + r["file"], r["label"]), {"predictions": r["predictions"]} if "error" not in r else None, r.get("error"))
        for r in doc["rows"]]
print(json.dumps(evaluation.summarize(rows, doc["classes"], 12, "test")))
`
  return JSON.parse(execFileSync(PYTHON, ['-c', program], { input: JSON.stringify({ rows, classes }), encoding: 'utf8' }))
}

/** A seeded generator (mulberry32): the same rows every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('summary.ts and evaluation.py summarize agree', () => {
  it('on 300 rows over 10 classes with errors, unknown labels, ties and a 1-in-32 class', () => {
    const classes = Array.from({ length: 10 }, (_, i) => `Breed ${i}`)
    const rnd = random(7)
    const rows: ScoredRow[] = []
    for (let n = 0; n < 300; n++) {
      const truth = Math.floor(rnd() * 9)
      const file = `${String(truth).padStart(3, '0')}.B/${String(n).padStart(4, '0')}.jpg`
      if (n % 47 === 0) {
        rows.push({ file, label: classes[truth], error: 'the image could not be decoded (OSError)' })
        continue
      }
      const order = classes.map((_, i) => i).sort(() => rnd() - 0.5)
      // Every third row right; ties in probability on purpose (many rows share 0.05).
      if (n % 3 === 0) {
        order.splice(order.indexOf(truth), 1)
        order.unshift(truth)
      }
      const probs = order.map((_, r) => (r === 0 ? Math.round(rnd() * 1e6) / 1e6 : 0.05))
      rows.push({
        file,
        label: n % 61 === 0 ? 'Not a breed' : classes[truth],
        predictions: order.map((i, r) => ({ label: classes[i], index: i, probability: probs[r] })),
      })
    }
    // A class with 1 right of 32: recall 0.03125, a tie that Python rounds half to even (0.0312).
    for (let n = 0; n < 32; n++) {
      const top = n === 0 ? 9 : 7
      rows.push({
        file: `009.C/${n}.jpg`,
        label: 'Breed 9',
        predictions: [top, top === 9 ? 7 : 9].map((i, r) => ({ label: classes[i], index: i, probability: r ? 0.1 : 0.9 })),
      })
    }
    rows.sort((a, b) => (a.file < b.file ? -1 : 1))
    const ts = summarizeRows(rows, classes, 12, 'test')
    expect(ts.per_class[9].recall).toBe(0.0312)
    expect(ts).toEqual(pythonSummary(rows, classes))
  })

  it("pyRound is Python's round", () => {
    expect([pyRound(0.03125, 4), pyRound(0.5, 0), pyRound(1.5, 0), pyRound(2 / 3, 4), pyRound(0.1234567, 6)]).toEqual([0.0312, 0, 2, 0.6667, 0.123457])
  })
})
