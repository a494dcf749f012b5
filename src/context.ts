import path from 'node:path'
import { createAwsClientFactory, resolveAwsSettings, type AwsClientFactory, type AwsClientName, type AwsClients, type AwsSettings } from './aws/clients.js'
import { findConfigUpward, loadConfig } from './config/load.js'
import type { MlopsConfig } from './config/schema.js'
import { AwsSchema } from './config/sections/aws.js'
import { UserError } from './shared/errors.js'
import { isLoopbackUrl } from './shared/emulator-errors.js'
import { Ui, type OutStream } from './shared/output.js'
import { StateStore } from './shared/state.js'
import type { Clock } from './shared/clock.js'
import { fileCache, priceCachePath, resolvePrices, tablePrices, type PriceBook, type PriceUse } from './shared/pricing.js'
import {
  permissionChecks,
  preflightEnabled,
  preflightOperations,
  preflightRefusal,
  preflightSkippedWarning,
  type PreflightInput,
  type PreflightReport,
  type QuotaNeed,
} from './shared/preflight.js'
import type { PlannedOperation } from './shared/plan.js'

/** Everything from the outside world a command may touch. Tests pass fakes; `src/bin.ts` passes the real ones. */
export interface Deps {
  readonly stdout: OutStream
  readonly stderr: OutStream
  /** Whether a person can answer prompts on stdin. */
  readonly stdinIsTTY: boolean
  /** Reads one line from the user after printing `question` on stderr. */
  readonly ask?: (question: string) => Promise<string>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly clock: Clock
  /** Aborted on Ctrl-C. Long work checks it and cleans up. */
  readonly signal: AbortSignal
  /** Builds the AWS client factory for resolved settings. @default createAwsClientFactory */
  readonly awsFactory?: (settings: AwsSettings) => AwsClientFactory
  readonly version: string
}

/** Options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  /** Unset: ./mlops.config.yaml or the nearest in a parent folder (findConfigUpward). */
  readonly config?: string
  readonly profile?: string
  readonly region?: string
  readonly endpointUrl?: string
  readonly json?: boolean
  readonly dryRun?: boolean
  readonly yes?: boolean
  readonly debug?: boolean
  /** commander sets false for --no-color. */
  readonly color?: boolean
  /** commander sets false for --no-preflight: skip the quota and permission checks before the first write. */
  readonly preflight?: boolean
}

/**
 * What a command's action works with: the UI, the config (loaded on first use), resolved AWS
 * settings, clients, and the state file. One per invocation.
 */
export class CommandContext {
  readonly ui: Ui
  readonly deps: Deps
  readonly globals: GlobalOptions
  readonly configPath: string
  private configPromise?: Promise<MlopsConfig>
  private factory?: AwsClientFactory
  /** The endpoint URL the AWS clients were built for, once a command asked for them (undefined: AWS itself). */
  private clientsEndpoint?: { readonly url?: string }
  /**
   * awsSettings per config `aws` section, and once without a config: resolving reads ~/.aws/config
   * and checks the environment, and features, clients(), prices() and audit's per-role loop all ask.
   */
  private readonly settingsFor = new WeakMap<object, AwsSettings>()
  private settingsWithoutConfig?: AwsSettings

  constructor(deps: Deps, globals: GlobalOptions) {
    this.deps = deps
    this.globals = globals
    this.configPath = globals.config !== undefined ? path.resolve(deps.cwd, globals.config) : findConfigUpward(deps.cwd)
    this.ui = new Ui({
      stdout: deps.stdout,
      stderr: deps.stderr,
      json: Boolean(globals.json),
      debug: Boolean(globals.debug),
      color: globals.color !== false,
      env: deps.env,
      clock: deps.clock,
      yes: Boolean(globals.yes),
      ask: deps.ask,
      stdinIsTTY: deps.stdinIsTTY,
    })
  }

  get dryRun(): boolean {
    return Boolean(this.globals.dryRun)
  }

  get clock(): Clock {
    return this.deps.clock
  }

