import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { closeOpenMarks, isHighlighted, safeUrl } from './markdown.ts';
import { MarkdownView, type MarkdownViewProps } from './markdown-view.tsx';

const render = (text: string, props: Omit<MarkdownViewProps, 'text'> = {}) => renderToStaticMarkup(createElement(MarkdownView, { text, ...props }));

/** What a reader sees: the markup without its tags, entities decoded. */
const visible = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&');

describe('MarkdownView: GitHub Flavored Markdown', () => {
  it('renders a table, scrollable inside the reply', () => {
    const html = render('| Plan | Messages |\n| :--- | ---: |\n| Free | **20** |\n| Pro | 500 |');
    expect(html).toContain('<div class="md__table" role="group" aria-label="Table" tabindex="0"><table>');
    expect(html).toMatch(/<th style="text-align:left">Plan<\/th>/);
    expect(html).toMatch(/<td style="text-align:right"><strong>20<\/strong><\/td>/);
    expect(html.match(/<tr>/g)).toHaveLength(3);
  });

  it('renders task lists as read-only, named checkboxes', () => {
    const html = render('- [x] write tests\n- [ ] ship');
    expect(html).toContain('class="contains-task-list"');
    expect(html).toMatch(/<input type="checkbox" disabled="" aria-label="Done" checked=""\/> write tests/);
    expect(html).toMatch(/<input type="checkbox" disabled="" aria-label="Not done"\/> ship/);
  });

  it('renders strikethrough, emphasis, inline code and autolinks', () => {
    const html = render('~~old~~ **new** _now_ `x` www.example.com');
    expect(html).toContain('<del>old</del> <strong>new</strong> <em>now</em> <code>x</code>');
    expect(html).toContain('<a href="http://www.example.com/" target="_blank" rel="noopener noreferrer nofollow">www.example.com</a>');
  });

  it('strikes through only with two tildes: one means "about"', () => {
    expect(render('It takes ~5 min to ~10 min, ~~not an hour~~.')).toBe('<div class="md"><p>It takes ~5 min to ~10 min, <del>not an hour</del>.</p></div>');
  });

  it('keeps underscores inside words', () => {
    expect(visible(render('set OPENAI_API_KEY and _(Set OPENAI_API_KEY to chat.)_'))).toBe('set OPENAI_API_KEY and (Set OPENAI_API_KEY to chat.)');
  });

  it('shows headings as styled paragraphs, not page outline', () => {
    const html = render('# Title\n\n#### Small');
    expect(html).toContain('<p class="md__heading md__heading--1">Title</p>');
    expect(html).toContain('<p class="md__heading md__heading--3">Small</p>');
    expect(html).not.toMatch(/<h\d/);
  });
});

describe('MarkdownView: code blocks', () => {
  it('highlights a registered language with highlight.js classes, under a bar with a copy button', () => {
    const html = render('```ts\nconst answer: number = 42; // why\n```');
    expect(html).toContain(
      '<div class="md__code"><div class="md__code-bar"><span>ts</span><button type="button" class="md__copy" aria-label="Copy ts">Copy</button></div>',
    );
    expect(html).toContain('<code class="hljs language-ts">');
    expect(html).toContain('<span class="hljs-keyword">const</span>');
    expect(html).toContain('<span class="hljs-number">42</span>');
    expect(html).toContain('<span class="hljs-comment">// why</span>');
  });

  it('leaves code in an unknown or missing language plain, and markup inside code as text', () => {
    const html = render('```brainfuck\n+[>+<-]\n```\n\n```\n**not bold** <b>x</b>\n```');
    expect(html).toContain('<code class="language-brainfuck">+[&gt;+&lt;-]\n</code>');
    expect(html).toContain('<span>code</span>');
    expect(html).toContain('<code>**not bold** &lt;b&gt;x&lt;/b&gt;\n</code>');
    expect(html).not.toContain('hljs');
  });

  it('registers common languages with their aliases only', () => {
    for (const name of [
      'js',
      'typescript',
      'tsx',
      'py',
      'python',
      'sh',
      'bash',
      'json',
      'html',
      'css',
      'sql',
      'go',
      'rs',
      'java',
      'yml',
      'diff',
      'cs',
      'cpp',
    ]) {
      expect(isHighlighted(name), name).toBe(true);
    }
    for (const name of ['brainfuck', 'cobol', 'haskell']) expect(isHighlighted(name), name).toBe(false);
  });
});

