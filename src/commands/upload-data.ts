import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { registerNotBuilt } from './action.js'

export function register(program: Command, _deps: Deps): Command {
  return registerNotBuilt(program, 'upload-data', 'sync train/ valid/ test/ image folders to S3 (parallel, multipart, skips unchanged files)')
}
