import type { Command } from 'commander'
import { CommandContext, type Deps, type GlobalOptions } from '../context.js'
import { nextStep } from './next-steps.js'
import { fromEmulator } from '../shared/emulator-errors.js'

/**
 * Wraps a command handler: builds the CommandContext from the merged global and local options,
 * and after a result prints the next step (next-steps.ts). commander calls actions as
 * (arg1, ..., argN, options, command).
 */
export function action<O>(deps: Deps, handler: (ctx: CommandContext, opts: O, args: string[]) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command
    // A variadic argument (`[runs...]`) arrives as one array: commands see a flat list of strings.
    const positional = (args.slice(0, -2).filter((a) => a !== undefined) as (string | string[])[]).flat()
    // --config left at its default: the context looks for the file in parent folders too.
    const given = command.getOptionValueSourceWithGlobals('config') !== 'default'
    const { config, ...rest } = command.optsWithGlobals() as GlobalOptions
    const globals: GlobalOptions = given && config !== undefined ? { ...rest, config } : rest
    const ctx = new CommandContext(deps, globals)
    try {
      await handler(ctx, command.opts() as O, positional)
    } catch (err) {
      // After an AWS call to an emulator on this machine, the error says it came from there (issue 31 item 5).
      const emulator = ctx.emulatorEndpoint
      throw emulator ? fromEmulator(err, emulator) : err
    }
    // A subcommand is named with its parent (`runs compare`); the root program is not part of the name.
    const name = command.parent?.parent ? `${command.parent.name()} ${command.name()}` : command.name()
    const step = nextStep(name, ctx.ui.written)
    if (step) ctx.ui.next(step)
  }
}
