/**
 * assets/report.png, the README's picture of `mlops report`: the demo's project (tools/demo: 5
 * synthetic breeds, resnet18 at 64 px, 4 epochs, trained on this CPU), its report, and a screenshot
 * of the page's top in headless Chromium. Run from the repository root:
 *
 *   npx tsx tools/report/readme-screenshot.ts [out.png]
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { screenshotReport } from './screenshot.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const PYTHON = process.env.MLOPS_TORCH_PYTHON ?? '/usr/bin/python3'
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')
const BIN = path.join(ROOT, 'src/bin.ts')

const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'assets/report.png'))
const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-report-shot-'))
const mlops = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', TSX, BIN, ...args], { cwd: work, stdio: 'inherit', env: { ...process.env, NO_COLOR: '1' } })
try {
  await writeFile(
    path.join(work, 'mlops.config.yaml'),
    `project: { name: dog-demo }
data: { localDir: ./dogImages, bucket: dog-demo-data }
training:
  sourceDir: ${path.join(ROOT, 'scripts')}
  hyperparameters: { arch: resnet18, epochs: 4, batch-size: 16, lr: 0.003, weights: none, image-size: 64, num-workers: 0, seed: 7 }
`,
  )
  const dataset = ['--classes', '5', '--train-per-class', '24', '--valid-per-class', '8', '--test-per-class', '8', '--size', '64', '--seed', '7']
  execFileSync(PYTHON, [path.join(ROOT, 'scripts-dev/make_synthetic_dataset.py'), '--out', path.join(work, 'dogImages'), ...dataset], { stdio: 'inherit' })
  mlops('train', '--local', '--python', PYTHON)
  mlops('report', '-o', 'report.html')
  await screenshotReport(path.join(work, 'report.html'), out, { width: 1100, height: 1250 })
  process.stdout.write(`wrote ${out} (${Math.round((await stat(out)).size / 1024)} KB)\n`)
} finally {
  await rm(work, { recursive: true, force: true })
}
