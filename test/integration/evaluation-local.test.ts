import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import { create as createTar } from 'tar'
import { makeSyntheticDataset, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 28, for real: a local training run leaves evaluation.json; `evaluate --local` reproduces its
 * test accuracy; `predict --local` writes one row per image, survives a real Ctrl-C (SIGINT to the
 * CLI process) and resumes without redoing finished files. Debian's Python (torch) does the work.
 */

const ROOT = path.resolve(import.meta.dirname, '../..')
const PYTHON = process.env.MLOPS_TORCH_PYTHON ?? '/usr/bin/python3'
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')
const BIN = path.join(ROOT, 'src/bin.ts')
const SLOW = 300_000
const CHROMIUM = process.env.MLOPS_CHROMIUM ?? '/usr/bin/chromium'

function config(): string {
  return `project: { name: evaltest }
data: { localDir: ./dogImages, bucket: evaltest-data }
training:
  sourceDir: ${path.join(ROOT, 'scripts')}
  hyperparameters: { arch: resnet18, weights: none, epochs: 2, batch-size: 16, lr: 0.003, image-size: 32, num-workers: 0, seed: 7, freeze-backbone: false }
`
}

async function jsonOf<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T
}

const lines = async (file: string) => (existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : [])

let dir: string
let job: string

beforeAll(async () => {
  dir = await tempProject(config())
  makeSyntheticDataset(dir, { classes: 3, train: 16, valid: 6, test: 8, size: 32 })
  const trained = await runMlops(['train', '--local', '--python', PYTHON, '--json'], { cwd: dir })
  expect(trained.code, trained.stderr).toBe(0)
  job = trained.json<{ jobName: string }>().jobName
}, SLOW)

