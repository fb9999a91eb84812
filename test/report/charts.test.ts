import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatCount, formatPercent, formatSi } from '../../lib/report/format.js';
import { escapeHtml, htmlDetails, htmlPage, htmlTable } from '../../lib/report/html.js';
import { linearTicks, logTicks } from '../../lib/report/scales.js';
import { barChart, histogram, lineChart } from '../../lib/report/svg.js';
import { assertWellFormedXml } from './xml.js';

const count = (text: string, needle: string) => text.split(needle).length - 1;
/** Text of the tick labels (the <text> elements right of/under the axes). */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe('number formats', () => {
  it('uses SI suffixes, trims zeros and avoids float noise', () => {
    assert.deepEqual([0, 5, 0.25, 1500, 2e6, 3.5e9, -1200, 3e-4, 0.1 + 0.2].map((v) => formatSi(v)), ['0', '5', '0.25', '1.5k', '2M', '3.5G', '-1.2k', '3e-4', '0.3']);
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1234), '1.23 kB');
    assert.equal(formatBytes(5e6), '5 MB');
    assert.equal(formatCount(1234567), '1,234,567');
    assert.equal(formatPercent(1, 8), '12.5%');
    assert.equal(formatPercent(1, 0), '–');
  });
});

describe('axis ticks', () => {
  it('linear ticks are nice steps that bracket the data', () => {
    assert.deepEqual(linearTicks(0, 97), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(linearTicks(0.1, 0.33), [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    assert.deepEqual(linearTicks(5, 5), [2, 3, 4, 5, 6, 7, 8]);
  });
  it('log ticks are powers of ten, with 2 and 5 on short ranges, and stay inside the range', () => {
    assert.deepEqual(logTicks(1, 1e6), [1, 10, 100, 1000, 10000, 100000, 1e6]);
    assert.deepEqual(logTicks(1, 150), [1, 2, 5, 10, 20, 50, 100]);
    const short = logTicks(2.1, 9.5);
    assert.ok(short.length >= 2 && short.every((t) => t >= 2.1 && t <= 9.5), String(short));
  });
});

describe('lineChart', () => {
  const series = [
    { name: 'train <loss>', points: [[0, 10], [100, 4], [200, 2.5], [300, 2.1]] as [number, number][] },
    { name: 'val & co', points: [[0, 11], [150, 3.9], [300, 2.4]] as [number, number][] },
  ];
  it('is well-formed SVG with a title, escaped legend, axis labels and one path per series', () => {
    const svg = lineChart({ title: 'Loss <by step>', xLabel: 'step', yLabel: 'loss', series });
    const elements = assertWellFormedXml(svg);
    assert.equal(elements[0], 'svg');
    assert.ok(svg.includes('<title>Loss &lt;by step&gt;</title>'));
    assert.ok(svg.includes('train &lt;loss&gt;') && svg.includes('val &amp; co'));
    assert.equal(count(svg, '<path '), 2);
    const labels = texts(svg);
    for (const tick of ['0', '100', '200', '300']) assert.ok(labels.includes(tick), `x tick ${tick} in ${labels}`);
    assert.ok(labels.includes('step') && labels.includes('loss'));
  });
  it('is deterministic', () => {
    assert.equal(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series }), lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series }));
  });
  it('on a log axis leaves out non-positive and non-finite values and says "(log)"', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 's', points: [[0, 100], [1, 0], [2, NaN], [3, 1], [4, 10]] }] });
    assertWellFormedXml(svg);
    assert.ok(!svg.includes('NaN') && !svg.includes('Infinity'));
    assert.ok(texts(svg).includes('y (log)'));
    for (const tick of ['1', '10', '100']) assert.ok(texts(svg).includes(tick), tick);
    // [0,100] alone, then the gap, then [3,1]-[4,10]: one 2-point path plus a lone-point marker.
    assert.equal(count(svg, '<path '), 1);
  });
  it('thins long series to the pixel grid but keeps spikes', () => {
    const points: [number, number][] = Array.from({ length: 50_000 }, (_, i) => [i, i === 31_337 ? 100 : 1 + (i % 7) / 10]);
    const svg = lineChart({ title: 'big', xLabel: 'step', yLabel: 'loss', series: [{ name: 'train', points }] });
    assertWellFormedXml(svg);
    assert.ok(svg.length < 150_000, `svg is ${svg.length} bytes`);
    assert.ok(texts(svg).includes('100'), 'the spike sets the top of the y axis');
  });
  it('says "no data" when nothing can be drawn', () => {
    const svg = lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [] }] });
    assertWellFormedXml(svg);
    assert.ok(svg.includes('no data'));
  });
});

