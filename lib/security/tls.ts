/**
 * mTLS to the Temporal frontend for workers and clients, from the environment:
 *   KILN_TLS_CA    the CA that signed the server's certificate (PEM text or a file path)
 *   KILN_TLS_CERT  this process's client certificate (PEM text or a file path)
 *   KILN_TLS_KEY   its private key (PEM text or a file path)
 *   KILN_TLS_SERVER_NAME  the name to check the server's certificate against, when it differs
 *                  from the host in TEMPORAL_ADDRESS
 * The Temporal CLI's TEMPORAL_TLS_CA / _CERT / _KEY / _SERVER_NAME are read when the KILN_ ones
 * are unset, so one environment serves `temporal` and kiln alike. No variable set: plain TCP.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';

type Env = Record<string, string | undefined>;

function setting(env: Env, name: string): string | undefined {
  return env[`KILN_TLS_${name}`] || env[`TEMPORAL_TLS_${name}`] || undefined;
}

/** PEM given inline, or read from the file it names. */
function pem(env: Env, name: string): Buffer | undefined {
  const value = setting(env, name);
  if (!value) return undefined;
  if (value.includes('-----BEGIN ')) return Buffer.from(value);
  if (!existsSync(value)) {
    throw new Error(`Expected KILN_TLS_${name} to be PEM text or the path of a PEM file, got \`${value}\`, which does not exist.`);
  }
  return readFileSync(value);
}

/** The `tls` option of Connection.connect / NativeConnection.connect, or undefined for plain TCP. */
export function tlsFromEnv(env: Env = process.env): TLSConfig | undefined {
  const ca = pem(env, 'CA');
  const crt = pem(env, 'CERT');
  const key = pem(env, 'KEY');
  if (Boolean(crt) !== Boolean(key)) {
    throw new Error(`Expected KILN_TLS_CERT and KILN_TLS_KEY to be set together (a client certificate needs its key), got only KILN_TLS_${crt ? 'CERT' : 'KEY'}.`);
  }
  const serverNameOverride = setting(env, 'SERVER_NAME');
  if (!ca && !crt && !serverNameOverride) return undefined;
  return {
    ...(ca && { serverRootCACertificate: ca }),
    ...(crt && key && { clientCertPair: { crt, key } }),
    ...(serverNameOverride && { serverNameOverride }),
  };
}
