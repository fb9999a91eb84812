/**
 * Reads a local Parquet file one row group at a time, so memory follows the largest row group,
 * not the file: a 500 MB file of 1,000-row groups needs a few MB at a time.
 *
 * Decoding runs in a worker thread (parquetDecoder.worker.mjs) that reads the file lazily through
 * fs.openAsBlob. parquet-wasm's async reader can abort its wasm instance on bad data; in that
 * thread an abort only ends the thread: the read fails with a fatal InvalidInput naming the file
 * and row group, and the next file gets a fresh thread. The thread (and the wasm memory it grew)
 * is let go a few seconds after its last file closes.
 */
import { Worker } from 'node:worker_threads';
import { tableFromIPC, type Schema, type Table } from 'apache-arrow';
import { ErrorType, fatal } from '../contracts/errors.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

class DecoderCrashed extends Error {}

/** How long an idle decoder thread is kept for the next file. */
const IDLE_RELEASE_MS = 5_000;

/** One decoder thread; requests are answered in order. */
class DecoderThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private openFiles = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  crashed: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL('./parquetDecoder.worker.mjs', import.meta.url), { execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; message?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(msg.message));
    });
    const fail = (err: Error) => {
      this.crashed ??= new DecoderCrashed(`the Parquet decoder aborted (${err.message})`);
      for (const p of this.pending.values()) p.reject(this.crashed);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  request<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.crashed) return Promise.reject(this.crashed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.ref(); // keep the process alive while a request is out
      this.worker.postMessage({ ...msg, id });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  /** A file was (about to be) opened on this thread. */
  retain(): void {
    this.openFiles++;
    clearTimeout(this.idleTimer);
  }

  /** A file closed: with none left, the thread ends after IDLE_RELEASE_MS unless reused. */
  release(onIdle: () => void): void {
    if (--this.openFiles > 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.openFiles === 0) onIdle();
    }, IDLE_RELEASE_MS);
    this.idleTimer.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.worker.terminate();
  }
}

/** The process's decoder thread, replaced by a fresh one after an abort. */
let shared: DecoderThread | undefined;
function decoderThread(): DecoderThread {
  if (shared === undefined || shared.crashed) shared = new DecoderThread();
  return shared;
}

function releaseThread(thread: DecoderThread): void {
  thread.release(() => {
    if (shared === thread) shared = undefined;
    void thread.close();
  });
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface OpenFile {
  thread: DecoderThread;
  handle: number;
}

/** A Parquet file opened for row-group reads. Call close() when done. */
export class ParquetRowGroups {
  private constructor(
    private file: OpenFile,
    private readonly path: string,
    readonly uri: string,
    /** Rows of each row group. */
    readonly rowGroupRows: number[],
    /** The file's schema (as Arrow types). */
    readonly schema: Schema,
  ) {}

  private static async openOn(path: string): Promise<{ file: OpenFile; rowGroupRows: number[]; schemaIpc: Uint8Array }> {
    const thread = decoderThread();
    thread.retain();
    try {
      const r = await thread.request<{ handle: number; rowGroupRows: number[]; schemaIpc: Uint8Array }>({ op: 'open', path });
      return { file: { thread, handle: r.handle }, rowGroupRows: r.rowGroupRows, schemaIpc: r.schemaIpc };
    } catch (err) {
      releaseThread(thread);
      throw err;
    }
  }

  /** Opens `path` (a local file); `uri` names it in errors. Not Parquet -> fatal InvalidInput. */
  static async open(path: string, uri: string): Promise<ParquetRowGroups> {
    let opened;
    try {
      opened = await ParquetRowGroups.openOn(path).catch((err) => {
        // Another file may have aborted the shared thread meanwhile: one more try on a fresh one.
        if (err instanceof DecoderCrashed) return ParquetRowGroups.openOn(path);
        throw err;
      });
    } catch (err) {
      throw fatal(ErrorType.InvalidInput, `cannot read ${uri} as Parquet: ${describeError(err)}`, { uri });
    }
    return new ParquetRowGroups(opened.file, path, uri, opened.rowGroupRows, tableFromIPC(opened.schemaIpc).schema);
  }

  get numRows(): number {
    return this.rowGroupRows.reduce((a, b) => a + b, 0);
  }

  private async readOnce(index: number, columns?: string[]): Promise<Table> {
    if (this.file.thread.crashed) {
      releaseThread(this.file.thread);
      this.file = (await ParquetRowGroups.openOn(this.path)).file;
    }
    const ipc = await this.file.thread.request<Uint8Array>({ op: 'read', handle: this.file.handle, rowGroup: index, ...(columns ? { columns } : {}) });
    return tableFromIPC(ipc);
  }

  /**
   * Row group `index`, all columns or only `columns`. Undecodable data -> fatal InvalidInput. An
   * abort of the decoder is retried once on a fresh thread (it may have come from another file).
   */
  async read(index: number, columns?: string[]): Promise<Table> {
    try {
      return await this.readOnce(index, columns).catch((err) => {
        if (err instanceof DecoderCrashed) return this.readOnce(index, columns);
        throw err;
      });
    } catch (err) {
      throw fatal(
        ErrorType.InvalidInput,
        `cannot decode row group ${index} of ${this.uri} (${this.rowGroupRows[index] ?? '?'} rows): ${describeError(err)}`,
        { uri: this.uri, rowGroup: index },
      );
    }
  }

  async close(): Promise<void> {
    const { thread, handle } = this.file;
    if (!thread.crashed) await thread.request({ op: 'close', handle }).catch(() => undefined);
    releaseThread(thread);
  }
}