describe('MarkdownView: safety', () => {
  it('shows raw HTML as text and never creates its elements', () => {
    const html = render('Hi <b>bold</b> <script>alert(1)</script>\n\n<img src="x" onerror="alert(2)">\n\n<iframe src="https://evil.test"></iframe>');
    expect(html).not.toMatch(/<(b|script|img|iframe)[\s>]/);
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;');
    expect(visible(html)).toContain('<script>alert(1)</script>');
    expect(visible(html)).toContain('<img src="x" onerror="alert(2)">');
  });

  it('refuses links that are not http(s): their text stays, no href', () => {
    const html = render(
      '[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,<b>x</b>) [d](vbscript:x) [e](/admin) [f](//evil.test/x) <javascript:alert(3)> [g](mailto:help@example.com)',
    );
    expect(html).not.toMatch(/href=/);
    expect(html).toContain('<span class="md__link-refused">a</span>');
    expect(html).toContain('<span class="md__link-refused">f</span>');
    expect(html).toContain('<span class="md__link-refused">g</span>');
  });

  it('keeps http and https links, opened in a new tab without opener', () => {
    const html = render('[x](https://example.com/a?b=1) [y](http://example.com)');
    expect(html).toContain('<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">x</a>');
    expect(html).toContain('<a href="http://example.com/" target="_blank"');
  });

  it('never loads images: their alt text is shown, even inside a link', () => {
    const html = render('![a chart](https://tracker.test/pixel.png) [![logo](https://x.test/l.png)](https://example.com) ![](https://x.test/n.png)');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('tracker.test');
    expect(html).toContain('<span class="md__image">[image: a chart]</span>');
    expect(html).toContain(
      '<a href="https://example.com/" target="_blank" rel="noopener noreferrer nofollow"><span class="md__image">[image: logo]</span></a>',
    );
    expect(html).toContain('<span class="md__image">[image]</span>');
  });

  it('safeUrl allows only absolute http(s) addresses', () => {
    expect(safeUrl('https://example.com')).toBe('https://example.com/');
    expect(safeUrl(' http://example.com/x ')).toBe('http://example.com/x');
    for (const url of [
      'mailto:a@b.test',
      'javascript:alert(1)',
      '\tjavascript:alert(1)',
      'java\nscript:alert(1)',
      'data:text/html,x',
      'file:///etc/passwd',
      '/relative',
      '//host/x',
      'ftp://x.test',
      '',
    ]) {
      expect(safeUrl(url), url).toBeNull();
    }
  });
});

