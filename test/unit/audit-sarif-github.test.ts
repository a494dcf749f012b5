import { describe, expect, it } from 'vitest'
import { githubUploadProblems } from '../fixtures/audit/sarif-validate.js'
import { automationId } from '../../src/features/audit/sarif.js'
import { runMlops } from '../helpers/cli.js'

const run = (results: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '2.1.0',
  runs: [{ tool: { driver: { name: 'mlops audit-iam', rules: [] } }, results, ...extra }],
})

describe('GitHub code scanning upload rules (issue 15 item 6)', () => {
  it('the checker rejects a result with only logical locations, as GitHub does', () => {
    const logicalOnly = { ruleId: 'admin-access', message: { text: 'x' }, locations: [{ logicalLocations: [{ name: 'dogs-lambda' }] }] }
    expect(githubUploadProblems(run([logicalOnly]))).toEqual(['runs[0].results[0]: no physical location with an artifact uri'])
    const placed = { ...logicalOnly, locations: [{ physicalLocation: { artifactLocation: { uri: 'iam/roles/dogs-lambda' } } }] }
    expect(githubUploadProblems(run([placed]))).toEqual([])
    expect(githubUploadProblems({ runs: [run([]).runs[0], run([]).runs[0]].map((r) => ({ ...r, automationDetails: { id: 'a/' } })) })).toEqual([
      'runs[1].automationDetails.id a/ repeated',
    ])
  })

  it('automationDetails.id is a category: tool, then the project, with a trailing slash', () => {
    expect(automationId('dogs')).toBe('mlops-audit-iam/dogs/')
    expect(automationId('policy-files')).toBe('mlops-audit-iam/policy-files/')
    expect(automationId('we ird/name')).toBe('mlops-audit-iam/we-ird-name/')
  })

  it('audit-iam --help shows the upload step with if: always() (findings exit 3)', async () => {
    const help = await runMlops(['audit-iam', '--help'])
    expect(help.stdout).toContain('  - uses: github/codeql-action/upload-sarif@v3\n    if: always()\n    with:\n      sarif_file: audit-iam.sarif')
  })
})
