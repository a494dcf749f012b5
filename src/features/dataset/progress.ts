import { formatBytes, type Ui } from '../../shared/output.js'
import type { Clock } from '../../shared/clock.js'
import { SPLITS, type DatasetScan } from '../../shared/dataset-layout.js'

/** Progress of a sync on stderr: the scan summary and the transfer bar. The result is rendered by render.ts. */

/** The part of Ui the sync reports through (stderr only; the result goes through `ui.result`). */
export type SyncUi = Pick<Ui, 'step' | 'info' | 'warn' | 'success' | 'progress' | 'interactive'>

/** Counts per split, classes and bytes; left-out files listed with a warning. */
export function reportScan(ui: SyncUi, scan: DatasetScan): void {
  if (scan.validated && scan.splits) {
    const s = scan.splits
    ui.step(
      `Dataset ${scan.root}: ${scan.classes} classes, ${scan.files.length.toLocaleString('en-US')} images, ${formatBytes(scan.bytes)} ` +
        `(${SPLITS.map((k) => `${k} ${s[k].files.toLocaleString('en-US')}`).join(', ')})`,
    )
  } else {
    ui.step(`Dataset ${scan.root}: ${scan.files.length.toLocaleString('en-US')} files, ${formatBytes(scan.bytes)} (layout not validated: --no-validate)`)
  }
  if (scan.skipped.length > 0) {
    ui.warn(
      `Skipping ${scan.skipped.length} file${scan.skipped.length === 1 ? '' : 's'} that ${scan.skipped.length === 1 ? 'is' : 'are'} not part of the dataset:`,
    )
    for (const f of scan.skipped.slice(0, 20)) ui.info(`    ${f.rel}  (${f.reason})`)
    if (scan.skipped.length > 20) ui.info(`    … and ${scan.skipped.length - 20} more`)
  }
}

export interface TransferProgress {
  bytes(n: number): void
  file(): void
  done(): void
}

/**
 * Files, bytes, throughput and ETA: a bar redrawn at most 10 times a second on a terminal, a line
 * every 3 seconds otherwise (the Ui decides which).
 */
export function createProgress(ui: SyncUi, clock: Clock, totalFiles: number, totalBytes: number): TransferProgress {
  const bar = ui.progress('Uploading', totalBytes, { format: formatBytes, intervalMs: 3000 })
  const start = clock.now()
  let files = 0
  let bytes = 0
  let lastDraw = -Infinity
  const draw = () => {
    const now = clock.now()
    if (ui.interactive && now - lastDraw < 100 && files < totalFiles) return
    lastDraw = now
    const elapsed = (now - start) / 1000
    const rate = elapsed > 0 ? bytes / elapsed : 0
    const eta = rate > 0 ? (totalBytes - bytes) / rate : undefined
    bar.update(bytes, `${files.toLocaleString('en-US')}/${totalFiles.toLocaleString('en-US')} files  ${formatBytes(rate)}/s  ETA ${formatSeconds(eta)}`)
  }
  return {
    bytes: (n) => {
      bytes += n
      draw()
    },
    file: () => {
      files++
      draw()
    },
    done: () => bar.done(),
  }
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--'
  if (s < 60) return `${Math.ceil(s)}s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}
