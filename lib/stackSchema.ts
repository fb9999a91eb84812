/**
 * The Parquet schema of `bigcode/the-stack-dedup`, built in code, with a check for inputs and
 * row <-> object helpers that keep every column's exact type (int64 stays int64, null stays
 * null, list<string> stays a list). Strings are decoded from the raw UTF-8 bytes with the BOM
 * kept: apache-arrow's own decoder drops a leading U+FEFF, which would change `content`.
 */
import {
  Data,
  Field,
  Float64,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Type,
  Utf8,
  type DataType,
  type Vector,
} from 'apache-arrow';
import type { ApplicationFailure } from '@temporalio/common';
import { ErrorType, fatal } from '../contracts/errors.js';

export type ColumnKind = 'string' | 'int64' | 'float64' | 'list<string>';

/** Column names, order and kinds of The Stack. */
export const STACK_COLUMNS = [
  ['hexsha', 'string'],
  ['size', 'int64'],
  ['ext', 'string'],
  ['lang', 'string'],
  ['max_stars_repo_path', 'string'],
  ['max_stars_repo_name', 'string'],
  ['max_stars_repo_head_hexsha', 'string'],
  ['max_stars_repo_licenses', 'list<string>'],
  ['max_stars_count', 'int64'],
  ['max_stars_repo_stars_event_min_datetime', 'string'],
  ['max_stars_repo_stars_event_max_datetime', 'string'],
  ['max_issues_repo_path', 'string'],
  ['max_issues_repo_name', 'string'],
  ['max_issues_repo_head_hexsha', 'string'],
  ['max_issues_repo_licenses', 'list<string>'],
  ['max_issues_count', 'int64'],
  ['max_issues_repo_issues_event_min_datetime', 'string'],
  ['max_issues_repo_issues_event_max_datetime', 'string'],
  ['max_forks_repo_path', 'string'],
  ['max_forks_repo_name', 'string'],
  ['max_forks_repo_head_hexsha', 'string'],
  ['max_forks_repo_licenses', 'list<string>'],
  ['max_forks_count', 'int64'],
  ['max_forks_repo_forks_event_min_datetime', 'string'],
  ['max_forks_repo_forks_event_max_datetime', 'string'],
  ['content', 'string'],
  ['avg_line_length', 'float64'],
  ['max_line_length', 'int64'],
  ['alphanum_fraction', 'float64'],
] as const satisfies readonly (readonly [string, ColumnKind])[];

export type StackColumn = (typeof STACK_COLUMNS)[number][0];

type KindValue<K extends ColumnKind> = K extends 'string'
  ? string | null
  : K extends 'list<string>'
    ? string[] | null
    : number | null;

/** One row of The Stack as a plain object; int64 columns are JS numbers (all fit in 2^53). */
export type StackRow = { [C in (typeof STACK_COLUMNS)[number] as C[0]]: KindValue<C[1]> };

function arrowType(kind: ColumnKind): DataType {
  switch (kind) {
    case 'string':
      return new Utf8();
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'list<string>':
      return new List(new Field('item', new Utf8(), true));
  }
}

/** The Stack's schema as an arrow Schema (every column nullable, like the HF files). */
export const stackSchema = new Schema(STACK_COLUMNS.map(([name, kind]) => new Field(name, arrowType(kind), true)));

function typeMatches(type: DataType, kind: ColumnKind): boolean {
  switch (kind) {
    case 'string':
      return type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8;
    case 'int64':
      return type.typeId === Type.Int && (type as Int64).bitWidth === 64 && (type as Int64).isSigned;
    case 'float64':
      return type.typeId === Type.Float && (type as Float64).precision === 2;
    case 'list<string>': {
      if (type.typeId !== Type.List) return false;
      const child = (type as List).children[0]?.type;
      return child !== undefined && (child.typeId === Type.Utf8 || child.typeId === Type.LargeUtf8);
    }
  }
}

/**
 * Checks that `table` has every Stack column with its type (extra columns are allowed and
 * ignored). Throws fatal SchemaMismatch naming each missing or mistyped column and the file.
 */
