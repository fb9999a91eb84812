/**
 * The route table: model versions, their engines and weights, and which are in rotation.
 * Sticky routing: a user id hashes to a point in [0, 1) that falls into one arm's slice of the
 * cumulative weights, so one user sees one arm for as long as the weights stay the same.
 */
import { createHash } from 'node:crypto';
import type { GatewayRoute, GatewayRouteStatus } from '../contracts/gateway.js';
import { RequestError } from './errors.js';

/** A point in [0, 1) from a string: the first 52 bits of its SHA-256 (exact in a double). */
export function hashToUnit(id: string, salt = ''): number {
  const digest = createHash('sha256').update(salt).update(id).digest();
  const hi = digest.readUInt32BE(0) >>> 12; // 20 bits
  const lo = digest.readUInt32BE(4); // 32 bits
  return (hi * 2 ** 32 + lo) / 2 ** 52;
}

/** The arm whose slice of the cumulative weights holds `point` (weights need not sum to 1). */
export function pickByWeight<T extends { weight: number }>(arms: readonly T[], point: number): T | undefined {
  const total = arms.reduce((s, a) => s + a.weight, 0);
  if (!(total > 0)) return undefined;
  let acc = 0;
  for (const arm of arms) {
    acc += arm.weight / total;
    if (point < acc && arm.weight > 0) return arm;
  }
  // Rounding left the point past the last slice: the last arm with weight.
  return [...arms].reverse().find((a) => a.weight > 0);
}

/** Checks a PUT /admin/routes body; the RequestError names the first bad field. */
export function validateRoutes(body: unknown): GatewayRoute[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'the body must be a JSON object `{ "routes": [...] }`', null);
  const routes = (body as { routes?: unknown }).routes;
  if (!Array.isArray(routes)) throw new RequestError(400, '`routes` must be an array of `{ version, url, weight }`', 'routes');
  const seen = new Set<string>();
  const names = new Set<string>();
  const out: GatewayRoute[] = routes.map((r: unknown, i) => {
    const at = `routes[${i}]`;
    if (typeof r !== 'object' || r === null) throw new RequestError(400, `\`${at}\` must be an object { version, url, weight }`, at);
    const { version, url, weight, aliases, pid, fimPrompt, ...rest } = r as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined && extra !== 'healthy') throw new RequestError(400, `\`${at}.${extra}\` is not a route field (version, url, weight, aliases, pid, fimPrompt)`, `${at}.${extra}`);
    if (typeof version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(version)) {
      throw new RequestError(400, `\`${at}.version\` must be a non-empty name of letters, digits, '.', '_', ':' or '-', got ${JSON.stringify(version)}`, `${at}.version`);
    }
    if (seen.has(version)) throw new RequestError(400, `\`${at}.version\` repeats ${JSON.stringify(version)}: versions must be unique`, `${at}.version`);
    seen.add(version);
    let parsed: URL | undefined;
    try {
      parsed = typeof url === 'string' ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) throw new RequestError(400, `\`${at}.url\` must be an http(s) URL, got ${JSON.stringify(url)}`, `${at}.url`);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new RequestError(400, `\`${at}.weight\` must be a number >= 0, got ${JSON.stringify(weight)}`, `${at}.weight`);
    let aliasList: string[] | undefined;
    if (aliases !== undefined) {
      if (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string' && a.length > 0)) {
        throw new RequestError(400, `\`${at}.aliases\` must be an array of non-empty strings`, `${at}.aliases`);
      }
      aliasList = aliases as string[];
    }
    if (pid !== undefined && !(Number.isInteger(pid) && (pid as number) > 0)) throw new RequestError(400, `\`${at}.pid\` must be a positive integer, got ${JSON.stringify(pid)}`, `${at}.pid`);
    if (fimPrompt !== undefined && typeof fimPrompt !== 'boolean') throw new RequestError(400, `\`${at}.fimPrompt\` must be true or false, got ${JSON.stringify(fimPrompt)}`, `${at}.fimPrompt`);
    return { version, url: String(url).replace(/\/+$/, ''), weight, ...(aliasList ? { aliases: aliasList } : {}), ...(pid !== undefined ? { pid: pid as number } : {}), ...(fimPrompt ? { fimPrompt } : {}) };
  });
  if (out.length > 0 && !(out.reduce((s, r) => s + r.weight, 0) > 0)) throw new RequestError(400, 'the `weight`s of `routes` must sum to more than 0', 'routes');
  for (const [i, r] of out.entries()) {
    for (const name of [r.version, ...(r.aliases ?? [])]) {
      if (names.has(name)) throw new RequestError(400, `\`routes[${i}]\` names ${JSON.stringify(name)}, which another route already uses as a version or alias`, `routes[${i}].aliases`);
      names.add(name);
    }
  }
  return out;
}

export interface Arm extends GatewayRoute {
  healthy: boolean;
  /** Health checks failed in a row (two take the engine out). */
  failedChecks: number;
  /** The model id the engine answers to (from its /v1/models), learned by the health checks. */
  engineModel?: string;
}

export class RouteTable {
  private arms: Arm[] = [];

  /** Replaces every route at once; engines already known keep their health and model id. */
  replace(routes: GatewayRoute[]): void {
    const before = new Map(this.arms.map((a) => [`${a.version} ${a.url}`, a]));
    this.arms = routes.map((r) => {
      const prev = before.get(`${r.version} ${r.url}`);
      // A new engine is in rotation until a check says otherwise: a PUT usually follows a deploy's smoke test.
      return { ...r, healthy: prev?.healthy ?? true, failedChecks: prev?.failedChecks ?? 0, engineModel: prev?.engineModel };
    });
  }

  list(): readonly Arm[] {
    return this.arms;
  }

  status(): GatewayRouteStatus[] {
    return this.arms.map(({ version, url, weight, aliases, pid, fimPrompt, healthy }) => ({ version, url, weight, ...(aliases ? { aliases } : {}), ...(pid ? { pid } : {}), ...(fimPrompt ? { fimPrompt } : {}), healthy }));
  }

  /** The arm a client's `model` names (a version or an alias), or undefined. */
  byName(name: string): Arm | undefined {
    return this.arms.find((a) => a.version === name || (a.aliases ?? []).includes(name));
  }

  /**
   * The arm for a user, by weight. If that arm is out of rotation, the user is re-placed over the
   * healthy arms with a second hash, so users of healthy arms never move when another arm dies.
   * `exclude` removes arms that already failed this request.
   */
  pick(userId: string | undefined, exclude: ReadonlySet<string> = new Set()): Arm | undefined {
    const point = userId === undefined ? Math.random() : hashToUnit(userId);
    const first = pickByWeight(this.arms, point);
    if (first && first.healthy && !exclude.has(first.version)) return first;
    const live = this.arms.filter((a) => a.healthy && !exclude.has(a.version));
    const second = userId === undefined ? Math.random() : hashToUnit(userId, 'fallback:');
    return pickByWeight(live, second);
  }

  markDown(arm: Arm): void {
    arm.healthy = false;
  }
}
