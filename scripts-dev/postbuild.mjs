// Makes dist/bin.js executable after tsc (npm link and the bin shim need the mode bit).
import { chmodSync } from 'node:fs'
chmodSync(new URL('../dist/bin.js', import.meta.url), 0o755)

// Bundles the Lambda handler (src/lambda-runtime/handler.ts) for `mlops lambda-setup`, with the same esbuild
// options the CLI uses on the fly from a source checkout, so both give the same CodeSha256.
// One bundle per runtime a config may choose: esbuild's target follows the runtime (issue 14).
const { writeHandlerBundle, BUNDLE_RUNTIMES, prebuiltBundlePath } = await import('../dist/features/lambda/bundle.js')
for (const runtime of BUNDLE_RUNTIMES) {
  await writeHandlerBundle(prebuiltBundlePath(runtime, new URL('../dist/lambda-runtime/', import.meta.url).pathname), runtime)
}

// The idle-stop reaper (src/lambda-runtime/reaper.ts), bundled alone the same way for its own runtime (REAPER_LAMBDA_RUNTIME).
const { writeReaperBundle } = await import('../dist/features/deploy/arm-idle-stop.js')
await writeReaperBundle(new URL('../dist/lambda-runtime/reaper.bundle.js', import.meta.url).pathname)

// The run notifier (src/lambda-runtime/notifier.ts), bundled alone for the same runtime as the reaper.
const { writeNotifierBundle } = await import('../dist/shared/notifier-bundle.js')
const { REAPER_LAMBDA_RUNTIME } = await import('../dist/aws/lifecycle.js')
await writeNotifierBundle(REAPER_LAMBDA_RUNTIME, new URL('../dist/lambda-runtime/notifier.bundle.js', import.meta.url).pathname)
