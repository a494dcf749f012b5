// Makes dist/bin.js executable after tsc (npm link and the bin shim need the mode bit).
import { chmodSync } from 'node:fs'
chmodSync(new URL('../dist/bin.js', import.meta.url), 0o755)
