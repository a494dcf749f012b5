import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { registerNotBuilt } from './action.js'

export function register(program: Command, _deps: Deps): Command {
  return registerNotBuilt(program, 'invoke', 'send an image to the endpoint (or the Lambda) and print the top breeds')
}
