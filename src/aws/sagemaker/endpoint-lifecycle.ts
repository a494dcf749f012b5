import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  UpdateEndpointCommand,
  type CreateEndpointConfigInput,
  type CreateEndpointInput,
  type CreateModelInput,
  type DescribeEndpointCommandOutput,
  type DescribeEndpointConfigCommandOutput,
  type SageMakerClient,
  type UpdateEndpointInput,
} from '@aws-sdk/client-sagemaker'
import { OperationError, UserError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'

/**
 * The SageMaker endpoint, its configs and models: create, update, wait, roll-back detection and
 * pruning of old versions. Every call goes through callAws so AccessDenied and quotas get hints.
 */

export type EndpointDescription = DescribeEndpointCommandOutput

/** Statuses SageMaker moves through on its own; waiting ends on any other. */
const TRANSITIONAL = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting'])

export function isTransitional(status: string | undefined): boolean {
  return status !== undefined && TRANSITIONAL.has(status)
}

/** DescribeEndpoint; undefined when there is no such endpoint. */
export async function describeEndpoint(sm: SageMakerClient, name: string): Promise<EndpointDescription | undefined> {
  return callAwsOrUndefined({ service: 'sagemaker', operation: 'DescribeEndpoint', resource: name }, () =>
    sm.send(new DescribeEndpointCommand({ EndpointName: name })),
  )
}

/** DescribeEndpointConfig; undefined when it is gone. */
export async function describeEndpointConfig(sm: SageMakerClient, name: string): Promise<DescribeEndpointConfigCommandOutput | undefined> {
  return callAwsOrUndefined({ service: 'sagemaker', operation: 'DescribeEndpointConfig', resource: name }, () =>
    sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })),
  )
}

export async function createModel(sm: SageMakerClient, input: CreateModelInput): Promise<string | undefined> {
  const out = await callAws({ service: 'sagemaker', operation: 'CreateModel', resource: input.ModelName }, () => sm.send(new CreateModelCommand(input)))
  return out.ModelArn
}

export async function createEndpointConfig(sm: SageMakerClient, input: CreateEndpointConfigInput): Promise<string | undefined> {
  const out = await callAws({ service: 'sagemaker', operation: 'CreateEndpointConfig', resource: input.EndpointConfigName }, () =>
    sm.send(new CreateEndpointConfigCommand(input)),
  )
  return out.EndpointConfigArn
}

export async function createEndpoint(sm: SageMakerClient, input: CreateEndpointInput): Promise<string | undefined> {
  const out = await callAws({ service: 'sagemaker', operation: 'CreateEndpoint', resource: input.EndpointName }, () =>
    sm.send(new CreateEndpointCommand(input)),
  )
  return out.EndpointArn
}

export async function updateEndpoint(sm: SageMakerClient, input: UpdateEndpointInput): Promise<string | undefined> {
  const out = await callAws({ service: 'sagemaker', operation: 'UpdateEndpoint', resource: input.EndpointName }, () =>
    sm.send(new UpdateEndpointCommand(input)),
  )
  return out.EndpointArn
}

export interface WaitOptions {
  readonly timeoutMs: number
  readonly clock: Clock
  readonly signal?: AbortSignal
  /** Seconds between DescribeEndpoint calls. @default 15 */
  readonly intervalSeconds?: number
  readonly onStatus?: (status: string, elapsedMs: number) => void
  /**
   * After UpdateEndpoint: the config the update switches to. Until `settleMs` has passed, InService
   * on another config counts as "not started yet" rather than as a rollback (MLflow waits 20 s too).
   */
  readonly expectConfig?: string
  /** @default 20000 */
  readonly settleMs?: number
}

/**
 * Polls DescribeEndpoint until the endpoint leaves the transitional states, and returns the final
 * description. The caller decides what the final status means (InService on the wrong config is
 * a rollback). Deadline: OperationError 'DeadlineReached'; Ctrl-C: InterruptedError.
 */
