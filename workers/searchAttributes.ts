// Registers kiln's search attributes (KilnStage, KilnStep) when the server lacks them, so the
// workflows' upserts work on any server the workers connect to (the dev server started by
// cli/stack.ts has them already). Without the right to add them, it says what to run instead.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, searchAttributeCliType } from '../contracts/workflows.js';

const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
const TYPES: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

/** `log`: the worker's logger (JSON lines when KILN_LOG_FORMAT=json); stderr elsewhere. */
export async function ensureSearchAttributes(client: Client, namespace: string, log: (message: string) => void = console.error): Promise<void> {
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTES.filter((a) => !customAttributes?.[a.name]);
    if (missing.length === 0) return;
    await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((a) => [a.name, TYPES[a.type]!])) });
    log(`[search attributes] registered ${missing.map((a) => a.name).join(', ')} in namespace ${namespace}`);
  } catch (err) {
    const cmd = SEARCH_ATTRIBUTES.map((a) => `temporal operator search-attribute create --namespace ${namespace} --name ${a.name} --type ${searchAttributeCliType(a.type)}`).join(' && ');
    log(`[search attributes] could not check or register them (${(err as Error).message}); the workflows need them: ${cmd}`);
  }
}
