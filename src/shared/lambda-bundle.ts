import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { OperationError } from './errors.js'
import { PACKAGE_ROOT } from './package-root.js'

/**
 * The code of a Lambda function mlops ships (src/lambda-runtime/: the handler in front of the
 * endpoint, the idle-stop reaper), bundled by esbuild into one CommonJS file for one Node.js
 * runtime. `npm run build` prebuilds each bundle into dist/lambda-runtime/ (scripts-dev/postbuild.mjs)
 * so an installed mlops needs no bundler; from the source tree (tsx, vitest) it is bundled on the fly
 * with the same options, so both give byte-identical zips.
 */

export interface LambdaBundle {
  /** The entry file, relative to the package root (`src/lambda-runtime/handler.ts`). */
  readonly entry: string
  /** The Lambda runtime the bundle runs on (`nodejs22.x`); esbuild's target follows it. */
  readonly runtime: string
  /** The prebuilt bundle of an installed mlops (absent in a source checkout). */
  readonly prebuilt: string
  /** What it is, for the error when neither the file nor esbuild is there (`Lambda handler`). */
  readonly what: string
  /** That error's code. */
  readonly missingCode: string
}

/** esbuild's target for a Lambda runtime: `nodejs22.x` -> `node22`, so the bundle uses what that Node.js has. */
export function esbuildTarget(runtime: string): string {
  const m = /^nodejs(\d+)\.x$/.exec(runtime)
  if (!m) throw new OperationError('UnknownLambdaRuntime', `Cannot bundle the handler for Lambda runtime ${runtime}.`)
  return `node${m[1]}`
}

/** The esbuild options, shared by the build step and the on-the-fly path so their output matches. */
export function esbuildOptions(b: Pick<LambdaBundle, 'entry' | 'runtime'>) {
  return {
    absWorkingDir: PACKAGE_ROOT,
    entryPoints: [b.entry],
    bundle: true,
    platform: 'node' as const,
    format: 'cjs' as const,
    target: esbuildTarget(b.runtime),
    // The Node.js runtimes ship AWS SDK v3; bundling it would add megabytes for nothing.
    external: ['@aws-sdk/*'],
    legalComments: 'none' as const,
    sourcemap: false,
    charset: 'utf8' as const,
    logLevel: 'silent' as const,
    write: false as const,
  }
}

/** Bundles `b` into `outFile` (`npm run build`). */
export async function writeLambdaBundle(b: Pick<LambdaBundle, 'entry' | 'runtime'>, outFile: string): Promise<void> {
  const esbuild = await import('esbuild')
  await mkdir(path.dirname(outFile), { recursive: true })
  await writeFile(outFile, (await esbuild.build(esbuildOptions(b))).outputFiles[0].contents)
}

/** The bundled code: the prebuilt file when this is an installed build, else esbuild on the fly. */
export async function loadLambdaBundle(b: LambdaBundle): Promise<{ code: Buffer; origin: 'prebuilt' | 'esbuild' }> {
  const prebuilt = await readFile(b.prebuilt).catch(() => undefined)
  if (prebuilt) return { code: prebuilt, origin: 'prebuilt' }
  let esbuild: typeof import('esbuild')
  try {
    esbuild = await import('esbuild')
  } catch (e) {
    throw new OperationError(b.missingCode, `The ${b.what} bundle (${b.prebuilt}) is missing and esbuild is not installed to build it.`, {
      hint: 'Reinstall mlops, or from a source checkout run `npm run build`.',
      cause: e,
    })
  }
  const result = await esbuild.build(esbuildOptions(b))
  return { code: Buffer.from(result.outputFiles[0].contents), origin: 'esbuild' }
}