export async function waitForEndpoint(sm: SageMakerClient, name: string, opts: WaitOptions): Promise<EndpointDescription> {
  const started = opts.clock.now()
  return pollUntil({
    what: `endpoint ${name} to leave Creating/Updating`,
    rerunHint: `\`mlops status\` shows where it is; re-run \`mlops deploy\` once it settles, or remove it with \`mlops teardown\`.`,
    timeoutMs: opts.timeoutMs,
    intervalMs: (opts.intervalSeconds ?? 15) * 1000,
    clock: opts.clock,
    signal: opts.signal,
    onStatus: opts.onStatus,
    check: async () => {
      const d = await describeEndpoint(sm, name)
      if (!d)
        throw new OperationError('EndpointVanished', `Endpoint ${name} disappeared while mlops was waiting for it.`, {
          hint: 'Someone deleted it; run `mlops deploy` again.',
        })
      const early =
        opts.expectConfig !== undefined &&
        d.EndpointStatus === 'InService' &&
        d.EndpointConfigName !== opts.expectConfig &&
        opts.clock.now() - started < (opts.settleMs ?? 20_000)
      return { done: !isTransitional(d.EndpointStatus) && !early, value: d, status: d.EndpointStatus ?? 'unknown' }
    },
  })
}

/**
 * Deletes the endpoint and waits until DescribeEndpoint says it is gone (deletion is asynchronous:
 * deploy re-creates a Failed endpoint under the same name, and teardown's "nothing left running"
 * must be true). False when it was already gone, with nothing to wait for.
 */
export async function deleteEndpointAndWait(
  sm: SageMakerClient,
  name: string,
  opts: WaitOptions & {
    /** How to finish later, added to the deadline error's hint. */
    readonly rerunHint?: string
  },
): Promise<boolean> {
  if (!(await deleteEndpoint(sm, name))) return false
  await pollUntil({
    what: `endpoint ${name} to be deleted`,
    timeoutMs: opts.timeoutMs,
    intervalMs: (opts.intervalSeconds ?? 15) * 1000,
    clock: opts.clock,
    signal: opts.signal,
    onStatus: opts.onStatus,
    ...(opts.rerunHint ? { rerunHint: opts.rerunHint } : {}),
    check: async () => {
      const d = await describeEndpoint(sm, name)
      return { done: !d, value: undefined, status: d?.EndpointStatus ?? 'Deleted' }
    },
  })
  return true
}

/** DeleteEndpoint (asynchronous; deleteEndpointAndWait waits for it); false when it was already gone. */
function deleteEndpoint(sm: SageMakerClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound({ service: 'sagemaker', operation: 'DeleteEndpoint', resource: name }, () =>
    sm.send(new DeleteEndpointCommand({ EndpointName: name })),
  )
}

/** DeleteEndpointConfig; false when it was already gone. */
export function deleteEndpointConfig(sm: SageMakerClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound({ service: 'sagemaker', operation: 'DeleteEndpointConfig', resource: name }, () =>
    sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name })),
  )
}

/** DeleteModel; false when it was already gone. */
export function deleteModel(sm: SageMakerClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound({ service: 'sagemaker', operation: 'DeleteModel', resource: name }, () => sm.send(new DeleteModelCommand({ ModelName: name })))
}

/**
 * What the final description means for an update to `expectedConfig`: InService on another config
 * is SageMaker's rollback (the MLflow check, reference 5.1). Throws OperationError (exit 1).
 */
export function assertDeployed(d: EndpointDescription, expectedConfig: string, opts: { updating: boolean }): void {
  const name = d.EndpointName ?? ''
  const reason = d.FailureReason ? `: ${d.FailureReason}` : ''
  const logs = `The container's logs are in CloudWatch, log group /aws/sagemaker/Endpoints/${name}.`
  if (d.EndpointStatus === 'InService' && d.EndpointConfigName === expectedConfig) return
  if (d.EndpointStatus === 'InService') {
    throw new OperationError(
      'UpdateRolledBack',
      `SageMaker rolled the update back: endpoint ${name} is InService on the previous config ${d.EndpointConfigName}, not ${expectedConfig}${reason}.`,
      {
        hint: `The old version keeps serving. ${logs} A CloudWatch alarm in ALARM during the update also rolls it back.`,
        details: { endpoint: name, servingConfig: d.EndpointConfigName, attemptedConfig: expectedConfig, failureReason: d.FailureReason },
      },
    )
  }
  if (d.EndpointStatus === 'Failed') {
    throw new OperationError('EndpointFailed', `Endpoint ${name} failed${reason || ' (SageMaker gave no reason)'}.`, {
      hint: `${logs} Fix the cause and run \`mlops deploy\` again (it replaces a failed endpoint), or \`mlops teardown\`.`,
      details: { endpoint: name, status: d.EndpointStatus, failureReason: d.FailureReason },
    })
  }
  throw new OperationError(
    'EndpointNotInService',
    `Endpoint ${name} ended ${opts.updating ? 'the update' : 'creation'} as ${d.EndpointStatus ?? 'unknown'}${reason}.`,
    {
      hint: `${logs} \`mlops status\` shows it; \`mlops teardown\` removes it.`,
      details: { endpoint: name, status: d.EndpointStatus, failureReason: d.FailureReason },
    },
  )
}

