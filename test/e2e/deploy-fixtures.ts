import { create as createTar } from 'tar'
import { tempProject } from '../helpers/cli.js'

/** A model.tar.gz as training leaves it, with a stale code/ folder that the repack must replace. */
export async function tinyModelTarGz(extra: Record<string, string> = {}): Promise<Buffer> {
  const dir = await tempProject(undefined, { 'model.pth': 'weights', 'classes.json': '["Affenpinscher"]', 'code/old.py': 'stale', ...extra })
  const files = ['model.pth', 'classes.json', 'code/old.py', ...Object.keys(extra)]
  const chunks: Buffer[] = []
  for await (const c of createTar({ cwd: dir, gzip: true, portable: true }, files) as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks)
}

/** The inference JSON scripts/inference.py answers. */
export const ANSWER = {
  predictions: [
    { label: 'Affenpinscher', index: 0, probability: 0.91 },
    { label: 'Afghan_hound', index: 1, probability: 0.05 },
    { label: 'Airedale_terrier', index: 2, probability: 0.02 },
    { label: 'Akita', index: 3, probability: 0.01 },
  ],
  top_k: 5,
  model: { arch: 'resnet50' },
}
