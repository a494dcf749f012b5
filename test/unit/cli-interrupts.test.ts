import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { watchInterrupts } from '../../src/interrupts.js'
import { isLiveTerminal, Ui } from '../../src/shared/output.js'
import { fastClock } from '../helpers/cli.js'

function fakeProcess() {
  const proc = new EventEmitter() as EventEmitter & {
    exits: number[]
    stdout: EventEmitter
    stderr: EventEmitter & { text: string; isTTY: boolean; write(s: string): void }
  }
  proc.exits = []
  proc.stdout = new EventEmitter()
  proc.stderr = Object.assign(new EventEmitter(), { text: '', isTTY: true, write: (s: string) => void (proc.stderr.text += s) })
  return Object.assign(proc, { exit: (code: number) => void proc.exits.push(code) })
}

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })

describe('watchInterrupts', () => {
  it('the first signal aborts the command; a second one exits at once with 128 + its number', () => {
    const proc = fakeProcess()
    const interrupts = watchInterrupts(proc)
    proc.emit('SIGTERM')
    expect(interrupts.signal.aborted).toBe(true)
    expect(proc.exits).toEqual([])
    expect(proc.stderr.text).toBe('\nReceived SIGTERM: cleaning up (send SIGTERM again to exit at once)…\n')
    proc.emit('SIGINT')
    expect(proc.exits).toEqual([130])
    expect(proc.stderr.text.endsWith('\x1b[?25h')).toBe(true) // the cursor a spinner hid comes back
    // The command that ended because of the first signal exits as that signal would have.
    expect(interrupts.exitCode(130)).toBe(143)
    expect(interrupts.exitCode(1)).toBe(143)
    expect(interrupts.exitCode(0)).toBe(0)
  })

  it('SIGHUP -> 129, SIGINT -> 130; nothing received keeps the command code', () => {
    const hup = fakeProcess()
    const a = watchInterrupts(hup)
    hup.emit('SIGHUP')
    expect(a.exitCode(130)).toBe(129)
    const int = fakeProcess()
    const b = watchInterrupts(int)
    expect(b.exitCode(2)).toBe(2)
    int.emit('SIGINT')
    expect(int.stderr.text).toContain('Interrupted: cleaning up (press Ctrl-C again to exit at once)…')
    expect(b.exitCode(130)).toBe(130)
  })

  it('a closed pipe on stdout or stderr aborts quietly (141 if it cut the command short)', () => {
    const proc = fakeProcess()
    const interrupts = watchInterrupts(proc)
    proc.stderr.emit('error', epipe())
    expect(interrupts.signal.aborted).toBe(true)
    expect(interrupts.cause()).toBe('EPIPE')
    expect(interrupts.exitCode(130)).toBe(141)
    expect(interrupts.exitCode(0)).toBe(0)
    proc.emit('SIGTERM') // nothing is written to a stderr that is gone
    expect(proc.stderr.text).toBe('')
  })

  it('stdout that cannot be written (a full disk) is said once on stderr, aborts the command and exits 1, even after a success', () => {
    const proc = fakeProcess()
    const interrupts = watchInterrupts(proc)
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    proc.stdout.emit('error', enospc())
    proc.stdout.emit('error', enospc())
    expect(interrupts.signal.aborted).toBe(true)
    expect(interrupts.cause()).toBe('OUTPUT')
    expect(proc.stderr.text).toBe(
      '✖ Cannot write to standard output: no space left on device, write (ENOSPC). The command stopped; free space where the output goes, or send it elsewhere.\n',
    )
    expect(interrupts.exitCode(0)).toBe(1)
    expect(interrupts.exitCode(2)).toBe(2)
  })
})

describe('a terminal with zero columns', () => {
  const ui = (columns: number | undefined) =>
    new Ui({
      stdout: { write: () => true },
      stderr: { write: () => true, isTTY: true, columns },
      json: false,
      debug: false,
      color: true,
      env: {},
      clock: fastClock(),
      yes: false,
    })

  it('is not interactive (no spinner, no redrawn bar)', () => {
    expect(isLiveTerminal({ write: () => true, isTTY: true, columns: 0 })).toBe(false)
    expect(ui(0).interactive).toBe(false)
    expect(ui(120).interactive).toBe(true)
    expect(ui(undefined).interactive).toBe(true) // as ora reads a stream without a width: 80 columns
  })
})
