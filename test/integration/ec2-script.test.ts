import { spawnSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { list as listTar } from 'tar'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildCodePackage } from '../../src/shared/code-package.js'
import {
  ARTIFACT_MARKER,
  hyperparameterArgs,
  readRunner,
  runnerArgs,
  runShellScriptCommands,
  shellQuote,
  type TrainingParameters,
} from '../../src/features/ec2/script.js'
import { latestMetrics, parseMetricLine } from '../../src/shared/metrics.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SYSTEM_PYTHON = '/usr/bin/python3' // Debian's, with torch (CPU) and PIL

function options(over: Partial<TrainingParameters> = {}): TrainingParameters {
  return {
    runName: 'dogs-ec2-2026-11-22-10-00-00-000',
    region: 'us-east-1',
    codeUri: 's3://dogs-data/dogs/code/abc123/sourcedir.tar.gz',
    channels: { train: 's3://dogs-data/data/train', valid: 's3://dogs-data/data/valid', test: 's3://dogs-data/data/test' },
    entryPoint: 'train.py',
    pythonPath: '/opt/pytorch/bin/python',
    hyperparameters: { epochs: 3, lr: 0.001, 'freeze-backbone': true },
    distribution: 'auto',
    artifactUri: 's3://dogs-data/output/dogs-ec2-2026-11-22-10-00-00-000/output/model.tar.gz',
    outputDataUri: 's3://dogs-data/output/dogs-ec2-2026-11-22-10-00-00-000/output/output.tar.gz',
    ...over,
  }
}

/** A fake `aws` CLI: `aws s3 cp|sync` against a folder standing in for S3 (s3://b/k -> $FAKE_S3/b/k). */
const FAKE_AWS = `#!/bin/bash
set -euo pipefail
echo "aws $*" >> "$FAKE_AWS_LOG"
[ "$1" = s3 ] || { echo "fake aws: only s3" >&2; exit 2; }
op=$2; shift 2
args=(); for a in "$@"; do [ "$a" = --only-show-errors ] || args+=("$a"); done
map() { case "$1" in s3://*) echo "$FAKE_S3/\${1#s3://}";; *) echo "$1";; esac; }
src=$(map "\${args[0]}"); dst=$(map "\${args[1]}")
case "$op" in
  cp) [ -f "$src" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; }
      mkdir -p "$(dirname "$dst")"; cp "$src" "$dst";;
  sync) mkdir -p "$dst"; if [ -d "$src" ]; then cp -r "$src/." "$dst/"; fi;;
  *) exit 2;;
esac
`

interface Box {
  readonly dir: string
  readonly bin: string
  readonly s3: string
  readonly work: string
  readonly awsLog: string
}

async function makeBox(python: string | { script: string }, extraBin: Record<string, string> = {}): Promise<Box> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-ec2-box-'))
  const bin = path.join(dir, 'bin')
  const s3 = path.join(dir, 's3')
  await mkdir(bin, { recursive: true })
  await mkdir(s3, { recursive: true })
  await writeFile(path.join(bin, 'aws'), FAKE_AWS)
  await chmod(path.join(bin, 'aws'), 0o755)
  if (typeof python === 'string') await symlink(python, path.join(bin, 'python'))
  else {
    await writeFile(path.join(bin, 'python'), python.script)
    await chmod(path.join(bin, 'python'), 0o755)
  }
  for (const [name, text] of Object.entries(extraBin)) {
    await writeFile(path.join(bin, name), text)
    await chmod(path.join(bin, name), 0o755)
  }
  return { dir, bin, s3, work: path.join(dir, 'work'), awsLog: path.join(dir, 'aws.log') }
}

/** Runs the SSM commands the way the agent does: written to a file and run by `sh`. */
async function runOnBox(box: Box, commands: string[]) {
  const file = path.join(box.dir, '_script.sh')
  await writeFile(file, commands.join('\n') + '\n')
  const res = spawnSync('sh', [file], {
    encoding: 'utf8',
    timeout: 120_000,
    // The agent's minimal environment, plus where the fakes keep their state.
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin', FAKE_S3: box.s3, FAKE_AWS_LOG: box.awsLog },
  })
  return { code: res.status, stdout: res.stdout, stderr: res.stderr }
}

