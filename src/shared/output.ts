import { Chalk, type ChalkInstance } from 'chalk'
import { UserError } from './errors.js'
import type { Clock } from './clock.js'
import { planDocument, renderPlanOutcome, type Outcome, type Plan } from './outcome.js'

/** The minimal writable surface mlops needs; process.stdout/stderr and test buffers both fit. */
export interface OutStream {
  write(chunk: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface UiOptions {
  readonly stdout: OutStream
  readonly stderr: OutStream
  readonly json: boolean
  readonly debug: boolean
  /** false with --no-color. */
  readonly color: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  readonly clock: Clock
  /** --yes: confirmations are answered yes. */
  readonly yes: boolean
  /** Reads one line from the user (only called on an interactive terminal). */
  readonly ask?: (question: string) => Promise<string>
  /** Whether stdin is a terminal a person can answer on. */
  readonly stdinIsTTY?: boolean
}

export interface Spinner {
  /** New status text; printed as its own line when not interactive (only when it changed). */
  update(text: string): void
  succeed(text?: string): void
  fail(text?: string): void
  stop(): void
}

export interface ProgressBar {
  /** Sets absolute progress. `detail` is appended (for example throughput and ETA). */
  update(done: number, detail?: string): void
  done(summary?: string): void
}

/** True under a CI system (GitHub Actions, GitLab, Jenkins, Buildkite, ... all set CI). */
export function isCI(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.CI && env.CI !== 'false' && env.CI !== '0') || Boolean(env.BUILD_NUMBER || env.RUN_ID)
}

/**
 * A terminal we can redraw on. A pty with zero columns (`script -qc … /dev/null | cat`, some CI
 * runners) is not one: ora divides by the width and loops forever there. A stream that does not
 * say its width (a test fake) is taken as ora takes it, 80 columns.
 */
export function isLiveTerminal(stream: OutStream): boolean {
  return Boolean(stream.isTTY) && (stream.columns ?? 80) > 0
}

/**
 * All user-facing output goes through here: results on stdout, everything else on stderr.
 * Spinners and bars only when a person is watching (stderr TTY, not CI, not --json, not --debug).
 */
export class Ui {
  readonly c: ChalkInstance
  readonly interactive: boolean
  readonly json: boolean
  private readonly opts: UiOptions
  private resultWritten = false
  /** The outcome `result` wrote (a plan, or a result and its value), for the command's next step. */
  private outcomeWritten?: { kind: 'plan' } | { kind: 'done'; result: unknown }

  constructor(opts: UiOptions) {
    this.opts = opts
    this.json = opts.json
    const colorAllowed = opts.color && !opts.env.NO_COLOR && Boolean(opts.stderr.isTTY) && opts.env.TERM !== 'dumb'
    this.c = new Chalk({ level: colorAllowed ? 1 : 0 })
    this.interactive = isLiveTerminal(opts.stderr) && !isCI(opts.env) && !opts.json && !opts.debug
  }

  /**
   * Writes a command's outcome, once: a plan (from --dry-run) as its plan document or numbered
   * requests, a result as one JSON document with --json or else `render`'s text.
   */
  result<R, D extends object = object>(
    outcome: Outcome<R, D>,
    render: (result: R, c: ChalkInstance) => string,
    /** The human text of a plan, where the numbered requests are too many to print (upload-data). */
    renderPlan?: (plan: Plan<D>, c: ChalkInstance) => string,
  ): void {
    this.outcomeWritten = outcome.kind === 'plan' ? { kind: 'plan' } : { kind: 'done', result: outcome.result }
    if (outcome.kind === 'plan')
      this.write(planDocument(outcome.plan), () => (renderPlan ? renderPlan(outcome.plan, this.c) : renderPlanOutcome(outcome.plan, this.c)))
    else this.write(outcome.result, () => render(outcome.result, this.c))
  }

  private write(data: unknown, human: () => string): void {
    if (this.resultWritten) throw new Error('a command must write exactly one result')
    this.resultWritten = true
    if (this.json) this.opts.stdout.write(JSON.stringify(data, null, 2) + '\n')
    else {
      const text = human()
      if (text) this.opts.stdout.write(text.endsWith('\n') ? text : text + '\n')
    }
  }

  /** A progress or status line on stderr. */
  info(message: string): void {
    this.opts.stderr.write(message + '\n')
  }

  step(message: string): void {
    this.opts.stderr.write(`${this.c.cyan('›')} ${message}\n`)
  }

  success(message: string): void {
    this.opts.stderr.write(`${this.c.green('✔')} ${message}\n`)
  }