/** Names made by uniqueName: `<base>-YYYY-MM-DD-HH-MM-SS-mmm`. */
export function isVersionOf(name: string, base: string): boolean {
  return name.startsWith(`${base}-`) && /^\d{4}(-\d{2}){5}-\d{3}$/.test(name.slice(base.length + 1))
}

export interface PruneOptions {
  readonly configBase: string
  readonly modelBase: string
  /** The config the endpoint now serves, and its model: never deleted. */
  readonly currentConfig: string
  readonly currentModel: string
  /** Previous versions kept for rollback. */
  readonly keep: number
}

export interface PruneResult {
  readonly keptConfigs: string[]
  readonly deletedConfigs: string[]
  readonly deletedModels: string[]
}

interface Listed {
  name: string
  created: number
}

async function listAll(sm: SageMakerClient, kind: 'config' | 'model', base: string): Promise<Listed[]> {
  const out: Listed[] = []
  let NextToken: string | undefined
  do {
    if (kind === 'config') {
      const page = await callAws({ service: 'sagemaker', operation: 'ListEndpointConfigs' }, () =>
        sm.send(new ListEndpointConfigsCommand({ NameContains: base, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100, NextToken })),
      )
      for (const c of page.EndpointConfigs ?? []) out.push({ name: c.EndpointConfigName ?? '', created: c.CreationTime?.getTime() ?? 0 })
      NextToken = page.NextToken
    } else {
      const page = await callAws({ service: 'sagemaker', operation: 'ListModels' }, () =>
        sm.send(new ListModelsCommand({ NameContains: base, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100, NextToken })),
      )
      for (const m of page.Models ?? []) out.push({ name: m.ModelName ?? '', created: m.CreationTime?.getTime() ?? 0 })
      NextToken = page.NextToken
    }
  } while (NextToken)
  // Newest first, by creation time then by the timestamp in the name.
  return out.filter((x) => isVersionOf(x.name, base)).sort((a, b) => b.created - a.created || b.name.localeCompare(a.name))
}

/**
 * After a successful deploy: keep the serving config plus `keep` previous ones (and their models),
 * delete older configs and models of the project. Only versions older than the serving one are
 * touched, so a deploy running at the same time never loses its new model.
 */
export async function pruneOldVersions(sm: SageMakerClient, opts: PruneOptions): Promise<PruneResult> {
  const configs = await listAll(sm, 'config', opts.configBase)
  const current = configs.find((c) => c.name === opts.currentConfig)
  const older = configs.filter((c) => c.name !== opts.currentConfig && (!current || c.created <= current.created))
  const kept = older.slice(0, opts.keep)
  const doomed = older.slice(opts.keep)
  const keepModels = new Set([opts.currentModel])
  for (const c of kept) {
    const d = await describeEndpointConfig(sm, c.name)
    for (const v of d?.ProductionVariants ?? []) if (v.ModelName) keepModels.add(v.ModelName)
  }
  const deletedConfigs: string[] = []
  for (const c of doomed) {
    await deleteEndpointConfig(sm, c.name)
    deletedConfigs.push(c.name)
  }
  const models = await listAll(sm, 'model', opts.modelBase)
  const currentModel = models.find((m) => m.name === opts.currentModel)
  const deletedModels: string[] = []
  for (const m of models) {
    if (keepModels.has(m.name) || (currentModel && m.created > currentModel.created)) continue
    await deleteModel(sm, m.name)
    deletedModels.push(m.name)
  }
  return { keptConfigs: kept.map((c) => c.name), deletedConfigs, deletedModels }
}

/** An endpoint mid-change cannot be updated; say so before anything is created. */
export function assertUpdatable(d: EndpointDescription): void {
  const status = d.EndpointStatus
  if (status === 'InService' || status === 'Failed' || status === 'OutOfService') return
  if (isTransitional(status)) {
    throw new UserError('EndpointBusy', `Endpoint ${d.EndpointName} is ${status}; SageMaker accepts no update until it settles.`, {
      hint: 'Wait for it (`mlops status`), then run `mlops deploy` again. Nothing was created.',
    })
  }
  throw new OperationError(
    'EndpointNotUpdatable',
    `Endpoint ${d.EndpointName} is ${status}${d.FailureReason ? ` (${d.FailureReason})` : ''} and cannot be updated.`,
    {
      hint: 'Remove it with `mlops teardown`, then deploy again.',
    },
  )
}
