// The direction rules of the house plan (README, "Architecture"): imports point down only.
//   commands -> features -> aws | shared ; aws -> shared (errors and small utilities only).
/* eslint-disable @typescript-eslint/no-require-imports -- dependency-cruiser loads this CommonJS file with require() */
const fs = require('node:fs')
const path = require('node:path')
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * One command, one family: each src/commands/<name>.ts calls the one src/features/<family>/<name>.ts
 * that holds its run<Command>, so the family of a command is the folder that holds a file of its name
 * (read from the tree being cruised, so a new command needs no entry here). A command imports from that
 * family only, plus features/local for `--local`; a command no family names (completion, index, the
 * helpers) imports no feature at all.
 */
function oneFamilyRules(root) {
  const features = path.join(root, 'src', 'features')
  const commands = path.join(root, 'src', 'commands')
  if (!fs.existsSync(commands)) return []
  const families = fs.existsSync(features)
    ? fs
        .readdirSync(features, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
    : []
  const names = fs
    .readdirSync(commands)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -'.ts'.length))
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const comment =
    'A command imports exactly one feature family (the one with features/<family>/<command>.ts), plus features/local for --local. What a command needs from another family belongs in its own family, src/shared/ or src/aws/.'
  const orphans = []
  const rules = []
  for (const name of names) {
    const owners = families.filter((f) => fs.existsSync(path.join(features, f, `${name}.ts`)))
    if (owners.length > 1) {
      throw new Error(`.dependency-cruiser.cjs: ${owners.map((f) => `src/features/${f}/${name}.ts`).join(' and ')} both claim command ${name}; rename one`)
    }
    if (owners.length === 0) orphans.push(name)
    else
      rules.push({
        name: 'command-imports-one-family',
        severity: 'error',
        comment,
        from: { path: `^src/commands/${escape(name)}\\.ts$` },
        to: { path: '^src/features/', pathNot: `^src/features/(${escape(owners[0])}|local)/` },
      })
  }
  if (orphans.length > 0)
    rules.push({
      name: 'command-imports-one-family',
      severity: 'error',
      comment: `${comment} No family holds a file named after these, so they import no feature.`,
      from: { path: `^src/commands/(${orphans.map(escape).join('|')})\\.ts$` },
      to: { path: '^src/features/' },
    })
  return rules
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // depcruise runs from the root of the tree it cruises (npm run lint; the fixture trees of test/e2e/architecture.test.ts).
    ...oneFamilyRules(process.cwd()),
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only imports included: a cycle means two modules are one concept or one is in the wrong layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'aws-knows-aws-not-mlops',
      severity: 'error',
      comment:
        'src/aws/ says how one AWS call is made. It takes clients and plain values, so it imports nothing from features, commands, config or context, and from shared only errors and small utilities.',
      from: { path: '^src/aws/' },
      to: { path: '^src/(features|commands|config|lambda-runtime)/|^src/(context|cli|bin)\\.ts$|^src/shared/(?!(errors|clock|duration)\\.ts$)' },
    },
    {
      name: 'shared-is-the-bottom',
      severity: 'error',
      comment: 'src/shared/ may be used by every layer, so it imports none of them.',
      from: { path: '^src/shared/' },
      to: { path: '^src/(aws|features|commands|lambda-runtime)/|^src/(context|cli|bin)\\.ts$' },
    },
    {
      name: 'config-is-below-features',
      severity: 'error',
      comment: 'The config schema is read by features and commands; it depends on nothing above it.',
      from: { path: '^src/config/' },
      to: { path: '^src/(aws|features|commands|lambda-runtime)/|^src/(context|cli|bin)\\.ts$' },
    },
    {
      name: 'feature-never-imports-a-sibling',
      severity: 'error',
      comment: 'What two features need goes to src/shared/ or src/aws/.',
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/', pathNot: '^src/features/$1/' },
    },
    {
      name: 'features-do-not-know-commands',
      severity: 'error',
      from: { path: '^src/(features|aws|shared|config)/' },
      to: { path: '^src/commands/|^src/cli\\.ts$|^src/bin\\.ts$' },
    },
    {
      name: 'commands-never-import-aws',
      severity: 'error',
      comment: 'A command parses flags and calls one feature; AWS calls live below the features.',
      from: { path: '^src/commands/' },
      to: { path: '^src/aws/' },
    },
    {
      name: 'aws-sdk-runtime-only-in-aws',
      severity: 'error',
      comment:
        'Runtime @aws-sdk imports live in src/aws/ (type-only imports are fine anywhere). The Lambda runtime is bundled alone and runs inside AWS, so it is exempt.',
      from: { path: '^src/', pathNot: '^src/aws/|^src/lambda-runtime/' },
      to: { path: '@aws-sdk/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'src-never-imports-tools-or-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(tools|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
}
