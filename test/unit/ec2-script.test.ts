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
  buildTrainingScript,
  hyperparameterArgs,
  runShellScriptCommands,
  shellQuote,
  type TrainingScriptOptions,
} from '../../src/features/ec2/script.js'
import { latestMetrics, parseMetricLine } from '../../src/shared/metrics.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SYSTEM_PYTHON = '/usr/bin/python3' // Debian's, with torch (CPU) and PIL

function options(over: Partial<TrainingScriptOptions> = {}): TrainingScriptOptions {
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

describe('the training script', () => {
  it('is valid bash, and its SSM wrapper is valid POSIX sh', async () => {
    const script = buildTrainingScript(options())
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-ec2-syntax-'))
    await writeFile(path.join(dir, 'inner.sh'), script)
    await writeFile(path.join(dir, 'outer.sh'), runShellScriptCommands(script, options().runName).join('\n'))
    const bash = spawnSync('bash', ['-n', path.join(dir, 'inner.sh')], { encoding: 'utf8' })
    expect(bash.stderr).toBe('')
    expect(bash.status).toBe(0)
    const sh = spawnSync('sh', ['-n', path.join(dir, 'outer.sh')], { encoding: 'utf8' }) // dash on Debian
    expect(sh.stderr).toBe('')
    expect(sh.status).toBe(0)
  })

  it('sets HOME and PATH, stops on errors, and runs the one entry point with the SageMaker-style arguments', () => {
    const script = buildTrainingScript(options())
    expect(script.startsWith('#!/bin/bash\n')).toBe(true)
    expect(script).toContain('set -euo pipefail')
    expect(script).toContain('export HOME=/root')
    expect(script).toContain(`export PATH='/opt/pytorch/bin':/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`)
    expect(script).toContain(`aws s3 cp --only-show-errors 's3://dogs-data/dogs/code/abc123/sourcedir.tar.gz'`)
    expect(script).toContain(`aws s3 sync --only-show-errors 's3://dogs-data/data/train/' "$WORK/data/train"`)
    expect(script).toContain(`'--epochs' '3' '--freeze-backbone' 'true' '--lr' '0.001'`)
    expect(script).toContain(`"$PY" 'train.py' "\${ARGS[@]}"`)
    expect(script).toContain(`aws s3 cp --only-show-errors "$WORK/model.tar.gz" '${options().artifactUri}'`)
  })

  it("is wrapped so the agent's sh writes it to a file and execs bash on it", () => {
    const cmds = runShellScriptCommands(buildTrainingScript(options()), options().runName)
    expect(cmds[0]).toBe('set -e')
    expect(cmds).toContain(`cat > '/opt/mlops/${options().runName}.sh' <<'MLOPS_SCRIPT_END'`)
    expect(cmds.at(-2)).toBe('MLOPS_SCRIPT_END')
    expect(cmds.at(-1)).toBe(`exec bash '/opt/mlops/${options().runName}.sh'`)
  })

  it('refuses text SSM would read as a parameter reference', () => {
    const script = buildTrainingScript(options({ hyperparameters: { note: '{{ssm:secret}}' } }))
    expect(() => runShellScriptCommands(script, 'r')).toThrow(/parameter reference/)
  })
})

describe('the training script, run locally under sh + bash with a fake aws', () => {
  let pkgBody: Buffer
  let datasetDir: string
  beforeAll(async () => {
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
      const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
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

  it.skipIf(!existsSync(SYSTEM_PYTHON))('exits non-zero, names the failed step and uploads nothing when training fails', async () => {
    const box = await makeBox(SYSTEM_PYTHON)
    await seedS3(box)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work, hyperparameters: { arch: 'not-a-model' } })
    const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
    expect(res.code).not.toBe(0)
    expect(res.stdout).toContain('mlops: step "train" failed with exit code 2')
    expect(res.stderr).toMatch(/invalid choice: 'not-a-model'/)
    expect(existsSync(path.join(box.s3, 'dogs-data/output'))).toBe(false)
  })

  it('fails at the download step when the code package is missing', async () => {
    const box = await makeBox({ script: '#!/bin/sh\nexit 0\n' })
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work })
    const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
    expect(res.code).toBe(1)
    expect(res.stdout).toContain('mlops: step "download the code" failed with exit code 1')
  })

  it('fails clearly when the data channel is empty, before training', async () => {
    const box = await makeBox({ script: '#!/bin/sh\necho "python ran" ; exit 0\n' })
    await mkdir(path.join(box.s3, 'dogs-data/dogs/code/abc123'), { recursive: true })
    await writeFile(path.join(box.s3, 'dogs-data/dogs/code/abc123/sourcedir.tar.gz'), pkgBody)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work })
    const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
    expect(res.code).toBe(4)
    expect(res.stdout).toContain('no training data under s3://dogs-data/data/train: run mlops upload-data')
    expect(res.stdout).not.toContain('python ran')
  })

  it('uses torchrun across the GPUs of a multi-GPU box, and fails when the model dir stays empty', async () => {
    const fakePython = '#!/bin/bash\necho "PYTHON $*"\n'
    const box = await makeBox({ script: fakePython }, { 'nvidia-smi': '#!/bin/sh\necho "GPU 0: Tesla T4"\necho "GPU 1: Tesla T4"\n' })
    await seedS3(box)
    const o = options({ pythonPath: path.join(box.bin, 'python'), workRoot: box.work, hyperparameters: { epochs: 2 } })
    const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
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
    const res = await runOnBox(box, runShellScriptCommands(buildTrainingScript(o), o.runName, box.work))
    expect(res.stdout).toMatch(/^PYTHON train\.py --train /m)
    expect(res.stdout).not.toContain('torch.distributed.run')
  })
})
