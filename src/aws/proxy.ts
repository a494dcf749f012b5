// The agents that tunnel through a proxy. Loaded only when the environment names one (clients.ts):
// https-proxy-agent and what it pulls in cost a command ~25 ms of start-up it rarely needs.
import type http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { HttpsProxyAgent } from 'https-proxy-agent'
import { bypassesProxy, type ProxySettings } from './proxy-settings.js'

type AgentConnectOpts = Parameters<HttpsProxyAgent<string>['connect']>[1]

/** A CONNECT-tunnelling agent that goes direct for NO_PROXY hosts. */
class EnvProxyAgent extends HttpsProxyAgent<string> {
  private readonly noProxy: string | undefined

  constructor(proxy: string, noProxy: string | undefined) {
    super(proxy, { keepAlive: true })
    this.noProxy = noProxy
  }

  override async connect(req: http.ClientRequest, opts: AgentConnectOpts): Promise<net.Socket> {
    const port = opts.port ?? (opts.secureEndpoint ? 443 : 80)
    if (bypassesProxy(opts.host ?? 'localhost', port, this.noProxy)) {
      return opts.secureEndpoint
        ? tls.connect({ ...opts, port, servername: opts.servername ?? opts.host })
        : net.connect({ ...opts, port } as net.NetConnectOpts)
    }
    return super.connect(req, opts)
  }
}

/** The agents for NodeHttpHandler: one per endpoint protocol that has a proxy. */
export function proxyAgents(settings: ProxySettings): { httpAgent?: http.Agent; httpsAgent?: http.Agent } {
  return {
    ...(settings.httpProxy ? { httpAgent: new EnvProxyAgent(settings.httpProxy, settings.noProxy) } : {}),
    ...(settings.httpsProxy ? { httpsAgent: new EnvProxyAgent(settings.httpsProxy, settings.noProxy) } : {}),
  }
}
