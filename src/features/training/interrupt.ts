import type { SageMakerClient } from '@aws-sdk/client-sagemaker'
import { InterruptedError } from '../../shared/errors.js'
import type { Clock } from '../../shared/clock.js'
import { stopTrainingJob } from '../../aws/sagemaker/training-wait.js'
import { stopTuningJob } from '../../aws/sagemaker/tuning-job.js'

/** Ctrl-C during a wait: ask (or take the flag's answer), then stop the job or detach. */

export type InterruptChoice = 'stop' | 'detach'

/**
 * The Ctrl-C policy: `--stop-on-interrupt` stops the job; on a terminal a person is asked
 * ("Stop the training job? [y/N]", default no); anywhere else (CI, pipes) the safe default is to
 * detach, because stopping throws away the run and detaching loses nothing. --yes does not stop a
 * job: it answers launch confirmations, not this question.
 */
export function interruptDecider(o: {
  readonly stopOnInterrupt: boolean
  /** Present only when a person can answer (stdin is a terminal). */
  readonly ask?: (question: string) => Promise<string>
  readonly info: (message: string) => void
  /** "training job" or "tuning job". @default 'training job' */
  readonly what?: string
}): (name: string) => Promise<InterruptChoice> {
  const what = o.what ?? 'training job'
  return async (name) => {
    if (o.stopOnInterrupt) return 'stop'
    if (o.ask) {
      const answer = (await o.ask(`Stop the ${what} ${name}? [y/N] `)).trim().toLowerCase()
      return answer === 'y' || answer === 'yes' ? 'stop' : 'detach'
    }
    o.info(`No terminal to ask on: detaching from ${name} (pass --stop-on-interrupt to stop it instead).`)
    return 'detach'
  }
}

/** Always ends in InterruptedError (exit 130) that says what is still running. */
export async function interruptTrainingWait(
  sagemaker: SageMakerClient,
  jobName: string,
  decide: (jobName: string) => Promise<InterruptChoice>,
  clock: Clock,
): Promise<never> {
  const choice = await decide(jobName).catch(() => 'detach' as const)
  if (choice === 'stop') {
    const status = await stopTrainingJob(sagemaker, jobName, clock)
    throw new InterruptedError(`Interrupted: stopped training job ${jobName} (${status}). SageMaker releases its instances; nothing else is left running.`, {
      hint: `Its final status and any partial output: \`mlops logs ${jobName}\`.`,
      details: { jobName, status, action: 'stopped' },
    })
  }
  throw new InterruptedError(`Interrupted: detached from training job ${jobName}; it is still running (and billing) on AWS.`, {
    hint: `Re-attach with \`mlops logs ${jobName}\`; stop it with \`mlops logs ${jobName} --stop\`.`,
    details: { jobName, action: 'detached' },
  })
}

/** Ctrl-C during a tuning wait: StopHyperParameterTuningJob (stops every child) or detach. */
export async function interruptTuningWait(
  sagemaker: SageMakerClient,
  name: string,
  decide: (n: string) => Promise<InterruptChoice>,
  clock: Clock,
): Promise<never> {
  const choice = await decide(name).catch(() => 'detach' as const)
  if (choice === 'stop') {
    await stopTuningJob(sagemaker, name, clock)
    throw new InterruptedError(`Interrupted: stopped tuning job ${name} and its training jobs.`, { details: { tuningJobName: name, action: 'stopped' } })
  }
  throw new InterruptedError(`Interrupted: detached from tuning job ${name}; it is still running (and billing) on AWS.`, {
    hint: `Re-attach with \`mlops logs ${name}\`; stop it with \`mlops logs ${name} --stop\`.`,
    details: { tuningJobName: name, action: 'detached' },
  })
}
