// The direction rules of the house plan (README, "Architecture"): imports point down only.
//   commands -> features -> aws | shared ; aws -> shared (errors and small utilities only).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
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
