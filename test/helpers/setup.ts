import { expect } from 'vitest'
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest'

// toHaveReceivedCommandWith & co. for aws-sdk-client-mock.
expect.extend(allCustomMatcher)
