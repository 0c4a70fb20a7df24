import { describe, expect, it } from 'vitest';
import { ERROR_REASONS } from '@chatmeter/shared/errors';
import { describeLimitReset, formatDuration, inlineHint, limitRemedy, limitTitle, noticeKind, serviceTitle } from './chat-errors.ts';

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

describe('the limit that refused and its real wait', () => {
  const now = new Date('2026-12-05T18:48:00Z');

  it('names the limit in the title', () => {
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'messagesPerDay' })).toBe("Today's messages are used up");
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'messagesPerHour' })).toBe("This hour's messages are used up");
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'tokensPerMonth' })).toBe("This period's tokens are used up");
    expect(limitTitle({ reason: 'credits_exhausted', limit: 'credits' })).toBe('Your credits are used up');
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'somethingNew' })).toBe('You have reached your limit');
  });

  it('names the dollar limits: the plan cap, the own limit and the service caps', () => {
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'costPerMonth' })).toBe("Your plan's monthly cost cap is reached");
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'personalSpendLimit' })).toBe('Your own monthly spending limit is reached');
    expect(limitTitle({ reason: 'quota_exhausted', limit: 'constructor' })).toBe('You have reached your limit');
    expect(serviceTitle({ reason: 'global_cap', limit: 'globalCostPerDay' })).toBe("The service's daily spending cap is reached");
    expect(serviceTitle({ reason: 'global_cap', limit: 'globalCostPerMonth' })).toBe("The service's monthly spending cap is reached");
    expect(serviceTitle({ reason: 'global_cap', limit: 'globalTokensPerDay' })).toBe('Daily capacity reached');
    expect(serviceTitle({ reason: 'global_cap', limit: 'toString' })).toBe('Daily capacity reached');
  });

  it('offers what helps: the own limit is changed on the Usage tab, a plan cap is passed with credits', () => {
    expect(limitRemedy({ reason: 'quota_exhausted', limit: 'personalSpendLimit' })).toBe('limit');
    expect(limitRemedy({ reason: 'quota_exhausted', limit: 'costPerMonth' })).toBe('topUp');
    expect(limitRemedy({ reason: 'credits_exhausted', limit: 'credits' })).toBe('topUp');
    expect(limitRemedy({ reason: 'quota_exhausted', limit: 'messagesPerDay' })).toBe('upgrade');
    expect(limitRemedy({ reason: 'quota_exhausted' })).toBe('upgrade');
  });

  it('gives the wait to the reset, in UTC: the day ends at midnight, not in 29 minutes', () => {
    expect(describeLimitReset(new Date('2026-12-06T00:00:00Z'), now)).toBe('Resets at 00:00 UTC (in 5 h 12 min)');
    expect(describeLimitReset(new Date('2026-12-05T19:00:00Z'), now)).toBe('Resets at 19:00 UTC (in 12 min)');
    expect(describeLimitReset(new Date('2027-01-01T00:00:00Z'), now)).toBe('Resets on 1 Jan at 00:00 UTC (in 26 d 5 h)');
  });

  it('formats durations without rounding a wait away', () => {
    expect(formatDuration(new Date(now.getTime() + 45_000), now)).toBe('45 s');
    expect(formatDuration(new Date(now.getTime() + 500), now)).toBe('1 s');
    expect(formatDuration(new Date(now.getTime() + 2 * 3600_000), now)).toBe('2 h');
    expect(formatDuration(new Date(now.getTime() + 3 * 86_400_000), now)).toBe('3 d');
  });
});
