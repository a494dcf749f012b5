import { mkdtemp, readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  appendPredictions,
  parseCsvLine,
  perClassAccuracy,
  predictionsFormat,
  readPredictions,
  type PredictionRow,
} from '../../src/features/evaluation/predictions-file.js'

const row = (file: string, label: string | null, top: string[], error?: string): PredictionRow =>
  error ? { file, label, error } : { file, label, predictions: top.map((l, i) => ({ label: l, index: i, probability: 0.5 - i / 10 })) }

describe('the predictions file (what predict resumes from)', () => {
  it('CSV round trip: quoted cells with commas and quotes, error rows, the header first', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-pred-'))
    const file = path.join(dir, 'p.csv')
    const rows = [row('a,b/"x".jpg', 'Akita', ['Akita', 'Boxer']), row('c.jpg', null, [], 'not an image, sorry')]
    await appendPredictions(file, 'csv', 2, rows.slice(0, 1), true)
    await appendPredictions(file, 'csv', 2, rows.slice(1), false)
    const text = await readFile(file, 'utf8')
    expect(text.split('\n')[0]).toBe('file,true_label,label_1,probability_1,label_2,probability_2,error')
    expect(text.split('\n')[1]).toBe('"a,b/""x"".jpg",Akita,Akita,0.5,Boxer,0.4,')
    const back = await readPredictions(file, 'csv')
    expect(back.topK).toBe(2)
    expect(back.rows.map((r) => [r.file, r.label, r.error, r.predictions?.map((p) => p.label)])).toEqual([
      ['a,b/"x".jpg', 'Akita', undefined, ['Akita', 'Boxer']],
      ['c.jpg', null, 'not an image, sorry', undefined],
    ])
  })

  it('JSONL: a line cut short by a crash is dropped (that file is predicted again)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-pred-'))
    const file = path.join(dir, 'p.jsonl')
    await appendPredictions(file, 'jsonl', 5, [row('a.jpg', 'Akita', ['Akita'])], true)
    const { appendFile } = await import('node:fs/promises')
    await appendFile(file, '{"file": "b.jp')
    expect((await readPredictions(file, 'jsonl')).rows.map((r) => r.file)).toEqual(['a.jpg'])
  })

  it('a CSV that is not ours is refused rather than appended to', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-pred-'))
    const file = path.join(dir, 'mine.csv')
    const { writeFile } = await import('node:fs/promises')
    await writeFile(file, 'name,age\nbob,3\n')
    await expect(readPredictions(file, 'csv')).rejects.toThrow(/exists and is not a predictions file written by mlops predict/)
  })

  it('per-class accuracy: top-1 against the folder label, worst first, unlabelled and error rows left out', () => {
    const rows = [
      row('1', 'Akita', ['Akita']),
      row('2', 'Akita', ['Boxer']),
      row('3', 'Boxer', ['Boxer']),
      row('4', null, ['Boxer']),
      row('5', 'Boxer', [], 'bad'),
    ]
    expect(perClassAccuracy(rows)).toEqual([
      { label: 'Akita', images: 2, correct: 1, accuracy: 0.5 },
      { label: 'Boxer', images: 1, correct: 1, accuracy: 1 },
    ])
  })

  it('format from the name; CSV lines split with quotes', () => {
    expect(predictionsFormat('x.CSV')).toBe('csv')
    expect(predictionsFormat('x.jsonl')).toBe('jsonl')
    expect(() => predictionsFormat('x.json')).toThrow('-o x.json: the predictions file must end in .csv or .jsonl.')
    expect(parseCsvLine('a,"b,c",,"d""e"')).toEqual(['a', 'b,c', '', 'd"e'])
  })
})