describe('MarkdownView: streaming', () => {
  it('puts the caret after the last character, inside the innermost last block', () => {
    expect(render('Hello **there**', { streaming: true })).toContain('<p>Hello <strong>there<span class="caret" aria-hidden="true"></span></strong></p>');
    expect(render('- a\n- b', { streaming: true })).toContain('<li>b<span class="caret" aria-hidden="true"></span></li>');
    expect(render('| a |\n|---|\n| 1 |', { streaming: true })).toContain('<td>1<span class="caret" aria-hidden="true"></span></td>');
    expect(render('```py\nx = 1', { streaming: true })).toContain(
      'x = <span class="hljs-number">1<span class="caret" aria-hidden="true"></span></span>\n</code></pre>',
    );
    expect(render('', { streaming: true })).toBe('<div class="md"><span class="caret" aria-hidden="true"></span></div>');
    expect(render('Done')).not.toContain('caret');
  });

  it('shows no stray markers for marks still open', () => {
    for (const [text, shown] of [
      ['A version of **Write a', 'A version of Write a'],
      ['Try _this', 'Try this'],
      ['Try *this', 'Try this'],
      ['Run `npm', 'Run npm'],
      ['It is ~~wrong', 'It is wrong'],
      ['See [the docs](https://exa', 'See the docs'],
      ['**Bold** and _ital', 'Bold and ital'],
    ] as const) {
      const html = render(text, { streaming: true });
      expect(visible(html), text).toBe(shown);
    }
  });

  it('renders every prefix of a streamed reply without stray emphasis markers', () => {
    const reply = 'Some **bold words**, an _italic phrase_, ~~struck text~~ and `inline code` end here.';
    for (let i = 1; i <= reply.length; i++) {
      const shown = visible(render(reply.slice(0, i), { streaming: true }));
      expect(shown, reply.slice(0, i)).not.toMatch(/\*|_|~|`/);
    }
  });

  it('renders every prefix of a reply with a code block and a table without stray fences or pipes', () => {
    const reply = 'Intro:\n\n- [x] first\n- [ ] second\n\n```ts\nconst a = 2 * 3;\n```\n\n| Plan | Price |\n| --- | --- |\n| Pro | $10 |\n\nAfter **that**.';
    for (let i = 1; i <= reply.length; i++) {
      const html = render(reply.slice(0, i), { streaming: true });
      const shown = visible(html);
      expect(shown, reply.slice(0, i)).not.toMatch(/`|~|\*\*|\||\[/);
      // Once the code has begun, the 2 * 3 inside it is code, not a marker.
      if (i > reply.indexOf('const')) expect(html, reply.slice(0, i)).toContain('<code class="hljs language-ts">');
    }
  });
});

describe('closeOpenMarks', () => {
  it('closes bold, italic, code and strikethrough cut short', () => {
    expect(closeOpenMarks('A version of **Write a')).toBe('A version of **Write a**');
    expect(closeOpenMarks('Try _this')).toBe('Try _this_');
    expect(closeOpenMarks('Run `npm')).toBe('Run `npm`');
    expect(closeOpenMarks('It is ~~wrong')).toBe('It is ~~wrong~~');
  });

  it('leaves complete text, words with underscores and an open code fence alone', () => {
    expect(closeOpenMarks('**done** and _more_')).toBe('**done** and _more_');
    expect(closeOpenMarks('set MY_API_KEY now')).toBe('set MY_API_KEY now');
    expect(closeOpenMarks('```py\nx = 2 ** 3')).toBe('```py\nx = 2 ** 3');
  });

  it('holds back markup whose meaning is not known yet: a bare opener, a half-written fence, a table before its delimiter row', () => {
    expect(closeOpenMarks('Some *')).toBe('Some');
    expect(closeOpenMarks('Here:\n\n``')).toBe('Here:\n\n');
    expect(closeOpenMarks('```py\nx = 1\n``')).toBe('```py\nx = 1\n');
    expect(closeOpenMarks('Plans:\n\n| Plan | Price |\n| --- | -')).toBe('Plans:\n');
    expect(closeOpenMarks('| Plan | Price |\n| --- | --- |\n| Pro | $1')).toBe('| Plan | Price |\n| --- | --- |\n| Pro | $1');
    expect(closeOpenMarks('2 * 3 = 6')).toBe('2 * 3 = 6');
    expect(closeOpenMarks('Steps:\n\n- [x] one\n- [ ]')).toBe('Steps:\n\n- [x] one\n-');
    expect(closeOpenMarks('- [')).toBe('-');
    expect(closeOpenMarks('- [x] done')).toBe('- [x] done');
  });

  it('keeps only the text of a link cut short (no made-up address)', () => {
    expect(closeOpenMarks('See [the docs](https://exa')).not.toContain('https://exa');
    expect(closeOpenMarks('See [the docs](https://exa')).toContain('the docs');
  });
});
