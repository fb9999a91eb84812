// The gateway's contract: what the gateway (gateway/) serves and what its clients (the rollout
// workflow and its activities, the simulated users, `kiln run`) read. Types and pure helpers only,
// no Node built-ins, so workflow code may import it.

/** Header carrying the user id that picks a sticky arm (the body's `user` field is the fallback). */
export const GATEWAY_USER_HEADER = 'x-kiln-user';

/** Environment variables the gateway reads. Keys are never logged or echoed. */
export const GatewayEnv = {
  /** Client keys, `name:key,name2:key2`. */
  keys: 'KILN_GATEWAY_KEYS',
  /** A file with one `name:key` per line (`#` comments), read instead of or beside `keys`. */
  keysFile: 'KILN_GATEWAY_KEYS_FILE',
  /** The admin key for /admin/*. */
  adminKey: 'KILN_GATEWAY_ADMIN_KEY',
  /** Where clients (activities, `kiln run`) find the gateway, e.g. http://127.0.0.1:8400. */
  url: 'KILN_GATEWAY_URL',
} as const;

/** One arm: a model version served by an OpenAI-compatible engine at `url`, with a traffic weight. */
export interface GatewayRoute {
  version: string;
  /** Base URL of the engine (`http(s)://host:port`, no `/v1`). */
  url: string;
  /** Relative weight, >= 0; the shares are weight / sum of weights. */
  weight: number;
  /** Aliases that also select this version when a client names `model` (e.g. `production`). */
  aliases?: string[];
  /** The engine's process id when it runs on the gateway's host: its CPU and RSS appear in /metrics. */
  pid?: number;
  /**
   * The engine takes no `suffix` (vLLM): the gateway lays a fill-in-the-middle request out as the
   * prompt `<fim_prefix>prefix<fim_suffix>suffix<fim_middle>` itself, as the shard stage trains it.
   */
  fimPrompt?: boolean;
}

/** Body of `PUT /admin/routes` and answer of `GET /admin/routes` (which adds `healthy`). */
export interface GatewayRoutes {
  routes: GatewayRoute[];
}

export interface GatewayRouteStatus extends GatewayRoute {
  /** False while health checks or failed connections keep the engine out of rotation. */
  healthy: boolean;
}

export type CompletionEventType = 'view' | 'accept' | 'reject';

/** Body of `POST /v1/events`. */
export interface CompletionEvent {
  type: CompletionEventType;
  completion_id: string;
  accepted_chars?: number;
  accepted_lines?: number;
}

/** Language recorded when a request names neither `language` nor a known `filename` extension. */
export const UNKNOWN_LANGUAGE = 'unknown';

/** Fixed upper bounds (ms) of the latency histograms, in /metrics (as seconds) and /admin/stats. */
export const LATENCY_MS_BUCKETS: readonly number[] = [5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000];
/** Fixed upper bounds (ms) of the time-to-first-token histograms. */
export const TTFT_MS_BUCKETS: readonly number[] = [5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000];

/**
 * A histogram as Prometheus keeps it: cumulative counts keyed by upper bound, `String(le)` for each
 * bound in LATENCY_MS_BUCKETS / TTFT_MS_BUCKETS, and `+Inf` (the total count).
 */
export type Buckets = Record<string, number>;

export interface LanguageStats {
  completions: number;
  views: number;
  accepts: number;
  rejects: number;
  acceptedChars: number;
  acceptedLines: number;
}

export interface VersionStats {
  /** Completion requests routed to this version (answered or not). */
  requests: number;
  /** Requests that failed: engine unreachable, engine 5xx, broken stream. */
  errors: number;
  /** End-to-end latency of answered requests. */
  latencyMsBuckets: Buckets;
  /** Time to the first byte of the engine's answer (first SSE chunk when streaming). */
  ttftMsBuckets: Buckets;
  /** Completion tokens generated (from the engine's `usage`, else counted stream chunks). */
  tokens: number;
  byLanguage: Record<string, LanguageStats>;
}

