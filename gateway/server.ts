/**
 * The gateway: OpenAI's /v1/completions in front of every model version, sticky A/B routing by
 * weight, /v1/events feedback, Prometheus /metrics, and the admin API the rollout drives.
 * node:http on purpose: eight routes, streaming pass-through and a body limit need nothing more.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge } from 'prom-client';
import { GATEWAY_USER_HEADER, type GatewayRoute } from '../contracts/gateway.js';
import { authenticateAdmin, authenticateClient, type Keys } from './auth.js';
import { RequestError, sendError, sendJson } from './errors.js';
import { CompletionLog, parseEvent } from './events.js';
import { registerHostStats } from './hostStats.js';
import { languageOf } from './language.js';
import { forward } from './proxy.js';
import { fimAsPrompt, parseCompletionRequest } from './request.js';
import { RouteTable, validateRoutes, type Arm } from './routing.js';
import { GatewayMetrics } from './stats.js';

/** Longest wait for an engine's /health: a busy engine answers late, a dead one never. */
const HEALTH_TIMEOUT_MS = 3000;

export interface GatewayOptions {
  keys: Keys;
  host?: string;
  port?: number;
  routes?: GatewayRoute[];
  /** Largest request body accepted (bytes); larger ones get 413. */
  maxBodyBytes?: number;
  maxTokens?: number;
  maxN?: number;
  /** How often each engine's /health is checked. */
  healthIntervalMs?: number;
  /** Longest wait for an engine's answer before a 504. */
  requestTimeoutMs?: number;
  /** Completions remembered for /v1/events (least recently used dropped first). */
  completionCacheSize?: number;
  /** A `model` that means "route me by weight" (besides the engines' own model names). */
  modelName?: string;
  /** Where PUT /admin/routes keeps the routes, so a restarted gateway serves the same arms (and wins over `routes`). */
  stateFile?: string;
  /** One JSON line per request and per route change; never keys or bodies. */
  log?: (line: string) => void;
}

export class Gateway {
  readonly table = new RouteTable();
  readonly metrics = new GatewayMetrics();
  private readonly server: Server;
  private readonly completions: CompletionLog;
  private healthTimer?: NodeJS.Timeout;
  private checking = false;
  private readonly o: Required<Omit<GatewayOptions, 'routes' | 'stateFile'>> & { stateFile?: string };

