// Makes dist/bin.js executable after tsc (npm link and the bin shim need the mode bit).
import { chmodSync } from 'node:fs'
chmodSync(new URL('../dist/bin.js', import.meta.url), 0o755)

// Bundles the Lambda handler (src/lambda-runtime/handler.ts) for `mlops lambda-setup`, with the same esbuild
// options the CLI uses on the fly from a source checkout, so both give the same CodeSha256.
const { writeHandlerBundle } = await import('../dist/features/lambda/bundle.js')
await writeHandlerBundle(new URL('../dist/lambda-runtime/handler.bundle.js', import.meta.url).pathname)

// The idle-stop reaper (src/lambda-runtime/reaper.ts), bundled alone the same way.
const { writeReaperBundle } = await import('../dist/features/deploy/idle-stop.js')
await writeReaperBundle(new URL('../dist/lambda-runtime/reaper.bundle.js', import.meta.url).pathname)
