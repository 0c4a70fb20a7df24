import { describe, expect, it } from 'vitest';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { inlineHint, limitTitle, noticeKind, serviceTitle } from './chat-errors.ts';

describe('noticeKind', () => {
  it('puts each refusal of chat.send in its place', () => {
    expect(noticeKind('quota_exhausted')).toBe('limit');
    expect(noticeKind('credits_exhausted')).toBe('limit');
    expect(noticeKind('rate_limited')).toBe('wait');
    for (const reason of ['global_cap', 'kill_switch', 'provider_unavailable'] as const) expect(noticeKind(reason)).toBe('service');
    for (const reason of ['input_too_long', 'conversation_too_long', 'model_not_in_plan'] as const) expect(noticeKind(reason)).toBe('inline');
    expect(noticeKind('captcha_required')).toBe('captcha');
    expect(noticeKind('network')).toBe('error');
  });

  it('has an answer for every reason of the contract', () => {
    for (const reason of Object.keys(ERROR_REASONS) as (keyof typeof ERROR_REASONS)[]) expect(noticeKind(reason)).toBeTypeOf('string');
  });
});

describe('titles and hints', () => {
  it('words the banner by reason', () => {
    expect(limitTitle({ reason: 'credits_exhausted' })).toBe('Your credits are used up');
    expect(limitTitle({ reason: 'quota_exhausted' })).toBe('You have reached your limit');
    expect(serviceTitle({ reason: 'kill_switch' })).toBe('Chat is paused');
    expect(serviceTitle({ reason: 'global_cap' })).toBe('Daily capacity reached');
    expect(serviceTitle({ reason: 'provider_unavailable' })).toMatch(/provider/);
  });

  it('offers a sign-up to guests and an upgrade to accounts for long messages', () => {
    expect(inlineHint({ reason: 'input_too_long' }, true)).toMatch(/sign up/);
    expect(inlineHint({ reason: 'input_too_long' }, false)).toMatch(/upgrade/);
    expect(inlineHint({ reason: 'conversation_too_long' }, false)).toMatch(/new conversation/);
    expect(inlineHint({ reason: 'not_found' }, false)).toBeNull();
  });
});
