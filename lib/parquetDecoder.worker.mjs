// Decoder thread of lib/parquetRowGroups.ts: opens local Parquet files lazily (Blobs from
// fs.openAsBlob, so only the footer and the column chunks asked for are read) and decodes one row
// group at a time into an Arrow IPC stream that is transferred, not copied, to the caller.
//
// Plain JavaScript on purpose: worker threads do not inherit a loader registered with tsx's
// register() API (bin/kiln.js), and this file must load in every process that ingests.
// It runs in a thread of its own because parquet-wasm's async reader aborts the wasm instance
// ("RuntimeError: unreachable", an uncaught exception) on some bad data, such as non-UTF-8 bytes
// in a string column; here that ends this thread, never the worker process.
import { openAsBlob } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ParquetFile } from 'parquet-wasm';

/** Open files by handle (several stages of one process may share this thread). */
const files = new Map();
let nextHandle = 0;

function describe(err) {
  return err instanceof Error ? err.message : String(err);
}

async function handle(msg) {
  switch (msg.op) {
    case 'open': {
      const blob = await openAsBlob(msg.path);
      const file = await ParquetFile.fromFile(blob);
      const meta = file.metadata();
      const rowGroupRows = meta.rowGroups().map((g) => Number(g.numRows()));
      const schemaIpc = file.schema().intoIPCStream();
      const handle = nextHandle++;
      files.set(handle, file);
      return { value: { handle, rowGroupRows, schemaIpc }, transfer: [schemaIpc.buffer] };
    }
    case 'close': {
      files.get(msg.handle)?.free();
      files.delete(msg.handle);
      return { value: null, transfer: [] };
    }
    case 'read': {
      const file = files.get(msg.handle);
      if (file === undefined) throw new Error('file not open');
      const options = { rowGroups: [msg.rowGroup] };
      if (msg.columns) options.columns = msg.columns;
      const table = await file.read(options);
      const ipc = table.intoIPCStream();
      return { value: ipc, transfer: [ipc.buffer] };
    }
    default:
      throw new Error(`unknown op ${msg.op}`);
  }
}

parentPort.on('message', (msg) => {
  handle(msg).then(
    ({ value, transfer }) => parentPort.postMessage({ id: msg.id, ok: true, value }, transfer),
    (err) => parentPort.postMessage({ id: msg.id, ok: false, message: describe(err) }),
  );
});
