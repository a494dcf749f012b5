import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { loadLambdaBundle, writeLambdaBundle, type LambdaBundle } from './lambda-bundle.js'
import { createZip } from './zip-writer.js'

/** src/lambda-runtime/notifier.ts, bundled alone like the idle-stop reaper, for the runtime its function runs on. */
function notifierBundle(runtime: string): LambdaBundle {
  return {
    entry: path.join('src', 'lambda-runtime', 'notifier.ts'),
    runtime,
    prebuilt: fileURLToPath(new URL('../lambda-runtime/notifier.bundle.js', import.meta.url)),
    what: 'notifier',
    missingCode: 'NotifierBundleMissing',
  }
}

/**
 * Bundles the notifier into `outFile` (`npm run build`, scripts-dev/postbuild.mjs, which imports the
 * compiled module: hence the tag for knip).
 * @public
 */
export async function writeNotifierBundle(runtime: string, outFile: string): Promise<void> {
  await writeLambdaBundle(notifierBundle(runtime), outFile)
}

/** The notifier's zip: the prebuilt bundle of an installed mlops, else esbuild on the fly (source checkout). */
export async function notifierZip(runtime: string): Promise<Buffer> {
  const { code } = await loadLambdaBundle(notifierBundle(runtime))
  return createZip([{ name: 'notifier.js', data: code }])
}
