/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as the AWS CLI and curl read them. SDK v3 does not read them
 * itself, so the clients get agents that tunnel through the proxy (HTTP CONNECT) unless NO_PROXY
 * names the host.
 */
export interface ProxySettings {
  /** For https:// endpoints (every real AWS endpoint). */
  readonly httpsProxy?: string
  /** For http:// endpoints (a local emulator). */
  readonly httpProxy?: string
  /** Comma- or space-separated hosts (`.example.com` and `*.example.com` match subdomains, `host:port` one port, `*` all). */
  readonly noProxy?: string
}

/** The proxy settings in an environment (upper case first, as the AWS CLI does), or undefined without a proxy. */
export function proxyFromEnv(env: Readonly<Record<string, string | undefined>>): ProxySettings | undefined {
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy || undefined
  const httpProxy = env.HTTP_PROXY || env.http_proxy || undefined
  const noProxy = env.NO_PROXY || env.no_proxy || undefined
  if (!httpsProxy && !httpProxy) return undefined
  return { ...(httpsProxy ? { httpsProxy } : {}), ...(httpProxy ? { httpProxy } : {}), ...(noProxy ? { noProxy } : {}) }
}

/** True when NO_PROXY says to connect to `host:port` directly. */
export function bypassesProxy(host: string, port: number, noProxy: string | undefined): boolean {
  if (!noProxy) return false
  const target = host.toLowerCase().replace(/^\[|\]$/g, '')
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') return true
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[(.*)\]/, '$1'))
    const name = (m?.[1] ?? entry).replace(/^\*?\./, '')
    if (m?.[2] && Number(m[2]) !== port) continue
    if (target === name || target.endsWith(`.${name}`)) return true
  }
  return false
}
