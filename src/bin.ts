#!/usr/bin/env node
import module from 'node:module'

// Node's on-disk compile cache (22.1+; absent on 20) makes every later start faster. It only covers
// modules loaded after it is on, so everything else is imported dynamically below.
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()

const [{ createInterface }, { runCli }, { watchInterrupts }, { systemClock }, { silenceSdkNodeVersionWarning }, { VERSION }, timings] = await Promise.all([
  import('node:readline/promises'),
  import('./cli.js'),
  import('./interrupts.js'),
  import('./shared/clock.js'),
  import('./shared/warnings.js'),
  import('./shared/version.js'),
  import('./shared/phase-timings.js'),
])
if (timings.timingsRequested(process.env)) timings.enableTimings()
timings.markPhase('start-up: the CLI modules loaded')

silenceSdkNodeVersionWarning()

// SIGINT, SIGTERM, SIGHUP and a closed output pipe all abort the running command, which cleans up
// (stops polling, terminates instances, aborts uploads); a second signal exits at once.
const interrupts = watchInterrupts(process)

const ask = async (question: string): Promise<string> => {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return await rl.question(question)
  } finally {
    rl.close()
  }
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdinIsTTY: Boolean(process.stdin.isTTY),
  ask,
  env: process.env,
  cwd: process.cwd(),
  clock: systemClock,
  signal: interrupts.signal,
  version: VERSION,
})
timings.markPhase('command finished')
if (timings.timingsRequested(process.env)) process.stderr.write(timings.formatTimings())
// Settled when the process exits, not now: a write that fails after the command returned
// (`mlops --version > /dev/full`) reports its error on a later tick.
process.on('exit', () => {
  process.exitCode = interrupts.exitCode(code)
})
