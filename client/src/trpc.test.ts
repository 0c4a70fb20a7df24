import { describe, expect, it } from 'vitest';
import { isStreamingOperation } from './trpc.ts';

describe('isStreamingOperation', () => {
  it('streams chat.send and calls that ask for it', () => {
    expect(isStreamingOperation({ path: 'chat.send', context: {} })).toBe(true);
    expect(isStreamingOperation({ path: 'some.other', context: { stream: true } })).toBe(true);
  });

  it('keeps cookie-setting auth calls on the plain batch link', () => {
    for (const path of ['auth.signUp', 'auth.signIn', 'auth.guest', 'auth.verifyMagicLink', 'auth.me']) {
      expect(isStreamingOperation({ path, context: {} })).toBe(false);
    }
  });
});
