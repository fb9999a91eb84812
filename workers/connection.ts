// Where workers and clients find Temporal: TEMPORAL_ADDRESS (default localhost:7233) and
// TEMPORAL_NAMESPACE (default "default"), the Temporal CLI's own variable names; mTLS from
// KILN_TLS_CA / KILN_TLS_CERT / KILN_TLS_KEY (lib/security/tls.ts); payload encryption from
// KILN_CODEC_KEYS (lib/security/dataConverter.ts).
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { kilnDataConverter } from '../lib/security/dataConverter.js';
import { tlsFromEnv } from '../lib/security/tls.js';

export const temporalAddress = () => process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
export const temporalNamespace = () => process.env.TEMPORAL_NAMESPACE ?? 'default';

export async function connectWorker(address = temporalAddress()): Promise<NativeConnection> {
  return NativeConnection.connect({ address, tls: tlsFromEnv() });
}

export async function connectClient(address = temporalAddress()): Promise<Client> {
  const connection = await Connection.connect({ address, tls: tlsFromEnv() });
  return new Client({ connection, namespace: temporalNamespace(), dataConverter: kilnDataConverter() });
}
