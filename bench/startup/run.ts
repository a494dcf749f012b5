import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

/**
 * `mlops --help` against `aws --version` (the AWS CLI users already have), run alternately in one
 * session so machine load hits both alike; prints each median and their ratio (issue 15 item 7:
 * the target is at most 0.5). Needs `npm run build` first. RUNS=n sets the sample count.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const BIN = path.join(ROOT, 'dist/bin.js')
const AWS = process.env.AWS_CLI ?? (existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws')
const RUNS = Number(process.env.RUNS ?? 15)
if (!existsSync(BIN)) throw new Error('dist/bin.js is missing: run `npm run build` first')

const time = (cmd: string, args: string[]): number => {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { stdio: 'ignore' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

time(process.execPath, [BIN, '--help']) // warm the file cache (and the compile cache) for both
time(AWS, ['--version'])
const mlops: number[] = []
const aws: number[] = []
for (let i = 0; i < RUNS; i++) {
  mlops.push(time(process.execPath, [BIN, '--help']))
  aws.push(time(AWS, ['--version']))
}
const m = median(mlops)
const a = median(aws)
console.log(`mlops --help   median ${m.toFixed(0)} ms (${RUNS} runs, node ${process.version})`)
console.log(`aws --version  median ${a.toFixed(0)} ms (${AWS})`)
console.log(`ratio          ${(m / a).toFixed(2)} (target <= 0.50)`)
