import type { ChalkInstance } from 'chalk'
import { formatBytes, formatTable, type Ui } from '../../shared/output.js'
import type { SyncResult } from './run.js'
import type { SyncPlan } from './sync-plan.js'
import type { Clock } from '../../shared/clock.js'
import { SPLITS, type DatasetScan } from './layout.js'

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

/** Human rendering of a finished sync (stdout). */
export function renderSyncResult(r: SyncResult, c: ChalkInstance): string {
  const lines = [
    `${c.green('✔')} ${r.destination} is in sync with ${r.source} (${r.seconds}s): ` +
      `${r.uploaded.toLocaleString('en-US')} uploaded (${formatBytes(r.bytes)}), ${r.skipped.toLocaleString('en-US')} unchanged, ${r.deleted} deleted` +
      (r.remoteOnly > 0 ? `, ${r.remoteOnly} remote-only kept` : '') +
      '.',
    '',
    'Training channels:',
    formatTable(
      ['channel', 's3 uri'],
      [
        ['train', r.channels.train],
        ['valid', r.channels.valid],
        ['test', r.channels.test],
      ],
    ),
    '',
    c.gray('Next: mlops train'),
  ]
  return lines.join('\n')
}

/** Human rendering of a dry run: bucket requests in full, then one line per object (full inputs with --json). */
export function renderSyncPlan(p: SyncPlan, c: ChalkInstance): string {
  const lines = [c.bold(`Dry run: upload-data ${p.source} -> ${p.destination}`)]
  for (const n of p.notes) lines.push(c.gray(n))
  if (p.download) lines.push(`Would download ${p.download.url} and unpack it into ${p.download.into} first.`)
  lines.push(
    `Would upload ${p.wouldUpload.toLocaleString('en-US')} file${p.wouldUpload === 1 ? '' : 's'} (${formatBytes(p.bytes)}), ` +
      `skip ${p.wouldSkip.toLocaleString('en-US')} unchanged, delete ${p.wouldDelete}. Nothing was sent.`,
  )
  const bucket = p.destination.slice('s3://'.length).split('/')[0]
  let i = 0
  for (const op of p.operations) {
    if (op.operation === 'PutObject' || op.operation === 'CreateMultipartUpload' || op.operation === 'DeleteObjects') continue
    lines.push('', `${String(++i).padStart(2)}. ${c.cyan(op.service)} ${c.bold(op.operation)}`)
    lines.push(
      (JSON.stringify(op.input, null, 2) ?? 'null')
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    )
  }
  if (p.uploads.length > 0) {
    lines.push('', c.bold('Uploads') + c.gray(' (PutObject with x-amz-meta-sha256 and ChecksumSHA256; --json shows every input):'))
    for (const u of p.uploads) lines.push(`  ${u.reason === 'new' ? c.green('+') : c.yellow('~')} s3://${bucket}/${u.key}  ${formatBytes(u.size)}  ${u.reason}`)
  }
  if (p.deletes.length > 0) {
    lines.push('', c.bold('Deletes') + c.gray(' (DeleteObjects, 1,000 keys per request):'))
    for (const k of p.deletes) lines.push(`  ${c.red('-')} s3://${bucket}/${k}`)
  }
  lines.push('', 'Training channels:', `  train  ${p.channels.train}`, `  valid  ${p.channels.valid}`, `  test   ${p.channels.test}`)
  return lines.join('\n')
}
