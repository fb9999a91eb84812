// /v1/events: the editor's view / accept / reject of a completion, tied back to the version that
// wrote it and its language through a bounded map of recent completions (least recently used out).
import type { CompletionEvent } from '../contracts/gateway.js';
import { RequestError } from './errors.js';

export interface CompletionInfo {
  version: string;
  language: string;
}

export class CompletionLog {
  private readonly map = new Map<string, CompletionInfo>();
  constructor(private readonly capacity: number) {}

  remember(id: string, info: CompletionInfo): void {
    this.map.set(id, info);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  get(id: string): CompletionInfo | undefined {
    const info = this.map.get(id);
    if (info) {
      // Map keeps insertion order: re-inserting makes this id the most recently used.
      this.map.delete(id);
      this.map.set(id, info);
    }
    return info;
  }

  get size(): number {
    return this.map.size;
  }
}

const TYPES = ['view', 'accept', 'reject'];

export function parseEvent(body: unknown): CompletionEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'The request body must be a JSON object.', null);
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['type', 'completion_id', 'accepted_chars', 'accepted_lines'].includes(key)) throw new RequestError(400, `Unrecognized event field: ${key}`, key);
  }
  if (typeof b.type !== 'string' || !TYPES.includes(b.type)) throw new RequestError(400, `\`type\` must be one of ${TYPES.join(', ')}, got ${JSON.stringify(b.type ?? null)}`, 'type');
  if (typeof b.completion_id !== 'string' || b.completion_id === '') throw new RequestError(400, '`completion_id` must be the `id` of a completion this gateway answered', 'completion_id');
  for (const field of ['accepted_chars', 'accepted_lines'] as const) {
    const v = b[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RequestError(400, `\`${field}\` must be an integer >= 0, got ${JSON.stringify(v)}`, field);
    if (b.type !== 'accept') throw new RequestError(400, `\`${field}\` belongs to \`accept\` events only, got it on \`${b.type}\``, field);
  }
  return b as unknown as CompletionEvent;
}
