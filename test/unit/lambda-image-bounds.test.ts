import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { readFileSync } from 'node:fs'
import zlib from 'node:zlib'
import { beforeEach, describe, expect, it } from 'vitest'
import { createHandler, imageDimensions } from '../../src/lambda-runtime/handler.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/** Issue 27: the Lambda refuses, from the image header, what the endpoint would spend gigabytes resizing. */
const runtime = sdkMock(SageMakerRuntimeClient)
const client = new SageMakerRuntimeClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const JPEG = readFileSync(new URL('../../assets/sample.jpg', import.meta.url))

/** A valid greyscale PNG of width x height, all zero: a few hundred bytes whatever its size. */
function stripPng(width: number, height: number): Buffer {
  const chunk = (kind: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(kind, 'latin1'), data])
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(zlib.crc32(body) >>> 0)
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8
  const rows = Buffer.alloc((width + 1) * height)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

let logs: string[]
const handle = () => createHandler({ client: () => client, env: { ENDPOINT_NAME: 'dogs-endpoint' }, log: (l) => logs.push(l), newId: () => 'a1b2c3d4e5f6' })

beforeEach(() => {
  logs = []
  runtime.on(InvokeEndpointCommand).resolves({ Body: new TextEncoder().encode('{"predictions":[]}') as never })
})

describe('image dimensions from the header', () => {
  it('reads PNG, JPEG, GIF, BMP and WebP (lossy and lossless) sizes without decoding', () => {
    expect(imageDimensions(stripPng(1, 20000))).toEqual({ width: 1, height: 20000 })
    expect(imageDimensions(JPEG)).toEqual({ width: 224, height: 224 })
    const gif = Buffer.from('R0lGODdhLAERAIEAAAAAAAAAAAAAAAAAACwAAAAALAERAEAI', 'base64')
    expect(imageDimensions(gif)).toEqual({ width: 300, height: 17 })
    const bmp = Buffer.from('Qk36OwAAAAAAADYAAAAoAAAALAEAABEAAAABABgAAAAAAMQ7AAD', 'base64')
    expect(imageDimensions(bmp)).toEqual({ width: 300, height: 17 })
    const webp = Buffer.from('UklGRkQAAABXRUJQVlA4IDgAAACwBACdASosAREAPm02mUmkIyKhIOgAgA2JaQAAB3ZVfL3GnvJvp06dOnTp06b4AP77nMAAAAAAAA==', 'base64')
    expect(imageDimensions(webp)).toEqual({ width: 300, height: 17 })
    const webpLossless = Buffer.from('UklGRiAAAABXRUJQVlA4TBQAAAAvKwEEAAcQEf0PAAnh/3wpov8pIQ==', 'base64')
    expect(imageDimensions(webpLossless)).toEqual({ width: 300, height: 17 })
    expect(imageDimensions(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toBeUndefined()
  })
})

describe('the pre-check', () => {
  it('refuses the 157-byte 1x20000 PNG (and its transpose) before calling the endpoint', async () => {
    for (const [w, h] of [
      [1, 20000],
      [20000, 1],
    ]) {
      const png = stripPng(w, h)
      expect(png.length).toBeLessThan(200)
      const res = await handle()({ image: png.toString('base64') })
      expect(res.statusCode).toBe(400)
      expect(JSON.parse(res.body).error).toEqual({
        code: 'ImageTooLarge',
        message: `"image" is ${w}x${h}, more than 20:1 between its sides; send a photo, not a strip.`,
      })
    }
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
  })

  it('refuses more than 40 megapixels and a PNG or JPEG whose header gives no size', async () => {
    const big = stripPng(8000, 8000)
    const res = await handle()({ image: big.toString('base64') })
    expect(res.statusCode).toBe(400)
    expect(JSON.parse(res.body).error.message).toBe('"image" is 8000x8000, more than 40,000,000 pixels; send a smaller one.')
    const truncated = await handle()({ image: JPEG.subarray(0, 20).toString('base64') })
    expect(truncated.statusCode).toBe(400)
    expect(JSON.parse(truncated.body).error.message).toMatch(/no readable size in its header/)
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
  })

  it('forwards a photo and a 20:1 panorama', async () => {
    expect((await handle()({ image: JPEG.toString('base64') })).statusCode).toBe(200)
    expect((await handle()({ image: stripPng(2000, 100).toString('base64') })).statusCode).toBe(200)
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(2)
  })
})
