#!/usr/bin/env node
import { createInterface } from 'node:readline/promises'
import { runCli } from './cli.js'
import { watchInterrupts } from './interrupts.js'
import { systemClock } from './shared/clock.js'
import { silenceSdkNodeVersionWarning } from './shared/warnings.js'
import { VERSION } from './shared/version.js'

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
process.exitCode = interrupts.exitCode(code)
