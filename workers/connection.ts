// Where workers and clients find Temporal: TEMPORAL_ADDRESS (default localhost:7233) and
// TEMPORAL_NAMESPACE (default "default"), the Temporal CLI's own variable names.
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export const temporalAddress = () => process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
export const temporalNamespace = () => process.env.TEMPORAL_NAMESPACE ?? 'default';

export async function connectWorker(): Promise<NativeConnection> {
  return NativeConnection.connect({ address: temporalAddress() });
}

export async function connectClient(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return new Client({ connection, namespace: temporalNamespace() });
}