describe('barChart', () => {
  it('draws a bar per label with its value in a tooltip', () => {
    const bars = [{ label: 'python', value: 1200 }, { label: 'go', value: 300 }, { label: 'c++ <std>', value: 45 }];
    const svg = barChart({ title: 'Files', xLabel: 'language', yLabel: 'files', bars });
    assertWellFormedXml(svg);
    assert.equal(count(svg, '<rect x='), 3);
    assert.ok(svg.includes('<title>python: 1.2k</title>'));
    assert.ok(svg.includes('c++ &lt;std&gt;'));
    assert.ok(texts(svg).includes('1.2k'), 'value labels above few bars');
  });
  it('rotates labels that would collide and truncates very long ones', () => {
    const bars = Array.from({ length: 30 }, (_, i) => ({ label: `a-rather-long-language-name-${i}`, value: i + 1 }));
    const svg = barChart({ title: 'Many', xLabel: 'language', yLabel: 'files', bars });
    assertWellFormedXml(svg);
    assert.ok(svg.includes('rotate(-40'));
    assert.ok(svg.includes('a-rather-long-lan…'));
  });
  it('on a log axis keeps small bars visible and skips zeros', () => {
    const svg = barChart({ title: 'Reasons', xLabel: 'reason', yLabel: 'files', logY: true, bars: [{ label: 'a', value: 1 }, { label: 'b', value: 0 }, { label: 'c', value: 5000 }] });
    assertWellFormedXml(svg);
    assert.equal(count(svg, '<rect x='), 2);
    const heights = [...svg.matchAll(/<rect x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)"/g)].map((m) => Number(m[1]));
    assert.ok(heights.every((h) => h > 5), `heights ${heights}`);
  });
});

describe('histogram', () => {
  it('puts log-x bins at their extent with SI tick labels', () => {
    const bins = [1, 2, 3, 4, 5].map((e) => ({ from: 10 ** e, to: 10 ** (e + 1), count: 6 - e }));
    const svg = histogram({ title: 'File size', xLabel: 'bytes', yLabel: 'files', bins, logX: true });
    assertWellFormedXml(svg);
    assert.equal(count(svg, '<rect x='), 5);
    for (const tick of ['10', '100', '1k', '10k', '100k', '1M']) assert.ok(texts(svg).includes(tick), `${tick} in ${texts(svg)}`);
    assert.ok(texts(svg).includes('bytes (log)'));
    // Equal widths on a log axis for bins of one decade each.
    const widths = [...svg.matchAll(/<rect x="[^"]*" y="[^"]*" width="([^"]*)"/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(...widths) - Math.min(...widths) < 0.05, `widths ${widths}`);
  });
  it('clamps a bin that starts at 0 on a log axis instead of dropping or breaking it', () => {
    const svg = histogram({ title: 'h', xLabel: 'x', yLabel: 'n', logX: true, bins: [{ from: 0, to: 10, count: 3 }, { from: 10, to: 100, count: 4 }] });
    assertWellFormedXml(svg);
    assert.equal(count(svg, '<rect x='), 2);
    assert.ok(!svg.includes('NaN') && !svg.includes('Infinity'));
  });
});

describe('html', () => {
  it('escapes markup, quotes and characters XML forbids', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeHtml('a\u0000b\u001bc\ud800'), 'a\ufffdb\ufffdc\ufffd');
    assert.equal(escapeHtml('tab\tnew\nline'), 'tab\tnew\nline');
  });
  it('builds a standalone page with unique anchors and no external assets', () => {
    const chart = barChart({ title: 'c', xLabel: 'x', yLabel: 'y', bars: [{ label: 'a', value: 1 }] });
    const page = htmlPage('Run <x>', [
      { heading: 'Summary', html: htmlTable(['stage', 'files'], [['clean', 10], ['<dedup>', 8]], { totals: [['total', 18]] }) },
      { heading: 'Summary', html: chart },
      { heading: 'Examples', html: htmlDetails('a <b>', '<pre>x</pre>') },
    ]);
    assert.ok(page.startsWith('<!DOCTYPE html>'));
    assert.ok(page.includes('<title>Run &lt;x&gt;</title>'));
    assert.ok(page.includes('id="summary"') && page.includes('id="summary-2"') && page.includes('href="#examples"'));
    assert.ok(page.includes('<td class="num">10</td>') && page.includes('<td>&lt;dedup&gt;</td>'));
    assert.ok(page.includes('<tr class="total">'));
    assert.ok(page.includes('<summary>a &lt;b&gt;</summary>'));
    assert.ok(!/<script|<link|src=|url\(|@import/i.test(page), 'no scripts or external assets');
    assert.deepEqual(page.match(/https?:\/\/[^"\s]*/g), ['http://www.w3.org/2000/svg'], 'the only URL is the SVG namespace');
  });
});
