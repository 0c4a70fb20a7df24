/**
 * A conversation's title, made from its first message: the words a reader sees, without
 * the Markdown that spells them (`**`, backticks, `#`, `[text](url)`, `~~`, list and
 * quote markers, table pipes). Parsed with micromark (CommonMark + GFM) rather than
 * stripped with patterns, so `2 * 3 * 4` and `snake_case` keep their characters.
 *
 * Shared by the server (the stored title) and the client (the chat header shows the same
 * title before the conversation list is fetched again).
 */
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';

/** Titles are at most this many characters (code points), an ellipsis included. */
export const CONVERSATION_TITLE_MAX_CHARS = 80;

interface MdNode {
  type: string;
  value?: string;
  alt?: string | null;
  children?: MdNode[];
}

// Blocks whose text is separated from what follows by a space.
const BLOCKS = new Set(['paragraph', 'heading', 'code', 'blockquote', 'list', 'listItem', 'table', 'tableRow', 'tableCell']);
// Nothing a reader sees as words: link definitions (`[1]: https://...`), footnote markers.
const SKIPPED = new Set(['definition', 'footnoteDefinition', 'footnoteReference', 'thematicBreak']);

function collect(node: MdNode, out: string[]): void {
  if (SKIPPED.has(node.type)) return;
  if (node.type === 'image' || node.type === 'imageReference') {
    if (node.alt) out.push(node.alt);
  } else if (node.type === 'break') {
    out.push(' ');
  } else if (typeof node.value === 'string') {
    // text, inlineCode, code (fenced or indented) and html keep their text as it is: a
    // title is shown as text, never as markup.
    out.push(node.value);
  }
  for (const child of node.children ?? []) collect(child, out);
  if (BLOCKS.has(node.type)) out.push(' ');
}

// Text with none of these is the same text once parsed: no inline markup (escapes, code, emphasis,
// strikethrough, links, images, autolinks, HTML, entities, table pipes) and no line that opens a
// block (headings, quotes, lists, setext underlines, thematic breaks, a table's delimiter row such
// as `:-`, which GFM takes without pipes). Most first messages are such plain sentences, and the
// parse is the costliest step of a new conversation's first message.
const INLINE_MARKUP = /[\\`*_~[\]<>&|#]/;
const BLOCK_START = /^[ \t]*([-+=:]|\d+[.)])/m;

/** True when `text` has no Markdown syntax at all, so that parsing it would give back its own characters. */
export function isPlainText(text: string): boolean {
  return !INLINE_MARKUP.test(text) && !BLOCK_START.test(text);
}

/** The text of a Markdown message without its markup, on one line. */
export function stripMarkdown(markdown: string): string {
  return isPlainText(markdown) ? collapse(markdown) : parsedText(markdown);
}

/** The parse itself (micromark, CommonMark + GFM), whatever the text. */
export function parsedText(markdown: string): string {
  const tree = fromMarkdown(markdown, { extensions: [gfm({ singleTilde: false })], mdastExtensions: [gfmFromMarkdown()] }) as MdNode;
  const out: string[] = [];
  collect(tree, out);
  return collapse(out.join(''));
}

function collapse(text: string): string {
  // Control characters (other than whitespace) have no place in a one-line title.
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The title of a conversation whose first message is `content`: its text without
 * Markdown, cut at a word boundary to `CONVERSATION_TITLE_MAX_CHARS` with an ellipsis.
 * A message that is nothing but markup (`---`, an image without alt text) keeps its
 * characters rather than giving an empty title.
 */
export function conversationTitle(content: string, maxChars = CONVERSATION_TITLE_MAX_CHARS): string {
  const text = stripMarkdown(content) || collapse(content);
  return truncate(text, maxChars);
}

function truncate(text: string, maxChars: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  const head = chars.slice(0, maxChars - 1).join('');
  const space = head.lastIndexOf(' ');
  // Cut at the last word boundary unless that throws away most of the room.
  const cut = space >= head.length * 0.6 ? head.slice(0, space) : head;
  return `${cut.trimEnd()}…`;
}
