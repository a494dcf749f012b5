import { inject } from 'vitest'
import { startMoto as startOwnMoto, type MotoServer } from '../../tools/dev/moto-server.js'

// The moto launcher lives in tools/dev so `npm run demo` can use it too; tests import it from here.
export { motoClientConfig, motoEnv, type MotoServer } from '../../tools/dev/moto-server.js'

/**
 * The moto server of this test file: the e2e project's per-worker server (test/helpers/moto-workers.ts),
 * reset so the file starts from an empty AWS as it did with a server of its own; `stop()` leaves it
 * running for the worker's next file. Outside the e2e project (or with MLOPS_MOTO_PER_FILE=1), a
 * server of the file's own.
 */
export async function startMoto(): Promise<MotoServer> {
  const endpoints = (inject('motoEndpoints') as string[] | undefined) ?? []
  const endpoint = endpoints[Number(process.env.VITEST_POOL_ID ?? '1') - 1]
  if (!endpoint) return startOwnMoto()
  await waitUntilUp(endpoint)
  const post = async (p: string, body?: unknown) => {
    const res = await fetch(`${endpoint}${p}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) })
    if (!res.ok) throw new Error(`moto ${p} answered ${res.status}: ${await res.text()}`)
  }
  const server: MotoServer = {
    endpoint,
    port: Number(new URL(endpoint).port),
    reset: () => post('/moto-api/reset'),
    stop: async () => undefined,
    setEndpointResults: (results, region = 'us-east-1') => post('/moto-api/static/sagemaker/endpoint-results', { results, region }),
    setLambdaResults: (results, region = 'us-east-1') => post('/moto-api/static/lambda-simple/response', { results, region }),
  }
  await server.reset()
  return server
}

/** Polls the shared server until it answers (it starts while the first tests run); 60 s at most. */
async function waitUntilUp(endpoint: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) return
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the shared moto server on ${endpoint} did not answer within 60 s (MLOPS_MOTO_PER_FILE=1 starts one per file)`)
    await new Promise((r) => setTimeout(r, 150))
  }
}
