#!/usr/bin/env node
import { createInterface } from 'node:readline/promises'
import { runCli } from './cli.js'
import { systemClock } from './shared/clock.js'
import { silenceSdkNodeVersionWarning } from './shared/warnings.js'
import { VERSION } from './shared/version.js'

silenceSdkNodeVersionWarning()

// Ctrl-C: the first one aborts the running command, which cleans up (stops polling, terminates
// instances, aborts uploads) and exits 130; a second one exits at once.
const controller = new AbortController()
let interrupts = 0
process.on('SIGINT', () => {
  interrupts++
  if (interrupts === 1) {
    process.stderr.write('\nInterrupted: cleaning up (press Ctrl-C again to exit at once)…\n')
    controller.abort()
  } else process.exit(130)
})

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
  signal: controller.signal,
  version: VERSION,
})
process.exitCode = code
