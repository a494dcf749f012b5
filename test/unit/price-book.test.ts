import { mkdtemp, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { fileCache, formatUsd, resolvePrices } from '../../src/shared/pricing.js'
import { fakeAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * Issue 27: one price book for --budget and the estimate (the region's list, not the us-east-1 table
 * for one and the list for the other), and a price cache whose entries are checked before use.
 */

const ROLE = 'arn:aws:iam::123456789012:role/r'
const NOW = Date.parse('2026-11-22T10:00:00Z')
const TUNING = '  tuning:\n    objective: { metric: val_accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n'

/** A price cache in which ml.g4dn.xlarge costs $1.052/h (the built-in table says $0.736). */
async function cacheDir(entries: object = { 'training/ml.g4dn.xlarge': { usd: 1.052, date: '2026-11-21' } }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mlops-prices-'))
  await writeFile(path.join(dir, 'prices-us-east-1.json'), JSON.stringify({ version: 1, region: 'us-east-1', entries }))
  return dir
}

const s3 = sdkMock(S3Client)
// The cache is fresh, so the list is not asked; were it asked, it would answer nothing (never the network).
sdkMock(PricingClient).on(GetProductsCommand).resolves({ PriceList: [] })

describe('--budget and the estimate use one price book', () => {
  it('train --budget 1 at the listed $1.052/h: a run of 57m2s, estimated at $1.00, never "$1.43"', async () => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 1, Contents: [{ Key: 'data/train/a/1.jpg' }] })
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n`))
    const run = await runMlops(['train', '--budget', '1'], {
      cwd: dir,
      env: { MLOPS_CACHE_DIR: await cacheDir(), MLOPS_PRICE_LIST: undefined },
      awsFactory: fakeAwsFactory(),
      clock: fastClock(NOW),
    })
    // No terminal and no --yes: it stops at the question, after printing the summary.
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toMatch(/\$1\.00 ÷ \(\$1\.05\/h × 1 instance = \$1\.05\/h\) = 57m2s; max runtime 57m2s \(set by the budget\)/)
    expect(run.stderr).toContain('cost           up to $1.00 = $1.05/h × 1 instance × 57m2s max runtime')
    expect(run.stderr).toContain('Start training job')
    expect(run.stderr).toContain('(up to $1.00): this needs confirmation.')
    expect(run.stderr).not.toContain('$1.43')
  })

  it('tune --budget 5 at the listed price: two jobs, up to $4.21 (the table would give three, $6.31)', async () => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 1, Contents: [{ Key: 'data/train/a/1.jpg' }] })
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${TUNING}`))
    const run = await runMlops(['tune', '--budget', '5'], {
      cwd: dir,
      env: { MLOPS_CACHE_DIR: await cacheDir(), MLOPS_PRICE_LIST: undefined },
      awsFactory: fakeAwsFactory(),
      clock: fastClock(NOW),
    })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('$5.00 ÷ ($1.05/h × 1 instance × 2h max runtime = $2.10 per job) = 2 jobs')
    expect(run.stderr).toContain('(2 training jobs, up to $4.21): this needs confirmation.')
  })

  it('tune plans the price list read it now makes', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${TUNING}`))
    const run = await runMlops(['tune', '--dry-run', '--json'], { cwd: dir })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().operations.map((o: { operation: string }) => o.operation)).toContain('GetProducts')
  })
})

describe('the price cache', () => {
  it('uses only finite positive prices read on a past day; anything else is read again', async () => {
    const dir = await cacheDir({
      'training/ml.m5.large': { usd: -10, date: '2026-11-21' },
      'training/ml.m5.xlarge': { usd: 'cheap', date: '2026-11-21' },
      'training/ml.c5.xlarge': { usd: 0.2, date: '2099-01-01' },
      'training/ml.g4dn.xlarge': { usd: 1.052, date: '2026-11-21' },
      'training/ml.p3.2xlarge': { usd: Number.MAX_VALUE, date: 'yesterday' },
    })
    const fetched: string[] = []
    const book = await resolvePrices(['ml.m5.large', 'ml.m5.xlarge', 'ml.c5.xlarge', 'ml.g4dn.xlarge', 'ml.p3.2xlarge'], {
      region: 'us-east-1',
      use: 'training',
      now: () => NOW,
      cache: fileCache(path.join(dir, 'prices-us-east-1.json')),
      fetch: async (type) => {
        fetched.push(type)
        return 0.5
      },
    })
    expect(fetched).toEqual(['ml.m5.large', 'ml.m5.xlarge', 'ml.c5.xlarge', 'ml.p3.2xlarge'])
    expect(book.hourly('ml.g4dn.xlarge')).toBe(1.052)
    for (const t of ['ml.m5.large', 'ml.m5.xlarge', 'ml.c5.xlarge', 'ml.p3.2xlarge']) expect(formatUsd(book.hourly(t))).toBe('$0.50')
  })

  it('a bad entry with the price list unreachable falls back to the table, never printing a negative price', async () => {
    const dir = await cacheDir({ 'training/ml.m5.large': { usd: -10, date: '2026-11-21' } })
    const book = await resolvePrices(['ml.m5.large'], {
      region: 'us-east-1',
      use: 'training',
      now: () => NOW,
      cache: fileCache(path.join(dir, 'prices-us-east-1.json')),
      fetch: async () => {
        throw new Error('getaddrinfo ENOTFOUND api.pricing.us-east-1.amazonaws.com')
      },
    })
    expect(book.hourly('ml.m5.large')).toBeGreaterThan(0)
    expect(book.sourceOf('ml.m5.large').kind).toBe('table')
  })

  it('a cache that cannot be written leaves no temporary file behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mlops-prices-'))
    // The target is a folder, so the rename over it fails after the temporary file was written.
    const target = path.join(dir, 'prices-us-east-1.json')
    await import('node:fs/promises').then((fs) => fs.mkdir(path.join(target, 'x'), { recursive: true }))
    await fileCache(target).write({ version: 1, region: 'us-east-1', entries: {} })
    expect(await readdir(dir)).toEqual(['prices-us-east-1.json'])
  })
})
