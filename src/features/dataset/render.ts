import type { ChalkInstance } from 'chalk'
import { formatBytes, formatTable } from '../../shared/output.js'
import type { Plan } from '../../shared/outcome.js'
import { isReadOperation } from '../../shared/plan.js'
import type { SyncPlanDetails, SyncResult } from './types.js'

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
  ]
  return lines.join('\n')
}

/** Human rendering of a dry run: bucket requests in full, then one line per object (full inputs with --json). */
export function renderSyncPlan(plan: Plan<SyncPlanDetails>, c: ChalkInstance): string {
  const p = plan.details!
  const lines = [c.bold(`Dry run: ${plan.title}`)]
  for (const n of p.notes) lines.push(c.gray(n))
  if (p.download) lines.push(`Would download ${p.download.url} and unpack it into ${p.download.into} first.`)
  lines.push(
    `Would upload ${p.wouldUpload.toLocaleString('en-US')} file${p.wouldUpload === 1 ? '' : 's'} (${formatBytes(p.bytes)}), ` +
      `skip ${p.wouldSkip.toLocaleString('en-US')} unchanged, delete ${p.wouldDelete}. Nothing was sent.`,
  )
  const bucket = p.destination.slice('s3://'.length).split('/')[0]
  let i = 0
  for (const op of plan.operations) {
    if (op.operation === 'PutObject' || op.operation === 'CreateMultipartUpload' || op.operation === 'DeleteObjects') continue
    lines.push('', `${String(++i).padStart(2)}. ${c.cyan(op.service)} ${c.bold(op.operation)}${isReadOperation(op.operation) ? c.gray(' (read)') : ''}`)
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
