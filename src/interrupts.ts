/**
 * How the process ends when the outside world stops it: a signal (Ctrl-C, CI cancellation, a
 * dropped SSH session) or a reader that closes our output early (`mlops … | head`). Each of them
 * aborts the one AbortSignal every command watches, so the command cleans up (terminates the box,
 * aborts the multipart upload) instead of dying mid-flight; a second signal exits at once.
 *
 * Exit codes follow the shell's 128 + signal number, so `$?` reads as if the signal had killed us:
 * SIGHUP 129, SIGINT 130, SIGTERM 143, and 141 (SIGPIPE) when a closed pipe cut the command short.
 * A command that had already finished keeps its own code (`mlops --help | head -1` exits 0).
 * Output that cannot be written for another reason (`mlops … > /dev/full`: ENOSPC) is said in one line
 * on the other stream, aborts the command the same way, and exits 1 even after a success: its result
 * was not written.
 */
export const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const
export type HandledSignal = keyof typeof SIGNAL_EXIT_CODES
export const BROKEN_PIPE_EXIT_CODE = 141
const OUTPUT_FAILED_EXIT_CODE = 1

/** The parts of `process` this needs (tests pass an EventEmitter). */
export interface ProcessLike {
  on(event: HandledSignal, listener: () => void): unknown
  exit(code: number): never | void
  readonly stdout: ErrorEmitter
  readonly stderr: ErrorEmitter & { write(s: string): unknown; isTTY?: boolean }
}
interface ErrorEmitter {
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown
}

export interface Interrupts {
  readonly signal: AbortSignal
  /** What stopped us, if anything. */
  readonly cause: () => HandledSignal | 'EPIPE' | 'OUTPUT' | undefined
  /** The exit code for a command that returned `code`. */
  exitCode(code: number): number
}

/** Output errors that mean "nobody is reading any more": stop quietly and clean up. */
const GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'EIO', 'ECONNRESET'])

export function watchInterrupts(proc: ProcessLike, controller = new AbortController()): Interrupts {
  let cause: HandledSignal | 'EPIPE' | 'OUTPUT' | undefined
  let signals = 0
  let stderrGone = false
  const say = (text: string) => {
    if (stderrGone) return
    try {
      proc.stderr.write(text)
    } catch {
      stderrGone = true
    }
  }
  const onSignal = (name: HandledSignal) => {
    signals++
    if (signals > 1) {
      if (proc.stderr.isTTY) say('\x1b[?25h') // a spinner may have hidden the cursor
      proc.exit(SIGNAL_EXIT_CODES[name])
      return
    }
    cause ??= name
    const again = name === 'SIGINT' ? 'press Ctrl-C again' : `send ${name} again`
    say(`\n${name === 'SIGINT' ? 'Interrupted' : `Received ${name}`}: cleaning up (${again} to exit at once)…\n`)
    controller.abort()
  }
  for (const name of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) proc.on(name, () => onSignal(name))

  const onOutputError = (stream: 'stdout' | 'stderr') => (err: NodeJS.ErrnoException) => {
    if (stream === 'stderr') stderrGone = true
    if (GONE.has(err.code ?? '')) cause ??= 'EPIPE'
    else if (cause !== 'OUTPUT') {
      // A full disk or a file that refuses writes: the reader is there, the bytes are not; say so once.
      cause ??= 'OUTPUT'
      const what = stream === 'stdout' ? 'standard output' : 'standard error'
      const message = (err.message ?? String(err)).replace(/^([A-Z]+): /, '')
      say(
        `✖ Cannot write to ${what}: ${message}${err.code ? ` (${err.code})` : ''}. The command stopped; free space where the output goes, or send it elsewhere.\n`,
      )
    }
    controller.abort()
  }
  proc.stdout.on('error', onOutputError('stdout'))
  proc.stderr.on('error', onOutputError('stderr'))

  return {
    signal: controller.signal,
    cause: () => cause,
    exitCode: (code) => {
      if (cause === 'OUTPUT') return code === 0 ? OUTPUT_FAILED_EXIT_CODE : code
      if (code === 0 || cause === undefined) return code
      return cause === 'EPIPE' ? BROKEN_PIPE_EXIT_CODE : SIGNAL_EXIT_CODES[cause]
    },
  }
}