  constructor(opts: GatewayOptions) {
    this.o = {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1 << 20,
      maxTokens: 4096,
      maxN: 16,
      healthIntervalMs: 2000,
      requestTimeoutMs: 120_000,
      completionCacheSize: 100_000,
      modelName: 'kiln',
      log: (line) => process.stderr.write(line + '\n'),
      ...opts,
    };
    this.completions = new CompletionLog(this.o.completionCacheSize);
    const saved = opts.stateFile && existsSync(opts.stateFile) ? (JSON.parse(readFileSync(opts.stateFile, 'utf8')) as unknown) : undefined;
    if (saved) this.table.replace(validateRoutes(saved));
    else if (opts.routes) this.table.replace(validateRoutes({ routes: opts.routes }));
    const arms = () => this.table.list();
    registerHostStats(this.metrics.registry, arms);
    new Gauge({
      name: 'kiln_gateway_route_weight',
      help: 'Traffic weight of each model version (share = weight / sum)',
      labelNames: ['version'] as const,
      registers: [this.metrics.registry],
      collect() {
        this.reset();
        for (const a of arms()) this.set({ version: a.version }, a.weight);
      },
    });
    new Gauge({
      name: 'kiln_gateway_engine_up',
      help: "1 while a version's engine is in rotation, 0 while health checks keep it out",
      labelNames: ['version'] as const,
      registers: [this.metrics.registry],
      collect() {
        this.reset();
        for (const a of arms()) this.set({ version: a.version }, a.healthy ? 1 : 0);
      },
    });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof RequestError ? err : new RequestError(500, 'The gateway failed on this request.', null, 'server_error');
        if (!(err instanceof RequestError)) this.o.log(JSON.stringify({ event: 'error', path: req.url, message: (err as Error).message }));
        if (!res.headersSent) sendError(res, e);
        else res.end();
      });
    });
    this.server.keepAliveTimeout = 65_000; // longer than usual load balancers' idle timeouts
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => resolve());
    });
    this.healthTimer = setInterval(() => void this.checkHealth(), this.o.healthIntervalMs);
    this.healthTimer.unref();
    void this.checkHealth();
    return this.url;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * One round of health checks. An engine answering /health 2xx is in rotation; one that fails
   * twice in a row is out (a single slow answer on a busy host does not drop it; a failed
   * connection during a request drops it at once, see complete()).
   */
  async checkHealth(): Promise<void> {
    if (this.checking) return; // a slow round is still running: never pile them up
    this.checking = true;
    try {
      await Promise.all(
        this.table.list().map(async (arm) => {
          const ok = await fetch(`${arm.url}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) })
            .then(async (r) => (await r.arrayBuffer(), r.ok))
            .catch(() => false);
          if (ok) await this.engineModel(arm);
          arm.failedChecks = ok ? 0 : arm.failedChecks + 1;
          const healthy = ok || (arm.healthy && arm.failedChecks < 2);
          if (healthy !== arm.healthy) this.o.log(JSON.stringify({ event: healthy ? 'engine_up' : 'engine_down', version: arm.version, url: arm.url }));
          arm.healthy = healthy;
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const logged: Record<string, unknown> = { method: req.method, path };
    res.once('finish', () => {
      if (path === '/metrics' || path === '/health') return;
      this.o.log(JSON.stringify({ ts: new Date().toISOString(), ...logged, status: res.statusCode, ms: Math.round(performance.now() - started) }));
    });
    try {
      const route = `${req.method} ${path}`;
      switch (route) {
        case 'GET /health':
          return sendJson(res, 200, { status: 'ok', routes: this.table.list().length, healthy: this.table.list().filter((a) => a.healthy).length });
        case 'GET /metrics':
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(await this.metrics.registry.metrics());
          return;
        case 'GET /v1/models':
          logged.client = authenticateClient(this.o.keys, req);
          return sendJson(res, 200, {
            object: 'list',
            data: this.table.list().flatMap((a) => [a.version, ...(a.aliases ?? [])].map((id) => ({ id, object: 'model', owned_by: 'kiln' }))),
          });
        case 'POST /v1/completions':
          logged.client = authenticateClient(this.o.keys, req);
          return await this.complete(req, res, logged);
        case 'POST /v1/events':
          logged.client = authenticateClient(this.o.keys, req);
          return this.event(await this.readJson(req), res);
        case 'GET /admin/routes':
          authenticateAdmin(this.o.keys, req);
          return sendJson(res, 200, { routes: this.table.status() });
        case 'PUT /admin/routes': {
          authenticateAdmin(this.o.keys, req);
          const routes = validateRoutes(await this.readJson(req));
          this.table.replace(routes);
          if (this.o.stateFile) {
            // Write then rename: a crash mid-write never leaves half a file for the next start.
            await writeFile(`${this.o.stateFile}.tmp`, JSON.stringify({ routes }, null, 2) + '\n');
            await rename(`${this.o.stateFile}.tmp`, this.o.stateFile);
          }
          this.o.log(JSON.stringify({ event: 'routes', routes: routes.map((r) => ({ version: r.version, url: r.url, weight: r.weight })) }));
          void this.checkHealth();
          return sendJson(res, 200, { routes: this.table.status() });
        }
        case 'GET /admin/stats':
          authenticateAdmin(this.o.keys, req);
          return sendJson(res, 200, this.metrics.snapshot());
        default:
          throw new RequestError(404, `Unknown request: ${req.method} ${path}`, null, 'invalid_request_error', 'not_found');
      }
    } catch (err) {
      if (err instanceof RequestError && req.url?.startsWith('/v1/')) this.metrics.rejected.inc({ status: String(err.status) });
      throw err;
    }
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.o.maxBodyBytes;
    const tooLarge = () => new RequestError(413, `The request body is larger than ${limit} bytes.`, null, 'invalid_request_error', 'request_too_large');
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume(); // drain, so the 413 reaches the client instead of a reset
      throw tooLarge();
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        req.resume();
        throw tooLarge();
      }
      parts.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch (err) {
      throw new RequestError(400, `We could not parse the JSON body of your request: ${(err as Error).message}`, null);
    }
  }

  /** The arm a request goes to: the version or alias it names, else by weight, sticky per user. */
  private choose(model: string | undefined, user: string | undefined, exclude: Set<string>): { arm?: Arm; pinned: boolean } {
    if (model !== undefined && model !== this.o.modelName && !this.table.list().some((a) => a.engineModel === model)) {
      const arm = this.table.byName(model);
      if (!arm) {
        throw new RequestError(400, `The model \`${model}\` does not exist: name a version or alias (GET /v1/models), \`${this.o.modelName}\`, or none to be routed by weight.`, 'model', 'invalid_request_error', 'model_not_found');
      }
      return { arm: exclude.has(arm.version) || !arm.healthy ? undefined : arm, pinned: true };
    }
    return { arm: this.table.pick(user, exclude), pinned: false };
  }

  private async engineModel(arm: Arm): Promise<string | undefined> {
    if (arm.engineModel === undefined) {
      const models = await fetch(`${arm.url}/v1/models`, { signal: AbortSignal.timeout(5000) })
        .then((r) => (r.ok ? (r.json() as Promise<{ data?: { id?: string }[] }>) : undefined))
        .catch(() => undefined);
      arm.engineModel = models?.data?.[0]?.id;
    }
    return arm.engineModel;
  }

  private async complete(req: IncomingMessage, res: ServerResponse, logged: Record<string, unknown>): Promise<void> {
    const parsed = parseCompletionRequest(await this.readJson(req), { maxTokens: this.o.maxTokens, maxN: this.o.maxN });
    const header = req.headers[GATEWAY_USER_HEADER];
    const user = (Array.isArray(header) ? header[0] : header) ?? parsed.user;
    const language = this.metrics.language(languageOf(parsed.language, parsed.filename));
    const tried = new Set<string>();
    // One controller per request for both the client leaving and the engine's deadline.
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(); // the client left before its answer was complete
    });
    // A failed connection takes the engine out of rotation; a request routed by weight is tried once more elsewhere.
    for (;;) {
      const { arm, pinned } = this.choose(parsed.model, user, tried);
      if (!arm) {
        const what = parsed.model !== undefined && tried.size === 0 ? `\`${parsed.model}\` is out of rotation (its engine fails its health checks)` : 'No model version is in rotation';
        throw new RequestError(503, `${what}; try again shortly.`, null, 'server_error', 'engine_unavailable');
      }
      tried.add(arm.version);
      logged.version = arm.version;
      const completionId = `cmpl-${randomUUID()}`;
      const started = performance.now();
      this.metrics.started(arm.version);
      let timedOut = false;
      const deadline = setTimeout(() => ((timedOut = true), abort.abort()), this.o.requestTimeoutMs);
      try {
        const model = await this.engineModel(arm);
        const up = await forward({
          url: arm.url,
          body: { ...(arm.fimPrompt ? fimAsPrompt(parsed.engineBody) : parsed.engineBody), ...(model ? { model } : {}) },
          completionId,
          version: arm.version,
          res,
          signal: abort.signal,
          onFirstByte: (ms) => this.metrics.firstByte(arm.version, ms),
        });
        this.metrics.finished(arm.version, { status: up.status, ms: performance.now() - started, stream: parsed.stream, tokens: up.tokens, language });
        if (up.broken) this.metrics.broken(arm.version);
        if (up.status === 200) this.completions.remember(completionId, { version: arm.version, language });
        return;
      } catch {
        this.metrics.failed(arm.version, timedOut ? 'timeout' : abort.signal.aborted ? 'client_gone' : 'unreachable');
        if (abort.signal.aborted && !timedOut) return; // the client left: nobody to answer
        if (timedOut) throw new RequestError(504, `The engine of \`${arm.version}\` did not answer within ${this.o.requestTimeoutMs} ms.`, null, 'server_error', 'engine_timeout');
        this.table.markDown(arm);
        this.o.log(JSON.stringify({ event: 'engine_down', version: arm.version, url: arm.url, reason: 'connection failed' }));
        if (pinned || tried.size >= 2) throw new RequestError(502, `The engine of \`${arm.version}\` could not be reached.`, null, 'server_error', 'engine_unreachable');
      } finally {
        clearTimeout(deadline);
      }
    }
  }

  private event(body: unknown, res: ServerResponse): void {
    const e = parseEvent(body);
    const c = this.completions.get(e.completion_id);
    if (!c) {
      throw new RequestError(404, `No completion \`${e.completion_id}\` among the last ${this.o.completionCacheSize} this gateway answered.`, 'completion_id', 'invalid_request_error', 'completion_not_found');
    }
    this.metrics.event(c.version, c.language, e.type, e.accepted_chars ?? 0, e.accepted_lines ?? 0);
    sendJson(res, 200, { ok: true, version: c.version, language: c.language });
  }
}