describe('evaluation of a local training run', () => {
  it(
    'train leaves evaluation.json beside metrics.json; evaluate --local reproduces its test accuracy within 0.5 points',
    async () => {
      const data = path.join(dir, '.mlops', 'local', job, 'output', 'data')
      const left = await jsonOf<{ top1_accuracy: number; images: number; confusion: number[][] }>(path.join(data, 'evaluation.json'))
      const metrics = await jsonOf<{ test_accuracy: number }>(path.join(data, 'metrics.json'))
      expect(left.images).toBe(24)
      expect(Math.abs(left.top1_accuracy - metrics.test_accuracy)).toBeLessThanOrEqual(0.005)

      const run = await runMlops(['evaluate', '--local', '--python', PYTHON, '--json'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
      const r = run.json()
      expect(r).toMatchObject({ model: job, split: 'test', images: 24, training: { file: path.join(data, 'evaluation.json') } })
      expect(Math.abs(r.top1Accuracy - metrics.test_accuracy) * 100).toBeLessThanOrEqual(0.5)
      expect(Math.abs(r.training.differencePoints)).toBeLessThanOrEqual(0.5)
      expect(r.perClass).toHaveLength(3)
      expect(r.perClass.map((c: { recall: number }) => c.recall)).toEqual([...r.perClass.map((c: { recall: number }) => c.recall)].sort((a, b) => a - b))
      expect(await jsonOf<{ confusion: number[][] }>(r.output)).toMatchObject({ confusion: left.confusion })
    },
    SLOW,
  )

  it(
    'a folder whose sub-folders are no class of the model is exit 2, saying what evaluation needs',
    async () => {
      const src = path.join(dir, 'dogImages', 'test')
      const first = (await readdir(src))[0]
      const img = (await readdir(path.join(src, first)))[0]
      await mkdir(path.join(dir, 'strays', 'cats'), { recursive: true })
      await copyFile(path.join(src, first, img), path.join(dir, 'strays', 'cats', img))
      const run = await runMlops(['evaluate', '--split', 'strays', '--python', PYTHON], { cwd: dir })
      expect(run.code, run.stderr).toBe(2)
      expect(run.stderr).toContain(
        `No image in ${path.join(dir, 'strays')} is labelled with one of the model's 3 classes (cats/${img}, … are in folders the model has no class for).`,
      )
    },
    SLOW,
  )

  it('a --split that is neither test, valid nor a folder is exit 2 naming the flag', async () => {
    const run = await runMlops(['evaluate', '--split', 'nowhere', '--python', PYTHON], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--split nowhere is neither test, valid nor a folder.')
  })
})

describe('predict --local', () => {
  it(
    'writes one row per image, stops on SIGINT keeping finished rows, and resumes without redoing them',
    async () => {
      // A bigger folder, so Ctrl-C lands mid-run: 3 classes x 120 images.
      const big = await tempProject()
      makeSyntheticDataset(big, { classes: 3, train: 120, valid: 1, test: 1, size: 32 })
      const folder = path.join(big, 'dogImages', 'train')
      const out = path.join(dir, 'big.jsonl')
      const child = spawn(process.execPath, ['--import', TSX, BIN, 'predict', folder, '-o', out, '--python', PYTHON], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', CI: '' },
      })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
      const deadline = Date.now() + 120_000
      while ((await lines(out)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
      child.kill('SIGINT')
      expect(await exited, stderr).toBe(130)
      const first = await lines(out)
      expect(first.length).toBeGreaterThan(0)
      expect(first.length).toBeLessThan(360)
      const firstFiles = first.map((l) => (JSON.parse(l) as { file: string }).file)

      const again = await runMlops(['predict', folder, '-o', out, '--python', PYTHON, '--json'], { cwd: dir })
      expect(again.code, again.stderr).toBe(0)
      expect(again.json()).toMatchObject({ images: 360, skipped: first.length, predicted: 360 - first.length, errors: 0, format: 'jsonl' })
      const all = (await lines(out)).map((l) => JSON.parse(l) as { file: string; label: string; predictions: unknown[] })
      expect(all).toHaveLength(360)
      expect(new Set(all.map((r) => r.file)).size).toBe(360)
      expect(all.slice(0, first.length).map((r) => r.file)).toEqual(firstFiles)
      expect(all.every((r) => r.predictions.length === 3 && r.label)).toBe(true)
      expect(again.stderr).toContain(`(resuming: ${first.length} already in ${out})`)
    },
    SLOW,
  )

  it(
    'reports per-class accuracy for a labelled folder, in CSV with --top',
    async () => {
      const run = await runMlops(['predict', 'dogImages/test', '-o', 'test.csv', '--top', '2', '--python', PYTHON, '--json'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
      const r = run.json()
      expect(r).toMatchObject({ images: 24, predicted: 24, skipped: 0 })
      expect(r.perClass.map((c: { images: number }) => c.images)).toEqual([8, 8, 8])
      const evaluation = await jsonOf<{ top1_accuracy: number }>(path.join(dir, '.mlops', 'local', job, 'output', 'data', 'evaluation.json'))
      expect(r.accuracy).toBeCloseTo(evaluation.top1_accuracy, 5)
      const csv = await lines(path.join(dir, 'test.csv'))
      expect(csv[0]).toBe('file,true_label,label_1,probability_1,label_2,probability_2,error')
      expect(csv).toHaveLength(25)
    },
    SLOW,
  )

  it('refuses an output that is neither .csv nor .jsonl, naming -o (exit 2)', async () => {
    const run = await runMlops(['predict', 'dogImages/test', '-o', 'out.txt', '--python', PYTHON], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('-o out.txt: the predictions file must end in .csv or .jsonl.')
  })
})

describe('report', () => {
  it(
    'of a local run: one file that headless Chromium renders offline, every chart with marks, no console error, no request',
    async () => {
      await writeFile(
        path.join(dir, '.mlops', 'loadtest.json'),
        JSON.stringify({
          savedAt: '2026-11-22T10:00:00Z',
          target: { kind: 'local', name: 'localtest-endpoint' },
          levels: [
            { concurrency: 1, requests: 40, rps: 8.1, p50Ms: 110, p95Ms: 150, p99Ms: 170, errors: {} },
            { concurrency: 4, requests: 90, rps: 18.4, p50Ms: 190, p95Ms: 260, p99Ms: 300, errors: {} },
          ],
          recommendation: { maxRps: 18.4, targetInvocationsPerInstance: 552, lambdaReservedConcurrency: 8, lambdaProvisionedConcurrency: 0, reasoning: [] },
        }),
      )
      const run = await runMlops(['report', '-o', 'out/report.html', '--json'], { cwd: dir })
      expect(run.code, run.stderr).toBe(0)
      const r = run.json()
      expect(r).toMatchObject({
        runs: [job],
        output: path.join(dir, 'out', 'report.html'),
        charts: 6,
        sections: { evaluation: true, loadtest: true, audit: false },
      })
      const html = await readFile(r.output, 'utf8')
      expect(html).not.toMatch(/<script|<link|src="(?!data:)/)

      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
        const errors: string[] = []
        const requests: string[] = []
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text())
        })
        page.on('pageerror', (e) => errors.push(e.message))
        page.on('request', (req) => requests.push(req.url()))
        await page.goto(`file://${r.output}`)
        const charts = await page.$$eval('figure.chart', (figs) =>
          figs.map((f) => ({
            id: f.getAttribute('data-chart'),
            marks: [...f.querySelectorAll('svg g.role-mark')].filter((g) =>
              [...g.querySelectorAll('path, text')].some((e) => (e.getAttribute('d') ?? '').length > 2 || (e.textContent ?? '').trim() !== ''),
            ).length,
            width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
          })),
        )
        expect(charts.map((c) => c.id)).toEqual(['loss', 'accuracy', 'confusion', 'top-confusions', 'loadtest-latency', 'loadtest-throughput'])
        for (const c of charts) {
          expect(c.marks, c.id ?? '').toBeGreaterThan(0)
          expect(c.width, c.id ?? '').toBeGreaterThan(100)
        }
        const thumbs = await page.$$eval('.thumb img', (imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth))
        expect(thumbs.length).toBeGreaterThan(0)
        expect(thumbs.every((w) => w > 0)).toBe(true)
        expect(errors).toEqual([])
        expect(requests.filter((u) => !u.startsWith('data:'))).toEqual([`file://${r.output}`])
        await mkdir(path.join(dir, 'test-output'), { recursive: true })
        await page.screenshot({ path: path.join(dir, 'test-output', 'report.png'), fullPage: true })
        expect(existsSync(path.join(dir, 'test-output', 'report.png'))).toBe(true)
      } finally {
        await browser.close()
      }
    },
    SLOW,
  )

  it('of a SageMaker job from its output.tar.gz: the job named by its folder, the evaluation inside', async () => {
    const data = path.join(dir, '.mlops', 'local', job, 'output', 'data')
    const archive = path.join(dir, 'dl', 'evaltest-train-1', 'output', 'output.tar.gz')
    await mkdir(path.dirname(archive), { recursive: true })
    await createTar({ cwd: data, gzip: true, file: archive }, ['metrics.json', 'evaluation.json'])
    const run = await runMlops(['report', 'dl/evaltest-train-1/output/output.tar.gz', '-o', 'sm.html', '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ runs: ['evaltest-train-1'], sections: { evaluation: true } })
    expect(await readFile(path.join(dir, 'sm.html'), 'utf8')).toContain('Training report: evaltest-train-1')
  })

  it('of two runs: one page, the runs side by side; three runs are refused', async () => {
    const run = await runMlops(['report', job, 'dl/evaltest-train-1/output/output.tar.gz', '-o', 'two.html', '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ runs: [job, 'evaltest-train-1'], sections: { evaluation: true } })
    const html = await readFile(path.join(dir, 'two.html'), 'utf8')
    expect(html).toContain(`<title>Comparison: ${job} vs evaltest-train-1</title>`)
    expect(html).toContain('<div class="row cols-2">')
    const three = await runMlops(['report', job, job, job], { cwd: dir })
    expect(three.code).toBe(2)
    expect(three.stderr).toContain('[runs] 3 runs given: a report shows one run, or two side by side.')
  })

  it('a run that does not exist is exit 2 naming the argument', async () => {
    const run = await runMlops(['report', 'no-such-run'], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('[run] no-such-run: no metrics.json in')
  })

  it('a .mlops/loadtest.json that is not a load test is exit 2 naming the file, as status --metrics says it (one reader)', async () => {
    const file = path.join(dir, '.mlops', 'loadtest.json')
    const saved = existsSync(file) ? await readFile(file, 'utf8') : undefined
    await writeFile(file, JSON.stringify({ savedAt: '2026-11-22T10:00:00Z', levels: 'none' }))
    try {
      const run = await runMlops(['report', '-o', 'out/bad.html'], { cwd: dir })
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`${file} is not a load test result mlops wrote (target).`)
      expect(run.stderr).toContain('Run `mlops loadtest` again to rewrite it, or delete the file.')
      expect(existsSync(path.join(dir, 'out', 'bad.html'))).toBe(false)
    } finally {
      if (saved === undefined) await rm(file, { force: true })
      else await writeFile(file, saved)
    }
  })
})

describe('--dry-run', () => {
  it.each([
    ['evaluate', ['evaluate', '--split', 'valid']],
    ['predict', ['predict', 'dogImages/test', '-o', 'x.jsonl']],
    ['report', ['report']],
  ])('%s plans no AWS request and starts nothing', async (_name, args) => {
    const run = await runMlops([...args, '--dry-run', '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ dryRun: true, operations: [] })
    expect(existsSync(path.join(dir, 'x.jsonl'))).toBe(false)
  })
})
