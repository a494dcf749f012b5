import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { registerNotBuilt } from './action.js'

export function register(program: Command, _deps: Deps): Command {
  return registerNotBuilt(program, 'teardown', 'delete everything mlops created for the project')
}
