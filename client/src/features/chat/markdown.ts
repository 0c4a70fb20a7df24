// A small Markdown reader for replies: fenced code, headings, lists, quotes,
// paragraphs; inline code, bold, italic and http(s) links. It produces plain
// data that React renders as elements, so no HTML from a model ever reaches
// the page. Text still streaming in is fine: an unclosed fence is code so far.

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'code'; text: string }
  | { type: 'strong'; children: Inline[] }
  | { type: 'em'; children: Inline[] }
  | { type: 'link'; href: string; children: Inline[] };

export type Block =
  | { type: 'code'; lang: string; text: string; open: boolean }
  | { type: 'heading'; level: 1 | 2 | 3; children: Inline[] }
  | { type: 'list'; ordered: boolean; start: number; items: Inline[][] }
  | { type: 'quote'; children: Inline[] }
  | { type: 'paragraph'; children: Inline[] };

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

/**
 * A reply cut short (still streaming, or stopped) may end inside `**bold` or
 * `` `code ``: close the last open mark so it does not show as raw characters.
 */
export function closeOpenMarks(text: string): string {
  // Only the text after the last fence line matters; an open fence is handled by the parser.
  const fences = text.match(/^\s{0,3}(```|~~~)/gm)?.length ?? 0;
  if (fences % 2 === 1) return text;
  const lastFence = Math.max(text.lastIndexOf('```'), text.lastIndexOf('~~~'));
  const tail = lastFence >= 0 ? text.slice(lastFence + 3) : text;
  let out = text;
  const ticks = tail.match(/`/g)?.length ?? 0;
  if (ticks % 2 === 1) out += '`';
  const withoutCode = tail.replace(/`[^`]*`?/g, '');
  const bold = withoutCode.match(/\*\*/g)?.length ?? 0;
  if (bold % 2 === 1) out += '**';
  return out;
}

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || RULE.test(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1]!;
      const body: string[] = [];
      i++;
      let open = true;
      while (i < lines.length) {
        const current = lines[i]!;
        if (current.trim().startsWith(marker[0]!.repeat(marker.length)) && current.trim().replace(/[`~]/g, '') === '') {
          open = false;
          i++;
          break;
        }
        body.push(current);
        i++;
      }
      blocks.push({ type: 'code', lang: fence[2] ?? '', text: body.join('\n'), open });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(3, heading[1]!.length) as 1 | 2 | 3;
      blocks.push({ type: 'heading', level, children: parseInline(heading[2] ?? '') });
      i++;
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? ORDERED : BULLET;
      const start = ordered ? Number(ORDERED.exec(line)![1]) : 1;
      const items: string[] = [];
      while (i < lines.length) {
        const current = lines[i]!;
        const match = pattern.exec(current);
        if (match) {
          items.push((ordered ? match[2] : match[1]) ?? '');
        } else if (current.trim() !== '' && /^\s{2,}\S/.test(current) && items.length > 0) {
          // A continuation line of the previous item.
          items[items.length - 1] += ` ${current.trim()}`;
        } else {
          break;
        }
        i++;
      }
      blocks.push({ type: 'list', ordered, start, items: items.map(parseInline) });
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) {
        body.push(QUOTE.exec(lines[i]!)![1] ?? '');
        i++;
      }
      blocks.push({ type: 'quote', children: parseInline(body.join('\n')) });
      continue;
    }
    const body: string[] = [];
    while (i < lines.length) {
      const current = lines[i]!;
      if (current.trim() === '' || FENCE.test(current) || HEADING.test(current) || BULLET.test(current) || ORDERED.test(current) || QUOTE.test(current)) break;
      body.push(current);
      i++;
    }
    blocks.push({ type: 'paragraph', children: parseInline(body.join('\n')) });
  }
  return blocks;
}

// Order matters: code first (nothing inside it is markup), then links, bold, italic.
const INLINE =
  /`([^`\n]+)`|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|\*\*(?=\S)([^\n]*?\S)\*\*|__(?=\S)([^\n]*?\S)__|\*(?=[^\s*])([^*\n]*?[^\s*])\*|(?<![\w])_(?=[^\s_])((?:[^_\n]|(?<=\w)_(?=\w))*?[^\s_])_(?![\w])/g;

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  const push = (node: Inline) => {
    const prev = out.at(-1);
    if (node.type === 'text' && prev?.type === 'text') prev.text += node.text;
    else out.push(node);
  };
  for (const match of text.matchAll(INLINE)) {
    const index = match.index;
    if (index > last) push({ type: 'text', text: text.slice(last, index) });
    const [whole, code, linkText, href, bold1, bold2, em1, em2] = match;
    if (code !== undefined) push({ type: 'code', text: code });
    else if (linkText !== undefined && href !== undefined) push({ type: 'link', href, children: parseInline(linkText) });
    else if (bold1 !== undefined || bold2 !== undefined) push({ type: 'strong', children: parseInline((bold1 ?? bold2)!) });
    else if (em1 !== undefined || em2 !== undefined) push({ type: 'em', children: parseInline((em1 ?? em2)!) });
    else push({ type: 'text', text: whole });
    last = index + whole.length;
  }
  if (last < text.length) push({ type: 'text', text: text.slice(last) });
  return out;
}

/** The text of inline nodes, without markup (e.g. for a title attribute). */
export function inlineText(nodes: readonly Inline[]): string {
  return nodes.map((node) => (node.type === 'text' || node.type === 'code' ? node.text : inlineText(node.children))).join('');
}
