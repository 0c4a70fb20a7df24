import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CONVERSATION_TITLE_MAX_CHARS, conversationTitle, isPlainText, parsedText, stripMarkdown } from './conversation-title.ts';

describe('stripMarkdown', () => {
  it('skips the parse only for text the parse gives back unchanged (any mix of words, digits, punctuation, spaces and lines)', () => {
    const pieces = [
      'word',
      'Hello',
      ' ',
      '  ',
      '\n',
      '\n\n',
      '\t',
      '    ',
      '1',
      '42',
      '.',
      ',',
      '?',
      '!',
      ':',
      ';',
      '(',
      ')',
      "'",
      '"',
      '/',
      '-',
      '+',
      '=',
      '$',
      '%',
      '@',
      'é',
      '😀',
      'https://x.test/a',
    ];
    const text = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((parts) => parts.join(''));
    let plain = 0;
    fc.assert(
      fc.property(text, (s) => {
        if (!isPlainText(s)) return;
        plain++;
        expect(stripMarkdown(s)).toBe(parsedText(s));
      }),
      { numRuns: 3000 },
    );
    expect(plain).toBeGreaterThan(300);
    // Markup is never taken for plain text.
    // 'word\n:-' is a one-column table to GFM (found by this property on 2026-12-06, seed -232139115).
    for (const s of [
      '1. first',
      'Title\n===',
      '- item',
      '> quote',
      'a **b**',
      'a `b`',
      '[a](b)',
      'a &amp; b',
      'x | y',
      '# h',
      'a\\\nb',
      'word\n:-',
      'word\n :--:',
    ])
      expect(isPlainText(s)).toBe(false);
  });

  it('drops emphasis, code, heading and link syntax but keeps the words', () => {
    expect(stripMarkdown('# How do I use **`useEffect`** with _async_ code?')).toBe('How do I use useEffect with async code?');
    expect(stripMarkdown('Read [the guide](https://example.com/guide "Guide") and ~~ignore~~ the rest')).toBe('Read the guide and ignore the rest');
    expect(stripMarkdown('See <https://example.com> or [docs][1]\n\n[1]: https://example.com/docs')).toBe('See https://example.com or docs');
  });

  it('joins blocks, list items, quotes and table cells with spaces', () => {
    expect(stripMarkdown('Compare these:\n\n- [ ] first\n- [x] **second**\n\n> quoted\nline')).toBe('Compare these: first second quoted line');
    expect(stripMarkdown('| a | b |\n|---|---|\n| 1 | 2 |')).toBe('a b 1 2');
    expect(stripMarkdown('Line one  \nline two')).toBe('Line one line two');
  });

  it('keeps characters that are not markup where they stand', () => {
    expect(stripMarkdown('Is 2 * 3 * 4 = 24? Set MY_API_KEY and snake_case_name')).toBe('Is 2 * 3 * 4 = 24? Set MY_API_KEY and snake_case_name');
    expect(stripMarkdown('\\*not emphasis\\* and a <div> tag')).toBe('*not emphasis* and a <div> tag');
    expect(stripMarkdown('Why does\n```js\nconsole.log(1)\n```\nprint 1?')).toBe('Why does console.log(1) print 1?');
  });

  it('takes one tilde as "about", two as strikethrough (as the reply renderer does)', () => {
    expect(stripMarkdown('Why ~5 min to ~10 min and ~~not~~ less?')).toBe('Why ~5 min to ~10 min and not less?');
  });

  it('keeps the alt text of an image, never its address', () => {
    expect(stripMarkdown('What is in ![a red chart](https://x.test/c.png)?')).toBe('What is in a red chart?');
  });
});

describe('conversationTitle', () => {
  it('is the stripped text of the first message', () => {
    expect(conversationTitle('**Write** a `fizzbuzz` in _Python_')).toBe('Write a fizzbuzz in Python');
  });

  it('cuts long messages at a word boundary with an ellipsis', () => {
    const title = conversationTitle(`**Explain** ${'metering tokens '.repeat(20)}`);
    expect(Array.from(title).length).toBeLessThanOrEqual(CONVERSATION_TITLE_MAX_CHARS);
    expect(title.endsWith('…')).toBe(true);
    expect(title).toMatch(/^Explain metering tokens .* tokens…$/);
    expect(title).not.toContain('**');
  });

  it('cuts a word longer than the room and never splits a surrogate pair', () => {
    const title = conversationTitle('😀'.repeat(100));
    expect(Array.from(title)).toHaveLength(CONVERSATION_TITLE_MAX_CHARS);
    expect(title).toBe(`${'😀'.repeat(CONVERSATION_TITLE_MAX_CHARS - 1)}…`);
  });

  it('keeps the characters of a message that is nothing but markup', () => {
    expect(conversationTitle('---')).toBe('---');
    expect(conversationTitle('  **  ')).toBe('**');
  });

  it('puts a multi-line message on one line without control characters', () => {
    expect(conversationTitle('first\r\n\r\nsecond\u0007 line\tend')).toBe('first second line end');
  });
});
