// Ingest from remote sources: an https-style Hugging Face hub `resolve/main/...` URL (a local
// HTTP server that redirects like the hub), transient 503s, and a missing file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { ingestStage } from '../../activities/ingest.js';
import { ErrorType } from '../../lib/errors.js';
import { startHttpServer, type TestHttpServer } from '../support/httpServer.js';

const SAMPLE = new URL('../../../shared/data/stack-sample', import.meta.url).pathname;
let http: TestHttpServer;
let root: string;

before(async () => {
  http = await startHttpServer(SAMPLE);
  root = pathToFileURL(mkdtempSync(join(tmpdir(), 'kiln-ingest-remote-'))).href;
});
after(async () => http?.stop());

describe('ingest from https', () => {
  it('reads a hub-style resolve/main URL through its redirect', async () => {
    const source = `${http.baseUrl}/resolve/data/python/train-00000-of-00002.parquet`;
    const r = await ingestStage({ artifactsRoot: root, source, languages: ['python'], maxRowsPerLanguage: null });
    assert.equal(r.stats.rows_out, 778);
    assert.equal(r.outputs.length, 1);
    assert.match(r.outputs[0]!, /lang=python\/part-00000\.parquet$/);
    assert.ok(http.requests.some((q) => q.url.startsWith('/files/')), 'the redirect was followed');
  });

  it('retries a server that answers 503 before serving the file', async () => {
    const source = `${http.baseUrl}/flaky/2/data/go/train-00000-of-00002.parquet`;
    const r = await ingestStage({ artifactsRoot: root, source, languages: ['Go'], maxRowsPerLanguage: 100 });
    assert.equal(r.stats.rows_out, 100);
  });

  it('fails non-retryably, naming the URL, when the file does not exist', async () => {
    const source = `${http.baseUrl}/resolve/data/python/missing.parquet`;
    await assert.rejects(ingestStage({ artifactsRoot: root, source, languages: ['python'], maxRowsPerLanguage: null }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, ErrorType.NotFound);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /missing\.parquet/);
      return true;
    });
  });
});
