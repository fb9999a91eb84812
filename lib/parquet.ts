/**
 * Parquet <-> apache-arrow Table, through parquet-wasm (Arrow IPC stream in between).
 * Files are written the way the shared stack-sample was: zstd, row groups of at most 1,000 rows.
 */
import { tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import {
  Compression,
  readParquet,
  Table as WasmTable,
  writeParquet,
  WriterPropertiesBuilder,
  type ReaderOptions,
} from 'parquet-wasm';
import { ErrorType, fatal } from './errors.js';

/** Row-group cap of every Parquet file kiln writes (the Stack sample uses the same). */
export const PARQUET_ROW_GROUP_SIZE = 1000;

export interface ReadParquetOptions {
  /** Only these columns (all when omitted). */
  columns?: string[];
  /** At most this many rows (0: only the schema). */
  limit?: number;
}

/**
 * Decodes a whole Parquet file. `uri` only names the file in the error: bytes that are not
 * Parquet fail with a non-retryable InvalidInput.
 */
export function readParquetTable(bytes: Uint8Array, uri: string, opts: ReadParquetOptions = {}): Table {
  let ipc: Uint8Array;
  try {
    const readerOptions: ReaderOptions = {};
    if (opts.columns) readerOptions.columns = opts.columns;
    if (opts.limit !== undefined) readerOptions.limit = opts.limit;
    ipc = readParquet(bytes, readerOptions).intoIPCStream();
  } catch (err) {
    throw fatal(ErrorType.InvalidInput, `cannot read ${uri} as Parquet: ${describeError(err)}`);
  }
  return tableFromIPC(ipc);
}

export interface WriteParquetOptions {
  /** Rows per row group; default 1000. */
  rowGroupSize?: number;
}

/** Encodes a Table as a zstd-compressed Parquet file. */
export function writeParquetTable(table: Table, opts: WriteParquetOptions = {}): Uint8Array {
  const props = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setMaxRowGroupSize(opts.rowGroupSize ?? PARQUET_ROW_GROUP_SIZE)
    .build();
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, 'stream'));
  return writeParquet(wasmTable, props);
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