async function tarEntries(file: string): Promise<string[]> {
  const names: string[] = []
  await listTar({
    file,
    onReadEntry: (e) => {
      names.push(e.path)
    },
  })
  return names.sort()
}

describe('shell quoting and hyperparameters', () => {
  it('quotes for sh, including single quotes', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
    const res = spawnSync('sh', ['-c', `printf %s ${shellQuote(`a'b "$HOME" \`x\``)}`], { encoding: 'utf8' })
    expect(res.stdout).toBe(`a'b "$HOME" \`x\``)
  })
  it('passes hyperparameters as --key value sorted by key, like the SageMaker toolkit', () => {
    expect(hyperparameterArgs({ lr: 0.001, epochs: 3, 'freeze-backbone': true, arch: 'resnet18' })).toEqual([
      '--arch',
      'resnet18',
      '--epochs',
      '3',
      '--freeze-backbone',
      'true',
      '--lr',
      '0.001',
    ])
    expect(() => hyperparameterArgs({ 'bad key; rm -rf /': 1 })).toThrow(/cannot be passed as a command-line flag/)
  })
})

describe('the runner and its SSM command', () => {
  let runner: string
  beforeAll(async () => {
    runner = await readRunner()
  })

  it('the runner is the shipped scripts/ec2/train.sh, and the SSM wrapper is valid POSIX sh', async () => {
    expect(runner).toBe(await readFile(path.join(REPO, 'scripts/ec2/train.sh'), 'utf8'))
    expect(runner.startsWith('#!/bin/bash\n')).toBe(true)
    expect(runner).toContain('set -euo pipefail')
    expect(runner).not.toContain('{{')
    expect(runner).not.toMatch(/\beval\b/)
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-ec2-syntax-'))
    await writeFile(path.join(dir, 'outer.sh'), runShellScriptCommands(runner, options()).join('\n'))
    const sh = spawnSync('sh', ['-n', path.join(dir, 'outer.sh')], { encoding: 'utf8' }) // dash on Debian
    expect(sh.stderr).toBe('')
    expect(sh.status).toBe(0)
  })

  it.skipIf(spawnSync('shellcheck', ['--version']).status !== 0)('passes shellcheck', () => {
    const res = spawnSync('shellcheck', [path.join(REPO, 'scripts/ec2/train.sh')], { encoding: 'utf8' })
    expect(res.stdout).toBe('')
    expect(res.status).toBe(0)
  })

  it('passes the parameters as data: named options, then -- and the SageMaker-style hyperparameters', () => {
    expect(runnerArgs(options())).toEqual([
      '--run-name',
      'dogs-ec2-2026-11-22-10-00-00-000',
      '--region',
      'us-east-1',
      '--code-uri',
      's3://dogs-data/dogs/code/abc123/sourcedir.tar.gz',
      '--channel',
      'train=s3://dogs-data/data/train',
      '--channel',
      'valid=s3://dogs-data/data/valid',
      '--channel',
      'test=s3://dogs-data/data/test',
      '--entry-point',
      'train.py',
      '--python',
      '/opt/pytorch/bin/python',
      '--distribution',
      'auto',
      '--model-uri',
      options().artifactUri,
      '--output-uri',
      options().outputDataUri,
      '--',
      '--epochs',
      '3',
      '--freeze-backbone',
      'true',
      '--lr',
      '0.001',
    ])
  })

  it("is four lines: the agent's sh writes the runner with printf (no heredoc) and execs bash on it with quoted parameters", () => {
    const cmds = runShellScriptCommands(runner, options()).join('\n')
    expect(cmds.startsWith(`set -e\nmkdir -p '/opt/mlops'\nprintf '%s' '#!/bin/bash\n`)).toBe(true)
    expect(cmds).not.toContain('<<')
    expect(cmds).toContain(`' > '/opt/mlops/${options().runName}.sh'\nexec bash '/opt/mlops/${options().runName}.sh' '--run-name' '${options().runName}'`)
    expect(cmds.endsWith(`'--' '--epochs' '3' '--freeze-backbone' 'true' '--lr' '0.001'`)).toBe(true)
  })

  it('refuses text SSM would read as a parameter reference', () => {
    expect(() => runShellScriptCommands(runner, options({ hyperparameters: { note: '{{ssm:secret}}' } }))).toThrow(/parameter reference/)
  })
})

describe('the runner, run locally under sh + bash with a fake aws', () => {
  let pkgBody: Buffer
  let datasetDir: string
  let runner: string
  beforeAll(async () => {
    runner = await readRunner()
    const pkg = await buildCodePackage(path.join(REPO, 'scripts'), 'train.py')
    pkgBody = pkg.body
    datasetDir = await mkdtemp(path.join(os.tmpdir(), 'mlops-ec2-data-'))
    const gen = spawnSync(
      SYSTEM_PYTHON,
      [
        path.join(REPO, 'scripts-dev/make_synthetic_dataset.py'),
        '--out',
        datasetDir,
        '--classes',
        '2',
        '--train-per-class',
        '4',
        '--valid-per-class',
        '2',
        '--test-per-class',
        '2',
        '--size',
        '32',
        '--seed',
        '0',
      ],
      { encoding: 'utf8' },
    )
    expect(gen.status, gen.stderr).toBe(0)
  })

  async function seedS3(box: Box) {
    await mkdir(path.join(box.s3, 'dogs-data/dogs/code/abc123'), { recursive: true })
    await writeFile(path.join(box.s3, 'dogs-data/dogs/code/abc123/sourcedir.tar.gz'), pkgBody)
    spawnSync('cp', ['-r', datasetDir, path.join(box.s3, 'dogs-data/data')])
  }

  it.skipIf(!existsSync(SYSTEM_PYTHON))(
    'downloads code and data, trains with the real train.py, and uploads model.tar.gz with the model at its root',
    async () => {
      const box = await makeBox(SYSTEM_PYTHON)
      await seedS3(box)
      const o = options({
        pythonPath: path.join(box.bin, 'python'),
        workRoot: box.work,
        hyperparameters: { epochs: 1, arch: 'resnet18', weights: 'none', 'image-size': 32, 'num-workers': 0, 'batch-size': 4 },
      })
      const res = await runOnBox(box, runShellScriptCommands(runner, o))
      expect(res.code, res.stdout + res.stderr).toBe(0)

      const lines = res.stdout.split('\n')
      expect(lines.filter((l) => parseMetricLine(l)).length).toBeGreaterThanOrEqual(2)
      expect(latestMetrics(lines)).toMatchObject({ epoch: 1, val_accuracy: expect.any(Number), test_accuracy: expect.any(Number) })
      expect(lines).toContain(`${ARTIFACT_MARKER}${o.artifactUri}`)
      expect(lines).toContain('mlops: training on 0 GPU(s)')

      const artifact = path.join(box.s3, 'dogs-data/output', o.runName, 'output/model.tar.gz')
      const entries = await tarEntries(artifact)
      expect(entries).toEqual(expect.arrayContaining(['model.pth', 'classes.json', 'model-info.json']))
      expect(entries.some((e) => e.startsWith('./') || e.startsWith('/'))).toBe(false)
      expect(await tarEntries(path.join(box.s3, 'dogs-data/output', o.runName, 'output/output.tar.gz'))).toContain('metrics.json')

      const calls = (await readFile(box.awsLog, 'utf8')).trim().split('\n')
      expect(calls[0]).toBe(`aws s3 cp --only-show-errors ${o.codeUri} ${box.work}/${o.runName}/sourcedir.tar.gz`)
      expect(calls.filter((c) => c.startsWith('aws s3 sync'))).toHaveLength(3)
      expect(calls.at(-1)).toContain(`s3://dogs-data/output/${o.runName}/output/output.tar.gz`)
      // The code that ran is the package's train.py, extracted from sourcedir.tar.gz.
      expect(await readdir(path.join(box.work, o.runName, 'code'))).toContain('train.py')
    },
    // Trains for real with torch on the CPU: seconds, not the unit project's milliseconds.
    60_000,
  )

  it.skipIf(!existsSync(SYSTEM_PYTHON))(
    'exits non-zero, names the failed step and uploads nothing when training fails',
    async () => {
      const box = await makeBox(SYSTEM_PYTHON)
      await seedS3(box)
      const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work, hyperparameters: { arch: 'not-a-model' } })
      const res = await runOnBox(box, runShellScriptCommands(runner, o))
      expect(res.code).not.toBe(0)
      expect(res.stdout).toContain('mlops: step "train" failed with exit code 2')
      expect(res.stderr).toMatch(/invalid choice: 'not-a-model'/)
      expect(existsSync(path.join(box.s3, 'dogs-data/output'))).toBe(false)
    },
    // Starts the real train.py (torch import): seconds on a loaded machine.
    60_000,
  )

  it('hands hostile values to train.py byte for byte and runs nothing they contain', async () => {
    // A fake python that records its argv (NUL-separated) and writes a model, so every step runs.
    const fakePython = [
      '#!/bin/bash',
      'printf "%s\\0" "$@" > "$(dirname "$0")/../argv"',
      'while [ "$#" -gt 0 ]; do if [ "$1" = --model-dir ]; then echo weights > "$2/model.pth"; fi; shift; done',
    ].join('\n')
    const box = await makeBox({ script: '#!/bin/sh\nexit 0\n' })
    const pyDir = path.join(box.dir, `py 'q' $(touch PWNED)`)
    await mkdir(pyDir)
    await writeFile(path.join(pyDir, 'python'), fakePython)
    await chmod(path.join(pyDir, 'python'), 0o755)
    // The runner puts the interpreter's folder first on PATH: the fake aws lives there too.
    await writeFile(path.join(pyDir, 'aws'), FAKE_AWS)
    await chmod(path.join(pyDir, 'aws'), 0o755)
    await seedS3(box)
    const hostile = {
      quotes: `it's "quoted" \`id\` \\'`,
      newline: 'line1\nMLOPS_SCRIPT_END\nline3',
      subst: '$(touch PWNED) ; touch PWNED2 && echo $HOME',
      marker: 'MLOPS_SCRIPT_END',
    }
    const o = options({ pythonPath: path.join(pyDir, 'python'), workRoot: box.work, distribution: 'none', hyperparameters: hostile })
    const res = await runOnBox(box, runShellScriptCommands(runner, o))
    expect(res.code, res.stdout + res.stderr).toBe(0)
    const w = `${box.work}/${o.runName}`
    const argv = (await readFile(path.join(box.dir, 'argv'), 'utf8')).split('\0').slice(0, -1)
    expect(argv).toEqual([
      'train.py',
      ...['--train', `${w}/data/train`, '--valid', `${w}/data/valid`, '--test', `${w}/data/test`],
      ...['--model-dir', `${w}/model`, '--checkpoint-dir', `${w}/checkpoints`, '--output-data-dir', `${w}/output/data`],
      ...['--marker', hostile.marker, '--newline', hostile.newline, '--quotes', hostile.quotes, '--subst', hostile.subst],
    ])
    // Nothing a value (or the python path) contains ran: no file was touched anywhere.
    const touched = spawnSync('find', [box.dir, '-name', 'PWNED*'], { encoding: 'utf8' }).stdout
    expect(touched).toBe('')
    expect(res.stdout.split('\n')).toContain(`${ARTIFACT_MARKER}${o.artifactUri}`)
  })

  it('refuses a missing or malformed parameter before doing anything', async () => {
    const box = await makeBox({ script: '#!/bin/sh\necho "python ran"\n' })
    const file = path.join(REPO, 'scripts/ec2/train.sh')
    const run = (...args: string[]) =>
      spawnSync('bash', [file, ...args], { encoding: 'utf8', env: { PATH: `${box.bin}:/usr/bin:/bin`, FAKE_S3: box.s3, FAKE_AWS_LOG: box.awsLog } })
    const args = runnerArgs(options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work }))
    const without = (name: string) => {
      const i = args.indexOf(name)
      return [...args.slice(0, i), ...args.slice(i + 2)]
    }
    expect(run(...without('--code-uri')).stdout).toContain('mlops: missing --code-uri')
    expect(run(...without('--python')).stdout).toContain('mlops: missing --python')
    const swap = (name: string, value: string) => args.map((a, i) => (args[i - 1] === name ? value : a))
    expect(run(...swap('--entry-point', '-c')).stdout).toContain('--entry-point must be a relative path inside the code package')
    expect(run(...swap('--run-name', '../etc')).stdout).toContain('--run-name must be letters')
    expect(run(...swap('--distribution', 'mpi')).stdout).toContain('--distribution must be auto, torch_distributed, native or none')
    expect(run('--bogus', 'x').stdout).toContain('unknown option: --bogus')
    const bad = run(...swap('--entry-point', '-c'))
    expect(bad.status).toBe(2)
    expect(bad.stdout).toContain('mlops: step "read the parameters" failed with exit code 2')
    expect(existsSync(box.awsLog)).toBe(false)
  })

  it('fails at the download step when the code package is missing', async () => {
    const box = await makeBox({ script: '#!/bin/sh\nexit 0\n' })
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work })
    const res = await runOnBox(box, runShellScriptCommands(runner, o))
    expect(res.code).toBe(1)
    expect(res.stdout).toContain('mlops: step "download the code" failed with exit code 1')
  })

  it('fails clearly when the data channel is empty, before training', async () => {
    const box = await makeBox({ script: '#!/bin/sh\necho "python ran" ; exit 0\n' })
    await mkdir(path.join(box.s3, 'dogs-data/dogs/code/abc123'), { recursive: true })
    await writeFile(path.join(box.s3, 'dogs-data/dogs/code/abc123/sourcedir.tar.gz'), pkgBody)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work })
    const res = await runOnBox(box, runShellScriptCommands(runner, o))
    expect(res.code).toBe(4)
    expect(res.stdout).toContain('no training data under s3://dogs-data/data/train: run mlops upload-data')
    expect(res.stdout).not.toContain('python ran')
  })

  it('uses torchrun across the GPUs of a multi-GPU box, and fails when the model dir stays empty', async () => {
    const fakePython = '#!/bin/bash\necho "PYTHON $*"\n'
    const box = await makeBox({ script: fakePython }, { 'nvidia-smi': '#!/bin/sh\necho "GPU 0: Tesla T4"\necho "GPU 1: Tesla T4"\n' })
    await seedS3(box)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work, hyperparameters: { epochs: 2 } })
    const res = await runOnBox(box, runShellScriptCommands(runner, o))
    const w = `${box.work}/${o.runName}`
    expect(res.stdout).toContain('mlops: training on 2 GPUs with torchrun')
    expect(res.stdout).toContain(
      `PYTHON -m torch.distributed.run --standalone --nproc_per_node 2 train.py --train ${w}/data/train --valid ${w}/data/valid --test ${w}/data/test ` +
        `--model-dir ${w}/model --checkpoint-dir ${w}/checkpoints --output-data-dir ${w}/output/data --epochs 2`,
    )
    expect(res.code).toBe(5)
    expect(res.stdout).toContain('train.py wrote nothing to the model dir')
  })

  it('runs one process when distribution is native or none, even with several GPUs', async () => {
    const box = await makeBox({ script: '#!/bin/bash\necho "PYTHON $*"\n' }, { 'nvidia-smi': '#!/bin/sh\necho "GPU 0: A"\necho "GPU 1: B"\n' })
    await seedS3(box)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work, distribution: 'none' })
    const res = await runOnBox(box, runShellScriptCommands(runner, o))
    expect(res.stdout).toMatch(/^PYTHON train\.py --train /m)
    expect(res.stdout).not.toContain('torch.distributed.run')
  })
})
