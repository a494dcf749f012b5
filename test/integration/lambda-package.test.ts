import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildFunctionPackage, codeSha256, loadHandlerBundle, MAX_ZIP_BYTES, writeHandlerBundle } from '../../src/features/lambda/bundle.js'
import { createZip } from '../../src/shared/zip-writer.js'

/**
 * The Lambda deployment package as AWS reads it: bundled by esbuild (its own process), checked by an
 * independent reader (Python's zipfile). Moved from test/unit/lambda-setup.test.ts: both are processes.
 */
describe('deployment package', () => {
  it('the zip is deterministic, valid, world-readable and well under 100 KB', async () => {
    const a = await buildFunctionPackage()
    const b = await buildFunctionPackage()
    expect(a.zip.equals(b.zip)).toBe(true)
    expect(a.codeSha256).toBe(codeSha256(b.zip))
    expect(a.codeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    expect(a.zip.length).toBeLessThan(MAX_ZIP_BYTES)
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-zip-'))
    await writeFile(path.join(dir, 'fn.zip'), a.zip)
    // An independent reader: Python's zipfile checks CRCs and the directory.
    const info = execFileSync('python3', [
      '-c',
      [
        'import sys, zipfile',
        'z = zipfile.ZipFile(sys.argv[1])',
        'assert z.testzip() is None',
        'print([(i.filename, oct(i.external_attr >> 16), i.date_time) for i in z.infolist()])',
      ].join('\n'),
      path.join(dir, 'fn.zip'),
    ])
      .toString()
      .trim()
    expect(info).toBe("[('handler.js', '0o100644', (1980, 1, 1, 0, 0, 0))]")
  })

  it('deflated entries round-trip too', async () => {
    const zip = createZip([{ name: 'a.txt', data: Buffer.from('hello '.repeat(100)) }], { deflate: true })
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-zip-'))
    await writeFile(path.join(dir, 'a.zip'), zip)
    const out = execFileSync('python3', [
      '-c',
      'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("a.txt").decode()[:12])',
      path.join(dir, 'a.zip'),
    ]).toString()
    expect(out.trim()).toBe('hello hello')
  })

  it('the bundle is CommonJS, leaves the SDK to the runtime, and runs', async () => {
    const { code, origin } = await loadHandlerBundle()
    expect(origin).toBe('esbuild') // from the source tree; an installed build uses the prebuilt file
    const text = code.toString()
    expect(text).toContain('require("@aws-sdk/client-sagemaker-runtime")')
    expect(text).not.toMatch(/@smithy|middlewareStack/)
    // Load it the way the Node.js runtime loads handler.js.
    const module = { exports: {} as Record<string, unknown> }
    new Function('require', 'module', 'exports', text)(createRequire(import.meta.url), module, module.exports)
    const handler = module.exports.handler as (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }>
    const prevEnv = process.env.ENDPOINT_NAME
    process.env.ENDPOINT_NAME = 'dogs-endpoint'
    const write = process.stdout.write
    process.stdout.write = (() => true) as never
    try {
      const res = await handler({ url: 'http://insecure.example/x.jpg' }, { awsRequestId: 'r' })
      expect(res.statusCode).toBe(400)
      expect(JSON.parse(res.body).error.code).toBe('InvalidUrl')
    } finally {
      process.stdout.write = write
      if (prevEnv === undefined) delete process.env.ENDPOINT_NAME
      else process.env.ENDPOINT_NAME = prevEnv
    }
  })

  it('the build step writes the same bytes the CLI bundles on the fly (same CodeSha256 either way)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-bundle-'))
    await writeHandlerBundle(path.join(dir, 'handler.bundle.js'))
    const prebuilt = await readFile(path.join(dir, 'handler.bundle.js'))
    expect(prebuilt.equals((await loadHandlerBundle()).code)).toBe(true)
  })
})
