/**
 * Which file of a duplicate cluster dedup keeps: permissive licence first, then the most stars
 * (max_stars_count), then the smallest path (repository path, then repository name), then the
 * earliest (partition, row) so the choice never depends on arrival order.
 */

/** SPDX ids (lower case) of permissive licences, The Stack's and the common others. */
const PERMISSIVE = new Set(
  [
    'MIT', 'MIT-0', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', 'BSD-3-Clause-Clear', '0BSD', 'BSD-1-Clause', 'BSD-4-Clause',
    'ISC', 'Unlicense', 'CC0-1.0', 'Zlib', 'BSL-1.0', 'WTFPL', 'X11', 'PostgreSQL', 'NCSA', 'UPL-1.0', 'MS-PL', 'AFL-3.0',
    'PSF-2.0', 'Python-2.0', 'Artistic-2.0', 'CC-BY-4.0', 'CC-BY-3.0', 'ECL-2.0', 'Unicode-DFS-2016', 'curl', 'libpng-2.0', 'OpenSSL',
  ].map((s) => s.toLowerCase()),
);

/** 0 when every listed licence is permissive, 1 otherwise (copyleft, unknown or none listed). */
export function licenceClass(licences: readonly (string | null)[] | null | undefined): 0 | 1 {
  if (!licences || licences.length === 0) return 1;
  return licences.every((l) => l !== null && PERMISSIVE.has(l.trim().toLowerCase())) ? 0 : 1;
}

/** What ranking needs of one document. */
export interface RankKey {
  licence: 0 | 1;
  stars: number; // -1 when unknown
  path: string;
  repo: string;
  partition: number;
  row: number;
}

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Negative when `a` is the better file to keep. */
export function compareRank(a: RankKey, b: RankKey): number {
  return a.licence - b.licence || b.stars - a.stars || cmpStr(a.path, b.path) || cmpStr(a.repo, b.repo) || a.partition - b.partition || a.row - b.row;
}
