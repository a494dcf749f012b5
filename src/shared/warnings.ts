/**
 * The AWS SDK warns on every run that its releases after January 2027 need Node 22. It is true, but
 * not something a user can act on mid-command; every other warning is kept.
 */
export function silenceSdkNodeVersionWarning(): void {
  const defaults = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', (w) => {
    if (w.name === 'NodeVersionSupportWarning' || w.message.startsWith('NodeVersionSupportWarning')) return
    for (const listener of defaults) listener.call(process, w)
  })
}
