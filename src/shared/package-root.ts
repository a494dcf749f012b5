import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The installed package's (or checkout's) root folder. Every module under src/shared/ (and its
 * compiled twin under dist/shared/) sits two levels below it, so this is the one place that knows.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The folder of Python scripts shipped with mlops (training code and the inference handler). */
export function bundledScriptsDir(): string {
  return path.join(PACKAGE_ROOT, 'scripts')
}