/** `GET /admin/stats`: cumulative counters since `startedAt`; subtract two snapshots for a window. */
export interface GatewayStats {
  startedAt: number;
  now: number;
  versions: Record<string, VersionStats>;
}

export function emptyLanguageStats(): LanguageStats {
  return { completions: 0, views: 0, accepts: 0, rejects: 0, acceptedChars: 0, acceptedLines: 0 };
}

export function emptyBuckets(bounds: readonly number[]): Buckets {
  const b: Buckets = {};
  for (const le of bounds) b[String(le)] = 0;
  b['+Inf'] = 0;
  return b;
}

export function emptyVersionStats(): VersionStats {
  return { requests: 0, errors: 0, latencyMsBuckets: emptyBuckets(LATENCY_MS_BUCKETS), ttftMsBuckets: emptyBuckets(TTFT_MS_BUCKETS), tokens: 0, byLanguage: {} };
}

/** later - earlier, key by key (keys missing in `earlier` count as 0). */
export function subtractBuckets(later: Buckets, earlier: Buckets | undefined): Buckets {
  const out: Buckets = {};
  for (const [k, v] of Object.entries(later)) out[k] = v - (earlier?.[k] ?? 0);
  return out;
}

function subtractLanguage(later: LanguageStats, earlier: LanguageStats | undefined): LanguageStats {
  const e = earlier ?? emptyLanguageStats();
  return {
    completions: later.completions - e.completions,
    views: later.views - e.views,
    accepts: later.accepts - e.accepts,
    rejects: later.rejects - e.rejects,
    acceptedChars: later.acceptedChars - e.acceptedChars,
    acceptedLines: later.acceptedLines - e.acceptedLines,
  };
}

/**
 * The window between two snapshots of the same gateway (as Prometheus' rate() does). A gateway
 * restart between them (a different `startedAt`) resets the counters: the later snapshot is then
 * the window on its own.
 */
export function subtractStats(later: GatewayStats, earlier: GatewayStats): GatewayStats {
  const base = earlier.startedAt === later.startedAt ? earlier : { startedAt: later.startedAt, now: later.startedAt, versions: {} };
  const versions: Record<string, VersionStats> = {};
  for (const [v, l] of Object.entries(later.versions)) {
    const e = base.versions[v];
    const byLanguage: Record<string, LanguageStats> = {};
    for (const [lang, ls] of Object.entries(l.byLanguage)) byLanguage[lang] = subtractLanguage(ls, e?.byLanguage[lang]);
    versions[v] = {
      requests: l.requests - (e?.requests ?? 0),
      errors: l.errors - (e?.errors ?? 0),
      latencyMsBuckets: subtractBuckets(l.latencyMsBuckets, e?.latencyMsBuckets),
      ttftMsBuckets: subtractBuckets(l.ttftMsBuckets, e?.ttftMsBuckets),
      tokens: l.tokens - (e?.tokens ?? 0),
      byLanguage,
    };
  }
  return { startedAt: base.now, now: later.now, versions };
}

/**
 * The q-quantile (0 < q < 1) of a cumulative histogram, interpolated linearly inside the bucket
 * that holds it, as Prometheus' histogram_quantile() does; the lowest bucket starts at 0, and a
 * quantile that falls in `+Inf` answers the highest finite bound. undefined when the histogram is empty.
 */
export function percentileFromBuckets(buckets: Buckets, q: number): number | undefined {
  if (!(q > 0 && q < 1)) throw new RangeError(`Expected a quantile in (0, 1), got ${q}`);
  const bounds = Object.keys(buckets)
    .filter((k) => k !== '+Inf')
    .map(Number)
    .sort((a, b) => a - b);
  const total = buckets['+Inf'] ?? (bounds.length > 0 ? buckets[String(bounds[bounds.length - 1])]! : 0);
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const count = buckets[String(le)]!;
    if (count >= rank) {
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevBound + ((le - prevBound) * (rank - prevCount)) / inBucket : le;
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}
