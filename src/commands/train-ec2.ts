import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { registerNotBuilt } from './action.js'

export function register(program: Command, _deps: Deps): Command {
  return registerNotBuilt(program, 'train-ec2', 'train on a GPU EC2 box over SSM; never leaves it running')
}
