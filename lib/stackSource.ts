/**
 * Reading source files that are The Stack "or close to it" into exact Stack rows:
 * - older column names are accepted (`repository_name`, `repo_name` -> max_stars_repo_name, `path`
 *   -> max_stars_repo_path, `licenses`/`license` -> max_stars_repo_licenses); a source without the
 *   max_issues_* / max_forks_* triplets gets the max_stars_* values there (one repository);
 * - licence lists as BigQuery exports them (`{list: [{item: "MIT"}]}`), as a plain string, or as
 *   list<string> all become list<string>;
 * - `hexsha` (the git blob id of the content), `size` (UTF-8 bytes) and `ext` (from the path) are
 *   computed when the source lacks them; other missing columns are null;
 * - `content` stored as binary is decoded as strict UTF-8; rows that are not UTF-8 are reported,
 *   never silently altered.
 * Required (after aliases): content, lang, the repository name, the path and the licences, so that
 * every output row keeps its provenance. A file without them fails with SchemaMismatch naming them.
 */
import { createHash } from 'node:crypto';
import { Type, type DataType, type Field, type Schema, type Table } from 'apache-arrow';
import {
  forEachUtf8,
  readNumberColumn,
  readStringColumn,
  schemaMismatch,
  STACK_COLUMNS,
  type ColumnKind,
  type StackColumn,
  type StackRow,
} from './stackSchema.js';

/** Accepted older names per Stack column, in order of preference after the current name. */
export const STACK_COLUMN_ALIASES: Partial<Record<StackColumn, string[]>> = {
  max_stars_repo_name: ['repository_name', 'repo_name'],
  max_stars_repo_path: ['path'],
  max_stars_repo_licenses: ['licenses', 'license'],
};

/** Columns a source must have (under their name or an alias). */
export const REQUIRED_SOURCE_COLUMNS: StackColumn[] = ['content', 'lang', 'max_stars_repo_name', 'max_stars_repo_path', 'max_stars_repo_licenses'];

/** For a missing max_issues_* / max_forks_* column: the max_stars_* column standing in. */
function starsStandIn(column: StackColumn): StackColumn | undefined {
  const m = /^max_(issues|forks)_repo_(path|name|head_hexsha|licenses)$/.exec(column);
  return m ? (`max_stars_repo_${m[2]}` as StackColumn) : undefined;
}

/** Where each Stack column comes from in one source file. */
export interface SourceColumns {
  /** Source column name per Stack column; missing -> computed or null. */
  from: Partial<Record<StackColumn, string>>;
  /** `content` is binary (decoded as strict UTF-8 here). */
  binaryContent: boolean;
  /** Source columns to read (for ParquetRowGroups.read). */
  read: string[];
}

function isString(t: DataType): boolean {
  return t.typeId === Type.Utf8 || t.typeId === Type.LargeUtf8;
}

function isBinary(t: DataType): boolean {
  return t.typeId === Type.Binary || t.typeId === Type.LargeBinary;
}

/** A licence column: list<string>, a BigQuery list struct, or a plain string. */
function isLicenceType(t: DataType): boolean {
  if (isString(t)) return true;
  if (t.typeId === Type.List || t.typeId === Type.LargeList || t.typeId === Type.FixedSizeList) {
    const child = t.children[0]?.type;
    return child !== undefined && (isString(child) || child.typeId === Type.Struct);
  }
  if (t.typeId === Type.Struct) return t.children.some((c: Field) => isLicenceType(c.type));
  return false;
}

function kindAccepts(kind: ColumnKind, t: DataType, column: StackColumn): boolean {
  switch (kind) {
    case 'string':
      return isString(t) || (column === 'content' && isBinary(t));
    case 'int64':
      return t.typeId === Type.Int;
    case 'float64':
      return t.typeId === Type.Float || t.typeId === Type.Int;
    case 'list<string>':
      return isLicenceType(t);
  }
}

/**
 * Maps a source file's schema onto The Stack's columns. Throws fatal SchemaMismatch naming the
 * file and each missing or mistyped column (with the accepted older names).
 */
