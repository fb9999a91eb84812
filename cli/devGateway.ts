/**
 * The dev stack's gateway: its keys (made once per KILN_HOME, kept in a 0600 file, never printed),
 * the environment the gateway and the workers get, and how `kiln run` finds it afterwards.
 * Keys already set in the environment (KILN_GATEWAY_KEYS / _FILE / _ADMIN_KEY) are used as well.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayEnv } from '../contracts/gateway.js';
import { kilnHome } from '../lib/workdirs.js';

/** The gateway's port in the dev stack, when free (else any free port). */
export const DEV_GATEWAY_PORT = 8400;

interface Secrets {
  clientKey: string;
  adminKey: string;
}

export function gatewayDir(home: string): string {
  return join(home, 'gateway');
}

export function devGatewaySecrets(home: string): Secrets {
  const file = join(gatewayDir(home), 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  mkdirSync(gatewayDir(home), { recursive: true, mode: 0o700 });
  const secrets = { clientKey: `kiln-dev-${randomBytes(18).toString('base64url')}`, adminKey: `kiln-admin-${randomBytes(18).toString('base64url')}` };
  writeFileSync(file, JSON.stringify(secrets) + '\n', { mode: 0o600 });
  return secrets;
}

/** Environment of the gateway process and of the workers (which register deployments with it). */
export function devGatewayEnv(home: string, url: string, env: NodeJS.ProcessEnv = process.env): { gateway: Record<string, string>; workers: Record<string, string> } {
  const s = devGatewaySecrets(home);
  const adminKey = env[GatewayEnv.adminKey] ?? s.adminKey;
  const keys = [env[GatewayEnv.keys], `dev:${s.clientKey}`].filter(Boolean).join(',');
  return {
    gateway: { [GatewayEnv.keys]: keys, [GatewayEnv.adminKey]: adminKey },
    workers: { [GatewayEnv.url]: url, [GatewayEnv.adminKey]: adminKey },
  };
}

export interface DevGatewayAccess {
  url: string;
  clientKey: string;
  adminKey: string;
}

/** The running dev stack's gateway (from stack.json and the secrets file), or undefined. */
export function devGatewayAccess(home = kilnHome(), env: NodeJS.ProcessEnv = process.env): DevGatewayAccess | undefined {
  const stackFile = join(home, 'stack.json');
  const url = env[GatewayEnv.url] ?? (existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as { gatewayUrl?: string }).gatewayUrl : undefined);
  if (!url || !existsSync(join(gatewayDir(home), 'secrets.json'))) return undefined;
  const s = devGatewaySecrets(home);
  return { url, clientKey: s.clientKey, adminKey: env[GatewayEnv.adminKey] ?? s.adminKey };
}
