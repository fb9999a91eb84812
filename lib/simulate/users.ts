/**
 * Simulated editor users for rollout tests and demos: N users with ids, each asking the gateway
 * for completions (prompts in several languages; the file name's extension tells the gateway the
 * language) and then reporting events as an editor does: `view` always, then `accept` with
 * probability p[version][language] (the version is the `model` that answered), else `reject`.
 *
 * Seeded: each user draws from its own generator (seed, user id), and each user's requests run
 * one after another on one lane, so what a user does is the same whatever the interleaving of
 * lanes; only which arm serves a user depends on the gateway's weights at that moment.
 */
import { GATEWAY_USER_HEADER } from '../../contracts/gateway.js';
import { mulberry32 } from '../random.js';

export interface SimLanguage {
  /** As the gateway names it (The Stack's names: `Python`, `Go`...). */
  language: string;
  extension: string;
  prompts: string[];
}

export const DEFAULT_LANGUAGES: SimLanguage[] = [
  { language: 'Python', extension: 'py', prompts: ['def fibonacci(n):\n    ', 'import os\n\ndef list_files(path):\n    ', 'class Stack:\n    def __init__(self):\n        '] },
  { language: 'Go', extension: 'go', prompts: ['func Reverse(s string) string {\n\t', 'package main\n\nimport "fmt"\n\nfunc main() {\n\t', 'func Max(a, b int) int {\n\t'] },
  { language: 'TypeScript', extension: 'ts', prompts: ['export function sum(xs: number[]): number {\n  ', 'interface User {\n  id: string;\n  ', 'const sleep = (ms: number) => '] },
];

export interface SimulationOptions {
  gatewayUrl: string;
  /** A client key of the gateway (sent as a Bearer token; never printed). */
  clientKey: string;
  users: number;
  seed: number;
  /** p[version][language]: probability that a viewed completion is accepted. */
  acceptance: Record<string, Record<string, number>>;
  languages?: SimLanguage[];
  /** Stop after this many completions in all (default: until `signal` aborts). */
  requests?: number;
  /** Lanes working at once (each owns a fixed set of users). Default 8. */
  concurrency?: number;
  /** Pause between a user's requests, ms. Default 0. */
  thinkMs?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface SimCounts {
  completions: number;
  views: number;
  accepts: number;
  rejects: number;
}

export interface SimulationResult {
  requests: number;
  /** Completions that failed (HTTP error or network). */
  errors: number;
  /** What the users did, per version that answered, per language: the simulated truth. */
  byVersion: Record<string, Record<string, SimCounts>>;
  /** Versions that answered but had no acceptance table (their events were rejects). */
  unknownVersions: string[];
}

/** FNV-1a of a string: a stable 32-bit seed per user. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function userId(i: number): string {
  return `sim-user-${String(i).padStart(4, '0')}`;
}

function counts(result: SimulationResult, version: string, language: string): SimCounts {
  const v = (result.byVersion[version] ??= {});
  return (v[language] ??= { completions: 0, views: 0, accepts: 0, rejects: 0 });
}

// No abort signal on the requests: a stop lets the requests in flight finish with their events
// (and one signal shared by thousands of fetches would collect a listener per request).
async function post(url: string, key: string, user: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', [GATEWAY_USER_HEADER]: user },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
}

/** Runs the population until `requests` completions were asked for or `signal` aborts. */
export async function simulateUsers(opts: SimulationOptions): Promise<SimulationResult> {
  const languages = opts.languages ?? DEFAULT_LANGUAGES;
  const lanes = Math.max(1, Math.min(opts.concurrency ?? 8, opts.users));
  const base = opts.gatewayUrl.replace(/\/+$/, '');
  const result: SimulationResult = { requests: 0, errors: 0, byVersion: {}, unknownVersions: [] };
  const rngs = Array.from({ length: opts.users }, (_, i) => mulberry32(fnv1a(`${opts.seed}:${userId(i)}`)));
  const seq = new Array<number>(opts.users).fill(0);
  const budgetLeft = () => opts.requests === undefined || result.requests < opts.requests;
  const stopped = () => opts.signal?.aborted === true || !budgetLeft();

  const oneRequest = async (u: number): Promise<void> => {
    const rng = rngs[u]!;
    const user = userId(u);
    const lang = languages[Math.floor(rng() * languages.length)]!;
    const prompt = lang.prompts[Math.floor(rng() * lang.prompts.length)]!;
    const draw = rng(); // drawn before the answer, so a user's sequence does not depend on it
    const n = seq[u]++;
    result.requests += 1;
    let answer: { id?: string; model?: string; choices?: { text?: string }[] };
    try {
      const res = await post(`${base}/v1/completions`, opts.clientKey, user, { prompt, max_tokens: opts.maxTokens ?? 8, temperature: 0, filename: `src/${user}/file${n}.${lang.extension}` });
      if (!res.ok) {
        await res.body?.cancel();
        result.errors += 1;
        return;
      }
      answer = (await res.json()) as typeof answer;
    } catch {
      result.errors += 1;
      return;
    }
    const version = String(answer.model);
    const c = counts(result, version, lang.language);
    c.completions += 1;
    const table = opts.acceptance[version];
    if (!table && !result.unknownVersions.includes(version)) result.unknownVersions.push(version);
    const accept = draw < (table?.[lang.language] ?? 0);
    const text = answer.choices?.[0]?.text ?? '';
    const events = [{ type: 'view' }, accept ? { type: 'accept', accepted_chars: text.length, accepted_lines: text.split('\n').length } : { type: 'reject' }];
    for (const e of events) {
      const res = await post(`${base}/v1/events`, opts.clientKey, user, { ...e, completion_id: answer.id });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`The gateway answered /v1/events with HTTP ${res.status}.`);
      if (e.type === 'view') c.views += 1;
      else if (e.type === 'accept') c.accepts += 1;
      else c.rejects += 1;
    }
  };

  const lane = async (l: number): Promise<void> => {
    for (let round = 0; !stopped(); round++) {
      for (let u = l; u < opts.users && !stopped(); u += lanes) {
        await oneRequest(u);
        if (opts.thinkMs) await new Promise((r) => setTimeout(r, opts.thinkMs));
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
  return result;
}
