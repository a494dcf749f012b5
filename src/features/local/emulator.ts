import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { OperationError, UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import { startProcesses } from './processes.js'

/**
 * `mlops emulator` (issue 31 item 5): a local AWS for the cloud commands, with no account. It runs
 * moto's server through the launcher shipped in `emulator/moto_server.py`, the one the tests and
 * the demo use: shims for what moto 5.2 lacks (Lambda provisioned concurrency, SSM instance
 * information, SageMaker UpdateEndpoint, binary InvokeEndpoint bodies, TLS-only bucket policies),
 * the Deep Learning AMI parameters seeded, and an InvokeEndpoint answer shaped like the predictor's,
 * so `deploy`'s smoke test reads a prediction list. Foreground until Ctrl-C; state is in memory.
 */

export interface EmulatorOptions {
  /** Port on 127.0.0.1. @default 5000 */
  readonly port: number
  /** A Python with moto[server]. @default MLOPS_MOTO_PYTHON, else the first python3/python that imports moto */
  readonly python?: string
}

export interface EmulatorResult {
  readonly endpoint: string
  readonly python: string
  readonly motoVersion: string
  /** What to export in the shell that runs mlops against it. */
  readonly env: Readonly<Record<string, string>>
  readonly stoppedBy: 'interrupt'
}

/** The launcher inside the installed package. */
export const EMULATOR_LAUNCHER = path.join(PACKAGE_ROOT, 'emulator', 'moto_server.py')

/** What InvokeEndpoint answers with nothing queued: the predictor's JSON shape, saying it is canned. */
const CANNED_ANSWER = JSON.stringify({
  predictions: [{ label: 'canned answer from mlops emulator (no model runs here)', index: 0, probability: 1 }],
  model: { emulator: 'moto' },
})

/** Variables for the shell that runs mlops against the emulator (moto accepts any credentials). */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' }
}

const MOTO_PROBE = 'import moto, moto.server; print(moto.__version__)'

/** The first Python that imports moto's server, with its version. */
function findMotoPython(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): { path: string; version: string } {
  const candidates = flag ? [flag] : env.MLOPS_MOTO_PYTHON ? [env.MLOPS_MOTO_PYTHON] : ['python3', 'python']
  const tried: string[] = []
  for (const python of candidates) {
    // The environment the server will run with (its PATH decides which python3 that is).
    const r = spawnSync(python, ['-c', MOTO_PROBE], { encoding: 'utf8', timeout: 30_000, env: { ...env } })
    if (r.status === 0) return { path: python, version: r.stdout.trim() }
    tried.push(`${python}: ${r.error ? (r.error as NodeJS.ErrnoException).code : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`)}`)
  }
  throw new UserError('NoMotoPython', `No Python with moto's server found (${tried.join('; ')}).`, {
    hint: `Install it with \`python3 -m pip install 'moto[server]>=5.2,<5.3'\`, or pass --python <path> (or set MLOPS_MOTO_PYTHON) to one that has it.`,
  })
}

/** Refuses a port something already listens on, naming the flag. */
async function checkPortFree(port: number): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
  if (!free)
    throw new UserError('PortInUse', `--port ${port}: something already listens on 127.0.0.1:${port}.`, {
      hint: `If it is an emulator you started, use it as it is; else choose another port, e.g. --port ${port + 1}.`,
    })
}

/** Runs the emulator until Ctrl-C; its log goes to stderr only with --debug. */
export async function runEmulator(ctx: CommandContext, opts: EmulatorOptions): Promise<Outcome<EmulatorResult>> {
  const endpoint = `http://127.0.0.1:${opts.port}`
  const env = emulatorEnv(endpoint)
  const args = [EMULATOR_LAUNCHER, '-H', '127.0.0.1', '-p', String(opts.port)]
  if (ctx.dryRun) {
    const python = opts.python ?? ctx.deps.env.MLOPS_MOTO_PYTHON ?? 'python3'
    return planned({
      title: 'mlops emulator',
      operations: [
        { service: 'local', operation: 'StartEmulator', input: { Command: [python, ...args], Environment: { MOTO_DEFAULT_ENDPOINT_BODY: CANNED_ANSWER } } },
      ],
      notes: [`Listens on ${endpoint}; nothing reaches AWS.`],
      details: { endpoint, env },
    })
  }
  await checkPortFree(opts.port)
  const python = findMotoPython(opts.python, ctx.deps.env)
  const group = startProcesses(
    [
      {
        name: 'moto',
        command: python.path,
        args,
        cwd: ctx.deps.cwd,
        env: { ...ctx.deps.env, PYTHONUNBUFFERED: '1', MOTO_DEFAULT_ENDPOINT_BODY: CANNED_ANSWER },
      },
    ],
    (_n, _s, line) => ctx.ui.debug(line),
  )
  try {
    await waitUntilUp(ctx, endpoint, group.firstExit)
  } catch (e) {
    await group.stop()
    throw e
  }
  ctx.ui.success(`AWS emulator (moto ${python.version}) on ${endpoint}: Ctrl-C stops it, and everything in it is gone then.`)
  ctx.ui.info(
    [
      'In another terminal, point mlops at it:',
      `  export ${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      '  mlops upload-data --yes && mlops deploy --model <local run> --yes   (a run of `mlops train --local`)',
      'Errors then say they came from the emulator; InvokeEndpoint answers a canned prediction (no model runs).',
    ].join('\n'),
  )
  const interrupted = new Promise<'interrupt'>((resolve) => {
    if (ctx.signal.aborted) resolve('interrupt')
    else ctx.signal.addEventListener('abort', () => resolve('interrupt'), { once: true })
  })
  const first = await Promise.race([interrupted, group.firstExit])
  if (first === 'interrupt') {
    await group.stop()
    return done({ endpoint, python: python.path, motoVersion: python.version, env, stoppedBy: 'interrupt' })
  }
  throw new OperationError('EmulatorStopped', `The emulator stopped by itself (exit ${first.code ?? first.signal}): ${first.tail.at(-1) ?? ''}`, {
    hint: 'Run it again with --debug to see its log.',
  })
}

/** GET /moto-api/ until it answers, the process exits, or 30 s pass. */
async function waitUntilUp(ctx: CommandContext, endpoint: string, exited: Promise<{ code: number | null; tail: readonly string[] }>): Promise<void> {
  let gone: { code: number | null; tail: readonly string[] } | undefined
  void exited.then((e) => (gone = e))
  const deadline = ctx.clock.now() + 30_000
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) return
    } catch {
      // not listening yet
    }
    if (gone) throw new OperationError('EmulatorFailed', `The emulator exited (${gone.code}) before it answered: ${gone.tail.slice(-3).join(' | ')}`)
    if (ctx.clock.now() > deadline)
      throw new OperationError('EmulatorFailed', `The emulator did not answer on ${endpoint} within 30 s.`, { hint: 'Run it with --debug to see its log.' })
    await ctx.clock.sleep(200, ctx.signal)
  }
}
