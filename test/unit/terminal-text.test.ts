import { describe, expect, it } from 'vitest'
import { escapeTerminal } from '../../src/shared/terminal-text.js'

/** Issue 27: text from outside is printed with its control characters visible, never interpreted. */
describe('escapeTerminal', () => {
  it('makes ESC, CSI, OSC, BEL, CR, backspace, C1 and bidi overrides visible', () => {
    expect(escapeTerminal('GET /\x1b[2J\x1b]0;pwned\x07 404')).toBe('GET /\\x1b[2J\\x1b]0;pwned\\x07 404')
    expect(escapeTerminal('ok\rFAKE\bX\x9b31m\x7f')).toBe('ok\\x0dFAKE\\x08X\\x9b31m\\x7f')
    expect(escapeTerminal('dogs\u202egpj.exe')).toBe('dogs\\u202egpj.exe')
    expect(escapeTerminal('line\nnext')).toBe('line\\x0anext')
  })

  it('leaves printable text, tabs and non-Latin letters alone', () => {
    const text = 'POST /invocations 200 1532B 41.7ms\tÅrhus 犬 🐕 \\x1b'
    expect(escapeTerminal(text)).toBe(text)
  })
})
