/**
 * A /v1/completions body checked field by field before it reaches an engine: every refusal is an
 * OpenAI-shaped 400 naming the field. Tabby's `segments { prefix, suffix }` become OpenAI's
 * `prompt` + `suffix` (the engine lays them out as <fim_prefix>/<fim_suffix>/<fim_middle>);
 * `language` and `filename` stay in the gateway (they label the completion's stats).
 */
import { RequestError } from './errors.js';

export interface CompletionRequest {
  /** What the engine receives (without `model`: the gateway sets the engine's own name). */
  engineBody: Record<string, unknown>;
  stream: boolean;
  /** The `model` the client named, if any. */
  model?: string;
  user?: string;
  language?: string;
  filename?: string;
}

/** The body with its FIM request laid out as one prompt, for engines that take no `suffix`. */
export function fimAsPrompt(body: Record<string, unknown>): Record<string, unknown> {
  if (typeof body.suffix !== 'string' || typeof body.prompt !== 'string') return body;
  const { suffix, prompt, ...rest } = body;
  return { ...rest, prompt: `<fim_prefix>${prompt}<fim_suffix>${suffix}<fim_middle>` };
}

export interface RequestLimits {
  maxTokens: number;
  maxN: number;
}

const PASSED_THROUGH = ['prompt', 'suffix', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'seed', 'echo', 'stream', 'stream_options', 'logprobs', 'presence_penalty', 'frequency_penalty'];
const GATEWAY_ONLY = ['model', 'user', 'segments', 'language', 'filename'];

const bad = (field: string, message: string) => new RequestError(400, message, field);

function number(body: Record<string, unknown>, field: string, min: number, max: number, integer: boolean): void {
  const v = body[field];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw bad(field, `\`${field}\` must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got ${JSON.stringify(v)}`);
  }
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(field, `\`${field}\` must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function boolean(body: Record<string, unknown>, field: string): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw bad(field, `\`${field}\` must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function parseCompletionRequest(body: unknown, limits: RequestLimits): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'The request body must be a JSON object.', null);
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!PASSED_THROUGH.includes(key) && !GATEWAY_ONLY.includes(key)) throw bad(key, `Unrecognized request argument supplied: ${key}`);
  }
  const engineBody: Record<string, unknown> = {};
  for (const key of PASSED_THROUGH) if (b[key] !== undefined && b[key] !== null) engineBody[key] = b[key];

  if (b.segments !== undefined && b.segments !== null) {
    const s = b.segments as Record<string, unknown>;
    if (typeof s !== 'object' || Array.isArray(s)) throw bad('segments', '`segments` must be an object { prefix, suffix }');
    if (typeof s.prefix !== 'string') throw bad('segments.prefix', `\`segments.prefix\` must be a string, got ${JSON.stringify(s.prefix)}`);
    if (s.suffix !== undefined && s.suffix !== null && typeof s.suffix !== 'string') throw bad('segments.suffix', `\`segments.suffix\` must be a string, got ${JSON.stringify(s.suffix)}`);
    if (b.prompt !== undefined || b.suffix !== undefined) throw bad('segments', '`segments` replaces `prompt` and `suffix`: send one or the other');
    engineBody.prompt = s.prefix;
    if (typeof s.suffix === 'string' && s.suffix !== '') engineBody.suffix = s.suffix;
  } else if (typeof b.prompt !== 'string' && !(Array.isArray(b.prompt) && b.prompt.length > 0 && b.prompt.length <= limits.maxN && b.prompt.every((p) => typeof p === 'string'))) {
    throw bad('prompt', `\`prompt\` is required: a string or a list of 1 to ${limits.maxN} strings (or send Tabby's \`segments\`), got ${JSON.stringify(b.prompt ?? null).slice(0, 100)}`);
  }
  optionalString(b, 'suffix');
  number(b, 'max_tokens', 1, limits.maxTokens, true);
  number(b, 'temperature', 0, 2, false);
  number(b, 'top_p', 0, 1, false);
  if (typeof b.top_p === 'number' && b.top_p === 0) throw bad('top_p', '`top_p` must be greater than 0, got 0');
  number(b, 'n', 1, limits.maxN, true);
  number(b, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  number(b, 'logprobs', 0, 5, true);
  number(b, 'presence_penalty', -2, 2, false);
  number(b, 'frequency_penalty', -2, 2, false);
  const stop = b.stop;
  if (stop !== undefined && stop !== null && typeof stop !== 'string' && !(Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string'))) {
    throw bad('stop', `\`stop\` must be a string or an array of at most 4 strings, got ${JSON.stringify(stop)}`);
  }
  boolean(b, 'echo');
  const stream = boolean(b, 'stream');
  if (b.stream_options !== undefined && b.stream_options !== null && (typeof b.stream_options !== 'object' || Array.isArray(b.stream_options))) {
    throw bad('stream_options', '`stream_options` must be an object');
  }
  return {
    engineBody,
    stream,
    model: optionalString(b, 'model'),
    user: optionalString(b, 'user'),
    language: optionalString(b, 'language'),
    filename: optionalString(b, 'filename'),
  };
}