  get signal(): AbortSignal {
    return this.deps.signal
  }

  /** The validated config; throws ConfigNotFound / InvalidConfig (exit 2). */
  config(): Promise<MlopsConfig> {
    if (!this.configPromise && this.globals.config === undefined && this.projectDir !== path.resolve(this.deps.cwd)) {
      // Found in a parent folder: say which file, since its folder is the project's (state, data, scripts).
      this.ui.info(`Using ${path.relative(this.deps.cwd, this.configPath)} (paths in it resolve from ${this.projectDir}).`)
    }
    this.configPromise ??= loadConfig(this.configPath, this.deps.cwd)
    return this.configPromise
  }

  /** Folder of the config file: relative paths in it (data.localDir, training.sourceDir) resolve from here. */
  get projectDir(): string {
    return path.dirname(this.configPath)
  }

  /** Resolves a path from the config relative to the config file's folder. */
  resolvePath(p: string): string {
    return path.resolve(this.projectDir, p)
  }

  /** Region/profile/endpoint after flags > env > config. */
  awsSettings(config?: Pick<MlopsConfig, 'aws'>): AwsSettings {
    const key = config?.aws
    const known = key ? this.settingsFor.get(key) : this.settingsWithoutConfig
    if (known) return known
    const settings = this.resolveSettings(config)
    if (key) this.settingsFor.set(key, settings)
    else this.settingsWithoutConfig = settings
    return settings
  }

  private resolveSettings(config?: Pick<MlopsConfig, 'aws'>): AwsSettings {
    const settings = resolveAwsSettings({
      flags: { region: this.globals.region, profile: this.globals.profile, endpointUrl: this.globals.endpointUrl },
      env: this.deps.env,
      config: config?.aws,
      version: this.deps.version,
    })
    checkAwsEnvironment(this.deps.env)
    // Environment credentials come from the environment we were given (not the process's), so an
    // embedding program or a test controls them. As in the SDK's own chain, a profile wins over them.
    const env = this.deps.env
    if (!settings.profile && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
      return {
        ...settings,
        credentials: {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        },
      }
    }
    return settings
  }

  /**
   * AWS clients for this command. Refuses under --dry-run: a dry run must not reach AWS, and this
   * guard makes a planning bug loud instead of silently sending requests.
   */
  async clients<K extends AwsClientName>(names: readonly K[], config?: Pick<MlopsConfig, 'aws'>): Promise<Pick<AwsClients, K>> {
    if (this.dryRun) throw new Error(`internal: AWS clients requested during --dry-run (${names.join(', ')})`)
    if (!this.factory) {
      const settings = this.awsSettings(config)
      this.clientsEndpoint = { url: settings.endpointUrl }
      this.factory = (this.deps.awsFactory ?? createAwsClientFactory)(settings)
    }
    return this.factory(names)
  }

  /**
   * The local emulator this command's AWS calls went to (`--endpoint-url`, AWS_ENDPOINT_URL or
   * aws.endpointUrl on localhost/127.0.0.1), so an error can say it came from there, not from AWS.
   */
  get emulatorEndpoint(): string | undefined {
    const url = this.clientsEndpoint?.url
    return url !== undefined && isLoopbackUrl(url) ? url : undefined
  }

  /**
   * Hourly prices for the configured region from the Price List API, cached on disk for a week
   * (`priceCachePath`); the built-in table under --dry-run, offline, or for types the list lacks.
   * `PriceBook.note()` says which source and date each estimate used. MLOPS_PRICE_LIST=off keeps to
   * the table (air-gapped machines, roles without pricing:GetProducts).
   */
  prices(instanceTypes: readonly string[], use: PriceUse, config?: Pick<MlopsConfig, 'aws'>): Promise<PriceBook> {
    if (this.dryRun) return resolvePrices(instanceTypes, { region: '', use, dryRun: true, now: () => this.clock.now() })
    if (this.deps.env.MLOPS_PRICE_LIST === 'off') return Promise.resolve(tablePrices('MLOPS_PRICE_LIST=off'))
    const { region } = this.awsSettings(config)
    const cachePath = priceCachePath(this.deps.env, region)
    return resolvePrices(instanceTypes, {
      region,
      use,
      now: () => this.clock.now(),
      ...(cachePath ? { cache: fileCache(cachePath) } : {}),
      fetch: async (type, priceRegion, priceUse) => {
        const [{ pricing }, { instancePriceQuery, onDemandHourlyUsd }] = await Promise.all([
          this.clients(['pricing'], config),
          import('./aws/pricing/products.js'),
        ])
        return onDemandHourlyUsd(pricing, instancePriceQuery(type, priceRegion, priceUse))
      },
    })
  }

