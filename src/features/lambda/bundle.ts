import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { OperationError } from '../../shared/errors.js'
import { loadLambdaBundle, writeLambdaBundle, type LambdaBundle } from '../../shared/lambda-bundle.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import { createZip } from '../../shared/zip-writer.js'
import { DEFAULT_LAMBDA_RUNTIME } from '../../aws/lifecycle.js'

/**
 * The function's deployment package: src/lambda-runtime/handler.ts bundled (shared/lambda-bundle.ts)
 * for the Node.js runtime, zipped deterministically. `npm run build` prebuilds one bundle per runtime
 * (dist/lambda-runtime/handler.<runtime>.bundle.js, via scripts-dev/postbuild.mjs).
 */

/** Name of the file inside the zip, and the function's Handler setting. */
export const HANDLER_FILE = 'handler.js'
export const LAMBDA_HANDLER = 'handler.handler'
/** Lambda's limit for a direct ZipFile upload is 50 MB; ours must stay tiny (the SDK is in the runtime). */
export const MAX_ZIP_BYTES = 100 * 1024

/** The runtimes `npm run build` prebuilds a bundle for (the ones mlops lets a config choose). */
export const BUNDLE_RUNTIMES = ['nodejs24.x', 'nodejs22.x'] as const

/** Beside the compiled module in dist/ (absent in src/, where the handler is bundled on the fly); one per runtime. */
export function prebuiltBundlePath(runtime: string, dir = fileURLToPath(new URL('../../lambda-runtime/', import.meta.url))): string {
  return path.join(dir, `handler.${runtime}.bundle.js`)
}

export interface FunctionPackage {
  /** The zip to upload as `Code.ZipFile`. */
  readonly zip: Buffer
  /** base64 SHA-256 of the zip: what Lambda reports as CodeSha256. */
  readonly codeSha256: string
  /** Where the bundled JavaScript came from. */
  readonly origin: 'prebuilt' | 'esbuild'
}

/** The handler's bundle for `runtime`. */
export function handlerBundle(runtime: string = DEFAULT_LAMBDA_RUNTIME): LambdaBundle {
  return {
    entry: path.join('src', 'lambda-runtime', 'handler.ts'),
    runtime,
    prebuilt: prebuiltBundlePath(runtime),
    what: 'Lambda handler',
    missingCode: 'LambdaBundleMissing',
  }
}

/** Bundles the handler for `runtime` into `outFile` (used by `npm run build`, once per BUNDLE_RUNTIMES). */
export async function writeHandlerBundle(outFile: string, runtime: string = DEFAULT_LAMBDA_RUNTIME): Promise<void> {
  await writeLambdaBundle(handlerBundle(runtime), outFile)
}

/** The bundled handler for `runtime`: the prebuilt file when this is an installed build, else esbuild on the fly. */
export function loadHandlerBundle(runtime: string = DEFAULT_LAMBDA_RUNTIME): Promise<{ code: Buffer; origin: 'prebuilt' | 'esbuild' }> {
  return loadLambdaBundle(handlerBundle(runtime))
}

/** The zip with the handler bundled for `runtime`, and its CodeSha256. */
export async function buildFunctionPackage(runtime: string = DEFAULT_LAMBDA_RUNTIME): Promise<FunctionPackage> {
  const { code, origin } = await loadHandlerBundle(runtime)
  const zip = createZip([{ name: HANDLER_FILE, data: code }])
  if (zip.length > MAX_ZIP_BYTES) {
    throw new OperationError('LambdaPackageTooLarge', `The Lambda package is ${zip.length} bytes; it should stay under ${MAX_ZIP_BYTES}.`, {
      hint: 'The handler must import only @aws-sdk/* (provided by the runtime) and Node built-ins.',
    })
  }
  return { zip, codeSha256: codeSha256(zip), origin }
}

/** base64 SHA-256, the form Lambda uses for CodeSha256. */
export function codeSha256(zip: Buffer): string {
  return createHash('sha256').update(zip).digest('base64')
}

/**
 * The image for the test invocation: assets/sample.jpg (a dog photo) when present, else a tiny
 * generated JPEG that still exercises the whole path.
 */
export async function loadSampleImage(): Promise<{ bytes: Buffer; source: string }> {
  const file = path.join(PACKAGE_ROOT, 'assets', 'sample.jpg')
  const bytes = await readFile(file).catch(() => undefined)
  if (bytes) return { bytes, source: 'assets/sample.jpg' }
  return { bytes: Buffer.from(TINY_JPEG_BASE64, 'base64'), source: 'a generated 8x8 JPEG' }
}

/** An 8x8 grey JPEG (baseline, 4:2:0). */
const TINY_JPEG_BASE64 =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/' +
  '2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAIAAgDASIAAhEBAxEB/8QA' +
  'HwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkK' +
  'FhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG' +
  'x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAEC' +
  'AxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOE' +
  'hYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwAooooA/9k='
