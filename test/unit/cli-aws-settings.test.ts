import { mkdtemp, mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildClientConfig, resolveAwsSettings } from '../../src/aws/clients.js'
import { bypassesProxy, proxyFromEnv } from '../../src/aws/proxy-settings.js'
import { profileRegion } from '../../src/aws/shared-config.js'
import { CommandContext } from '../../src/context.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const AWS_CONFIG = `# the AWS CLI's file
[default]
region = ap-south-1

[profile sso-dev]
sso_start_url = https://example.awsapps.com/start
region=eu-west-1   ; trailing comment

[profile bare]
output = json
`

async function home(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-home-'))
  await mkdir(path.join(dir, '.aws'))
  await writeFile(path.join(dir, '.aws', 'config'), AWS_CONFIG)
  return dir
}

describe('the profile region from the AWS shared config file', () => {
  it('reads [default] and [profile x] from ~/.aws/config, or AWS_CONFIG_FILE', async () => {
    const h = await home()
    expect(profileRegion({ HOME: h }, undefined)).toBe('ap-south-1')
    expect(profileRegion({ HOME: h }, 'sso-dev')).toBe('eu-west-1')
    expect(profileRegion({ HOME: h }, 'bare')).toBeUndefined()
    expect(profileRegion({ HOME: h }, 'missing')).toBeUndefined()
    const other = path.join(h, 'elsewhere')
    await writeFile(other, '[profile sso-dev]\nregion = ca-central-1\n')
    expect(profileRegion({ HOME: h, AWS_CONFIG_FILE: other }, 'sso-dev')).toBe('ca-central-1')
    expect(profileRegion({}, 'sso-dev')).toBeUndefined() // no HOME given: no file read
  })

  it('--region > AWS_REGION > AWS_DEFAULT_REGION > aws.region > profile region > us-east-1', async () => {
    const h = await home()
    const env = { HOME: h, AWS_PROFILE: 'sso-dev' }
    const region = (flags: { region?: string }, e: Record<string, string>, config?: { region?: string }) =>
      resolveAwsSettings({ flags, env: { ...env, ...e }, ...(config ? { config } : {}), version: '1' }).region
    expect(region({}, {})).toBe('eu-west-1')
    expect(region({}, { AWS_PROFILE: '' })).toBe('ap-south-1')
    expect(region({}, { AWS_PROFILE: 'bare' })).toBe('us-east-1')
    expect(region({}, {}, { region: 'us-west-2' })).toBe('us-west-2')
    expect(region({}, { AWS_DEFAULT_REGION: 'sa-east-1' }, { region: 'us-west-2' })).toBe('sa-east-1')
    expect(region({}, { AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'sa-east-1' }, { region: 'us-west-2' })).toBe('eu-north-1')
    expect(region({ region: 'me-south-1' }, { AWS_REGION: 'eu-north-1' }, { region: 'us-west-2' })).toBe('me-south-1')
  })

  it('through the CLI: a config without aws.region follows the SSO profile; one that sets it wins', async () => {
    const h = await home()
    const env = { HOME: h, AWS_PROFILE: 'sso-dev', AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }
    const bare = await tempProject()
    const init = await runMlops(['init', '--dry-run', '--json', '--project', 'dogs'], { cwd: bare, env })
    expect(init.json().bucket).toBe('dogs-mlops-eu-west-1')
    const unset = await tempProject(minimalConfig(), { 'scripts/train.py': 'print(1)\n' })
    const planned = await runMlops(['train', '--dry-run', '--json'], { cwd: unset, env })
    expect(planned.code, planned.stderr).toBe(0)
    expect(planned.stdout).toContain('.dkr.ecr.eu-west-1.amazonaws.com')
    const set = await tempProject(minimalConfig('aws:\n  region: us-west-2\n'), { 'scripts/train.py': 'print(1)\n' })
    const fixed = await runMlops(['train', '--dry-run', '--json'], { cwd: set, env })
    expect(fixed.stdout).toContain('.dkr.ecr.us-west-2.amazonaws.com')
    expect(fixed.stdout).not.toContain('eu-west-1')
  })
})

describe('CommandContext.awsSettings', () => {
  it('resolves once per config aws section (and once without one), not on every call', async () => {
    const h = await home()
    const ctx = new CommandContext(
      {
        stdout: { write: () => true },
        stderr: { write: () => true },
        stdinIsTTY: false,
        env: { HOME: h },
        cwd: h,
        clock: fastClock(),
        signal: new AbortController().signal,
        version: 'test',
      },
      {},
    )
    const cfg = { aws: { region: 'eu-central-1' } }
    const first = ctx.awsSettings(cfg)
    expect(first.region).toBe('eu-central-1')
    expect(ctx.awsSettings(cfg)).toBe(first)
    expect(ctx.awsSettings({ aws: cfg.aws })).toBe(first)
    const withoutConfig = ctx.awsSettings()
    expect(withoutConfig.region).toBe('ap-south-1') // ~/.aws/config's [default]
    await writeFile(path.join(h, '.aws', 'config'), '[default]\nregion = sa-east-1\n')
    expect(ctx.awsSettings()).toBe(withoutConfig) // the file is not read again
    expect(ctx.awsSettings({ aws: { region: 'us-west-2' } }).region).toBe('us-west-2')
  })
})

describe('retries and proxies from the environment', () => {
  it('AWS_MAX_ATTEMPTS and AWS_RETRY_MODE override the default 4 capped attempts; bad values name the variable', async () => {
    expect(resolveAwsSettings({ flags: {}, env: {}, version: '1' }).maxAttempts).toBeUndefined()
    const s = resolveAwsSettings({ flags: {}, env: { AWS_MAX_ATTEMPTS: '7', AWS_RETRY_MODE: 'adaptive' }, version: '1' })
    expect(s).toMatchObject({ maxAttempts: 7, retryMode: 'adaptive' })
    expect(await buildClientConfig(s)).toMatchObject({ retryMode: 'adaptive', maxAttempts: 7 })
    const standard = await buildClientConfig(resolveAwsSettings({ flags: {}, env: { AWS_RETRY_MODE: 'legacy' }, version: '1' }))
    const strategy = standard.retryStrategy as { maxAttemptsProvider: () => Promise<number> }
    expect(await strategy.maxAttemptsProvider()).toBe(4)
    expect(() => resolveAwsSettings({ flags: {}, env: { AWS_MAX_ATTEMPTS: 'lots' }, version: '1' })).toThrow(
      'AWS_MAX_ATTEMPTS must be a whole number from 1 to 20, got "lots".',
    )
    expect(() => resolveAwsSettings({ flags: {}, env: { AWS_RETRY_MODE: 'yolo' }, version: '1' })).toThrow(
      'AWS_RETRY_MODE must be standard, adaptive or legacy',
    )
  })

  it('reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY (upper case first) and matches NO_PROXY like curl', () => {
    expect(proxyFromEnv({})).toBeUndefined()
    expect(proxyFromEnv({ NO_PROXY: 'x' })).toBeUndefined()
    expect(proxyFromEnv({ https_proxy: 'http://p:1', HTTPS_PROXY: 'http://P:2', no_proxy: '.corp' })).toEqual({ httpsProxy: 'http://P:2', noProxy: '.corp' })
    const no = 'localhost, .internal.example,*.corp.example  10.0.0.1 s3.amazonaws.com:8443'
    expect(bypassesProxy('localhost', 80, no)).toBe(true)
    expect(bypassesProxy('a.internal.example', 443, no)).toBe(true)
    expect(bypassesProxy('internal.example', 443, no)).toBe(true)
    expect(bypassesProxy('x.corp.example', 443, no)).toBe(true)
    expect(bypassesProxy('10.0.0.1', 443, no)).toBe(true)
    expect(bypassesProxy('s3.amazonaws.com', 443, no)).toBe(false)
    expect(bypassesProxy('s3.amazonaws.com', 8443, no)).toBe(true)
    expect(bypassesProxy('sts.us-east-1.amazonaws.com', 443, no)).toBe(false)
    expect(bypassesProxy('anything', 1, '*')).toBe(true)
    expect(bypassesProxy('anything', 1, undefined)).toBe(false)
  })
})

describe('bad --region and --endpoint-url values are usage errors that name the flag', () => {
  it.each([
    [['--region', ''], '--region: must not be empty, got "".'],
    [['--region', 'mars-1'], '--region: expected an AWS region such as us-east-1 or eu-west-1, got "mars-1".'],
    [['--endpoint-url', 'notaurl'], '--endpoint-url: expected a URL with http:// or https://, such as http://127.0.0.1:5000, got "notaurl".'],
    [
      ['--endpoint-url', 'ftp://127.0.0.1:21'],
      '--endpoint-url: expected a URL with http:// or https://, such as http://127.0.0.1:5000, got "ftp://127.0.0.1:21".',
    ],
    [['--endpoint-url', ''], '--endpoint-url: must not be empty, got "".'],
  ])('%j', async (flags, message) => {
    const dir = await tempProject()
    // init would write a config: the flag is refused before anything is written.
    const run = await runMlops(['init', '--project', 'dogs', ...flags], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`✖ ${message}`)
    expect(run.stderr).not.toContain('Unexpected error')
    const { existsSync } = await import('node:fs')
    expect(existsSync(path.join(dir, 'mlops.config.yaml'))).toBe(false)
  })

  it('a bad AWS_REGION or AWS_ENDPOINT_URL names the variable', async () => {
    const dir = await tempProject()
    const region = await runMlops(['init', '--dry-run', '--project', 'dogs'], { cwd: dir, env: { AWS_REGION: 'mars-1' } })
    expect(region.code).toBe(2)
    expect(region.stderr).toContain('✖ AWS_REGION: expected an AWS region such as us-east-1 or eu-west-1, got "mars-1".')
    const url = await runMlops(['init', '--dry-run', '--project', 'dogs'], { cwd: dir, env: { AWS_ENDPOINT_URL: 'ftp://x' } })
    expect(url.code).toBe(2)
    expect(url.stderr).toContain('✖ AWS_ENDPOINT_URL: expected a URL with http:// or https://')
  })
})
