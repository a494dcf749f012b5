import type { Command } from 'commander'
import path from 'node:path'
import { DataSchema } from '../config/sections/data.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { parseIntFlagBySchema } from './flag-schema.js'

interface UploadDataFlags {
  readonly source?: string
  readonly bucket?: string
  readonly prefix?: string
  readonly concurrency?: string
  readonly delete?: boolean
  readonly fromUrl?: string
  readonly expectSha256?: string
  /** commander sets false for --no-validate. */
  readonly validate: boolean
  readonly followSymlinks?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('upload-data')
    .description('sync train/ valid/ test/ image folders to S3 (parallel, multipart, skips unchanged files)')
    .option('--source <dir>', 'dataset folder with train/ valid/ test/ (default: data.localDir)')
    .option('--bucket <name>', 'destination bucket, created private and encrypted if missing (default: data.bucket)')
    .option('--prefix <p>', 'key prefix in the bucket (default: data.prefix)')
    .option('--concurrency <n>', 'files uploaded in parallel (default: data.concurrency)')
    .option('--delete', 'delete objects under the prefix that have no local file (lists them and asks first)')
    .option('--from-url <zip-url>', 'download a dataset zip (dogImages.zip layout), unpack it into the source folder, then sync')
    .option('--expect-sha256 <hex>', 'with --from-url: refuse the archive unless its sha256 matches')
    .option('--follow-symlinks', 'upload what symbolic links leading out of the dataset folder point to (refused otherwise)')
    .option('--no-validate', 'skip the train/ valid/ test/ layout check and upload every file as is')
    .addHelpText(
      'after',
      `
The layout is checked before anything is sent: train/, valid/ and test/, one folder per class
(the same classes in each), jpg/jpeg/png images; other files are listed and skipped.
Unchanged files are skipped by size and sha256 (stored as x-amz-meta-sha256); a re-run after
Ctrl-C resumes where it stopped. A dry run compares with the local record in .mlops/ and needs
no credentials.

Examples:
  $ mlops upload-data
  $ mlops upload-data --source ~/data/dogImages --prefix dogImages-v2 --concurrency 32
  $ mlops upload-data --from-url https://example.com/dogImages.zip
  $ mlops upload-data --delete --dry-run          what would be uploaded and deleted
  $ mlops upload-data --json | jq -r .channels.train`,
    )
    .action(
      action<UploadDataFlags>(deps, async (ctx, flags) => {
        const parsed = parseFlags(flags)
        const cfg = await ctx.config()
        const { runUploadData } = await import('../features/dataset/upload-data.js')
        const { renderSyncPlan, renderSyncResult } = await import('../features/dataset/render.js')
        const outcome = await runUploadData(ctx, cfg, {
          source: parsed.source ? path.resolve(ctx.deps.cwd, parsed.source) : ctx.resolvePath(cfg.data.localDir),
          bucket: parsed.bucket ?? cfg.data.bucket,
          prefix: parsed.prefix ?? cfg.data.prefix,
          concurrency: parsed.concurrency ?? cfg.data.concurrency,
          delete: Boolean(flags.delete),
          validate: flags.validate !== false,
          followSymlinks: Boolean(flags.followSymlinks),
          fromUrl: parsed.fromUrl,
          expectSha256: parsed.expectSha256,
        })
        ctx.ui.result(outcome, renderSyncResult, renderSyncPlan)
      }),
    )
}

/** What the flags say, checked; unset flags fall back to the config. */
interface UploadDataFlagOptions {
  readonly concurrency?: number
  readonly bucket?: string
  readonly prefix?: string
  readonly source?: string
  readonly fromUrl?: string
  readonly expectSha256?: string
}

/**
 * Checks every flag before the config is read or AWS is called; each error names its flag (exit 2).
 * --bucket, --prefix and --concurrency are checked by the config's own `data` fields, so a rule exists once.
 */
function parseFlags(f: UploadDataFlags): UploadDataFlagOptions {
  const concurrency = parseIntFlagBySchema(f.concurrency, '--concurrency', DataSchema.shape.concurrency.unwrap())
  const bucket = f.bucket === undefined ? undefined : check(DataSchema.shape.bucket, f.bucket, '--bucket', 'my-dog-data')
  const prefix = f.prefix === undefined ? undefined : check(DataSchema.shape.prefix, f.prefix, '--prefix', 'dogImages')
  if (f.source !== undefined && f.source.trim() === '')
    throw new UserError('InvalidFlag', '--source must name a folder.', { hint: 'For example: --source ./dogImages' })
  if (f.source !== undefined) checkPathLength(f.source, '--source')
  let fromUrl: string | undefined
  if (f.fromUrl !== undefined) {
    const url = URL.canParse(f.fromUrl) ? new URL(f.fromUrl) : undefined
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      const shown = url && (url.username || url.password) ? f.fromUrl.replace(/\/\/[^/]*@/, '//***@') : f.fromUrl
      throw new UserError('InvalidFlag', `--from-url must be an http:// or https:// URL, got "${shown}".`, {
        hint: 'For example: --from-url https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip',
      })
    }
    fromUrl = url.href
  }
  if (f.expectSha256 !== undefined) {
    if (!fromUrl) throw new UserError('InvalidFlag', '--expect-sha256 only applies with --from-url.')
    if (!/^[0-9a-fA-F]{64}$/.test(f.expectSha256)) throw new UserError('InvalidFlag', `--expect-sha256 must be 64 hex digits, got "${f.expectSha256}".`)
  }
  return { concurrency, bucket, prefix, source: f.source, fromUrl, expectSha256: f.expectSha256?.toLowerCase() }
}

/** Linux's limits (NAME_MAX 255 bytes a name, PATH_MAX 4,096 with the NUL): a longer path is ENAMETOOLONG deep inside the scan. */
function checkPathLength(p: string, flag: string): void {
  const long = p.split(/[\\/]/).find((seg) => Buffer.byteLength(seg) > 255)
  if (long === undefined && Buffer.byteLength(p) < 4096) return
  throw new UserError(
    'InvalidFlag',
    long !== undefined
      ? `${flag} has a folder name of ${Buffer.byteLength(long)} bytes ("${long.slice(0, 40)}…"); names may have at most 255.`
      : `${flag} is ${Buffer.byteLength(p)} bytes long; paths may have at most 4,095.`,
    { hint: 'For example: --source ./dogImages' },
  )
}

function check<T extends string | number>(
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  value: T,
  flag: string,
  example: string,
): T {
  const r = schema.safeParse(value)
  if (!r.success)
    throw new UserError('InvalidFlag', `${flag} "${value}": ${r.error?.issues[0]?.message ?? 'invalid'}.`, { hint: `For example: ${flag} ${example}` })
  return value
}
