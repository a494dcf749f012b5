import type { Command } from 'commander'
import path from 'node:path'
import { splitFractionField, splitSeedField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { intOption, numberOption } from './options.js'

interface SplitDataFlags {
  readonly out?: string
  readonly valid: string
  readonly test: string
  readonly seed: string
}

const parseValid = numberOption('--valid', splitFractionField, '0.1')
const parseTest = numberOption('--test', splitFractionField, '0.1')
const parseSeed = intOption('--seed', splitSeedField, '42')

export function register(program: Command, deps: Deps): Command {
  return program
    .command('split-data')
    .description('split a folder of class folders (<folder>/<class>/<image>) into the train/ valid/ test/ layout, by seed')
    .argument('<folder>', 'folder holding one folder per class, each with its images')
    .option('--out <dir>', 'new folder for train/ valid/ test/ (must not exist or be empty; default: <folder>-split)')
    .option('--valid <fraction>', 'share of each class for valid/', '0.1')
    .option('--test <fraction>', 'share of each class for test/', '0.1')
    .option('--seed <n>', 'orders the images before the cut: the same seed gives the same split', '0')
    .addHelpText(
      'after',
      `
Every dataset command (upload-data, train --local, train) expects
  train/<class>/<image>  valid/<class>/<image>  test/<class>/<image>
with the same classes (at least two) in each split. split-data writes that from a folder of class
folders: within each class the images are ordered by sha256(seed, file name) and cut, every class
keeping at least one image per split (so a class needs at least 3). Files are copied (reflinked
where the file system can), the source is left as it is, and nothing is written on an error.
Local files only: no AWS request.

Examples:
  $ mlops split-data ./photos --out ./dataset                 80/10/10, seed 0
  $ mlops split-data ./photos --out ./dataset --valid 0.15 --test 0.15 --seed 7
  $ mlops split-data ./photos --dry-run --json                counts per class, nothing written
Then set data.localDir: ./dataset in mlops.config.yaml.`,
    )
    .action(
      action<SplitDataFlags>(deps, async (ctx, flags, args) => {
        const valid = parseValid(flags.valid)
        const test = parseTest(flags.test)
        const seed = parseSeed(flags.seed)
        if (valid + test >= 1) {
          throw new UserError('ConflictingFlags', `--valid ${valid} and --test ${test} leave nothing for train/ (together they must be less than 1).`, {
            hint: 'For example: --valid 0.1 --test 0.1',
          })
        }
        const folder = path.resolve(ctx.deps.cwd, args[0])
        const out = flags.out !== undefined ? path.resolve(ctx.deps.cwd, flags.out) : `${folder.replace(/\/+$/, '')}-split`
        const { runSplitData, renderSplitData } = await import('../features/dataset/split-data.js')
        ctx.ui.result(await runSplitData(ctx, { source: folder, out, valid, test, seed }), renderSplitData)
      }),
    )
}
