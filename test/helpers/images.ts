/**
 * Tiny stand-ins for images: upload-data checks magic bytes (issue 19 item 9), so a fixture named
 * .jpg starts like a JPEG and one named .png like a PNG. The rest is the fixture's own content.
 */
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff])
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** A JPEG signature followed by `body`. */
export function jpeg(body: string | Buffer): Buffer {
  return Buffer.concat([JPEG_MAGIC, Buffer.from(body)])
}

/** `size` bytes of `fill`, the first 8 being a PNG signature (same size as `Buffer.alloc(size, fill)`). */
export function pngOfSize(size: number, fill = 0): Buffer {
  const buf = Buffer.alloc(size, fill)
  PNG_MAGIC.copy(buf, 0)
  return buf
}
