// The PII evaluation's scorer on a hand-made set, `kiln redact --jsonl` (the path the evaluation
// spawns) and the integrity of the committed labelled set. The F1 targets are not tested here:
// `npm run eval:pii` prints them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PII_TYPES } from '../../activities/clean/redact.js';
import { overlapsBigCode, scorePii, type LabelledDoc, type Span } from '../../scripts/eval-pii.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('scorePii', () => {
  const docs: LabelledDoc[] = [
    { id: 'a', text: '', labels: [{ type: 'EMAIL', start: 0, end: 5 }, { type: 'KEY', start: 10, end: 20 }] },
    { id: 'b', text: '', labels: [{ type: 'EMAIL', start: 0, end: 10 }, { type: 'PASSWORD', start: 20, end: 30 }] },
  ];
  const predictions = new Map<string, Span[]>([
    ['a', [{ type: 'EMAIL', start: 1, end: 4 }, { type: 'EMAIL', start: 30, end: 35 }, { type: 'IP_ADDRESS', start: 40, end: 45 }]],
    // Two detections inside one label: both true positives, the label found once.
    ['b', [{ type: 'EMAIL', start: 0, end: 4 }, { type: 'EMAIL', start: 5, end: 10 }, { type: 'PASSWORD', start: 20, end: 30 }, { type: 'KEY', start: 20, end: 30 }]],
  ]);

  it('counts overlapping same-type detections as true positives and labels as found', () => {
    const s = scorePii(docs, predictions);
    assert.deepEqual(
      { ...s.EMAIL },
      { labels: 2, detections: 4, truePositives: 3, found: 2, precision: 0.75, recall: 1, f1: (2 * 0.75) / 1.75 },
    );
    // KEY: the label in `a` is missed and the KEY in `b` overlaps a PASSWORD label only (wrong type).
    assert.deepEqual({ ...s.KEY }, { labels: 1, detections: 1, truePositives: 0, found: 0, precision: 0, recall: 0, f1: 0 });
    assert.deepEqual({ ...s.PASSWORD }, { labels: 1, detections: 1, truePositives: 1, found: 1, precision: 1, recall: 1, f1: 1 });
    // No labels of a type: recall 1 by convention, each detection a false positive.
    assert.deepEqual({ ...s.IP_ADDRESS }, { labels: 0, detections: 1, truePositives: 0, found: 0, precision: 0, recall: 1, f1: 0 });
  });

  it("applies BigCode's 80% overlap rule when asked", () => {
    const s = scorePii(docs, predictions, overlapsBigCode);
    // [1,4) covers 60% of [0,5); [0,4) and [5,10) cover 40% and 50% of [0,10): all misses now.
    assert.equal(s.EMAIL.truePositives, 0);
    assert.equal(s.EMAIL.found, 0);
    assert.equal(s.PASSWORD.f1, 1);
  });

  it('gives precision and recall 1 to a type with neither labels nor detections', () => {
    const s = scorePii([{ id: 'x', text: '', labels: [] }], new Map());
    for (const type of PII_TYPES) assert.deepEqual([s[type].precision, s[type].recall, s[type].f1], [1, 1, 1]);
  });
});

describe('kiln redact --jsonl', () => {
  const kiln = (args: string[], input: string) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'kiln.js'), 'redact', ...args], { input, encoding: 'utf8' });

  it('answers one line per document, in order, with the entities findPii returns', () => {
    const input = [
      JSON.stringify({ id: 'one', text: 'mail maria.garcia@acme-widgets.com' }),
      '',
      JSON.stringify({ id: 2, text: 'password = "hunter22"' }),
    ].join('\n');
    const res = kiln(['--json', '--jsonl'], input);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { id: 'one', entities: [{ type: 'EMAIL', start: 5, end: 34 }] },
      { id: 2, entities: [{ type: 'PASSWORD', start: 12, end: 20 }] },
    ]);
    const redacted = kiln(['--jsonl'], input).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(redacted[0].text, 'mail <EMAIL>');
    assert.equal(redacted[1].counts.PASSWORD, 1);
  });

  it('fails with the line number on a line that is not a document', () => {
    const res = kiln(['--json', '--jsonl'], `${JSON.stringify({ id: 1, text: 'x' })}\n{"id": 2}\n`);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /stdin line 2: expected an object with a string "text" field/);
  });
});

describe('data/pii-eval/eval.jsonl', () => {
  const path = join(ROOT, 'data', 'pii-eval', 'eval.jsonl');

  it('is small and every label is the text it points at, with the source file named', () => {
    assert.ok(statSync(path).size < 3_000_000);
    const docs = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(docs.length >= 300);
    for (const doc of docs) {
      assert.ok(doc.source.repo && doc.source.path && doc.source.licenses.length > 0, doc.id);
      for (const l of doc.labels) {
        assert.ok((PII_TYPES as readonly string[]).includes(l.type), `${doc.id}: ${l.type}`);
        assert.equal(doc.text.slice(l.start, l.end), l.value, doc.id);
      }
    }
  });
});
