import { stringify } from 'yaml'
import { UserError } from '../../shared/errors.js'
import { processorFor } from '../../aws/sagemaker/images.js'
import type { MlopsConfig } from '../../config/schema.js'
import { requestsPerReplica } from '../../config/sections/endpoint.js'

/**
 * The Ray Serve SageMaker image's contract (../shared/reference/aws-images-2026.md, "Serving: the Ray
 * Serve SageMaker image"; aws/deep-learning-containers scripts/docker/ray/sagemaker_entrypoint.sh):
 * model.tar.gz unpacks to /opt/ml/model (on PYTHONPATH with its code/), `serve run
 * /opt/ml/model/config.yaml` starts the application, and code/requirements.txt is pip-installed first.
 * Pure: what goes into config.yaml and requirements.txt.
 */

/** Python distributions the Ray Serve image already has (PyTorch 2.10, torchvision, Pillow, Python 3.13, ...). */
export const IMAGE_PACKAGES: ReadonlySet<string> = new Set([
  'ray',
  'torch',
  'torchvision',
  'pillow',
  'numpy',
  'opencv-python',
  'opencv-python-headless',
  'fastapi',
  'starlette',
  'uvicorn',
  'httpx',
  'boto3',
  'botocore',
  'pyyaml',
  'requests',
  'pydantic',
])

/**
 * The lines of a requirements.txt the image does not already satisfy, or undefined when nothing is
 * left (then no code/requirements.txt ships and the endpoint starts without a pip install). Pip
 * options (`--index-url`, `-r`) stay only with a package that needs them.
 */
export function extraRequirements(text: string): string | undefined {
  const packages: string[] = []
  const options: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (!line) continue
    if (line.startsWith('-')) {
      options.push(line)
      continue
    }
    const name = line
      .split(/[<>=!~;[\s@]/)[0]
      .toLowerCase()
      .replace(/[_.]+/g, '-')
    if (!IMAGE_PACKAGES.has(name)) packages.push(line)
  }
  return packages.length > 0 ? [...options, ...packages].join('\n') + '\n' : undefined
}

/** What deploy needs to know of the predictor module: the deployment's name, from its source. */
export interface ServeApp {
  /** The module Ray imports (`<module>:app`): the entry point without `.py`. */
  readonly module: string
  /** The `@serve.deployment` name (its `name=` option, else the class name). */
  readonly deployment: string
}

/**
 * Reads the `@serve.deployment` class and the `app = ….bind()` of a predictor module; UserError
 * (exit 2) when it is not a Ray Serve application (an old SageMaker `inference.py` handler, say).
 */
export function serveAppOf(entryPoint: string, source: string): ServeApp {
  const decorated = /@serve\.deployment(?:\(([^)]*)\))?\s*\n\s*class\s+([A-Za-z_]\w*)/.exec(source)
  if (!decorated || !/^app\s*=/m.test(source)) {
    throw new UserError(
      'NotARayServeApp',
      `endpoint.entryPoint ${entryPoint} is not a Ray Serve application (no @serve.deployment class or no module-level app = <Class>.bind()).`,
      {
        hint: 'Endpoints run the Ray Serve image: point endpoint.entryPoint at a predictor module like the bundled deployment.py (`mlops init` copies it to scripts/), or remove the setting.',
      },
    )
  }
  const named = decorated[1] ? /\bname\s*=\s*["']([^"']+)["']/.exec(decorated[1]) : null
  return { module: entryPoint.replace(/\.py$/, ''), deployment: named ? named[1] : decorated[2] }
}

export interface ServeConfigInput {
  readonly app: ServeApp
  /** Replicas of the deployment on each instance. */
  readonly replicas: number
  /** GPUs each replica reserves (0 on CPU instances and serverless). */
  readonly gpusPerReplica: number
  readonly maxBatchSize: number
  readonly batchWaitTimeoutMs: number
}

/**
 * config.yaml: one application on route `/` (where the image's adapter proxies /invocations), the
 * replicas and GPUs from `endpoint.*`, and the batching settings as the deployment's user_config
 * (Ray Serve hands it to `reconfigure`, which sets the `@serve.batch` size and wait). A replica
 * takes at least two batches' worth of requests at once, or a batch could never fill.
 */
export function rayServeConfig(i: ServeConfigInput): string {
  const deployment = {
    name: i.app.deployment,
    num_replicas: i.replicas,
    max_ongoing_requests: requestsPerReplica(i.maxBatchSize),
    ...(i.gpusPerReplica > 0 ? { ray_actor_options: { num_gpus: i.gpusPerReplica } } : {}),
    user_config: { max_batch_size: i.maxBatchSize, batch_wait_timeout_s: i.batchWaitTimeoutMs / 1000 },
  }
  const doc = { applications: [{ name: 'mlops', route_prefix: '/', import_path: `${i.app.module}:app`, deployments: [deployment] }] }
  return '# Written by mlops deploy: the Ray Serve application the SageMaker Ray Serve image runs.\n' + stringify(doc)
}

/** config.yaml for this endpoint: `endpoint.replicas` and `endpoint.batching`, one GPU per replica on a GPU instance. */
export function serveConfigFor(
  endpoint: MlopsConfig['endpoint'],
  variant: { readonly kind: 'instance'; readonly instanceType: string } | { readonly kind: 'serverless' },
  app: ServeApp,
): string {
  const gpu = variant.kind === 'instance' && processorFor(variant.instanceType) === 'gpu'
  return rayServeConfig({
    app,
    replicas: endpoint.replicas,
    gpusPerReplica: gpu ? 1 : 0,
    maxBatchSize: endpoint.batching.maxBatchSize,
    batchWaitTimeoutMs: endpoint.batching.batchWaitTimeoutMs,
  })
}
