import { execFileSync } from 'node:child_process'
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createAwsClientFactory, type AwsClientFactory, type AwsSettings } from '../../src/aws/clients.js'
import { runCli } from '../../src/cli.js'
import type { Deps } from '../../src/context.js'
import type { Clock } from '../../src/shared/clock.js'

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as JSON (throws with the text when it is not exactly one JSON document). */
  json<T = any>(): T
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: Record<string, string | undefined>
  /** Pretend stderr is a terminal (spinners, colours). */
  readonly tty?: boolean
  /** Answers to prompts, in order (makes stdin look like a terminal). */
  readonly answers?: string[]
  readonly clock?: Clock
  readonly signal?: AbortSignal
  /** Replace the AWS client factory (e.g. to inject aws-sdk-client-mock clients). */
  readonly awsFactory?: (settings: AwsSettings) => AwsClientFactory
}

/** A clock whose sleep resolves at once and advances virtual time, so waits finish instantly. */
export function fastClock(start = Date.parse('2026-11-22T10:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start
  return {
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) {
        const { InterruptedError } = await import('../../src/shared/errors.js')
        throw new InterruptedError()
      }
      now += ms
      await new Promise((r) => setImmediate(r))
    },
    advance: (ms) => {
      now += ms
    },
  }
}

/**
 * An environment with no credentials, no profile, no profile files and no endpoint: a command that
 * tried to reach AWS would fail. What every offline test (dry runs, refusals before any call) runs with.
 */
export const OFFLINE_ENV: Readonly<Record<string, string | undefined>> = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_ENDPOINT_URL: undefined,
  AWS_CONFIG_FILE: '/nonexistent',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
}

/** One price cache per test process, never the user's ~/.cache. */
const PRICE_CACHE = path.join(os.tmpdir(), `mlops-test-prices-${process.pid}`)

/** Runs the CLI in-process with captured output. AWS retries are kept to one attempt. */
export async function runMlops(args: string[], opts: RunOptions = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const answers = [...(opts.answers ?? [])]
  const deps: Deps = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: Boolean(opts.tty) },
    stdinIsTTY: opts.answers !== undefined,
    ask: async (q) => {
      stderr += q
      return answers.shift() ?? ''
    },
    env: {
      NO_COLOR: opts.tty ? undefined : '1',
      // No test reaches past loopback: without an emulator endpoint the Price List API is not asked
      // (the built-in table answers); with one, the pricing client follows it to moto.
      MLOPS_PRICE_LIST: opts.env?.AWS_ENDPOINT_URL ? undefined : 'off',
      MLOPS_CACHE_DIR: PRICE_CACHE,
      // The preflight (quotas, permission simulation) is off unless a test turns it on with
      // MLOPS_PREFLIGHT: 'on': most fakes do not answer Service Quotas or IAM, and moto implements
      // neither, so it would only add a warning to every run. test/unit/preflight.test.ts and the
      // plan-vs-sent test on moto run it.
      MLOPS_PREFLIGHT: 'off',
      ...opts.env,
    },
    cwd: opts.cwd ?? process.cwd(),
    clock: opts.clock ?? fastClock(),
    signal: opts.signal ?? new AbortController().signal,
    awsFactory: opts.awsFactory ?? ((s) => createAwsClientFactory({ ...s, maxAttempts: 1 })),
    version: '0.0.0-test',
  }
  const code = await runCli(args, deps)
  return {
    code,
    stdout,
    stderr,
    json: () => {
      try {
        return JSON.parse(stdout)
      } catch {
        throw new Error(`stdout is not one JSON document:\n${stdout}\n--- stderr:\n${stderr}`)
      }
    },
  }
}

/** A temporary project folder with the given config text written as mlops.config.yaml. */
export async function tempProject(configText?: string, files: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-test-'))
  if (configText !== undefined) await writeFile(path.join(dir, 'mlops.config.yaml'), configText)
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true })
    await writeFile(path.join(dir, rel), content)
  }
  return dir
}

/** A minimal valid config; `extra` is appended verbatim (YAML). */
export function minimalConfig(extra = '', project = 'dogs', bucket = 'dogs-data'): string {
  return `project:\n  name: ${project}\ndata:\n  bucket: ${bucket}\n  localDir: ./dogImages\n${extra}`
}

/** Repository root, for scripts and assets the tests use. */
const REPO_ROOT = path.resolve(import.meta.dirname, '../..')

/**
 * Writes a tiny synthetic dogImages-style dataset (train/valid/test, one folder per class) into
 * `<dir>/dogImages` with scripts-dev/make_synthetic_dataset.py on Debian's Python (which has PIL).
 */
export function makeSyntheticDataset(dir: string, o: { classes: number; train: number; valid: number; test: number; size: number }): void {
  execFileSync(
    '/usr/bin/python3',
    [
      path.join(REPO_ROOT, 'scripts-dev/make_synthetic_dataset.py'),
      ...['--out', path.join(dir, 'dogImages'), '--classes', String(o.classes), '--train-per-class', String(o.train)],
      ...['--valid-per-class', String(o.valid), '--test-per-class', String(o.test), '--size', String(o.size)],
    ],
    { stdio: 'ignore' },
  )
}