export function resolveSourceColumns(schema: Schema, uri: string): SourceColumns {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const from: Partial<Record<StackColumn, string>> = {};
  const missing: string[] = [];
  const mistyped: string[] = [];
  for (const [column, kind] of STACK_COLUMNS) {
    const name = [column, ...(STACK_COLUMN_ALIASES[column] ?? [])].find((n) => byName.has(n));
    if (name === undefined) {
      if (REQUIRED_SOURCE_COLUMNS.includes(column)) {
        const aliases = STACK_COLUMN_ALIASES[column];
        missing.push(aliases ? `${column} (or ${aliases.join(', ')})` : column);
      }
      continue;
    }
    const type = byName.get(name)!.type;
    if (!kindAccepts(kind, type, column)) mistyped.push(`${name} (expected ${kind}, got ${String(type)})`);
    else from[column] = name;
  }
  if (missing.length > 0 || mistyped.length > 0) throw schemaMismatch(uri, missing, mistyped);
  for (const [column] of STACK_COLUMNS) {
    const standIn = starsStandIn(column);
    if (from[column] === undefined && standIn !== undefined && from[standIn] !== undefined) from[column] = from[standIn];
  }
  const contentType = byName.get(from.content!)!.type;
  return { from, binaryContent: isBinary(contentType), read: [...new Set(Object.values(from))] };
}

/** A licence value of any accepted shape -> list<string> (null stays null). */
export function normalizeLicences(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v !== '') out.push(v);
      return;
    }
    if (Array.isArray(v)) return v.forEach(visit);
    if (typeof v === 'object') {
      const obj = typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v;
      if (Array.isArray(obj)) return obj.forEach(visit);
      if (obj !== null && typeof obj === 'object') {
        const o = obj as Record<string, unknown>;
        // BigQuery: {list: [{item: "MIT"}]} (also `element`, as some writers name it).
        if ('list' in o) return visit(o.list);
        if ('item' in o) return visit(o.item);
        if ('element' in o) return visit(o.element);
        for (const x of Object.values(o)) visit(x);
      }
    }
  };
  visit(value);
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** The git blob id of `content` (what The Stack's `hexsha` holds). */
export function gitBlobSha1(content: string): string {
  const bytes = utf8Encoder.encode(content);
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

function extOf(path: string | null): string | null {
  if (path === null) return null;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1) : null;
}

/** Binary content decoded as strict UTF-8: null marks a row that is not UTF-8. */
function readBinaryContent(table: Table, name: string, indices: readonly number[]): { values: (string | null)[]; invalid: Set<number> } {
  const vector = table.getChild(name)!;
  const wanted = new Set(indices);
  const byRow = new Map<number, string | null>();
  const invalid = new Set<number>();
  let row = 0;
  for (const data of vector.data) {
    forEachUtf8(data, (bytes) => {
      if (wanted.has(row)) {
        if (bytes === null) byRow.set(row, null);
        else {
          try {
            byRow.set(row, strictUtf8.decode(bytes));
          } catch {
            invalid.add(row);
            byRow.set(row, null);
          }
        }
      }
      row++;
    });
  }
  return { values: indices.map((i) => byRow.get(i) ?? null), invalid };
}

/**
 * Stack rows of a source table at `indices` (ascending). Rows whose binary content is not UTF-8
 * are left out and their indices returned in `invalidUtf8`.
 */
export function sourceRowsToStack(table: Table, cols: SourceColumns, indices: readonly number[]): { rows: StackRow[]; invalidUtf8: number[] } {
  const values = new Map<string, unknown[]>();
  let invalid = new Set<number>();
  for (const [column, kind] of STACK_COLUMNS) {
    const name = cols.from[column];
    if (name === undefined || values.has(`${kind}:${name}`)) continue;
    const vector = table.getChild(name);
    if (!vector) throw new Error(`no column ${name}`);
    let v: unknown[];
    if (column === 'content' && cols.binaryContent) {
      const r = readBinaryContent(table, name, indices);
      v = r.values;
      invalid = r.invalid;
    } else if (kind === 'string') v = readStringColumn(table, name, indices);
    else if (kind === 'list<string>') v = indices.map((i) => normalizeLicences(vector.get(i)));
    else v = readNumberColumn(vector, indices);
    values.set(`${kind}:${name}`, v);
  }
  const rows: StackRow[] = [];
  const invalidUtf8: number[] = [];
  indices.forEach((sourceRow, k) => {
    if (invalid.has(sourceRow)) {
      invalidUtf8.push(sourceRow);
      return;
    }
    const row: Record<string, unknown> = {};
    for (const [column, kind] of STACK_COLUMNS) {
      const name = cols.from[column];
      row[column] = name === undefined ? null : values.get(`${kind}:${name}`)![k];
    }
    const r = row as StackRow;
    if (cols.from.hexsha === undefined && r.content !== null) r.hexsha = gitBlobSha1(r.content);
    if (cols.from.size === undefined && r.content !== null) r.size = Buffer.byteLength(r.content, 'utf8');
    if (cols.from.ext === undefined) r.ext = extOf(r.max_stars_repo_path);
    rows.push(r);
  });
  return { rows, invalidUtf8 };
}