export function assertStackSchema(table: Table, uri: string): void {
  const byName = new Map(table.schema.fields.map((f) => [f.name, f]));
  const missing: string[] = [];
  const mistyped: string[] = [];
  for (const [name, kind] of STACK_COLUMNS) {
    const field = byName.get(name);
    if (!field) missing.push(name);
    else if (!typeMatches(field.type, kind)) mistyped.push(`${name} (expected ${kind}, got ${String(field.type)})`);
  }
  if (missing.length > 0 || mistyped.length > 0) throw schemaMismatch(uri, missing, mistyped);
}

/** The fatal SchemaMismatch naming the file and each missing or mistyped column. */
export function schemaMismatch(uri: string, missing: string[], mistyped: string[]): ApplicationFailure {
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing column(s) ${missing.join(', ')}`);
  if (mistyped.length > 0) parts.push(`mistyped column(s) ${mistyped.join(', ')}`);
  return fatal(ErrorType.SchemaMismatch, `${uri} is not in The Stack's schema: ${parts.join('; ')}`, { uri, missing, mistyped });
}

/** Partition folder of a `lang` value: lower case, spaces turned into '-' (`graphviz-(dot)`). */
export function langFolder(lang: string): string {
  return lang.toLowerCase().replace(/ /g, '-');
}

// ---------------------------------------------------------------------------------------------
// Reading columns

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A string column's values, decoded from the raw UTF-8 with a leading BOM kept. With `indices`
 * (ascending row numbers), only those rows, in that order.
 */
export function readStringColumn(table: Table, name: string, indices?: readonly number[]): (string | null)[] {
  const vector = table.getChild(name);
  if (!vector) throw new Error(`no column ${name}`);
  const out: (string | null)[] = new Array(indices ? indices.length : vector.length);
  let row = 0; // row number of the current value
  let next = 0; // position in `indices` (or in `out` without indices)
  for (const data of vector.data) {
    if (indices && (next >= indices.length || indices[next]! >= row + data.length)) {
      row += data.length;
      continue;
    }
    forEachUtf8(data, (bytes) => {
      if (!indices || indices[next] === row) out[next++] = bytes === null ? null : utf8Decoder.decode(bytes);
      row++;
    });
  }
  return out;
}

/** Calls `fn` with each value's raw UTF-8 bytes (a view, not a copy) or null. */
export function forEachUtf8(data: Data, fn: (bytes: Uint8Array | null, index: number) => void): void {
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const values = data.values as Uint8Array;
  const large = offsets instanceof BigInt64Array;
  for (let j = 0; j < data.length; j++) {
    if (!data.getValid(j)) {
      fn(null, j);
      continue;
    }
    const k = data.offset + j;
    const start = large ? Number(offsets[k]) : (offsets[k] as number);
    const end = large ? Number(offsets[k + 1]) : (offsets[k + 1] as number);
    fn(values.subarray(start, end), j);
  }
}

/** A numeric column's values at `indices` as JS numbers (int64 included). */
export function readNumberColumn(vector: Vector, indices: readonly number[]): (number | null)[] {
  return indices.map((i) => {
    const v = vector.get(i) as number | bigint | null;
    return v === null || v === undefined ? null : Number(v);
  });
}

/** A list<string> column's values at `indices` (licence lists). */
export function readListColumn(vector: Vector, indices: readonly number[]): (string[] | null)[] {
  return indices.map((i) => {
    const v = vector.get(i) as Vector | null;
    return v === null || v === undefined ? null : (Array.from(v.toArray() as Iterable<string | null>) as string[]);
  });
}

/**
 * Rows of a table in The Stack's schema (call assertStackSchema first): all of them, or those
 * at `indices` (ascending). Extra columns are left out.
 */