  /** Whether the preflight runs (not with --no-preflight or MLOPS_PREFLIGHT=off). */
  get preflightEnabled(): boolean {
    return preflightEnabled(this.globals.preflight, this.deps.env)
  }

  /** The preflight's own reads for a plan (none when it is off): features put them first in their plans. */
  preflightPlan(quotas: readonly QuotaNeed[]): PlannedOperation[] {
    return this.preflightEnabled ? preflightOperations(quotas) : []
  }

  /**
   * Before a command's first write: checks the quotas its request needs and simulates the caller's
   * permissions for every operation of its plan (issue 26). Throws PreflightRefused (exit 2) naming
   * the quota or the action and the fix; a check that cannot run is one warning. Returns the report
   * (undefined when off).
   */
  async preflight(command: string, input: PreflightInput, config?: Pick<MlopsConfig, 'aws'>): Promise<PreflightReport | undefined> {
    if (!this.preflightEnabled) return undefined
    const [clients, { runPreflightChecks }] = await Promise.all([
      this.clients(['sts', 'iam', 'serviceQuotas'], config),
      import('./aws/quota-and-permission-checks.js'),
    ])
    const report = await runPreflightChecks(clients, {
      region: this.awsSettings(config).region,
      quotas: input.quotas,
      checks: (scope) => permissionChecks(input.operations, scope),
    })
    const refusal = preflightRefusal(report, `mlops ${command}`)
    if (refusal) throw refusal
    const skipped = preflightSkippedWarning(report)
    if (skipped) this.ui.warn(skipped)
    return report
  }

  /** The local state file beside the config. */
  state(): StateStore {
    return new StateStore(this.projectDir, { warn: (m) => this.ui.warn(m), clock: this.clock })
  }
}

/**
 * The global AWS flags, checked before any command runs (so nothing is created with a bad one) by
 * the same schema fields as the config's `aws` section. An empty value is an error, never "unset".
 */
export function checkGlobalFlags(globals: GlobalOptions): void {
  checkAwsValue('--region', globals.region, AwsSchema.shape.region, 'For example: --region eu-west-1')
  checkAwsValue('--endpoint-url', globals.endpointUrl, AwsSchema.shape.endpointUrl, 'For example: --endpoint-url http://127.0.0.1:5000 (a local moto server)')
}

/** The same checks for AWS_REGION, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (empty ones count as unset, as in the AWS CLI). */
function checkAwsEnvironment(env: Readonly<Record<string, string | undefined>>): void {
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    if (env[name]) checkAwsValue(name, env[name], AwsSchema.shape.region, `For example: ${name}=eu-west-1, or unset it`)
  }
  if (env.AWS_ENDPOINT_URL)
    checkAwsValue('AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL, AwsSchema.shape.endpointUrl, 'Unset it to reach AWS, or point it at http://127.0.0.1:5000')
}

function checkAwsValue(
  source: string,
  value: string | undefined,
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  hint: string,
): void {
  if (value === undefined) return
  const parsed = value === '' ? { success: false, error: { issues: [{ message: 'must not be empty' }] } } : schema.safeParse(value)
  if (parsed.success) return
  throw new UserError('InvalidFlag', `${source}: ${parsed.error?.issues[0]?.message ?? 'invalid'}, got "${value}".`, { hint })
}
