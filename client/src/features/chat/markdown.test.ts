import { describe, expect, it } from 'vitest';
import { closeOpenMarks, inlineText, parseInline, parseMarkdown } from './markdown.ts';

describe('parseMarkdown', () => {
  it('reads paragraphs, headings, lists, quotes and fenced code', () => {
    const blocks = parseMarkdown('# Title\n\nFirst line\nsecond line\n\n- one\n- **two**\n\n1. a\n2. b\n\n> quoted\n\n```ts\nconst x = 1;\n```\n');
    expect(blocks.map((b) => b.type)).toEqual(['heading', 'paragraph', 'list', 'list', 'quote', 'code']);
    expect(blocks[2]).toMatchObject({ type: 'list', ordered: false, items: [[{ type: 'text', text: 'one' }], [{ type: 'strong', children: [{ type: 'text', text: 'two' }] }]] });
    expect(blocks[3]).toMatchObject({ type: 'list', ordered: true, start: 1 });
    expect(blocks[5]).toEqual({ type: 'code', lang: 'ts', text: 'const x = 1;', open: false });
  });

  it('treats an unclosed fence as code so far (a reply still streaming)', () => {
    expect(parseMarkdown('Here:\n\n```python\ndef f():\n    return 1')).toEqual([
      { type: 'paragraph', children: [{ type: 'text', text: 'Here:' }] },
      { type: 'code', lang: 'python', text: 'def f():\n    return 1', open: true },
    ]);
  });

  it('keeps markup inside code as text', () => {
    const [block] = parseMarkdown('```\n**not bold** <b>x</b>\n```');
    expect(block).toMatchObject({ type: 'code', text: '**not bold** <b>x</b>' });
  });
});

describe('parseInline', () => {
  it('reads code, bold, italic and http(s) links', () => {
    expect(parseInline('Use `npm test`, **really**, *now* or _later_: [docs](https://example.com/x).')).toEqual([
      { type: 'text', text: 'Use ' },
      { type: 'code', text: 'npm test' },
      { type: 'text', text: ', ' },
      { type: 'strong', children: [{ type: 'text', text: 'really' }] },
      { type: 'text', text: ', ' },
      { type: 'em', children: [{ type: 'text', text: 'now' }] },
      { type: 'text', text: ' or ' },
      { type: 'em', children: [{ type: 'text', text: 'later' }] },
      { type: 'text', text: ': ' },
      { type: 'link', href: 'https://example.com/x', children: [{ type: 'text', text: 'docs' }] },
      { type: 'text', text: '.' },
    ]);
  });

  it('leaves underscores inside words alone, also within emphasis', () => {
    expect(parseInline('set OPENAI_API_KEY now')).toEqual([{ type: 'text', text: 'set OPENAI_API_KEY now' }]);
    const [em] = parseInline('_(Set OPENAI_API_KEY to chat.)_');
    expect(em).toEqual({ type: 'em', children: [{ type: 'text', text: '(Set OPENAI_API_KEY to chat.)' }] });
  });

  it('never makes a link of another scheme', () => {
    expect(inlineText(parseInline('[x](javascript:alert(1))'))).toBe('[x](javascript:alert(1))');
    expect(parseInline('[x](javascript:alert(1))').some((n) => n.type === 'link')).toBe(false);
  });
});

describe('closeOpenMarks', () => {
  it('closes a bold or code span cut short', () => {
    expect(closeOpenMarks('A version of **Write a')).toBe('A version of **Write a**');
    expect(closeOpenMarks('Run `npm')).toBe('Run `npm`');
    expect(closeOpenMarks('**done** and more')).toBe('**done** and more');
  });

  it('leaves an open code fence to the parser', () => {
    expect(closeOpenMarks('```py\nx = 2 ** 3')).toBe('```py\nx = 2 ** 3');
  });
});
