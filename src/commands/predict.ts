import type { Command } from 'commander'
import { remoteConcurrencyField } from '../config/flag-fields.js'
import { LambdaSchema } from '../config/sections/lambda.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { intOption } from './options.js'

/** The flags `predict` declares. */
export interface PredictFlags {
  readonly model?: string
  readonly output: string
  readonly top?: string
  readonly python?: string
  readonly local?: boolean
  readonly endpoint?: string | true
  readonly lambda?: string | true
  readonly concurrency?: string
}

/** --top is the same concept as lambda.topK (breeds per answer), so it takes that field. */
const FLAGS = {
  top: intOption('--top', LambdaSchema.shape.topK.unwrap(), '5'),
  concurrency: intOption('--concurrency', remoteConcurrencyField, '8'),
}

/** The model to use: one of --local, --endpoint, --lambda (and the local-only flags only with --local). */
function remoteChoice(flags: PredictFlags, concurrency: number | undefined) {
  const chosen = [flags.local && '--local', flags.endpoint !== undefined && '--endpoint', flags.lambda !== undefined && '--lambda'].filter(Boolean)
  if (chosen.length > 1)
    throw new UserError('ConflictingFlags', `${chosen.join(' and ')} each choose the model; pass one.`, { hint: 'For example: --endpoint' })
  const remote = flags.endpoint !== undefined ? ('endpoint' as const) : flags.lambda !== undefined ? ('lambda' as const) : undefined
  if (!remote) {
    if (concurrency !== undefined)
      throw new UserError('ConflictingFlags', '--concurrency only applies with --endpoint or --lambda.', {
        hint: 'Add --endpoint, or leave out --concurrency.',
      })
    return undefined
  }
  const local = flags.model !== undefined ? '--model' : flags.python !== undefined ? '--python' : undefined
  if (local)
    throw new UserError('ConflictingFlags', `--${remote} uses the deployed model; ${local} is for a local model.`, {
      hint: `Leave out ${local}, or --${remote}.`,
    })
  return { kind: remote, name: (remote === 'endpoint' ? flags.endpoint : flags.lambda)!, concurrency: concurrency ?? 4 }
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('predict')
    .description('predict every image in a folder or S3 prefix (top-k per file to CSV or JSONL), resumable, with per-class accuracy for labelled folders')
    .argument('<folder>', 'a folder of images or (with --endpoint/--lambda) s3://bucket/prefix/; one sub-folder per class makes it labelled')
    .option('-o, --output <file>', 'predictions.csv or predictions.jsonl (rows are appended as they are done)', 'predictions.csv')
    .option('--top <k>', 'classes per file, 1-133 (default: 5)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz, an s3:// model.tar.gz or a local job name (default: the latest trained model)')
    .option('--local', 'run the model on this machine through the predictor (the default)')
    .option('--endpoint [name]', "send each image to the deployed endpoint (default name: the project's endpoint)")
    .option('--lambda [name]', "send each image through the Lambda's live alias (default name: the project's function); --top at most 20")
    .option('--concurrency <n>', 'with --endpoint/--lambda: requests in flight at once, 1-64 (default: 4)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .addHelpText(
      'after',
      `
Every image goes through the predictor the endpoint serves (scripts/inference.py predict_batch): on
this machine in batches (--local), or one request per image to the endpoint or the Lambda (the
request \`mlops invoke\` sends), --concurrency at a time, with the request count and cost said first.
An s3://bucket/prefix/ is listed (ListObjectsV2) and each image read (GetObject, at most the
endpoint's 6 MB per request); keys <prefix>/<class>/<file> are labelled. Progress and the time left
go to stderr. Rows are appended to --output as they are done, so Ctrl-C keeps what finished and
running the same command again skips the files already in the file (resume). An unreadable image,
or one the model refuses, is a row with an error, not a failed run.

CSV columns: file, true_label, label_1, probability_1, ... label_K, probability_K, error.
JSONL: {"file", "label", "predictions": [{"label", "index", "probability"}]} per line.

No --batch-transform: AWS documents the Ray Serve serving image for real-time endpoints only, not
Batch Transform's \`serve\` start, and no emulator runs it, so that path is unverified; use --endpoint.

Examples:
  $ mlops predict dogImages/test                     labelled: per-class accuracy at the end
  $ mlops predict ~/photos -o photos.jsonl --top 3
  $ mlops predict ~/photos -o photos.jsonl --top 3   (again after Ctrl-C: resumes)
  $ mlops predict s3://dogs-data/new-photos/ --endpoint --concurrency 8
  $ mlops predict dogImages/test --lambda -o lambda.csv`,
    )
    .action(
      action<PredictFlags>(deps, async (ctx, flags, args) => {
        const topK = FLAGS.top(flags.top) ?? 5
        const remote = remoteChoice(flags, FLAGS.concurrency(flags.concurrency))
        const { localModelRunner } = await import('../features/local/model-runner.js')
        const runner = () => localModelRunner(ctx, flags)
        const { runPredict } = await import('../features/evaluation/predict.js')
        const { renderPredict } = await import('../features/evaluation/render.js')
        ctx.ui.result(await runPredict(ctx, runner, { input: args[0], output: flags.output, topK, ...(remote ? { remote } : {}) }), renderPredict)
      }),
    )
}
