import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes `data` to `file` whole or not at all: in full under a temporary name of its own beside it,
 * then renamed over `file` (so a full disk or a crash never leaves half a file, and a reader sees
 * the old content or the new). On failure the temporary file is removed and the error names `file`,
 * which `fileSystemError` (src/cli.ts) renders as "No space left on device writing .mlops/state.json:
 * free space and run the command again", exit 1 (issue 27).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(tmp, data, { flag: 'wx' })
    await rename(tmp, file)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined)
    // The file meant, not the temporary name (or none: Node's ENOSPC on write names no path). The
    // CLI's one error renderer turns it into "No space left on device writing <path, relative>".
    if (e instanceof Error) (e as NodeJS.ErrnoException).path = file
    throw e
  }
}
