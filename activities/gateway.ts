/**
 * Registers a deployed endpoint with the serving gateway (the one named by KILN_GATEWAY_URL in
 * this worker's environment; `kiln up` sets it): the version joins the routes at weight 1 when it
 * is the first, else at weight 0, so that traffic moves to it only through a rollout. A version
 * already routed keeps its weight and takes the new URL (a redeploy). No gateway configured: no route.
 */
import { GatewayEnv, type GatewayRoute } from '../contracts/gateway.js';
import { getGatewayRoutes, setGatewayRoutes } from './rollout/gateway.js';

export interface GatewayRegistration {
  /** The gateway's URL, or undefined when none is configured. */
  gatewayUrl?: string;
  routes: GatewayRoute[];
}

/** The routes after adding (or updating) `version` at `endpoint`: pure, for tests and callers. */
export function withDeployment(routes: readonly GatewayRoute[], version: string, endpoint: string, pid?: number): GatewayRoute[] {
  const clean = routes.map(({ version: v, url, weight, aliases, pid: p, fimPrompt }) => ({ version: v, url, weight, ...(aliases ? { aliases } : {}), ...(p ? { pid: p } : {}), ...(fimPrompt ? { fimPrompt } : {}) }));
  const at = clean.findIndex((r) => r.version === version);
  const entry = { ...(at >= 0 ? clean[at]! : { version, weight: clean.length === 0 ? 1 : 0 }), url: endpoint, ...(pid ? { pid } : {}) };
  if (at >= 0) clean[at] = entry;
  else clean.push(entry);
  return clean;
}

export async function registerDeployment(input: { version: string; endpoint: string; pid?: number }): Promise<GatewayRegistration> {
  const gatewayUrl = process.env[GatewayEnv.url];
  if (!gatewayUrl) return { routes: [] };
  const { routes } = await getGatewayRoutes(gatewayUrl);
  const next = withDeployment(routes, input.version, input.endpoint, input.pid);
  await setGatewayRoutes({ gatewayUrl, routes: next });
  return { gatewayUrl, routes: next };
}
