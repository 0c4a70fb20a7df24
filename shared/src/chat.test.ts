import { describe, expect, it } from 'vitest';
import { SNIPPET_MATCH_END as E, SNIPPET_MATCH_START as S, splitSnippet, ZRenameConversationInput } from './chat.ts';

describe('splitSnippet', () => {
  it('splits plain and matched parts in order', () => {
    expect(splitSnippet(`a ${S}walrus${E} and ${S}tusks${E}`)).toEqual([
      { text: 'a ', match: false },
      { text: 'walrus', match: true },
      { text: ' and ', match: false },
      { text: 'tusks', match: true },
    ]);
  });

  it('keeps markup as text and survives unbalanced markers', () => {
    expect(splitSnippet('<img src=x onerror=alert(1)>')).toEqual([{ text: '<img src=x onerror=alert(1)>', match: false }]);
    expect(splitSnippet(`${E}x${S}y`)).toEqual([
      { text: 'x', match: false },
      { text: 'y', match: true },
    ]);
    expect(splitSnippet('')).toEqual([]);
  });
});

describe('ZRenameConversationInput', () => {
  const id = '0b7c2f64-5f0e-4b59-9a51-3f9f1d4c8e21';
  it('folds control characters into spaces and trims', () => {
    expect(ZRenameConversationInput.parse({ conversationId: id, title: '  a\n\tb ' })).toEqual({ conversationId: id, title: 'a b' });
  });
  it('refuses a title that is empty once cleaned, or too long', () => {
    expect(ZRenameConversationInput.safeParse({ conversationId: id, title: '\u0001\n ' }).success).toBe(false);
    expect(ZRenameConversationInput.safeParse({ conversationId: id, title: 'x'.repeat(121) }).success).toBe(false);
  });
});
