import { afterAll, beforeEach, expect } from 'vitest'
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest'
import { resetSdkMocks, restoreSdkMocks } from './mock-sdk.js'

// toHaveReceivedCommandWith & co. for aws-sdk-client-mock.
expect.extend(allCustomMatcher)

// The shared SDK fakes (test/helpers/mock-sdk.ts) start each test empty and leave with the file.
beforeEach(resetSdkMocks)
afterAll(restoreSdkMocks)
