/**
 * A strict well-formedness check for the XML kiln's charts emit (no XML parser ships in
 * node_modules, and this is all the tests need): balanced tags, quoted unique attributes, known
 * entities, no stray '<' or '&' in text. Returns the element names in document order.
 */
import assert from 'node:assert/strict';

const NAME = '[A-Za-z_][\\w.:-]*';
const ENTITY = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

function checkText(text: string, at: number): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    assert.match(text.slice(i, i + 12), ENTITY, `bad entity near offset ${at + i}: ${JSON.stringify(text.slice(i, i + 12))}`);
  }
}

export function assertWellFormedXml(xml: string): string[] {
  const elements: string[] = [];
  const stack: string[] = [];
  const tag = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, 'y');
  let i = 0;
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    checkText(text, i);
    if (stack.length === 0) assert.equal(text.trim(), '', `text outside the root element at offset ${i}`);
    if (lt < 0) break;
    if (xml.startsWith('<?xml', lt)) {
      i = xml.indexOf('?>', lt) + 2;
      continue;
    }
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at offset ${lt}: ${JSON.stringify(xml.slice(lt, lt + 60))}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element at offset ${lt}`);
    } else {
      const names = [...attrs.matchAll(new RegExp(`(${NAME})\\s*=`, 'g'))].map((a) => a[1]);
      assert.equal(new Set(names).size, names.length, `duplicate attribute in <${name}> at offset ${lt}`);
      for (const a of attrs.matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) checkText(a[1] ?? a[2], lt);
      if (stack.length === 0) roots++;
      elements.push(name);
      if (!selfClosing) stack.push(name);
    }
    i = lt + whole.length;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
  return elements;
}
