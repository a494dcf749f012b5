import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { OperationError } from '../../shared/errors.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import { createZip } from '../../shared/zip-writer.js'
import { DEFAULT_LAMBDA_RUNTIME } from '../../aws/lifecycle.js'

/**
 * The function's deployment package: src/lambda-runtime/handler.ts bundled by esbuild into one CommonJS
 * file for the Node.js runtime, zipped deterministically. `npm run build` prebuilds the bundle
 * (dist/lambda-runtime/handler.<runtime>.bundle.js, one per runtime, via scripts-dev/postbuild.mjs) so an installed mlops needs no
 * bundler; from the source tree (tsx, vitest) it is bundled on the fly with the same options, so
 * both give byte-identical zips.
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

/** esbuild's target for a Lambda runtime: `nodejs22.x` -> `node22`, so the bundle uses what that Node.js has. */
export function esbuildTarget(runtime: string): string {
  const m = /^nodejs(\d+)\.x$/.exec(runtime)
  if (!m) throw new OperationError('UnknownLambdaRuntime', `Cannot bundle the handler for Lambda runtime ${runtime}.`)
  return `node${m[1]}`
}
const HANDLER_SOURCE = path.join(PACKAGE_ROOT, 'src', 'lambda-runtime', 'handler.ts')

export interface FunctionPackage {
  /** The zip to upload as `Code.ZipFile`. */
  readonly zip: Buffer
  /** base64 SHA-256 of the zip: what Lambda reports as CodeSha256. */
  readonly codeSha256: string
  /** Where the bundled JavaScript came from. */
  readonly origin: 'prebuilt' | 'esbuild'
}

/** The esbuild options, shared by the build step and the on-the-fly path so their output matches. */
export function esbuildOptions(outfile?: string, runtime: string = DEFAULT_LAMBDA_RUNTIME) {
  return {
    absWorkingDir: PACKAGE_ROOT,
    entryPoints: [path.relative(PACKAGE_ROOT, HANDLER_SOURCE)],
    bundle: true,
    platform: 'node' as const,
    format: 'cjs' as const,
    target: esbuildTarget(runtime),
    // The Node.js runtimes ship AWS SDK v3; bundling it would add megabytes for nothing.
    external: ['@aws-sdk/*'],
    legalComments: 'none' as const,
    sourcemap: false,
    charset: 'utf8' as const,
    logLevel: 'silent' as const,
    ...(outfile ? { outfile, write: true } : { write: false }),
  }
}

/** Bundles the handler for `runtime` into `outFile` (used by `npm run build`, once per BUNDLE_RUNTIMES). */
export async function writeHandlerBundle(outFile: string, runtime: string = DEFAULT_LAMBDA_RUNTIME): Promise<void> {
  const esbuild = await import('esbuild')
  await mkdir(path.dirname(outFile), { recursive: true })
  const result = await esbuild.build({ ...esbuildOptions(undefined, runtime), write: false })
  await writeFile(outFile, result.outputFiles[0].contents)
}

/** The bundled handler for `runtime`: the prebuilt file when this is an installed build, else esbuild on the fly. */
export async function loadHandlerBundle(runtime: string = DEFAULT_LAMBDA_RUNTIME): Promise<{ code: Buffer; origin: 'prebuilt' | 'esbuild' }> {
  const prebuiltFile = prebuiltBundlePath(runtime)
  const prebuilt = await readFile(prebuiltFile).catch(() => undefined)
  if (prebuilt) return { code: prebuilt, origin: 'prebuilt' }
  let esbuild: typeof import('esbuild')
  try {
    esbuild = await import('esbuild')
  } catch (e) {
    throw new OperationError('LambdaBundleMissing', `The Lambda handler bundle (${prebuiltFile}) is missing and esbuild is not installed to build it.`, {
      hint: 'Reinstall mlops, or from a source checkout run `npm run build`.',
      cause: e,
    })
  }
  const result = await esbuild.build(esbuildOptions(undefined, runtime))
  return { code: Buffer.from(result.outputFiles![0].contents), origin: 'esbuild' }
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
