/**
 * Visible text of an HTML file, as BigCode measures it with BeautifulSoup (`get_text()` after
 * removing <script> and <style>): the text nodes outside those elements, entities decoded;
 * comments, doctype and processing instructions are not text. Parsed with htmlparser2, which
 * never throws on broken markup.
 */
import { Parser } from 'htmlparser2';

function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Code points of visible text (the filter divides by the file's code points, known from its stats). */
export function visibleTextChars(html: string): number {
  let hidden = 0; // depth inside script/style
  let visible = 0;
  const parser = new Parser(
    {
      onopentagname(name) {
        if (name === 'script' || name === 'style') hidden++;
      },
      onclosetag(name) {
        if ((name === 'script' || name === 'style') && hidden > 0) hidden--;
      },
      ontext(text) {
        if (hidden === 0) visible += codePoints(text);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  return visible;
}