  warn(message: string): void {
    this.opts.stderr.write(`${this.c.yellow('!')} ${message}\n`)
  }

  /** What `result` wrote; undefined before (or for a command that writes none). */
  get written(): { kind: 'plan' } | { kind: 'done'; result: unknown } | undefined {
    return this.outcomeWritten
  }

  /**
   * The step to take after this command, as the last line on stderr: `Next: mlops deploy`. Not in
   * --json (stdout holds the one JSON document; scripts know their next step).
   */
  next(step: string): void {
    if (!this.json) this.opts.stderr.write(`${this.c.gray('Next:')} ${step}\n`)
  }

  debug(message: string): void {
    if (this.opts.debug) this.opts.stderr.write(this.c.gray(`[debug] ${message}`) + '\n')
  }

  /** A spinner on a terminal; otherwise one line per distinct status. Always stop it in `finally`. */
  spinner(text: string): Spinner {
    if (!this.interactive) {
      let last = ''
      const line = (t: string) => {
        if (t !== last) this.info(t)
        last = t
      }
      line(text)
      return {
        update: line,
        succeed: (t) => this.success(t ?? last),
        fail: (t) => this.warn(t ?? last),
        stop: () => undefined,
      }
    }
    const state = { text, stopped: false }
    let ora: { text: string; succeed(t?: string): void; fail(t?: string): void; stop(): void } | undefined
    void import('ora').then(({ default: oraFn }) => {
      if (state.stopped) return
      // discardStdin: false keeps stdin out of raw mode, so Ctrl-C stays a SIGINT that reaches our handler.
      ora = oraFn({ text: state.text, stream: this.opts.stderr as NodeJS.WritableStream, discardStdin: false }).start()
    })
    return {
      update: (t) => {
        state.text = t
        if (ora) ora.text = t
      },
      succeed: (t) => {
        state.stopped = true
        if (ora) ora.succeed(t ?? state.text)
        else this.success(t ?? state.text)
      },
      fail: (t) => {
        state.stopped = true
        if (ora) ora.fail(t ?? state.text)
        else this.warn(t ?? state.text)
      },
      stop: () => {
        state.stopped = true
        ora?.stop()
      },
    }
  }

  /**
   * A progress bar redrawn in place on a terminal; elsewhere a plain line at most every
   * `intervalMs` (so CI logs show progress without flooding).
   */
  progress(label: string, total: number, options: { intervalMs?: number; format?: (n: number) => string } = {}): ProgressBar {
    const fmt = options.format ?? ((n: number) => String(n))
    const interval = options.intervalMs ?? 5000
    let lastLine = -Infinity
    const render = (done: number, detail?: string) => {
      const pct = total > 0 ? Math.min(100, (done / total) * 100) : 100
      return `${label} ${pct.toFixed(0).padStart(3)}% ${fmt(done)}/${fmt(total)}${detail ? `  ${detail}` : ''}`
    }
    if (this.interactive) {
      const width = 24
      return {
        update: (done, detail) => {
          const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : width
          const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
          this.opts.stderr.write(`\r\x1b[2K${this.c.cyan(bar)} ${render(done, detail)}`)
        },
        done: (summary) => {
          this.opts.stderr.write('\r\x1b[2K')
          if (summary) this.success(summary)
        },
      }
    }
    return {
      update: (done, detail) => {
        const now = this.opts.clock.now()
        if (now - lastLine >= interval) {
          lastLine = now
          this.info(render(done, detail))
        }
      },
      done: (summary) => {
        if (summary) this.success(summary)
      },
    }
  }

  /**
   * Asks a yes/no question. --yes answers yes. Without a terminal to ask on, refuses with a hint
   * rather than guessing, so scripts never do something destructive by accident.
   */
  async confirm(question: string, { defaultYes = false } = {}): Promise<boolean> {
    if (this.opts.yes) return true
    if (!this.opts.stdinIsTTY || !this.opts.ask || this.json) {
      throw new UserError('ConfirmationRequired', `${question.replace(/\?$/, '')}: this needs confirmation.`, {
        hint: 'Re-run with --yes to confirm without a prompt (for scripts and CI).',
      })
    }
    const answer = (await this.opts.ask(`${question} ${defaultYes ? '[Y/n]' : '[y/N]'} `)).trim().toLowerCase()
    if (answer === '') return defaultYes
    return answer === 'y' || answer === 'yes'
  }
}

/** 1536 -> "1.5 KB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

/** Plain-text table with padded columns (no colour codes inside cells). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (cell ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
