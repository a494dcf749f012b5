import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { countImages, cpuEstimateText, CPU_SIZED_HYPERPARAMETERS, estimateCpuTraining, formatDuration } from '../../src/features/local/cpu-estimate.js'
import { progressText } from '../../src/features/local/train-local.js'
import type { StateRecord } from '../../src/shared/state.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 31 item 2: the first `train --local` after `init` on a CPU says what it will take (images ×
 * epochs × seconds per image) and offers the demo's CPU-sized settings; train.py's per-batch lines
 * become progress with the time left in the epoch.
 */
const run = (name: string, details: Record<string, unknown>): StateRecord => ({
  kind: 'local-model',
  name,
  region: 'local',
  createdAt: '2026-12-07T06:00:00.000Z',
  details,
})

describe('the CPU estimate', () => {
  it("the template's ResNet50 at 224 px on the real dataset: hours, and the CPU-sized command with its own estimate", () => {
    const e = estimateCpuTraining({ hyperparameters: {}, trainImages: 6680, validImages: 835, runs: [] })
    expect(e).toMatchObject({ arch: 'resnet50', imageSize: 224, epochs: 10, secondsPerImage: 0.2 })
    expect(e.seconds).toBe(Math.round(10 * 0.2 * (6680 + 835 / 3)))
    const small = estimateCpuTraining({ hyperparameters: CPU_SIZED_HYPERPARAMETERS, trainImages: 6680, validImages: 835, runs: [] })
    expect(small).toMatchObject({ arch: 'resnet18', imageSize: 64, epochs: 4 })
    const text = cpuEstimateText(e, false, small)
    expect(text[0]).toBe(
      "No CUDA device: training on the CPU. 6,680 images × 10 epochs (+ 835 validation images) at about 0.200 s per image for resnet50 at 224 px on a CPU (a table; a local run records this machine's rate): about 3.9 h.",
    )
    expect(text[1]).toBe(
      'For a first run sized for a CPU (arch=resnet18 weights=none image-size=64 epochs=4 batch-size=16 lr=0.003 num-workers=0; about 3 min): mlops train --local --cpu-sized',
    )
  })

  it('a short run, or one already CPU-sized, is not offered --cpu-sized', () => {
    const e = estimateCpuTraining({ hyperparameters: CPU_SIZED_HYPERPARAMETERS, trainImages: 200, validImages: 40, runs: [] })
    expect(cpuEstimateText(e, false)).toHaveLength(1)
    const long = estimateCpuTraining({ hyperparameters: { epochs: 1000 }, trainImages: 9000, validImages: 0, runs: [] })
    expect(cpuEstimateText(long, true)).toHaveLength(1)
  })

  it("uses this machine's rate from the newest local run of the same model, scaled by the pixel count", () => {
    const runs = [
      run('old', { arch: 'resnet18', imageSize: 64, metrics: { images_per_sec: 10 } }),
      run('other-arch', { arch: 'resnet50', imageSize: 224, metrics: { images_per_sec: 2 } }),
      run('newest', { arch: 'resnet18', imageSize: 32, metrics: { images_per_sec: 50 } }),
    ]
    const e = estimateCpuTraining({ hyperparameters: { arch: 'resnet18', image_size: 64, epochs: 2 }, trainImages: 100, validImages: 30, runs })
    expect(e.secondsPerImage).toBeCloseTo((1 / 50) * 4, 10)
    expect(e.basis).toBe('0.080 s per image, measured by newest (resnet18 at 32 px)')
    expect(e.seconds).toBe(Math.round(2 * 0.08 * (100 + 10)))
  })

  it('durations in words', () => {
    expect([30, 95, 3599, 7300, 50_000].map(formatDuration)).toEqual(['under a minute', 'about 2 min', 'about 60 min', 'about 2 h', 'about 14 h'])
  })

  it('counts image files in the class folders, nothing else', async () => {
    const dir = await tempProject(undefined, { 'a/1.jpg': 'x', 'a/2.JPEG': 'x', 'b/3.png': 'x', 'b/notes.txt': 'x', 'b/deep/4.webp': 'x' })
    expect(await countImages(dir)).toBe(4)
  })
})

describe("train.py's progress lines", () => {
  it('become the epoch, the batch and the time left', () => {
    expect(progressText('progress: epoch 2/10 batch 30/120 (25%) elapsed 41.0s eta 123.0s')).toBe(
      '  epoch 2/10: batch 30/120 (25%), 41 s in, about 2 min 3 s to the end of the epoch',
    )
    expect(progressText('progress: epoch 1/4 batch 3/3 (100%) elapsed 3.2s eta 0.0s')).toBe('  epoch 1/4: batch 3/3 (100%), 3 s in, validating')
    expect(progressText('epoch=1 train_loss=1.0 val_loss=1.0 val_accuracy=0.5 images_per_sec=9.0')).toBeUndefined()
  })
})

describe('train --local --cpu-sized', () => {
  async function project(): Promise<string> {
    const dir = await tempProject(minimalConfig('training:\n  hyperparameters: { epochs: 20, lr: 0.01 }\n'))
    // The layout train --local checks before Python starts (shared/dataset-layout.ts): three splits, two classes, an image each.
    for (const split of ['train', 'valid', 'test'])
      for (const cls of ['001.Affenpinscher', '002.Afghan_hound']) {
        await mkdir(path.join(dir, 'dogImages', split, cls), { recursive: true })
        await writeFile(path.join(dir, 'dogImages', split, cls, 'a.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]))
      }
    return dir
  }

  it('runs train.py with the demo settings over the config; each --hyperparameter still wins', async () => {
    const dir = await project()
    const r = await runMlops(['train', '--local', '--cpu-sized', '--hyperparameter', 'epochs=2', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code, r.stderr).toBe(0)
    const env = r.json().operations[0].input.Environment
    expect(JSON.parse(env.SM_HPS)).toMatchObject({
      arch: 'resnet18',
      weights: 'none',
      'image-size': 64,
      epochs: 2,
      'batch-size': 16,
      lr: 0.003,
      'num-workers': 0,
    })
    const text = await runMlops(['train', '--local', '--cpu-sized', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(text.stdout).toContain('--cpu-sized: arch=resnet18 weights=none image-size=64 epochs=4 batch-size=16 lr=0.003 num-workers=0')
  })

  it('without --local it is a usage error naming the flag', async () => {
    const dir = await project()
    const r = await runMlops(['train', '--cpu-sized', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--cpu-sized only applies to --local training.')
    expect(r.stderr).toContain('hint: Add --local, or leave out --cpu-sized.')
  })
})
