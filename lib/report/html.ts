/**
 * Self-contained HTML pages for kiln's reports: inline CSS, no scripts, no external assets, so a
 * report opens offline from any artifact store. Pure and deterministic (same input, same bytes).
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML and XML (element content and quoted attributes); drops characters XML forbids. */
export function escapeHtml(text: unknown): string {
  return String(text ?? '')
    // eslint-disable-next-line no-control-regex -- matching the control characters XML 1.0 forbids is the point
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export interface Section {
  heading: string;
  /** Trusted HTML (build it with the helpers below, escaping every piece of data). */
  html: string;
}

const CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-alt: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 24px 64px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
p, li { max-width: 75ch; }
a { color: var(--accent); }
nav ol { columns: 2; padding-left: 20px; color: var(--muted); }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.table-wrap { overflow-x: auto; }
figure { margin: 12px 0 20px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 8px 24px; }
details { margin: 6px 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
details summary { cursor: pointer; font-weight: 600; }
pre { background: var(--bg-alt); padding: 8px 10px; border-radius: 6px; overflow-x: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.note { background: #fff8c5; border: 1px solid #d4a72c66; padding: 6px 10px; border-radius: 6px; }
@media print { nav { display: none; } main { max-width: none; } }
`;

/** Anchor id of a heading: lower-case words joined by '-', made unique with a counter. */
function anchorIds(headings: string[]): string[] {
  const seen = new Map<string, number>();
  return headings.map((h) => {
    const base = h.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'section';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/** A whole HTML5 document: title, table of contents, one <section> per entry. */
export function htmlPage(title: string, sections: Section[]): string {
  const ids = anchorIds(sections.map((s) => s.heading));
  const toc = sections.length > 2
    ? `<nav aria-label="Contents"><ol>${sections.map((s, i) => `<li><a href="#${ids[i]}">${escapeHtml(s.heading)}</a></li>`).join('')}</ol></nav>\n`
    : '';
  const body = sections
    .map((s, i) => `<section id="${ids[i]}">\n<h2>${escapeHtml(s.heading)}</h2>\n${s.html}\n</section>`)
    .join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(title)}</h1>`,
    toc + body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export type Cell = string | number | { html: string; numeric?: boolean };

export interface TableOptions {
  /** Indexes of columns that hold numbers (right-aligned). Numbers are right-aligned anyway. */
  numeric?: number[];
  /** Rows styled as totals (bold, rule above), appended after `rows`. */
  totals?: Cell[][];
  caption?: string;
}

function cellHtml(cell: Cell, tag: 'td' | 'th', numeric: boolean, cls = ''): string {
  const isObject = typeof cell === 'object';
  const num = numeric || typeof cell === 'number' || (isObject && cell.numeric === true);
  const content = isObject ? cell.html : escapeHtml(cell);
  const classes = [num ? 'num' : '', cls].filter(Boolean).join(' ');
  return `<${tag}${classes ? ` class="${classes}"` : ''}>${content}</${tag}>`;
}

/** A table; string cells are escaped, `{ html }` cells are trusted. */
export function htmlTable(headers: string[], rows: Cell[][], opts: TableOptions = {}): string {
  const numeric = new Set(opts.numeric ?? []);
  const head = `<tr>${headers.map((h, i) => cellHtml(h, 'th', numeric.has(i))).join('')}</tr>`;
  const line = (row: Cell[], cls?: string) => `<tr${cls ? ` class="${cls}"` : ''}>${row.map((c, i) => cellHtml(c, 'td', numeric.has(i))).join('')}</tr>`;
  const body = [...rows.map((r) => line(r)), ...(opts.totals ?? []).map((r) => line(r, 'total'))].join('\n');
  const caption = opts.caption ? `<caption class="muted">${escapeHtml(opts.caption)}</caption>` : '';
  return `<div class="table-wrap"><table>${caption}\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

/** A collapsible block: `summary` is text (escaped), `html` is trusted. */
export function htmlDetails(summary: string, html: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${escapeHtml(summary)}</summary>\n${html}\n</details>`;
}

/** A chart (an SVG string) with an optional caption. */
export function htmlFigure(svg: string, caption?: string): string {
  return `<figure>${svg}${caption ? `<figcaption>${escapeHtml(caption)}</figcaption>` : ''}</figure>`;
}

/** A paragraph of plain text (escaped). */
export function htmlParagraph(text: string, cls?: string): string {
  return `<p${cls ? ` class="${cls}"` : ''}>${escapeHtml(text)}</p>`;
}
