/**
 * The step after each command, printed as the last line on stderr in human mode (`Next: mlops
 * deploy`), from the result the command wrote. One table, so the path through the tool reads in
 * one place: init -> upload-data -> train -> runs / deploy -> invoke -> lambda-setup -> loadtest ->
 * scale -> status -> teardown. Commands whose output is meant to be piped (completion) have none.
 */

type Result = Readonly<Record<string, unknown>>
type Step = (r: Result) => string | undefined

const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

/** train, logs (a training job) and train --local. */
const afterTraining: Step = (r) => {
  const job = str(r.jobName) ?? str(r.tuningJobName)
  if (r.mode === 'local') return 'mlops runs (compare with earlier runs), then mlops serve to try this model locally'
  if (r.status === 'InProgress' || r.status === 'Stopping') return `mlops logs ${job ?? ''}`.trim()
  if (r.status === 'Completed') return 'mlops deploy (uses this model); compare runs with mlops runs'
  return job ? `mlops logs ${job} --debug (the whole log)` : undefined
}

const STEPS: Readonly<Record<string, Step>> = {
  init: (r) => `put your images in ${str(r.dataDir) ?? 'data.localDir'} and run mlops upload-data`,
  'upload-data': () => 'mlops train (or mlops train --local to try it on this machine first)',
  train: afterTraining,
  logs: (r) => ('status' in r ? afterTraining(r) : undefined),
  tune: (r) =>
    r.status === 'InProgress' ? `mlops logs ${str(r.tuningJobName) ?? ''}`.trim() : 'mlops deploy (uses the best model); compare runs with mlops runs',
  runs: (r) => {
    const runs = Array.isArray(r.runs) ? (r.runs as Result[]) : []
    const [a, b] = runs
    return a && b ? `mlops runs compare ${str(b.name)} ${str(a.name)}` : 'mlops train (or mlops train --local)'
  },
  'runs compare': () => 'mlops deploy --model <the better run’s model>, or mlops runs for the rest',
  'train-ec2': () => 'mlops deploy (it picks this model)',
  deploy: () => 'mlops invoke <image>, then mlops lambda-setup for a public API',
  serve: () => 'mlops deploy (the same predictor on a SageMaker endpoint)',
  invoke: () => 'mlops loadtest (latency and throughput by concurrency)',
  'lambda-setup': () => 'mlops invoke <image> --lambda, then mlops loadtest --lambda',
  loadtest: () => 'mlops scale --from-loadtest (applies this recommendation)',
  scale: () => 'mlops status (what runs now and what it costs)',
  'audit-iam': () => 'mlops iam-policy (a least-privilege policy for the person running mlops)',
  'iam-policy': () => 'attach the policy, then mlops doctor',
  status: (r) => (typeof r.hourlyTotal === 'number' && r.hourlyTotal > 0 ? 'mlops teardown (stops what bills)' : 'mlops runs (the history of this project)'),
  doctor: () => 'mlops train --local (the quickest full check)',
  teardown: () => 'mlops status (confirms nothing is left billing)',
  clean: () => 'mlops status',
}

/** The next step after `command` (`runs compare` for a subcommand) wrote `outcome`; undefined when there is none. */
export function nextStep(command: string, outcome: { kind: 'plan' } | { kind: 'done'; result: unknown } | undefined): string | undefined {
  const step = STEPS[command]
  if (!step || !outcome) return undefined
  if (outcome.kind === 'plan') return `mlops ${command} without --dry-run sends these requests`
  const r = outcome.result
  return typeof r === 'object' && r !== null ? step(r as Result) : undefined
}
