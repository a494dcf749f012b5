import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/features/local/processes.js'
import { systemClock } from '../../src/shared/clock.js'
import { minimalConfig, runMlops, tempProject, type CliRun } from '../helpers/cli.js'
import { motoEnv } from '../helpers/moto.js'
import { trainedModelTarGz } from '../fixtures/deploy.js'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * Issue 31 item 5: `mlops emulator` runs the shipped launcher (emulator/moto_server.py) in the
 * foreground; deploy of a local model works against it (the smoke test reads its canned prediction),
 * errors after an AWS call to it say they came from it, and nothing listening there says how to start it.
 */
const signal = new AbortController()
let port: number
let endpoint: string
let emulator: Promise<CliRun>

beforeAll(async () => {
  port = await freePort()
  endpoint = `http://127.0.0.1:${port}`
  // The real clock: the emulator waits for moto's server to answer.
  emulator = runMlops(['emulator', '--port', String(port), '--json'], {
    signal: signal.signal,
    clock: systemClock,
    env: { PATH: process.env.PATH },
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    const up = await fetch(`${endpoint}/moto-api/`)
      .then((r) => r.ok)
      .catch(() => false)
    if (up) break
    if (Date.now() > deadline) throw new Error(`mlops emulator did not come up: ${JSON.stringify(await Promise.race([emulator, 'still running']))}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}, 90_000)
afterAll(() => signal.abort())

describe('mlops emulator', () => {
  it('deploys a local model there: the smoke test reads the canned prediction', async () => {
    const dir = await tempProject(minimalConfig())
    const artifact = path.join(dir, 'model.tar.gz')
    await writeFile(artifact, await trainedModelTarGz())
    await mkdir(path.join(dir, 'dogImages'), { recursive: true })
    const run = await runMlops(['deploy', '--model', './model.tar.gz', '--yes', '--json'], { cwd: dir, env: motoEnv(endpoint) })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().smokeTest.predictions[0].label).toBe('canned answer from mlops emulator (no model runs here)')
  }, 120_000)

  it('an error after a call to it says it came from the emulator', async () => {
    const dir = await tempProject(minimalConfig('', 'other', 'other-data'))
    const run = await runMlops(['logs', '--endpoint'], { cwd: dir, env: motoEnv(endpoint) })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toMatch(/✖ .*\/aws\/sagemaker\/Endpoints\/other-endpoint/)
    expect(run.stderr).toMatch(
      new RegExp(
        `hint: .+ \\(this came from the local AWS emulator at ${endpoint.replace(/\./g, '\\.')} \\(--endpoint-url, AWS_ENDPOINT_URL or aws\\.endpointUrl\\), not from AWS\\)\n`,
      ),
    )
  })

  it('nothing listening at a loopback --endpoint-url: start the emulator on that port', async () => {
    const dir = await tempProject(minimalConfig())
    const closed = await freePort()
    const run = await runMlops(['status'], { cwd: dir, env: motoEnv(`http://127.0.0.1:${closed}`) })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`✖ Nothing answers at http://127.0.0.1:${closed}, the local AWS emulator --endpoint-url names.`)
    expect(run.stderr).toContain(`hint: Start it in another terminal with \`mlops emulator --port ${closed}\``)
  })

  it('a port in use, or no Python with moto: exit 2 naming the flag, nothing started', async () => {
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
    const busy = (taken.address() as { port: number }).port
    const inUse = await runMlops(['emulator', '--port', String(busy)])
    taken.close()
    expect(inUse.code).toBe(2)
    expect(inUse.stderr).toContain(`--port ${busy}: something already listens on 127.0.0.1:${busy}.`)
    const noMoto = await runMlops(['emulator', '--port', String(await freePort()), '--python', '/nonexistent/python3'], { env: { PATH: process.env.PATH } })
    expect(noMoto.code).toBe(2)
    expect(noMoto.stderr).toContain("No Python with moto's server found (/nonexistent/python3: ENOENT).")
    expect(noMoto.stderr).toContain("python3 -m pip install 'moto[server]>=5.2,<5.3'")
  })

  it('Ctrl-C stops it: one JSON document with the endpoint and the variables to export', async () => {
    signal.abort()
    const r = await emulator
    expect(r.code, r.stderr).toBe(0)
    expect(r.json()).toMatchObject({ endpoint, stoppedBy: 'interrupt', env: { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1' } })
    expect(
      await fetch(`${endpoint}/moto-api/`)
        .then(() => 'up')
        .catch(() => 'down'),
    ).toBe('down')
  })
})
