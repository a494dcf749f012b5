import { readdir } from 'node:fs/promises'
import type { StateRecord } from '../../shared/state.js'
import type { HyperparameterValue } from './plan.js'

/**
 * `train --local` on a CPU (issue 31 item 2): what it will take, before it starts, and the settings
 * sized for a CPU that the demo trains with. The estimate is images × epochs × seconds per image:
 * this machine's own rate when an earlier local run recorded one (its images_per_sec, scaled by the
 * pixel count), else a table.
 */

/**
 * `--cpu-sized`: the demo's settings (tools/demo/run-demo.ts). A ResNet18 from scratch at 64 px
 * needs no download (no internet) and trains in minutes on a CPU, rather than ResNet50's hours at
 * 224 px; `--hyperparameter` still overrides each.
 */
export const CPU_SIZED_HYPERPARAMETERS: Readonly<Record<string, HyperparameterValue>> = {
  arch: 'resnet18',
  weights: 'none',
  'image-size': 64,
  epochs: 4,
  'batch-size': 16,
  lr: 0.003,
  'num-workers': 0,
}

/**
 * Seconds per training image (forward and backward) at 224 px on a CPU with no history: the model's
 * training FLOPs (3 × the forward pass: 1.8, 3.6 and 4.1 GFLOPs for ResNet18/34/50) over about
 * 60 GFLOP/s, what 4 cores of a current x86 CPU sustain in PyTorch. Pixel count scales it.
 */
const SECONDS_PER_IMAGE_224: Readonly<Record<string, number>> = { resnet18: 0.09, resnet34: 0.18, resnet50: 0.2 }
/** train.py's defaults (scripts/hyperparameters.json) when the config and flags leave one out. */
const DEFAULTS = { arch: 'resnet50', 'image-size': 224, epochs: 10 }
/** Validation is a forward pass only: about a third of a training step per image. */
const VALID_FRACTION = 1 / 3
/** Above this, the warning offers --cpu-sized. */
export const CPU_SIZED_OFFER_SECONDS = 10 * 60

const IMAGE = /\.(jpe?g|png|bmp|gif|webp)$/i

/** Image files under `dir` (the class folders of one split). */
export async function countImages(dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && IMAGE.test(e.name)) n++
  return n
}

export interface CpuEstimate {
  readonly seconds: number
  readonly trainImages: number
  readonly validImages: number
  readonly epochs: number
  readonly arch: string
  readonly imageSize: number
  readonly secondsPerImage: number
  /** Where secondsPerImage came from: an earlier local run's measured rate, or the table. */
  readonly basis: string
}

const pick = (hp: Readonly<Record<string, HyperparameterValue>>, key: string, fallback: string | number) => {
  const k = Object.keys(hp).find((name) => name.replace(/_/g, '-') === key)
  return k === undefined ? fallback : hp[k]
}

/** The settings an earlier local run recorded, with its measured training rate. */
interface RecordedRun {
  readonly arch?: string
  readonly imageSize?: number
  readonly metrics?: { readonly images_per_sec?: number | string }
}

export function estimateCpuTraining(i: {
  readonly hyperparameters: Readonly<Record<string, HyperparameterValue>>
  readonly trainImages: number
  readonly validImages: number
  /** Earlier `train --local` records (newest last), for a measured rate. */
  readonly runs: readonly StateRecord[]
}): CpuEstimate {
  const arch = String(pick(i.hyperparameters, 'arch', DEFAULTS.arch))
  const imageSize = Number(pick(i.hyperparameters, 'image-size', DEFAULTS['image-size']))
  const epochs = Number(pick(i.hyperparameters, 'epochs', DEFAULTS.epochs))
  const pixels = (size: number) => (size / 224) ** 2
  let secondsPerImage = (SECONDS_PER_IMAGE_224[arch] ?? SECONDS_PER_IMAGE_224.resnet50) * pixels(imageSize)
  let basis = `about ${secondsPerImage.toFixed(3)} s per image for ${arch} at ${imageSize} px on a CPU (a table; a local run records this machine's rate)`
  for (const run of [...i.runs].reverse()) {
    const d = (run.details ?? {}) as RecordedRun
    const rate = Number(d.metrics?.images_per_sec)
    if (d.arch !== arch || !d.imageSize || !(rate > 0)) continue
    secondsPerImage = (1 / rate) * (pixels(imageSize) / pixels(d.imageSize))
    basis = `${secondsPerImage.toFixed(3)} s per image, measured by ${run.name} (${arch} at ${d.imageSize} px)`
    break
  }
  const seconds = Math.round(epochs * secondsPerImage * (i.trainImages + i.validImages * VALID_FRACTION))
  return { seconds, trainImages: i.trainImages, validImages: i.validImages, epochs, arch, imageSize, secondsPerImage, basis }
}

/** 95 s -> "about 2 min"; 7,300 s -> "about 2 h"; 40 s -> "under a minute". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return 'under a minute'
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`
  const h = seconds / 3600
  return `about ${h < 10 ? h.toFixed(1).replace(/\.0$/, '') : Math.round(h)} h`
}

/** The warning `train --local` prints on a CPU: the arithmetic, and the CPU-sized command when it is long. */
export function cpuEstimateText(e: CpuEstimate, cpuSized: boolean, cpuSizedEstimate?: CpuEstimate): string[] {
  const lines = [
    `No CUDA device: training on the CPU. ${e.trainImages.toLocaleString('en-US')} images × ${e.epochs} epochs (+ ${e.validImages.toLocaleString('en-US')} validation images) at ${e.basis}: ${formatDuration(e.seconds)}.`,
  ]
  if (!cpuSized && e.seconds > CPU_SIZED_OFFER_SECONDS) {
    const settings = Object.entries(CPU_SIZED_HYPERPARAMETERS)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')
    lines.push(
      `For a first run sized for a CPU (${settings}${cpuSizedEstimate ? `; ${formatDuration(cpuSizedEstimate.seconds)}` : ''}): mlops train --local --cpu-sized`,
    )
  }
  return lines
}
