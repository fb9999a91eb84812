/**
 * What the gateway counts, kept twice on purpose: as prom-client series for Prometheus (/metrics)
 * and as the cumulative per-version snapshot of the contract (/admin/stats) that the rollout
 * workflow reads without a Prometheus server. Both are fed by the same calls.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  emptyLanguageStats,
  emptyVersionStats,
  LATENCY_MS_BUCKETS,
  TTFT_MS_BUCKETS,
  type Buckets,
  type CompletionEventType,
  type GatewayStats,
  type LanguageStats,
  type VersionStats,
} from '../contracts/gateway.js';

/** Distinct languages counted before new ones fold into `other` (label cardinality stays bounded). */
const MAX_LANGUAGES = 64;

function observe(buckets: Buckets, bounds: readonly number[], ms: number): void {
  for (const le of bounds) if (ms <= le) buckets[String(le)]! += 1;
  buckets['+Inf']! += 1;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly startedAt = Date.now();
  private readonly versions = new Map<string, VersionStats>();
  private readonly languages = new Set<string>();

  readonly latency = new Histogram({
    name: 'kiln_gateway_request_duration_seconds',
    help: 'Completion latency end to end through the gateway, per model version',
    labelNames: ['version', 'stream'] as const,
    buckets: LATENCY_MS_BUCKETS.map((ms) => ms / 1000),
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'kiln_gateway_time_to_first_token_seconds',
    help: "Time to the engine's first answer byte (first SSE chunk when streaming), per model version",
    labelNames: ['version'] as const,
    buckets: TTFT_MS_BUCKETS.map((ms) => ms / 1000),
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'kiln_gateway_generated_tokens_total',
    help: 'Completion tokens generated, per model version (tokens/s = rate())',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'kiln_gateway_requests_total',
    help: 'Completion requests by model version and HTTP status answered',
    labelNames: ['version', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'kiln_gateway_errors_total',
    help: 'Failed completions per model version: engine unreachable, engine 5xx, broken stream',
    labelNames: ['version', 'reason'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'kiln_gateway_in_flight_requests',
    help: 'Completions waiting on each model version (queue depth as the gateway sees it)',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });
  readonly completions = new Counter({
    name: 'kiln_gateway_completions_total',
    help: 'Completions answered, per model version and language',
    labelNames: ['version', 'language'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'kiln_gateway_events_total',
    help: 'Editor events (view, accept, reject) per model version and language',
    labelNames: ['version', 'language', 'type'] as const,
    registers: [this.registry],
  });
  readonly acceptedChars = new Counter({
    name: 'kiln_gateway_accepted_chars_total',
    help: 'Characters of accepted completions, per model version and language',
    labelNames: ['version', 'language'] as const,
    registers: [this.registry],
  });
  readonly acceptedLines = new Counter({
    name: 'kiln_gateway_accepted_lines_total',
    help: 'Lines of accepted completions, per model version and language',
    labelNames: ['version', 'language'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'kiln_gateway_rejected_requests_total',
    help: 'Requests refused before routing, by HTTP status (auth, size, JSON, parameters, unknown model)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  constructor() {
    // The gateway's own process: CPU, memory, event loop lag, GC (prom-client's defaults).
    collectDefaultMetrics({ register: this.registry, prefix: 'kiln_gateway_' });
  }

  private version(v: string): VersionStats {
    let s = this.versions.get(v);
    if (!s) this.versions.set(v, (s = emptyVersionStats()));
    return s;
  }

  /** The label for a language: the first MAX_LANGUAGES distinct ones, then `other`. */
  language(lang: string): string {
    if (this.languages.has(lang)) return lang;
    if (this.languages.size >= MAX_LANGUAGES) return 'other';
    this.languages.add(lang);
    return lang;
  }

  private byLanguage(v: string, lang: string): LanguageStats {
    const s = this.version(v);
    return (s.byLanguage[lang] ??= emptyLanguageStats());
  }

  started(version: string): void {
    this.version(version).requests += 1;
    this.inFlight.inc({ version });
  }

  firstByte(version: string, ms: number): void {
    this.ttft.observe({ version }, ms / 1000);
    observe(this.version(version).ttftMsBuckets, TTFT_MS_BUCKETS, ms);
  }

  /** A request that an engine answered (any status); `ms` end to end. */
  finished(version: string, opts: { status: number; ms: number; stream: boolean; tokens: number; language: string }): void {
    this.inFlight.dec({ version });
    this.requests.inc({ version, status: String(opts.status) });
    const s = this.version(version);
    if (opts.status >= 500) {
      s.errors += 1;
      this.errors.inc({ version, reason: `engine_${opts.status}` });
      return;
    }
    if (opts.status >= 400) return; // the client's mistake, passed through: not the version's fault
    this.latency.observe({ version, stream: String(opts.stream) }, opts.ms / 1000);
    observe(s.latencyMsBuckets, LATENCY_MS_BUCKETS, opts.ms);
    s.tokens += opts.tokens;
    this.tokens.inc({ version }, opts.tokens);
    this.byLanguage(version, opts.language).completions += 1;
    this.completions.inc({ version, language: opts.language });
  }

  /** A request that never got an answer from the engine (connection refused, reset, timeout). */
  failed(version: string, reason: string): void {
    this.inFlight.dec({ version });
    this.requests.inc({ version, status: 'none' });
    this.version(version).errors += 1;
    this.errors.inc({ version, reason });
  }

  /** A stream the engine broke off after its headers: an error, counted once. */
  broken(version: string): void {
    this.version(version).errors += 1;
    this.errors.inc({ version, reason: 'stream_broken' });
  }

  event(version: string, language: string, type: CompletionEventType, chars: number, lines: number): void {
    const l = this.byLanguage(version, language);
    this.events.inc({ version, language, type });
    if (type === 'view') l.views += 1;
    else if (type === 'reject') l.rejects += 1;
    else {
      l.accepts += 1;
      l.acceptedChars += chars;
      l.acceptedLines += lines;
      this.acceptedChars.inc({ version, language }, chars);
      this.acceptedLines.inc({ version, language }, lines);
    }
  }

  snapshot(): GatewayStats {
    return { startedAt: this.startedAt, now: Date.now(), versions: structuredClone(Object.fromEntries(this.versions)) };
  }
}
