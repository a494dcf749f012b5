import { describe, expect, it } from 'vitest'
import { legacyTuningJobBase, longTimestamp, resourceNames, shortTimestamp, uniqueName } from '../../src/shared/naming.js'
import { isProjectResource, matchProjectName, outputOwnership } from '../../src/shared/project-ownership.js'
import { isProjectOutput } from '../../src/features/project/owned-data.js'
import { parseConfigText } from '../../src/config/load.js'

const NOW = new Date(Date.UTC(2026, 10, 22, 10, 30, 5, 123))
const STAMP = longTimestamp(NOW)
const tags = (project: string) => [
  { Key: 'mlops:project', Value: project },
  { Key: 'mlops:managed-by', Value: 'mlops' },
]
const names = (project: string) => resourceNames({ project: { name: project } })
const tuningName = (project: string) => uniqueName(names(project).tuningJobBase, NOW, 32, shortTimestamp)

// Pairs of projects whose names share a prefix, or their first 19 characters (issue 27).
const PAIRS: [string, string][] = [
  ['dogs', 'dogs-v2'],
  ['dogs', 'dogs-train'],
  ['dogs', 'dogs-model'],
  ['abcdefghijklmnopqrs-a', 'abcdefghijklmnopqrs-b'],
  ['abcdefghijklmnopqr', 'abcdefghijklmnopqr-x'],
  ['abcdefghijklm', 'abcdefghijklm-2'],
]

describe('project ownership: exact generated names, never a prefix (issue 27)', () => {
  it.each(PAIRS)('%s and %s own only their own generated names', (a, b) => {
    for (const [mine, other] of [
      [a, b],
      [b, a],
    ]) {
      const generated = {
        'training-job': uniqueName(names(mine).trainingJobBase, NOW),
        'ec2-run': uniqueName(`${mine}-ec2`, NOW),
        model: uniqueName(names(mine).modelBase, NOW),
        'endpoint-config': uniqueName(names(mine).endpointConfigBase, NOW),
        'tuning-job': tuningName(mine),
        'tuning-child': `${tuningName(mine)}-001-1a2b3c4d`,
      } as const
      for (const [kind, name] of Object.entries(generated)) {
        expect(matchProjectName(mine, name), `${mine} ${name}`).toEqual({ kind, legacy: false })
        // At most an old-style name (dogs-train-* for dogs-train's jobs), which only the tag can confirm.
        const m = matchProjectName(other, name)
        expect(m?.legacy ?? true, `${other} must not own ${name} by name`).toBe(true)
        if (!m) expect(isProjectResource(other, { name, tags: tags(other) }), `${other} tagged but not named`).toBe(false)
        expect(isProjectResource(mine, { name, tags: tags(mine) })).toBe(true)
        expect(isProjectResource(other, { name, tags: tags(mine) })).toBe(false)
      }
      expect(outputOwnership(mine, 'output', `output/${generated['training-job']}/output/model.tar.gz`)).toBe('yes')
      expect(outputOwnership(other, 'output', `output/${generated['training-job']}/output/model.tar.gz`)).toBe('no')
      expect(outputOwnership(other, 'output', `output/${generated['tuning-child']}/output/model.tar.gz`)).toBe('no')
      expect(outputOwnership(other, 'output', `output/${generated['ec2-run']}/output/model.tar.gz`)).toBe('no')
    }
  })

  it('tuning names stay within 32 characters and differ for projects that share their first 19 characters', () => {
    const a = tuningName('abcdefghijklmnopqrs-a')
    const b = tuningName('abcdefghijklmnopqrs-b')
    expect(a).not.toEqual(b)
    for (const n of [a, b, tuningName('a'.repeat(32)), tuningName('dogs')]) {
      expect(n.length).toBeLessThanOrEqual(32)
      expect(n).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$/)
    }
    expect(tuningName('dogs')).toBe('dogs-23bcd2-261122-1030')
  })

  it('names an older mlops generated are recognised only when the tag confirms the project', () => {
    const old = uniqueName(legacyTuningJobBase('abcdefghijklmnopqrs-a'), NOW, 32, shortTimestamp)
    expect(old).toBe('abcdefghijklmnopqrs-261122-1030')
    for (const project of ['abcdefghijklmnopqrs-a', 'abcdefghijklmnopqrs-b']) {
      expect(matchProjectName(project, old)).toEqual({ kind: 'tuning-job', legacy: true })
      // The output of an old tuning child is not claimed by name alone.
      expect(outputOwnership(project, 'output', `output/${old}-001-1a2b3c4d/output/model.tar.gz`)).toBe('ask-tag')
    }
    expect(isProjectResource('abcdefghijklmnopqrs-a', { name: old, tags: tags('abcdefghijklmnopqrs-a') })).toBe(true)
    expect(isProjectResource('abcdefghijklmnopqrs-b', { name: old, tags: tags('abcdefghijklmnopqrs-a') })).toBe(false)
    expect(isProjectResource('dogs', { name: 'dogs-model-1', tags: tags('dogs') })).toBe(true)
    expect(isProjectResource('dogs', { name: 'dogs-model-1', tags: undefined })).toBe(false)
    // dogs-train's model (dogs-train-model-<stamp>) is no model of dogs, even mis-tagged.
    expect(matchProjectName('dogs', `dogs-train-model-${STAMP}`, ['model'])).toBeUndefined()
    expect(isProjectResource('dogs', { name: `dogs-v2-model-${STAMP}`, tags: tags('dogs') }, ['model'])).toBe(false)
  })

  it('roles: only the fixed names, tagged', () => {
    expect(isProjectResource('dogs', { name: 'dogs-sagemaker', tags: tags('dogs') })).toBe(true)
    expect(isProjectResource('dogs', { name: 'dogs-v2-sagemaker', tags: tags('dogs') })).toBe(false)
    expect(isProjectResource('dogs', { name: 'dogs-lambda', tags: tags('dogs-v2') })).toBe(false)
  })

  it('teardown --delete-data and status count job output of the project only, not of dogs-v2', () => {
    const cfg = parseConfigText('project:\n  name: dogs\ndata:\n  bucket: shared-data\n', 'mlops.config.yaml')
    expect(isProjectOutput(cfg, `output/dogs-train-${STAMP}/output/model.tar.gz`)).toBe(true)
    expect(isProjectOutput(cfg, `output/dogs-ec2-${STAMP}/output/model.tar.gz`)).toBe(true)
    expect(isProjectOutput(cfg, `output/dogs-v2-train-${STAMP}/output/model.tar.gz`)).toBe(false)
    expect(isProjectOutput(cfg, `output/dogs-v2-ec2-${STAMP}/output/model.tar.gz`)).toBe(false)
    expect(isProjectOutput(cfg, `output/dogs-train-train-${STAMP}/output/model.tar.gz`)).toBe(false)
    expect(isProjectOutput(cfg, 'dogs/checkpoints/j/c.pt')).toBe(true)
    expect(isProjectOutput(cfg, 'dogs-v2/checkpoints/j/c.pt')).toBe(false)
  })
})
