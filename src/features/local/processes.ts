import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/**
 * Child processes for local mode: each in its own process group (so stopping it also stops what
 * it spawned: DataLoader workers, torch.multiprocessing), output read line by line, and one way
 * to stop them all: SIGTERM to every group, SIGKILL after a grace period.
 */

export interface ProcessSpec {
  /** A short name for log prefixes and errors (`algo-1`, `serve`). */
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface ProcessExit {
  readonly name: string
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The last lines it wrote to stderr (for error messages). */
  readonly tail: readonly string[]
}

/** How long a process may take to exit after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 5_000
const TAIL_LINES = 20

export interface ProcessGroup {
  readonly pids: readonly number[]
  /** Resolves when every process has exited, in spec order. */
  readonly exited: Promise<ProcessExit[]>
  /** Resolves with the first process to exit. */
  readonly firstExit: Promise<ProcessExit>
  /** SIGTERM to every process group, SIGKILL after `graceMs`; resolves when all have exited. */
  stop(graceMs?: number): Promise<ProcessExit[]>
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, sig) // the whole group: the child and everything it started
  } catch {
    // already gone
  }
}

/** Splits a stream into lines and hands each to `onLine`. */
function readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return
  let rest = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    for (const p of parts) onLine(p.replace(/\r$/, ''))
  })
  stream.on('end', () => {
    if (rest) onLine(rest)
    rest = ''
  })
}

/** Starts every spec at once. Lines go to `onLine(name, stream, line)`. */
export function startProcesses(specs: readonly ProcessSpec[], onLine: (name: string, stream: 'stdout' | 'stderr', line: string) => void): ProcessGroup {
  const children: ChildProcess[] = []
  const exits: Promise<ProcessExit>[] = []
  for (const spec of specs) {
    const child = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: { ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    children.push(child)
    const tail: string[] = []
    readLines(child.stdout, (line) => onLine(spec.name, 'stdout', line))
    readLines(child.stderr, (line) => {
      tail.push(line)
      if (tail.length > TAIL_LINES) tail.shift()
      onLine(spec.name, 'stderr', line)
    })
    exits.push(
      new Promise((resolve) => {
        child.on('error', (err) => {
          tail.push(err.message)
          resolve({ name: spec.name, code: 127, signal: null, tail })
        })
        child.on('close', (code, signal) => resolve({ name: spec.name, code, signal, tail }))
      }),
    )
  }
  const exited = Promise.all(exits)
  return {
    pids: children.map((c) => c.pid ?? -1),
    exited,
    firstExit: Promise.race(exits),
    async stop(graceMs = STOP_GRACE_MS) {
      for (const c of children) signalGroup(c, 'SIGTERM')
      const timer = setTimeout(() => children.forEach((c) => signalGroup(c, 'SIGKILL')), graceMs)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/** A TCP port on 127.0.0.1 free right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      server.close(() => resolve(port))
    })
  })
}
