/**
 * One error family for the whole tool. Core logic throws these; `src/cli.ts` is the only place that
 * renders them and maps them to exit codes (see `exitCodeFor`).
 */

/** Process exit codes. They are part of the CLI contract, so scripts can branch on them. */
export const ExitCode = {
  Ok: 0,
  /** The operation was attempted and failed (AWS refused, a job failed, a deadline passed). */
  Failure: 1,
  /** Bad flags, bad config or bad input: nothing was changed. */
  Usage: 2,
  /** `audit-iam` found something at or above `--fail-on`. */
  Findings: 3,
  /** Ctrl-C. */
  Interrupted: 130,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export interface MlopsErrorOptions {
  /** One or two sentences that tell the user how to fix or work around the problem. */
  readonly hint?: string
  /** The underlying error (shown with --debug). */
  readonly cause?: unknown
  /** Extra structured detail for `--json` error output. */
  readonly details?: Record<string, unknown>
}

/** Base of every error mlops raises on purpose. `code` is stable and PascalCase. */
export class MlopsError extends Error {
  readonly code: string
  readonly hint?: string
  readonly details?: Record<string, unknown>
  constructor(code: string, message: string, options: MlopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.hint = options.hint
    this.details = options.details
  }
}

/** The user's input (flags, config, files) is wrong. Exit 2; nothing was changed. */
export class UserError extends MlopsError {}

/** `mlops.config.yaml` is invalid. `issues` holds one line per problem: `file:line • path: message`. */
export class ConfigError extends UserError {
  readonly issues: readonly string[]
  constructor(message: string, issues: readonly string[], options: MlopsErrorOptions = {}) {
    super('InvalidConfig', message, options)
    this.issues = issues
  }
}

/** An AWS call failed in a way we understood and explained. Exit 1. */
export class AwsError extends MlopsError {
  /** AWS request id, for support tickets. */
  readonly requestId?: string
  constructor(code: string, message: string, options: MlopsErrorOptions & { requestId?: string } = {}) {
    super(code, message, options)
    this.requestId = options.requestId
  }
}

/**
 * The SDK could not parse an answer: whatever listens at the endpoint is not that AWS API (a web page,
 * a proxy's login form, an emulator that lacks the service). Such errors reach mlops as a SyntaxError
 * or a "Deserialization error"; this names what happened instead. Undefined for any other error.
 */
export function notAnAwsApiError(err: unknown, action?: string): AwsError | undefined {
  if (err instanceof MlopsError || !(err instanceof Error)) return undefined
  // NotAnAwsApiAnswer: a success without an AWS request id (aws/answer-check.ts), e.g. an empty 200.
  if (err.name !== 'NotAnAwsApiAnswer' && !/Deserialization error|Unexpected token '<'|<!doctype|<html/i.test(err.message)) return undefined
  return new AwsError(
    'NotAnAwsApi',
    `The endpoint${action ? ` for ${action}` : ''} answered something that is not the AWS API (an HTML page, or not JSON/XML).`,
    {
      hint:
        'Check --endpoint-url, AWS_ENDPOINT_URL and any proxy: they must point at AWS or at an emulator that implements this service. ' +
        "Without them mlops reaches the region's AWS endpoint.",
      cause: err,
    },
  )
}

/** Something ran and failed: a training job ended Failed, a deadline was reached, a smoke test failed. Exit 1. */
export class OperationError extends MlopsError {}

/**
 * The file-system errors a user can fix on their side of the disk, what each means and the fix. Any
 * file mlops writes (the state file, a config, the price cache, a load-test result, a local run's
 * files) can hit them; unnamed they end in "Unexpected error: Error: ENOSPC ...".
 */
const FILE_SYSTEM_ERRORS: Readonly<Record<string, { readonly code: string; readonly what: string; readonly hint: string }>> = {
  ENOSPC: { code: 'NoSpaceLeft', what: 'No space left on device', hint: 'Free space on that disk and run the command again.' },
  EDQUOT: { code: 'DiskQuotaExceeded', what: 'Disk quota exceeded', hint: 'Free space within your quota (or ask for a larger one) and run the command again.' },
  EROFS: {
    code: 'ReadOnlyFileSystem',
    what: 'Read-only file system',
    hint: 'Run mlops from a folder on a writable disk (or remount it read-write) and run the command again.',
  },
  EACCES: {
    code: 'PermissionDenied',
    what: 'Permission denied',
    hint: 'Make the file and its folder writable by you (or run from a folder you own) and run the command again.',
  },
  EPERM: {
    code: 'PermissionDenied',
    what: 'Operation not permitted',
    hint: 'Make the file and its folder writable by you (or run from a folder you own) and run the command again.',
  },
}

/** The temporary names mlops writes beside a file before renaming (`state.json.123.tmp`, `x.mlops-123.tmp`, `.123.probe`). */
const TEMPORARY_SUFFIX = /\.(?:mlops-)?\d+(?:\.[0-9a-f]+)?\.(?:tmp|probe)$/

/**
 * A Node file-system error (ENOSPC, EDQUOT, EROFS, EACCES, EPERM) as an OperationError (exit 1) that
 * names the file being written, with the fix: "No space left on device writing .mlops/state.json".
 * `target` is the file meant (its temporary name is named otherwise, without the suffix); paths
 * under `cwd` are shown relative to it. Undefined for any other error.
 */
export function fileSystemError(err: unknown, opts: { readonly target?: string; readonly cwd?: string } = {}): OperationError | undefined {
  if (err instanceof MlopsError || !(err instanceof Error)) return undefined
  const e = err as NodeJS.ErrnoException & { dest?: string }
  const known = typeof e.code === 'string' ? FILE_SYSTEM_ERRORS[e.code] : undefined
  if (!known || (e.syscall === undefined && e.path === undefined)) return undefined
  const file = opts.target ?? (e.dest ?? e.path)?.replace(TEMPORARY_SUFFIX, '')
  const shown = file === undefined ? 'a file' : showPath(file, opts.cwd)
  const verb = /^(read|scandir|opendir|stat|lstat|access)$/.test(e.syscall ?? '') ? 'reading' : 'writing'
  return new OperationError(known.code, `${known.what} ${verb} ${shown} (${e.code}${e.syscall ? `, ${e.syscall}` : ''}).`, {
    hint: known.hint,
    cause: err,
    details: { errno: e.code, ...(file !== undefined ? { path: file } : {}), ...(e.syscall ? { syscall: e.syscall } : {}) },
  })
}

function showPath(file: string, cwd: string | undefined): string {
  if (cwd === undefined || !file.startsWith('/')) return file
  const rel = file.startsWith(cwd.endsWith('/') ? cwd : `${cwd}/`) ? file.slice(cwd.length).replace(/^\//, '') : undefined
  return rel || file
}

/** The user declined a confirmation prompt. Printed softly; exit 1 because the work was not done. */
export class AbortError extends MlopsError {
  constructor(message = 'Cancelled: nothing was changed.', options: MlopsErrorOptions = {}) {
    super('Aborted', message, options)
  }
}

/** Ctrl-C. Exit 130. Whatever was cleaned up is described in the message. */
export class InterruptedError extends MlopsError {
  constructor(message = 'Interrupted.', options: MlopsErrorOptions = {}) {
    super('Interrupted', message, options)
  }
}

/** `audit-iam` findings at or above the threshold. Exit 3; the report itself was already printed. */
export class FindingsError extends MlopsError {
  /**
   * The report (the command's one result) is already on stdout, so with --json the error must not
   * add a second JSON document there; it is still shown on stderr.
   */
  readonly reportAlreadyWritten: boolean
  constructor(message: string, options: MlopsErrorOptions & { reportAlreadyWritten?: boolean } = {}) {
    super('FindingsAboveThreshold', message, options)
    this.reportAlreadyWritten = Boolean(options.reportAlreadyWritten)
  }
}

/** Maps any thrown value to the process exit code. Unknown errors are failures (1). */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof InterruptedError) return ExitCode.Interrupted
  if (err instanceof FindingsError) return ExitCode.Findings
  if (err instanceof UserError) return ExitCode.Usage
  if (isCommanderError(err)) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage
  return ExitCode.Failure
}

/** commander's own errors (unknown option, missing argument, --help) carry `code` 'commander.*'. */
export function isCommanderError(err: unknown): err is { code: string; exitCode: number; message: string } {
  return (
    typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('commander.')
  )
}

/** Plain JSON shape of an error for `--json` output. */
export function errorToJson(err: unknown): Record<string, unknown> {
  if (err instanceof MlopsError) {
    return {
      error: {
        code: err.code,
        message: err.message,
        ...(err.hint ? { hint: err.hint } : {}),
        ...(err instanceof ConfigError ? { issues: err.issues } : {}),
        ...(err instanceof AwsError && err.requestId ? { requestId: err.requestId } : {}),
        ...(err.details ? { details: err.details } : {}),
      },
    }
  }
  return { error: { code: 'Unexpected', message: err instanceof Error ? err.message : String(err) } }
}
