import type { Command } from 'commander'
import type { Deps } from '../context.js'
import * as auditIam from './audit-iam.js'
import * as clean from './clean.js'
import * as completion from './completion.js'
import * as deploy from './deploy.js'
import * as doctor from './doctor.js'
import * as emulator from './emulator.js'
import * as evaluate from './evaluate.js'
import * as iamPolicy from './iam-policy.js'
import * as init from './init.js'
import * as invoke from './invoke.js'
import * as lambdaSetup from './lambda-setup.js'
import * as loadtest from './loadtest.js'
import * as logs from './logs.js'
import * as predict from './predict.js'
import * as runReport from './run-report.js'
import * as runs from './runs.js'
import * as scale from './scale.js'
import * as serve from './serve.js'
import * as splitData from './split-data.js'
import * as status from './status.js'
import * as teardown from './teardown.js'
import * as trainEc2 from './train-ec2.js'
import * as train from './train.js'
import * as tune from './tune.js'
import * as uploadData from './upload-data.js'

/**
 * Every subcommand, in the order a user meets them. Command files only declare flags and import
 * their core logic lazily, so `mlops --help` loads no AWS SDK.
 */
export const COMMANDS: readonly { register(program: Command, deps: Deps, makeProgram: (deps: Deps) => Command): Command }[] = [
  init,
  splitData,
  uploadData,
  train,
  tune,
  logs,
  runs,
  trainEc2,
  evaluate,
  predict,
  runReport,
  deploy,
  serve,
  invoke,
  lambdaSetup,
  loadtest,
  scale,
  auditIam,
  iamPolicy,
  status,
  doctor,
  teardown,
  clean,
  emulator,
  completion,
]
