/**
 * The gateway's admin API, as the rollout's activities call it: set the routes (weights), read the
 * cumulative stats. The admin key comes from this worker's environment (KILN_GATEWAY_ADMIN_KEY),
 * never from the workflow's input or history, and never appears in a message.
 */
import { ErrorType, fatal, transient } from '../../contracts/errors.js';
import { GatewayEnv, type GatewayRoute, type GatewayRoutes, type GatewayStats } from '../../contracts/gateway.js';

function adminKey(): string {
  const key = process.env[GatewayEnv.adminKey];
  if (!key) throw fatal(ErrorType.InvalidConfig, `Set ${GatewayEnv.adminKey} in the worker's environment: the rollout needs the gateway's admin key.`);
  return key;
}

function adminUrl(gatewayUrl: string, path: string): string {
  let url: URL;
  try {
    url = new URL(path, gatewayUrl.replace(/\/*$/, '/'));
  } catch {
    throw fatal(ErrorType.InvalidInput, `Expected \`gatewayUrl\` to be an http(s):// URL, got \`${gatewayUrl}\`.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fatal(ErrorType.InvalidInput, `Expected \`gatewayUrl\` to be an http(s):// URL, got \`${gatewayUrl}\`.`);
  return url.href;
}

/** One admin call; 4xx are fatal (a person must fix them), network errors and 5xx transient. */
async function call<T>(gatewayUrl: string, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
  const url = adminUrl(gatewayUrl, path);
  const key = adminKey();
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw transient(ErrorType.ServiceUnavailable, `The gateway at ${url} did not answer ${method} ${path}: ${(err as Error).cause ? String(((err as Error).cause as Error).message) : (err as Error).message}.`);
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) {
    throw fatal(ErrorType.AccessDenied, `The gateway refused ${method} ${path} (HTTP ${res.status}): check ${GatewayEnv.adminKey} in the worker's environment.`);
  }
  if (res.status >= 500 || res.status === 429) throw transient(ErrorType.ServiceUnavailable, `The gateway answered ${method} ${path} with HTTP ${res.status}: ${text.slice(0, 300)}`);
  if (!res.ok) throw fatal(ErrorType.InvalidInput, `The gateway rejected ${method} ${path} (HTTP ${res.status}): ${text.slice(0, 500)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw transient(ErrorType.ServiceUnavailable, `The gateway answered ${method} ${path} with something other than JSON.`);
  }
}

/** Replaces the gateway's routes (PUT /admin/routes, atomic on the gateway's side). */
export async function setGatewayRoutes(input: { gatewayUrl: string; routes: GatewayRoute[] }): Promise<GatewayRoutes> {
  await call<unknown>(input.gatewayUrl, 'PUT', 'admin/routes', { routes: input.routes });
  return { routes: input.routes };
}

export async function getGatewayRoutes(gatewayUrl: string): Promise<GatewayRoutes> {
  return call<GatewayRoutes>(gatewayUrl, 'GET', 'admin/routes');
}

/** Cumulative counters since the gateway started (GET /admin/stats). */
export async function getGatewayStats(gatewayUrl: string): Promise<GatewayStats> {
  const stats = await call<GatewayStats>(gatewayUrl, 'GET', 'admin/stats');
  if (typeof stats?.startedAt !== 'number' || typeof stats.versions !== 'object') {
    throw transient(ErrorType.ServiceUnavailable, 'The gateway answered GET /admin/stats without `startedAt` and `versions`.');
  }
  return stats;
}
