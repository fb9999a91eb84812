// lib/config/defaults.ts: the schema's defaults are what validateConfig fills in, and what the
// stages that resolve their own sections (clean, dedup, ingest) start from.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_CLEAN_PARAMS, resolveCleanParams } from '../../activities/clean/params.js';
import { DEFAULT_DEDUP_PARAMS, DEFAULT_DEDUP_SETTINGS, resolveDedupParams } from '../../activities/dedup/params.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_ON_BAD_FILE, DEFAULT_SEED, DEFAULTS, schemaDefaults, sectionKeys } from '../../lib/config/defaults.js';
import { ConfigError, validateConfig, validateSection } from '../../lib/config/validate.js';

describe('schema defaults', () => {
  it('are what validateConfig fills into a config that sets only its name', () => {
    const { name: _name, ...resolved } = validateConfig({ name: 'x' });
    assert.deepEqual(DEFAULTS, resolved);
  });

  it('schemaDefaults gives a fresh copy of one section; DEFAULTS is frozen', () => {
    const a = schemaDefaults('clean');
    a.vendoredDirs.push('mine');
    assert.equal(schemaDefaults('clean').vendoredDirs.includes('mine'), false);
    assert.ok(Object.isFrozen(DEFAULTS.clean.vendoredDirs));
    assert.deepEqual(sectionKeys('dedup'), ['exact', 'near', 'numPerm', 'bands', 'rows', 'ngram', 'threshold', 'verify']);
  });

  // The values the hand-written tables held before they were replaced by the schema's.
  it('equal the values the stages used to write out', () => {
    assert.deepEqual(DEFAULT_CLEAN_PARAMS, {
      maxAvgLineLength: 100,
      maxLineLength: 1000,
      minAlphanumFraction: 0.25,
      minAlphabeticFraction: null,
      perExtension: {},
      generatedMarkerLines: 5,
      vendoredDirs: ['vendor', 'vendors', '_vendor', 'node_modules', 'bower_components', 'jspm_packages', 'third_party', 'third-party', 'thirdparty', '3rdparty', 'Pods'],
      minifiedAvgLineLength: 110,
      minifiedMaxWhitespaceFraction: 0.05,
      xmlHeaderExemptExtensions: ['xsl', 'xslt'],
      htmlMinVisibleFraction: 0.2,
      htmlMinVisibleChars: 100,
      decontaminationBenchmarks: ['humaneval'],
      decontaminationNgram: 10,
      decontaminationMinOverlap: 0.5,
      syntaxLanguages: ['Python', 'JavaScript', 'TypeScript', 'Go', 'Java'],
      syntaxMaxBytes: 100_000,
      disabledFilters: [],
      redactPii: true,
    });
    assert.deepEqual(DEFAULT_DEDUP_SETTINGS, { exact: true, near: true, numPerm: 256, ngram: 5, threshold: 0.7, verify: true });
    assert.equal(DEFAULT_ON_BAD_FILE, 'skip');
    assert.equal(DEFAULT_MAX_DOCUMENT_BYTES, 10 * 1024 * 1024);
    assert.equal(DEFAULT_SEED, 1234);
  });

  it("DEFAULT_DEDUP_PARAMS's bands and rows are the LSH rule's choice for the default threshold and numPerm", () => {
    assert.deepEqual(resolveDedupParams({}), DEFAULT_DEDUP_PARAMS);
  });
});

describe('validateSection', () => {
  it('fills the defaults of a partial section and leaves its input alone', () => {
    const raw = { maxLineLength: 500 };
    assert.deepEqual(validateSection('clean', raw), { ...DEFAULT_CLEAN_PARAMS, maxLineLength: 500 });
    assert.deepEqual(raw, { maxLineLength: 500 });
  });

  it('names the field and the rule', () => {
    const cases: [unknown, RegExp][] = [
      [{ maxLineLength: 0 }, /`clean\.maxLineLength` must be >= 1, got 0/],
      [{ perExtension: { json: { maxChars: -1 } } }, /`clean\.perExtension\.json\.maxChars` must be >= 0/],
      [{ disabledFilters: ['nope'] }, /`clean\.disabledFilters\[0\]` must be equal to one of the allowed values/],
      [{ bogus: 1 }, /`clean\.bogus` is not a known field/],
      [{ minAlphanumFraction: Number.NaN }, /`clean\.minAlphanumFraction` must be number/],
      [[], /`clean` must be a JSON object/],
    ];
    for (const [raw, pattern] of cases) assert.throws(() => validateSection('clean', raw), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), JSON.stringify(raw));
  });

  it('resolveCleanParams turns its errors into non-retryable KilnInvalidConfig failures; undefined fields take the default', () => {
    assert.throws(() => resolveCleanParams({ maxLineLength: 1.5 }), (e: unknown) => e instanceof ApplicationFailure && e.type === 'KilnInvalidConfig' && e.nonRetryable && /clean\.maxLineLength/.test(e.message));
    assert.deepEqual(resolveCleanParams({ maxLineLength: undefined, redactPii: false }), { ...DEFAULT_CLEAN_PARAMS, redactPii: false });
  });
});
