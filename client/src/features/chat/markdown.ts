// What the reply renderer (markdown-view.tsx) needs besides react-markdown itself: the
// streaming fix-up, the URL policy and two small rehype steps (syntax highlighting with a
// chosen set of languages, the streaming caret). Loaded only with the Markdown view.
import type { Element, ElementContent, Root, RootContent } from 'hast';
import type { LanguageFn } from 'highlight.js';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import kotlin from 'highlight.js/lib/languages/kotlin';
import markdown from 'highlight.js/lib/languages/markdown';
import php from 'highlight.js/lib/languages/php';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import swift from 'highlight.js/lib/languages/swift';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { createLowlight } from 'lowlight';
import remend, { isWithinCodeBlock, type RemendHandler } from 'remend';

/**
 * A reply cut short (still streaming, or stopped) may end inside `**bold`, `_italic`,
 * `` `code ``, `~~struck` or `[a link](http...`: close what is open so no marker shows
 * as a stray character. An open code fence needs nothing: CommonMark runs it to the end.
 * Incomplete links keep only their text (no made-up address), math is not ours.
 */
export function closeOpenMarks(text: string): string {
  return remend(text, { linkMode: 'text-only', katex: false, inlineKatex: false, handlers: [DROP_BARE_OPENER] });
}

// Markup whose meaning is not known yet waits for the next characters instead of showing
// as stray characters: the first half of an opener with nothing after it (`Some *`,
// `a ~`, "``" of a fence, the box of a task list item), and a table whose header or delimiter row is not complete
// (until then GFM reads it as a paragraph full of pipes).
const DROP_BARE_OPENER: RemendHandler = {
  name: 'drop-bare-opener',
  priority: 1,
  handle: (text) => {
    // Inside code only a closing fence being written is markup.
    if (isWithinCodeBlock(text, text.length)) return text.replace(/\n[ \t]{0,3}(?:`+|~+)$/, '\n');
    const blockStart = text.lastIndexOf('\n\n') + 1;
    const block = text.slice(blockStart).replace(/^\n/, '');
    // A table needs its header row, its delimiter row and the line break that ends it.
    if (/^ {0,3}\|/.test(block) && block.split('\n').length < 3) return text.slice(0, blockStart);
    return (
      text
        // A task list box with no words after it yet reads as the text "[ ]".
        .replace(/(^|\n)([ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+)\[[ xX]?\]?[ \t]*$/, '$1$2')
        .replace(/(^|\s)[*_~`]+$/, '$1')
    );
  },
};

const ALLOWED_PROTOCOLS = new Set(['http:', 'https:']);

/**
 * The only addresses a reply may link to: absolute http(s) URLs. Anything else
 * (javascript:, data:, vbscript:, mailto:, relative paths that would act inside the app,
 * protocol-relative `//host`) gives null, and the link is shown as its text.
 */
export function safeUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return null;
  }
  return ALLOWED_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

// The languages replies mostly use. Each grammar brings its own aliases (ts, js, py, sh,
// html, yml, rs, golang, cs, ...). Others show as plain code: the whole highlight.js set
// would weigh several times more.
const LANGUAGES: Record<string, LanguageFn> = {
  bash,
  c,
  cpp,
  csharp,
  css,
  diff,
  dockerfile,
  go,
  ini,
  java,
  javascript,
  json,
  kotlin,
  markdown,
  php,
  python,
  ruby,
  rust,
  shell,
  sql,
  swift,
  typescript,
  xml,
  yaml,
};

const lowlight = createLowlight(LANGUAGES);
lowlight.registerAlias({ bash: ['shell-session'], typescript: ['typescriptreact'], javascript: ['javascriptreact', 'node'] });

export function isHighlighted(language: string): boolean {
  return lowlight.registered(language);
}

/** The `language-x` of a fenced block's `<code>`, if any. */
export function codeLanguage(code: Element): string | undefined {
  const classes = code.properties.className;
  if (!Array.isArray(classes)) return undefined;
  for (const name of classes) {
    if (typeof name === 'string' && name.startsWith('language-')) return name.slice('language-'.length);
  }
  return undefined;
}

/** The text of a hast node (what the copy button copies). */
export function hastText(node: Root | RootContent | ElementContent): string {
  if (node.type === 'text') return node.value;
  if (node.type === 'element' || node.type === 'root') return node.children.map(hastText).join('');
  return '';
}

/** The `<code>` inside a fenced block's `<pre>`. */
export function codeOfPre(pre: Element): Element | undefined {
  return pre.children.find((child): child is Element => child.type === 'element' && child.tagName === 'code');
}

function walk(node: Root | Element, visit: (element: Element) => void): void {
  for (const child of node.children) {
    if (child.type !== 'element') continue;
    visit(child);
    walk(child, visit);
  }
}

/**
 * A rehype step: fenced code whose language is registered becomes highlight.js spans
 * (`hljs-keyword`, `hljs-string`, ...); other code stays plain text. No guessing of the
 * language: a wrong guess colours prose as code, and it costs time on every delta.
 */
export function rehypeHighlightCode() {
  return (tree: Root) => {
    walk(tree, (pre) => {
      if (pre.tagName !== 'pre') return;
      const code = codeOfPre(pre);
      const language = code && codeLanguage(code);
      if (!code || !language || !lowlight.registered(language)) return;
      const result = lowlight.highlight(language, hastText(code));
      const classes = Array.isArray(code.properties.className) ? code.properties.className : [];
      code.properties.className = ['hljs', ...classes];
      code.children = result.children as ElementContent[];
    });
  };
}

// Elements that cannot hold the caret: void ones, and table parts where a span is invalid.
const NO_CARET = new Set(['br', 'hr', 'img', 'input']);
const TABLE_PARTS = new Set(['table', 'thead', 'tbody', 'tfoot', 'tr']);

/**
 * A rehype step for a reply still streaming: the blinking caret goes after the last
 * character, inside the innermost last element (the paragraph, list item, table cell or
 * code being written), as the hand-written renderer did.
 */
export function rehypeCaret() {
  return (tree: Root) => {
    let parent: Root | Element = tree;
    for (;;) {
      const last: RootContent | undefined = parent.children.findLast((child: RootContent) => !(child.type === 'text' && child.value.trim() === ''));
      if (last?.type !== 'element' || NO_CARET.has(last.tagName)) break;
      parent = last;
    }
    // A table with no cells yet (cannot happen with GFM, which needs a header row): no caret.
    if (parent.type === 'element' && TABLE_PARTS.has(parent.tagName)) return;
    const caret: Element = { type: 'element', tagName: 'span', properties: { className: ['caret'], ariaHidden: 'true' }, children: [] };
    (parent.children as RootContent[]).push(caret);
  };
}
