import { Argument, type Command } from 'commander'
import type { Deps } from '../context.js'
import { done } from '../shared/outcome.js'
import { action } from './action.js'

const SHELLS = ['bash', 'zsh', 'fish'] as const
type Shell = (typeof SHELLS)[number]

interface CommandSpec {
  readonly name: string
  readonly description: string
  readonly flags: readonly { readonly flag: string; readonly description: string }[]
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish) for every command and flag')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  $ mlops completion bash > ~/.local/share/bash-completion/completions/mlops
  $ mlops completion zsh > "\${fpath[1]}/_mlops"
  $ mlops completion fish > ~/.config/fish/completions/mlops.fish`,
    )
    .action(
      action<Record<string, never>>(deps, async (ctx, _opts, [shell]) => {
        const tree = commandTree(program)
        ctx.ui.result(done({ shell, script: completionScript(shell as Shell, tree) /* commander checked the choice */ }), (r) => r.script)
      }),
    )
}

/** The commands and their long flags, read from the program itself so completion never drifts from it. */
export function commandTree(program: Command): { globals: CommandSpec['flags']; commands: CommandSpec[] } {
  const flagsOf = (cmd: Command) =>
    cmd.options.flatMap((o) => (o.long ? [{ flag: o.long, description: o.description }] : [])).concat([{ flag: '--help', description: 'display help' }])
  return {
    globals: flagsOf(program).filter((f) => f.flag !== '--help'),
    commands: program.commands.map((cmd) => ({ name: cmd.name(), description: cmd.description(), flags: flagsOf(cmd) })),
  }
}

export function completionScript(shell: Shell, tree: ReturnType<typeof commandTree>): string {
  if (shell === 'bash') return bashScript(tree)
  if (shell === 'zsh') return zshScript(tree)
  return fishScript(tree)
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

function bashScript({ globals, commands }: ReturnType<typeof commandTree>): string {
  const globalFlags = globals.map((f) => f.flag).join(' ')
  const cases = commands.map((c) => `    ${c.name}) flags=${quote(c.flags.map((f) => f.flag).join(' '))} ;;`).join('\n')
  return `# mlops bash completion: source it, or save it as ~/.local/share/bash-completion/completions/mlops
_mlops() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" flags="" word
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) cmd="$word"; break ;; esac
  done
  if [[ -z "$cmd" && "$cur" != -* ]]; then
    COMPREPLY=( $(compgen -W ${quote(commands.map((c) => c.name).join(' '))} -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$flags ${globalFlags}" -- "$cur") )
}
complete -o default -F _mlops mlops
`
}

function zshScript({ globals, commands }: ReturnType<typeof commandTree>): string {
  const describe = (flags: CommandSpec['flags']) => flags.map((f) => `    ${quote(`${f.flag}[${f.description.replace(/[[\]:]/g, ' ')}]`)}`).join(' \\\n')
  const cases = commands.map((c) => `  (${c.name})\n    _arguments \\\n${describe([...c.flags, ...globals])} \\\n    '*:file:_files' ;;`).join('\n')
  return `#compdef mlops
# mlops zsh completion: save it as _mlops in a folder on $fpath
_mlops() {
  local -a commands
  commands=(
${commands.map((c) => `    ${quote(`${c.name}:${c.description.replace(/:/g, ' ')}`)}`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _mlops mlops
`
}

function fishScript({ globals, commands }: ReturnType<typeof commandTree>): string {
  const lines = ['# mlops fish completion: save it as ~/.config/fish/completions/mlops.fish', 'complete -c mlops -f']
  for (const c of commands) lines.push(`complete -c mlops -n __fish_use_subcommand -a ${c.name} -d ${quote(c.description)}`)
  for (const f of globals) lines.push(`complete -c mlops -l ${f.flag.slice(2)} -d ${quote(f.description)}`)
  for (const c of commands)
    for (const f of c.flags)
      lines.push(`complete -c mlops -n ${quote(`__fish_seen_subcommand_from ${c.name}`)} -l ${f.flag.slice(2)} -d ${quote(f.description)}`)
  return lines.join('\n') + '\n'
}
