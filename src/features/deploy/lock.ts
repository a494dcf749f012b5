import { mkdir, open, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { UserError } from '../../shared/errors.js'

/**
 * One deploy per project at a time: `.mlops/deploy.lock`, created exclusively (O_EXCL), holding who
 * took it. Two overlapping deploys used to each create a config and each prune with their own view,
 * leaving three configs despite `keepVersions: 2`. A lock whose process is gone (same host) or that
 * is older than `staleAfterMs` is stale and taken over; a live one makes the second run refuse.
 */

export interface LockOwner {
  readonly pid: number
  readonly host: string
  readonly startedAt: string
  readonly command: string
}

export interface DeployLock {
  readonly file: string
  release(): Promise<void>
}

export interface LockOptions {
  readonly now: () => number
  /** @default 6 hours (longer than any deploy wait mlops allows by default) */
  readonly staleAfterMs?: number
  /** Whether a process id is alive on this host. @default process.kill(pid, 0) */
  readonly isAlive?: (pid: number) => boolean
  readonly onStale?: (owner: LockOwner | undefined) => void
}

const DEFAULT_STALE_MS = 6 * 3600_000

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function deployLockFile(projectDir: string): string {
  return path.join(projectDir, '.mlops', 'deploy.lock')
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as Partial<LockOwner>
    return typeof owner.pid === 'number' && typeof owner.startedAt === 'string' ? (owner as LockOwner) : undefined
  } catch {
    return undefined
  }
}

function isStale(owner: LockOwner | undefined, o: LockOptions): boolean {
  if (!owner) return true // unreadable or half-written: nobody can be holding it meaningfully
  const age = o.now() - Date.parse(owner.startedAt)
  if (!(age < (o.staleAfterMs ?? DEFAULT_STALE_MS))) return true
  return owner.host === os.hostname() && !(o.isAlive ?? processAlive)(owner.pid)
}

/** Takes the project's deploy lock or throws a UserError (exit 2) naming who holds it. */
export async function acquireDeployLock(projectDir: string, o: LockOptions): Promise<DeployLock> {
  const file = deployLockFile(projectDir)
  await mkdir(path.dirname(file), { recursive: true })
  const me: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date(o.now()).toISOString(), command: 'deploy' }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      try {
        await handle.writeFile(JSON.stringify(me))
      } finally {
        await handle.close()
      }
      return { file, release: () => rm(file, { force: true }) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const owner = await readOwner(file)
    if (!isStale(owner, o)) {
      throw new UserError('DeployInProgress', `Another deploy of this project is running (pid ${owner!.pid} on ${owner!.host}, since ${owner!.startedAt}).`, {
        hint: `Wait for it to finish (\`mlops status\` shows the endpoint). If no deploy is running, delete ${file} and run again.`,
      })
    }
    o.onStale?.(owner)
    await rm(file, { force: true })
  }
  throw new UserError('DeployInProgress', `Could not take the deploy lock ${file}: another run keeps taking it.`, {
    hint: 'Wait for the other deploy to finish, then run again.',
  })
}
