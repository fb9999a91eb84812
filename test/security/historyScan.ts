// Every workflow history on a server, as the raw bytes Temporal stores (protobuf), so a scan sees
// payloads exactly as persisted: JSON.stringify of a fetched history would show payload bytes as
// arrays of numbers and never match a string.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { History } = proto.temporal.api.history.v1;

export async function allHistories(client: Client, query?: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const wf of client.workflow.list(query ? { query } : undefined)) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    out.set(`${wf.workflowId} (${wf.runId})`, Buffer.from(History.encode(history).finish()));
  }
  return out;
}

/** `<workflow>: <needle label>` for every needle found in a history. */
export function findInHistories(histories: Map<string, Buffer>, needles: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [id, bytes] of histories) {
    for (const [label, needle] of Object.entries(needles)) if (needle && bytes.includes(needle)) found.push(`${id}: ${label}`);
  }
  return found;
}
