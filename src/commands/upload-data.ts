import type { Command } from 'commander'
import path from 'node:path'
import { downloadUrlField, sha256Field, sourceDirField } from '../config/flag-fields.js'
import { DataSchema } from '../config/sections/data.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { markPhase } from '../shared/phase-timings.js'
import { action } from './action.js'
import { intOption, stringOption } from './options.js'

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
  readonly checksum?: boolean
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
    .option('--checksum', 'open, check and hash every file, instead of trusting the recorded size and mtime of unchanged ones')
    .addHelpText(
      'after',
      `
The layout is checked before anything is sent, by the same rules as train --local: train/, valid/
and test/, one folder per class (the same classes, at least two, in each), images as training
reads them (jpg, jpeg, png, bmp, gif, webp, tif, tiff); other files are listed and skipped.
A folder of class folders not yet split: mlops split-data <folder> --out <dir>.
Unchanged files are skipped by size and sha256 (stored as x-amz-meta-sha256); a re-run after
Ctrl-C resumes where it stopped. A dry run compares with the local record in .mlops/ and needs
no credentials.
The local record (.mlops/upload-cache.json) keeps each file's size, mtime and sha256: a file whose
size and mtime are unchanged is not opened again, so a re-sync that changes nothing costs one
stat per file and one listing. Like \`aws s3 sync\`, this misses a file rewritten with the same size
and an old mtime; --checksum reads, checks and hashes every file.

Examples:
  $ mlops upload-data
  $ mlops upload-data --source ~/data/dogImages --prefix dogImages-v2 --concurrency 32
  $ mlops upload-data --from-url https://example.com/dogImages.zip
  $ mlops upload-data --delete --dry-run          what would be uploaded and deleted
  $ mlops upload-data --checksum                  after restoring files with their old mtimes
  $ mlops upload-data --json | jq -r .channels.train`,
    )
    .action(
      action<UploadDataFlags>(deps, async (ctx, flags) => {
        const parsed = parseFlags(flags)
        // The feature (with the AWS SDK) loads while the config is read.
        const [cfg, { runUploadData }, { renderSyncPlan, renderSyncResult }] = await Promise.all([
          ctx.config(),
          import('../features/dataset/upload-data.js'),
          import('../features/dataset/render.js'),
        ])
        markPhase('config and upload-data modules loaded')
        const outcome = await runUploadData(ctx, cfg, {
          source: parsed.source ? path.resolve(ctx.deps.cwd, parsed.source) : ctx.resolvePath(cfg.data.localDir),
          bucket: parsed.bucket ?? cfg.data.bucket,
          prefix: parsed.prefix ?? cfg.data.prefix,
          concurrency: parsed.concurrency ?? cfg.data.concurrency,
          delete: Boolean(flags.delete),
          validate: flags.validate !== false,
          followSymlinks: Boolean(flags.followSymlinks),
          checksum: Boolean(flags.checksum),
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
 * Every flag checked before the config is read or AWS is called; each error names its flag (exit 2).
 * --bucket, --prefix and --concurrency are checked by the config's own `data` fields, so a rule exists once.
 */
const FLAGS = {
  concurrency: intOption('--concurrency', DataSchema.shape.concurrency.unwrap(), '32'),
  bucket: stringOption('--bucket', DataSchema.shape.bucket, { example: 'my-dog-data' }),
  prefix: stringOption('--prefix', DataSchema.shape.prefix.unwrap(), { example: 'dogImages' }),
  source: stringOption('--source', sourceDirField, { example: './dogImages' }),
  fromUrl: stringOption('--from-url', downloadUrlField, {
    example: 'https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip',
    // Never echo credentials written into the URL.
    shown: (v) => v.replace(/\/\/[^/]*@/, '//***@'),
  }),
  expectSha256: stringOption('--expect-sha256', sha256Field, { example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }),
}

function parseFlags(f: UploadDataFlags): UploadDataFlagOptions {
  const concurrency = FLAGS.concurrency(f.concurrency)
  const bucket = FLAGS.bucket(f.bucket)
  const prefix = FLAGS.prefix(f.prefix)
  const source = FLAGS.source(f.source)
  const fromUrl = FLAGS.fromUrl(f.fromUrl)
  if (f.expectSha256 !== undefined && !fromUrl) throw new UserError('ConflictingFlags', '--expect-sha256 only applies with --from-url.')
  return { concurrency, bucket, prefix, source, fromUrl, expectSha256: FLAGS.expectSha256(f.expectSha256) }
}
