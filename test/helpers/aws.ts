import { createAwsClientFactory, type AwsClientFactory, type AwsSettings } from '../../src/aws/clients.js'

/** Static test credentials: no test reads the machine's AWS configuration. */
export const FAKE_CREDENTIALS = { accessKeyId: 'a', secretAccessKey: 'b' } as const

/**
 * The AWS client factory for tests that fake AWS with aws-sdk-client-mock: real SDK clients (so
 * `mockClient(XClient)` intercepts their `send`), built by the product's own factory, in us-east-1,
 * one attempt each.
 */
export function fakeAwsFactory(): (settings?: AwsSettings) => AwsClientFactory {
  return () => createAwsClientFactory({ region: 'us-east-1', credentials: FAKE_CREDENTIALS, version: 'test', maxAttempts: 1 })
}

/** A factory that fails the test if anything asks it for a client (dry runs, flag errors). */
export function noAwsFactory(reason = 'AWS must not be reached'): (settings?: AwsSettings) => AwsClientFactory {
  return () =>
    (async () => {
      throw new Error(reason)
    }) as unknown as AwsClientFactory
}
