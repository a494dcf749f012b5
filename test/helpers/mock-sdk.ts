import { mockClient, type AwsStub } from 'aws-sdk-client-mock'

/**
 * The one set of SDK fakes for tests that fake AWS in-process (after the CDK toolkit's
 * test/_helpers/mock-sdk.ts). aws-sdk-client-mock stubs a client class's prototype, so there is one
 * mock per class: `sdkMock(SageMakerClient)` returns it, creating it on first use, and a second call
 * (in another describe, another helper) returns the same stub instead of silently replacing it.
 *
 * test/helpers/setup.ts resets every mock before each test (no behaviour, no recorded calls) and
 * restores the real `send` after the file, so a file never sees another's fakes or history.
 *
 * Created on demand rather than exported as 13 constants: vitest 4 starts a fresh process per test
 * file, and importing every client package into each file that fakes one or two of them costs
 * seconds per file (client-ec2 alone takes 0.5-1.5 s to load here).
 */
type AnyStub = AwsStub<any, any, any>
const mocks = new Map<object, AnyStub>()

/** The shared mock of an SDK client class (all its instances). Same signature as `mockClient`. */
export const sdkMock: typeof mockClient = (client) => {
  let mock = mocks.get(client)
  if (!mock) {
    mock = mockClient(client) as AnyStub
    mocks.set(client, mock)
  }
  return mock
}

/** Forgets every mock's behaviour and recorded calls (unset commands resolve to undefined again). */
export function resetSdkMocks(): void {
  for (const mock of mocks.values()) mock.reset()
}

/** Puts the real `send` back on every mocked class (after a file, so moto tests see real clients). */
export function restoreSdkMocks(): void {
  for (const mock of mocks.values()) mock.restore()
  mocks.clear()
}
