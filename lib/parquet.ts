/**
 * Parquet <-> apache-arrow Table, through parquet-wasm (Arrow IPC stream in between).
 * Files are written the way the shared stack-sample was: zstd, row groups of at most 1,000 rows.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import {
  Compression,
  readParquet,
  transformParquetStream,
  Table as WasmTable,
  writeParquet,
  WriterPropertiesBuilder,
  type RecordBatch as WasmRecordBatch,
  type ReaderOptions,
} from 'parquet-wasm';
import { ErrorType, fatal } from '../contracts/errors.js';

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

function writerProperties(opts: WriteParquetOptions) {
  return new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setMaxRowGroupSize(opts.rowGroupSize ?? PARQUET_ROW_GROUP_SIZE)
    .build();
}

/** Encodes a Table as a zstd-compressed Parquet file. */
export function writeParquetTable(table: Table, opts: WriteParquetOptions = {}): Uint8Array {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, 'stream'));
  return writeParquet(wasmTable, writerProperties(opts));
}

/**
 * Writes a Parquet file to a local path batch by batch (parquet-wasm's streaming writer), so a
 * file of any size needs memory for about one row group. Same encoding as writeParquetTable.
 * Every table written must have the same schema. Bytes and SHA-256 are computed on the way.
 */
export class ParquetStreamWriter {
  private readonly queue: WasmRecordBatch[] = [];
  private ended = false;
  private wakeReader: (() => void) | undefined;
  private consumed: (() => void) | undefined;
  private drained: Promise<void> | undefined;
  private readonly out: WriteStream;
  private readonly hash = createHash('sha256');
  private failure: unknown;
  bytes = 0;
  rows = 0;

  constructor(
    readonly path: string,
    private readonly opts: WriteParquetOptions = {},
  ) {
    this.out = createWriteStream(path);
    this.out.on('error', (err) => {
      this.failure ??= err;
    });
  }

  /** Appends the rows of `table` (an empty table is ignored). */
  async write(table: Table): Promise<void> {
    if (table.numRows === 0) return;
    if (this.failure) throw this.failure;
    const wasm = WasmTable.fromIPCStream(tableToIPC(table, 'stream'));
    this.queue.push(...wasm.recordBatches());
    wasm.free();
    this.rows += table.numRows;
    this.wakeReader?.();
    // The encoder reads its input lazily: start it once the first batch (the schema) is there.
    this.drained ??= this.start();
    // Wait until the encoder took the batches: one table in flight at a time.
    while (this.queue.length > 0 && !this.failure) await new Promise<void>((r) => (this.consumed = r));
    if (this.failure) throw this.failure;
  }

  private async start(): Promise<void> {
    const input = new ReadableStream<WasmRecordBatch>({
      pull: async (controller) => {
        while (this.queue.length === 0 && !this.ended) await new Promise<void>((r) => (this.wakeReader = r));
        const next = this.queue.shift();
        if (this.queue.length === 0) this.consumed?.();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    try {
      const output = (await transformParquetStream(input, writerProperties(this.opts))) as ReadableStream<Uint8Array>;
      for await (const chunk of output as unknown as AsyncIterable<Uint8Array>) {
        this.hash.update(chunk);
        this.bytes += chunk.byteLength;
        if (!this.out.write(chunk)) await once(this.out, 'drain');
      }
    } catch (err) {
      this.failure ??= err;
      this.consumed?.();
    }
  }

  /** Ends the file; returns its size and SHA-256. */
  async finish(): Promise<{ bytes: number; sha256: string; rows: number }> {
    if (this.drained === undefined) throw new Error(`ParquetStreamWriter: no rows written to ${this.path}`);
    this.ended = true;
    this.wakeReader?.();
    await this.drained;
    this.out.end();
    if (!this.failure) await once(this.out, 'finish').catch((err) => (this.failure ??= err));
    if (this.failure) throw this.failure;
    return { bytes: this.bytes, sha256: this.hash.digest('hex'), rows: this.rows };
  }

  /** Stops writing and closes the local file (the caller removes it). */
  async abort(): Promise<void> {
    this.ended = true;
    this.wakeReader?.();
    await this.drained?.catch(() => undefined);
    this.out.destroy();
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
