import type { S3Client } from '@aws-sdk/client-s3'
import type { MlopsConfig } from '../../config/schema.js'
import type { Channels } from './request.js'
import type { TrainingSourceDir } from '../../shared/source-dir.js'
import { UserError } from '../../shared/errors.js'
import type { CommandContext } from '../../context.js'
import { resourceNames } from '../../shared/naming.js'
import type { StateStore } from '../../shared/state.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import type { AwsClients } from '../../aws/clients.js'
import { buildCodePackage, codePackageLocation, planCodePackage, type CodePackage } from '../../shared/code-package.js'
import { ensureCodePackage } from '../../aws/s3/code-upload.js'
import { listFolders } from '../../aws/s3/class-folders.js'
import { classSetProblems, expectedLayout, SPLITS, type Split } from '../../shared/dataset-layout.js'
import { parseS3Uri } from '../../aws/arn.js'
import { executionRoleSpec, planExecutionRole } from '../../shared/roles/execution-role.js'
import { ensureRole } from '../../aws/iam/roles.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { configuredImageUris } from '../../aws/sagemaker/images.js'
import { channelUris } from '../../shared/channels.js'

/**
 * What a training job reads: the data channels `upload-data` wrote, and the code package. Both
 * are checked or built before anything is created, so a missing dataset fails in seconds with the
 * fix instead of after instances were provisioned.
 */

function splitUri(uri: string): { bucket: string; prefix: string } {
  const loc = parseS3Uri(uri)
  if (!loc) throw new Error(`internal: not an S3 URI: ${uri}`)
  // A trailing slash keeps `data/train` from matching `data/train-old/...`.
  return { bucket: loc.bucket, prefix: loc.key.replace(/\/*$/, '/') }
}

/** The train/valid/test channel URIs (same as `upload-data` writes). */
export function trainingChannels(cfg: Pick<MlopsConfig, 'data'>): Channels {
  return channelUris(cfg)
}

/** One delimited ListObjectsV2 per channel (its class folders), for --dry-run. */
export function planChannelChecks(channels: Channels): PlannedOperation[] {
  return SPLITS.map((split) => {
    const { bucket, prefix } = splitUri(channels[split])
    return {
      service: 's3',
      operation: 'ListObjectsV2',
      input: { Bucket: bucket, Prefix: prefix, Delimiter: '/' },
      note: `the ${split} channel must not be empty; its class folders match the other splits' (at least two)`,
    }
  })
}

/**
 * Fails with a `mlops upload-data` hint when a channel prefix holds no object (or the bucket is
 * missing), and, before anything is billed, when the class folders break the rules upload-data and
 * train --local check (one validator, issue 31 item 11): one class, or classes missing from a
 * split. A listing cut at 1,000 entries, or a split with objects but no folder, is left to train.py.
 */
export async function checkChannels(s3: S3Client, channels: Channels): Promise<void> {
  const empty: string[] = []
  const classes = new Map<Split, Set<string>>()
  let complete = true
  for (const split of SPLITS) {
    const { bucket, prefix } = splitUri(channels[split])
    const probe = await listFolders(s3, bucket, prefix)
    classes.set(split, new Set(probe.folders))
    complete &&= probe.complete
    if (!probe.bucketExists) {
      throw new UserError('DataMissing', `The bucket ${bucket} does not exist, so there is no training data.`, {
        hint: 'Run `mlops upload-data` first: it creates the bucket and uploads train/, valid/ and test/.',
      })
    }
    if (probe.empty) empty.push(`${split} (s3://${bucket}/${prefix})`)
  }
  if (empty.length > 0) {
    throw new UserError('DataMissing', `No training data in S3 for: ${empty.join(', ')}.`, {
      hint: 'Run `mlops upload-data` to upload train/, valid/ and test/ from data.localDir, then train again.',
    })
  }
  const problems = complete && [...classes.values()].every((c) => c.size > 0) ? classSetProblems(classes) : []
  if (problems.length > 0) {
    const base = channels.train.replace(/\/train\/?$/, '')
    throw new UserError(
      'InvalidDatasetLayout',
      `The training data in ${base} is not a dataset of train/ valid/ test/ with one folder per class (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was started:\n${problems.map((p) => `  • ${p}`).join('\n')}\n${expectedLayout(base)}`,
      {
        hint: 'Fix the dataset in data.localDir and run `mlops upload-data --delete` (it checks the layout the same way and removes what the folder no longer has), then train again.',
        details: { channels, problems },
      },
    )
  }
}

export interface PreparedCode {
  readonly pkg: CodePackage
  readonly bucket: string
  readonly key: string
  readonly uri: string
  /** Where the code came from (training.sourceDir or the bundled scripts). */
  readonly source: TrainingSourceDir
}

/** Builds sourcedir.tar.gz locally (works offline, so --dry-run shows the real content-addressed URI). */
export async function prepareCode(cfg: MlopsConfig, source: TrainingSourceDir): Promise<PreparedCode> {
  const pkg = await buildCodePackage(source.dir, cfg.training.entryPoint)
  const loc = codePackageLocation(cfg.data.bucket, cfg.project.name, pkg.sha256)
  return { pkg, ...loc, source }
}

/** The requests `train` and `tune` both make before creating their job, for --dry-run. */
export function planLaunchPrerequisites(cfg: MlopsConfig, region: string, channels: Channels, code: PreparedCode): PlannedOperation[] {
  const accountId = PLACEHOLDER.accountId
  return [
    ...(cfg.training.roleArn ? [] : [{ service: 'sts', operation: 'GetCallerIdentity', input: {}, note: 'the account id, for the execution role' }]),
    ...planExecutionRole(cfg, roleTarget(accountId, region, configuredImageUris(region, cfg))),
    ...planChannelChecks(channels),
    ...planCodePackage(code.bucket, code.key, code.pkg.sha256),
  ]
}

/**
 * What `train` and `tune` both do once the user confirmed: check the state file can be written,
 * converge the execution role (unless training.roleArn is given) and upload the code package
 * unless it is already there, recording both in state. Returns the role ARN to run as.
 */
export async function prepareLaunch(
  ctx: CommandContext,
  clients: Pick<AwsClients, 'iam' | 's3'>,
  cfg: MlopsConfig,
  region: string,
  code: PreparedCode,
  accountId: string | undefined,
  record: { state: StateStore; createdAt: string },
): Promise<{ roleArn: string; code: { uri: string; uploaded: boolean } }> {
  const { state, createdAt } = record
  // The job is recorded there so `logs`, `deploy` and `teardown` find it: check before anything exists.
  await state.checkWritable()
  const roleName = resourceNames(cfg).trainingRole
  let roleArn = cfg.training.roleArn
  if (!roleArn) {
    const role = await ensureRole(clients.iam, executionRoleSpec(cfg, roleTarget(accountId!, region, configuredImageUris(region, cfg))))
    roleArn = role.arn
    ctx.ui.step(role.created ? `Created execution role ${roleName} (least privilege)` : `Execution role ${roleName} is up to date`)
    await state.record({ kind: 'role', name: roleName, arn: role.arn, region, createdAt, details: { purpose: 'execution' } })
  }
  const uploaded = await ensureCodePackage(clients.s3, code, code.pkg)
  ctx.ui.step(uploaded.uploaded ? `Uploaded code ${uploaded.uri}` : `Code unchanged: reusing ${uploaded.uri}`)
  await state.record({ kind: 'code-package', name: uploaded.uri, region, createdAt, details: { sha256: code.pkg.sha256, files: code.pkg.files } })
  return { roleArn, code: { uri: uploaded.uri, uploaded: uploaded.uploaded } }
}