export function tableToRows(table: Table, indices?: readonly number[]): StackRow[] {
  const at = indices ?? Array.from({ length: table.numRows }, (_, i) => i);
  const rows: Record<string, unknown>[] = at.map(() => ({}));
  for (const [name, kind] of STACK_COLUMNS) {
    const vector = table.getChild(name);
    if (!vector) throw new Error(`no column ${name}`);
    const values =
      kind === 'string'
        ? readStringColumn(table, name, indices)
        : kind === 'list<string>'
          ? readListColumn(vector, at)
          : readNumberColumn(vector, at);
    for (let i = 0; i < at.length; i++) rows[i]![name] = values[i];
  }
  return rows as StackRow[];
}

// ---------------------------------------------------------------------------------------------
// Building tables

const utf8Encoder = new TextEncoder();

function validityOf(isNull: (i: number) => boolean, n: number): { bitmap: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nullCount };
}

function utf8Data(values: readonly (string | null | undefined)[]): Data<Utf8> {
  const n = values.length;
  const encoded: Uint8Array[] = new Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const bytes = v === null || v === undefined ? new Uint8Array(0) : utf8Encoder.encode(v);
    encoded[i] = bytes;
    total += bytes.byteLength;
  }
  if (total > 0x7fffffff) throw new Error(`string column too large for one batch (${total} bytes)`);
  const offsets = new Int32Array(n + 1);
  const data = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    data.set(encoded[i]!, pos);
    pos += encoded[i]!.byteLength;
    offsets[i + 1] = pos;
  }
  const { bitmap, nullCount } = validityOf((i) => values[i] === null || values[i] === undefined, n);
  return makeData({ type: new Utf8(), length: n, nullCount, nullBitmap: bitmap, valueOffsets: offsets, data });
}

function int64Data(values: readonly (number | null | undefined)[]): Data<Int64> {
  const n = values.length;
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) data[i] = BigInt(Math.trunc(v));
  }
  const { bitmap, nullCount } = validityOf((i) => values[i] === null || values[i] === undefined, n);
  return makeData({ type: new Int64(), length: n, nullCount, nullBitmap: bitmap, data });
}

function float64Data(values: readonly (number | null | undefined)[]): Data<Float64> {
  const n = values.length;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) data[i] = v;
  }
  const { bitmap, nullCount } = validityOf((i) => values[i] === null || values[i] === undefined, n);
  return makeData({ type: new Float64(), length: n, nullCount, nullBitmap: bitmap, data });
}

function listData(values: readonly (readonly string[] | null | undefined)[], type: List<Utf8>): Data<List<Utf8>> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const items: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v) for (const s of v) items.push(s);
    offsets[i + 1] = items.length;
  }
  const child = utf8Data(items);
  const { bitmap, nullCount } = validityOf((i) => values[i] === null || values[i] === undefined, n);
  return makeData({ type, length: n, nullCount, nullBitmap: bitmap, valueOffsets: offsets, child });
}

function columnData(kind: ColumnKind, type: DataType, values: unknown[]): Data {
  switch (kind) {
    case 'string':
      return utf8Data(values as (string | null)[]);
    case 'int64':
      return int64Data(values as (number | null)[]);
    case 'float64':
      return float64Data(values as (number | null)[]);
    case 'list<string>':
      return listData(values as (string[] | null)[], type as List<Utf8>);
  }
}

/** Rows per record batch when building tables (matches the Parquet row-group cap). */
const BATCH_ROWS = 1000;

/** A table in exactly The Stack's schema (column order, types, nullability) from rows. */
export function rowsToTable(rows: readonly StackRow[]): Table {
  const batches: RecordBatch[] = [];
  for (let start = 0; start < rows.length || (start === 0 && batches.length === 0); start += BATCH_ROWS) {
    const slice = rows.slice(start, start + BATCH_ROWS);
    const children = stackSchema.fields.map((field, c) => {
      const [name, kind] = STACK_COLUMNS[c]!;
      return columnData(kind, field.type, slice.map((r) => r[name]));
    });
    const struct = makeData({ type: new Struct(stackSchema.fields), length: slice.length, nullCount: 0, children });
    batches.push(new RecordBatch(stackSchema, struct));
    if (rows.length === 0) break;
  }
  return new Table(stackSchema, batches);
}
