/**
 * IP address detection for PII redaction. Policy: only globally routable unicast addresses are
 * personal data worth redacting. Private, loopback, link-local, CGNAT, documentation, benchmark,
 * multicast and reserved ranges (v4 and v6) are kept, and so are well-known public DNS resolvers
 * (StarCoder's PII pipeline keeps private addresses and popular DNS servers too). Dotted quads
 * that read as versions, section numbers or number lists are not addresses.
 */
import { isIPv6 } from 'node:net';
import type { PiiEntity } from './pii/types.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g');
/** Characters an IPv6 address (with an embedded IPv4 tail) is made of. */
const IPV6_CHAR = /[0-9A-Fa-f:.]/;

const PUBLIC_DNS = new Set([
  '8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '149.112.112.112', '208.67.222.222',
  '208.67.220.220', '76.76.19.19', '76.223.122.150', '8.26.56.26', '8.20.247.20', '94.140.14.14',
  '94.140.15.15', '2001:4860:4860::8888', '2001:4860:4860::8844', '2606:4700:4700::1111',
  '2606:4700:4700::1001',
]);

/** IPv4 ranges that are not globally routable unicast (IANA special-purpose registry). */
const IPV4_NON_GLOBAL: [number, number][] = (
  [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
    ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
    ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const
).map(([a, bits]) => [ipv4ToInt(a), bits]);

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function isGlobalIPv4(ip: string): boolean {
  const value = ipv4ToInt(ip);
  for (const [base, bits] of IPV4_NON_GLOBAL) {
    const size = 2 ** (32 - bits);
    if (value >= base && value < base + size) return false;
  }
  return true;
}

/** 16-bit groups of a valid IPv6 address (an embedded IPv4 tail gives two groups). */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToInt(v4[1]!);
    text = text.slice(0, v4.index) + `${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** True for 2000::/3 global unicast outside documentation (2001:db8::/32) and IPv4-mapped. */
export function isGlobalIPv6(ip: string): boolean {
  const g = ipv6Groups(ip);
  if (g.length !== 8) return false;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return isGlobalIPv4(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`);
  }
  if (g[0]! < 0x2000 || g[0]! > 0x3fff) return false;
  if (g[0] === 0x2001 && g[1] === 0x0db8) return false;
  return true;
}

/** 0-9, A-F, a-f or ':' (char codes; NaN past either end is none of them). */
function isIpv6Code(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Maximal runs of IPv6 characters around each '::' or 'h:h:' (found by indexOf, so large files
 * stay fast), with at least two colons, not glued to a word.
 */
function ipv6Candidates(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let searchFrom: number;
  for (let colon = text.indexOf(':'); colon !== -1; colon = text.indexOf(':', searchFrom)) {
    searchFrom = colon + 1;
    // Most colons in code (`key: value`, `a::b`) have no hex digit on either side: skip them cheaply.
    if (!isIpv6Code(text.charCodeAt(colon - 1)) && !isIpv6Code(text.charCodeAt(colon + 1))) continue;
    let start = colon;
    let end = colon + 1;
    while (start > 0 && IPV6_CHAR.test(text[start - 1]!)) start--;
    while (end < text.length && IPV6_CHAR.test(text[end]!)) end++;
    searchFrom = end;
    while (text[start] === '.') start++;
    while (end > start && text[end - 1] === '.') end--;
    let colons = 0;
    for (let i = start; i < end; i++) if (text.charCodeAt(i) === 0x3a) colons++;
    if (colons < 2) continue;
    if (start > 0 && /\w/.test(text[start - 1]!)) continue;
    if (end < text.length && /\w/.test(text[end]!)) continue;
    out.push({ start, end });
  }
  return out;
}

const VERSION_LIKE = /^\d\.\d\.\d\.\d$/;
/**
 * Before a dotted quad that is no address: a section sign (§13.2.4.2), a version pin
 * (==6.0.12.12, >=), a product token (Chrome/126.0.0.0, not //1.2.3.4), a number list or a
 * minus sign (1,2.3.4.5; -1.2.3.4; section-4.2.1.12).
 */
const NOT_AN_ADDRESS_BEFORE = /§$|[=<>~!]=$|[A-Za-z0-9_]\/$|[,-]$/;
/** After it: the rest of a number list or range (SVG path data: `2.35.8.41-1.76,...`). */
const NUMBER_LIST_AFTER = /^[,-][\d.-]/;
const NETWORK_CONTEXT = /(?<![A-Za-z])(?:dns|server|host|ip|addr|address)(?![a-z])/i;
/**
 * Four-part versions (2.13.4.2) are told apart by what is around them: a version word on the
 * same line (the line, not a wide window, so that a license header's "Version 2.0" does not
 * hide an address below it), an x.y.z version within 100 characters (release notes,
 * dependency lists) or `v`/`version`/`@` right before; section numbers (`Section 4.2.1.12`) too.
 */
const VERSION_WORD = /(?<![A-Za-z])(?:version|versions|release|changelog|snapshot|bom|jdk|sdk)(?![A-Za-z])/i; // also `__version__`
const XYZ_VERSION = /(?<![\d.])\d+\.\d+\.\d+(?![\d.]|\.\d)/;
const VERSION_BEFORE = /(?:\bv|version[ :=]*|@|(?:section|sect?\.|clause|chapter|§)[ \t]*)$/i;

/** The line around [start, end), without the quad itself. */
function lineAround(text: string, start: number, end: number): string {
  const from = Math.max(text.lastIndexOf('\n', start - 1) + 1, start - 200);
  let to = text.indexOf('\n', end);
  if (to === -1 || to > end + 200) to = Math.min(text.length, end + 200);
  return `${text.slice(from, start)} ${text.slice(end, to)}`;
}

function looksLikeVersion(text: string, start: number, end: number): boolean {
  const line = lineAround(text, start, end);
  if (NETWORK_CONTEXT.test(line)) return false;
  const around = `${text.slice(Math.max(0, start - 100), start)} ${text.slice(end, end + 100)}`;
  return VERSION_WORD.test(line) || XYZ_VERSION.test(around) || VERSION_BEFORE.test(text.slice(Math.max(0, start - 10), start));
}

/** Appends the IP addresses of `text` that are worth redacting (see the policy above). */
export function findIpAddresses(text: string, out: PiiEntity[]): void {
  if (text.includes('.')) {
    for (const m of text.matchAll(IPV4)) {
      const ip = m[0];
      const start = m.index!;
      const end = start + ip.length;
      if (!isGlobalIPv4(ip) || PUBLIC_DNS.has(ip)) continue;
      if (NOT_AN_ADDRESS_BEFORE.test(text.slice(Math.max(0, start - 2), start))) continue;
      if (NUMBER_LIST_AFTER.test(text.slice(end, end + 2))) continue;
      // BigCode: single-digit quads are versions unless the 100 characters around talk networks.
      if (VERSION_LIKE.test(ip) && !NETWORK_CONTEXT.test(text.slice(Math.max(0, start - 100), end + 100))) continue;
      if (looksLikeVersion(text, start, end)) continue;
      out.push({ type: 'IP_ADDRESS', start, end });
    }
  }
  for (const { start, end } of ipv6Candidates(text)) {
    const ip = text.slice(start, end);
    if (!/\d/.test(ip) || !isIPv6(ip) || !isGlobalIPv6(ip) || PUBLIC_DNS.has(ip.toLowerCase())) continue;
    out.push({ type: 'IP_ADDRESS', start, end });
  }
}
