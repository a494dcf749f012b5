/**
 * Text from outside (a request path a client sent, a field of a file someone edited, a line a child
 * process wrote) made safe to print: control characters become visible escapes, so nothing that is
 * printed can move the cursor, retitle the window, clear the screen or hide text behind a
 * right-to-left override (issue 27). Tabs stay. Use it on what mlops did not write itself, never on
 * its own coloured output.
 */

// C0 controls but tab, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional overrides.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** `text` with every control character written as `\xNN` (or `\uNNNN` for the bidi controls). */
export function escapeTerminal(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}
