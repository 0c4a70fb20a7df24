import { describe, expect, it } from 'vitest';
import type { LimitName } from '@chatmeter/shared/errors';
import { formatMicroUsd } from '@chatmeter/shared/money';
import {
  applyChatEvent,
  closeSpeech,
  continuableReplyId,
  describeBudgetFit,
  describeEnding,
  describeSpeech,
  describeUsage,
  describeVersion,
  endTurn,
  isInterrupted,
  isTurnActive,
  limitInWords,
  mergeServerMessages,
  messagesBeforeBranch,
  newTurn,
  replyUsageOf,
  retryTarget,
  turnsFor,
  type ServerMessage,
} from './chat-state.ts';
import { describeVoiceCost } from '../tts/voice-state.ts';

const start = {
  type: 'start',
  conversationId: 'c1',
  messageId: 'a1',
  userMessageId: 'u1',
  model: 'demo',
  demo: true,
  maxTokens: 512,
} as const;

describe('applyChatEvent', () => {
  it('follows a reply from start through deltas to done', () => {
    let turn = newTurn('t1', 'Hello?', null, 'demo');
    expect(turn.phase).toBe('sending');
    expect(turn.startedNew).toBe(true);
    turn = applyChatEvent(turn, start);
    expect(turn).toMatchObject({ phase: 'streaming', conversationId: 'c1', userMessageId: 'u1', assistantMessageId: 'a1', demo: true });
    turn = applyChatEvent(turn, { type: 'delta', text: 'Hi ' });
    turn = applyChatEvent(turn, { type: 'delta', text: 'there.' });
    expect(turn.text).toBe('Hi there.');
    expect(isTurnActive(turn)).toBe(true);
    const usage = { promptTokens: 10, completionTokens: 3, totalTokens: 13, costMicroUsd: 4, estimated: false };
    turn = applyChatEvent(turn, { type: 'done', usage, status: 'ok', cached: false, finishReason: 'stop', limitedBy: null, degradedFrom: null });
    expect(turn).toMatchObject({ phase: 'done', usage, status: 'ok', cached: false });
    expect(isTurnActive(turn)).toBe(false);
  });

  it('keeps the partial text when stopped, and does not undo a finished reply', () => {
    let turn = applyChatEvent(applyChatEvent(newTurn('t1', 'x', 'c1', null), start), { type: 'delta', text: 'Part' });
    expect(turn.startedNew).toBe(false);
    turn = endTurn(turn, { stopped: true });
    expect(turn).toMatchObject({ phase: 'stopped', text: 'Part', status: 'aborted' });
    const done = applyChatEvent(turn, {
      type: 'done',
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2, costMicroUsd: 1, estimated: true },
      status: 'ok',
      cached: false,
      finishReason: 'stop',
      limitedBy: null,
      degradedFrom: null,
    });
    expect(endTurn(done, { stopped: true }).phase).toBe('done');
  });

  it('records a broken stream with its error', () => {
    const error = { reason: 'provider_unavailable' as const, message: 'The AI provider is unavailable right now.', fieldErrors: {} };
    const turn = endTurn(applyChatEvent(newTurn('t1', 'x', 'c1', null), start), { error });
    expect(turn).toMatchObject({ phase: 'failed', error });
  });
});

describe('a reply that had to fit the budget', () => {
  const usage = { promptTokens: 10, completionTokens: 64, totalTokens: 74, costMicroUsd: 40, estimated: false };
  const finished = (limitedBy: LimitName | null, degradedFrom: string | null, model = 'demo') =>
    applyChatEvent(applyChatEvent(newTurn('t', 'x', 'c1', null), { ...start, model, maxTokens: 64 }), {
      type: 'done',
      usage,
      status: 'ok',
      cached: false,
      finishReason: 'length',
      limitedBy,
      degradedFrom,
    });

  it('keeps limitedBy and degradedFrom from done', () => {
    expect(finished('costPerMonth', 'gpt-4o', 'gpt-4o-mini')).toMatchObject({ limitedBy: 'costPerMonth', degradedFrom: 'gpt-4o', model: 'gpt-4o-mini' });
    expect(newTurn('t2', 'x', null, null)).toMatchObject({ limitedBy: null, degradedFrom: null });
  });

  it('says which limit shortened the reply, in words', () => {
    expect(describeBudgetFit(finished('costPerMonth', null))).toEqual(["Shortened to fit your remaining allowance (your plan's monthly cost cap)"]);
    expect(describeBudgetFit(finished('personalSpendLimit', null))).toEqual(['Shortened to fit your remaining allowance (your own spending limit)']);
    expect(describeBudgetFit(finished('tokensPerMonth', null))).toEqual(["Shortened to fit your remaining allowance (this month's tokens)"]);
    expect(describeBudgetFit(finished('globalCostPerDay', null))).toEqual(["Shortened to fit your remaining allowance (the service's daily spending cap)"]);
    // A limit this client does not know yet still gets the sentence, without a wrong name.
    expect(describeBudgetFit(finished('messagesPerHour', null))).toEqual(['Shortened to fit your remaining allowance']);
  });

  it('names the model that answered and the one that no longer fits', () => {
    expect(describeBudgetFit(finished(null, 'gpt-4o', 'gpt-4o-mini'))).toEqual(['Answered by gpt-4o-mini — gpt-4o no longer fits your budget']);
    expect(describeBudgetFit(finished('personalSpendLimit', 'gpt-4o', 'gpt-4o-mini'))).toEqual([
      'Answered by gpt-4o-mini — gpt-4o no longer fits your budget',
      'Shortened to fit your remaining allowance (your own spending limit)',
    ]);
    expect(describeBudgetFit(finished(null, null))).toEqual([]);
  });

  it('has words for every limit that can shorten a reply, and none for others', () => {
    for (const limit of ['costPerMonth', 'personalSpendLimit', 'tokensPerMonth', 'credits', 'globalTokensPerDay', 'globalCostPerDay', 'globalCostPerMonth']) {
      expect(limitInWords(limit)).toMatch(/^(your|this|the) /);
    }
    expect(limitInWords('constructor')).toBeNull();
    expect(limitInWords('somethingNew')).toBeNull();
  });
});

describe('turnsFor and mergeServerMessages', () => {
  const at = new Date('2026-11-20T10:00:00Z');
  const msg = (id: string, role = 'user'): ServerMessage => ({ id, role, content: id, model: null, status: 'ok', createdAt: at });

  it('shows the open conversation’s turns, or a new chat’s unstarted ones', () => {
    const a = newTurn('a', 'a', 'c1', null);
    const b = newTurn('b', 'b', null, null);
    expect(turnsFor([a, b], 'c1')).toEqual([a]);
    expect(turnsFor([a, b], null)).toEqual([b]);
  });

  it('lists server pages oldest first without the messages this tab already shows', () => {
    const turn = applyChatEvent(newTurn('t', 'x', 'c1', null), { ...start, userMessageId: 'm4', messageId: 'm5' });
    const pages = [{ items: [msg('m5', 'assistant'), msg('m4'), msg('m3', 'assistant')] }, { items: [msg('m2'), msg('m1', 'assistant'), msg('m2')] }];
    expect(mergeServerMessages(pages, [turn]).map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('how a reply ended', () => {
  const usage = { promptTokens: 10, completionTokens: 3, totalTokens: 13, costMicroUsd: 4, estimated: false };
  const doneWith = (key: string, finishReason: string | null) =>
    applyChatEvent(applyChatEvent(newTurn(key, 'x', 'c1', null), start), {
      type: 'done',
      usage,
      status: 'ok',
      cached: false,
      finishReason,
      limitedBy: null,
      degradedFrom: null,
    });
  const at = new Date('2026-11-20T10:00:00Z');
  const msg = (id: string, role: string, finishReason: string | null = null): ServerMessage => ({
    id,
    role,
    content: id,
    model: null,
    status: 'ok',
    finishReason,
    createdAt: at,
  });

  it('keeps the finish reason from done', () => {
    expect(doneWith('t1', 'length').finishReason).toBe('length');
    expect(newTurn('t2', 'x', null, null).finishReason).toBeNull();
  });

  it('marks cut, refused and filtered replies, and nothing else', () => {
    expect(describeEnding('length')).toMatchObject({ flag: 'Cut off', kind: 'cut' });
    expect(describeEnding('refusal')).toMatchObject({ flag: 'Refused', kind: 'refused' });
    expect(describeEnding('content_filter')).toMatchObject({ flag: 'Filtered', kind: 'filtered' });
    for (const normal of ['stop', 'tool_calls', null, undefined]) expect(describeEnding(normal)).toBeNull();
  });

  it('offers Continue only under the last reply, when it was cut at the length limit', () => {
    expect(continuableReplyId([], [doneWith('t1', 'length')])).toBe('t1');
    expect(continuableReplyId([], [doneWith('t1', 'length'), doneWith('t2', 'stop')])).toBeNull();
    // Still streaming: not yet.
    expect(continuableReplyId([], [applyChatEvent(newTurn('t3', 'x', 'c1', null), start)])).toBeNull();
    // After a reload, from the stored messages.
    expect(continuableReplyId([msg('u1', 'user'), msg('a1', 'assistant', 'length')], [])).toBe('a1');
    expect(continuableReplyId([msg('a1', 'assistant', 'length'), msg('u2', 'user')], [])).toBeNull();
    expect(continuableReplyId([msg('a1', 'assistant', 'refusal')], [])).toBeNull();
  });
});

describe('describeUsage', () => {
  it('lists tokens and cost, and says when estimated or cached', () => {
    const usage = { promptTokens: 1200, completionTokens: 34, totalTokens: 1234, costMicroUsd: 51, estimated: true };
    expect(describeUsage(usage, false, (n) => `$${n}`)).toEqual(['1,234 tokens', '$51', 'estimated']);
    expect(describeUsage({ ...usage, estimated: false }, true, (n) => `$${n}`)).toEqual(['1,234 tokens', '$51', 'cached']);
  });
});

describe('stored usage and Retry', () => {
  const at = new Date('2026-12-05T10:00:00Z');
  const msg = (id: string, role: string, status = 'ok', content = `${id} text`): ServerMessage => ({
    id,
    role,
    content,
    model: role === 'assistant' ? 'demo' : null,
    status,
    createdAt: at,
  });

  it("a stored reply's usage reads like a done event's", () => {
    const usage = replyUsageOf({ promptTokens: 100, completionTokens: 42, costMicroUsd: 51, estimated: true });
    expect(usage.totalTokens).toBe(142);
    expect(describeUsage(usage, false, (m) => `$${m}`)).toEqual(['142 tokens', '$51', 'estimated']);
  });

  it('offers Retry under the last reply when it broke off, with the question before it', () => {
    expect(isInterrupted(msg('a', 'assistant', 'interrupted'))).toBe(true);
    expect(isInterrupted(msg('a', 'assistant', 'error'))).toBe(true);
    expect(isInterrupted(msg('a', 'assistant', 'aborted'))).toBe(false);
    expect(retryTarget([msg('u1', 'user'), msg('a1', 'assistant', 'interrupted')], [])).toEqual({ id: 'a1', content: 'u1 text' });
    expect(retryTarget([msg('u1', 'user'), msg('a1', 'assistant', 'ok')], [])).toBeNull();
    expect(retryTarget([msg('u1', 'user'), msg('a1', 'assistant', 'aborted')], [])).toBeNull();
  });

  it('offers Retry under a last message left without any reply, and under a failed turn', () => {
    expect(retryTarget([msg('u0', 'user'), msg('a0', 'assistant'), msg('u1', 'user')], [])).toEqual({ id: 'u1', content: 'u1 text' });
    const failed = endTurn(newTurn('t1', 'again?', 'c1', null), { error: { reason: 'provider_unavailable', message: 'x', fieldErrors: {} } });
    expect(retryTarget([msg('u1', 'user'), msg('a1', 'assistant', 'interrupted')], [failed])).toEqual({ id: 't1', content: 'again?' });
    const done = applyChatEvent(newTurn('t2', 'fine', 'c1', null), {
      type: 'done',
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2, costMicroUsd: 1, estimated: false },
      status: 'ok',
      cached: false,
      finishReason: 'stop',
      limitedBy: null,
      degradedFrom: null,
    });
    expect(retryTarget([msg('u1', 'user'), msg('a1', 'assistant', 'interrupted')], [done])).toBeNull();
  });
});

describe('versions', () => {
  const at = new Date('2026-12-05T10:00:00Z');
  const m = (id: string, role: string): ServerMessage => ({ id, role, content: id, model: null, status: 'ok', createdAt: at });
  const list = [m('u1', 'user'), m('a1', 'assistant'), m('u2', 'user'), m('a2', 'assistant')];

  it('shows every stored message when no turn regenerates or edits', () => {
    expect(messagesBeforeBranch(list, [newTurn('t', 'x', 'c1', null)])).toBe(list);
  });

  it('while a reply is regenerated, hides it and its question (the turn shows both); while a message is edited, hides it and what followed', () => {
    const regenerate = newTurn('t', 'u2', 'c1', null, at, { kind: 'regenerate', replyId: 'a2' });
    expect(messagesBeforeBranch(list, [regenerate]).map((x) => x.id)).toEqual(['u1', 'a1']);
    const editFirst = newTurn('t', 'new', 'c1', null, at, { kind: 'edit', messageId: 'u1' });
    expect(messagesBeforeBranch(list, [editFirst])).toEqual([]);
    const editSecond = newTurn('t', 'new', 'c1', null, at, { kind: 'edit', messageId: 'u2' });
    expect(messagesBeforeBranch(list, [editSecond]).map((x) => x.id)).toEqual(['u1', 'a1']);
    // A branch point that is not loaded changes nothing.
    expect(messagesBeforeBranch(list, [newTurn('t', 'x', 'c1', null, at, { kind: 'regenerate', replyId: 'elsewhere' })])).toBe(list);
  });

  it('says which version is shown: 2/3 on screen, "Version 2 of 3" to screen readers', () => {
    expect(describeVersion({ index: 1, count: 3 })).toEqual({ short: '2/3', long: 'Version 2 of 3' });
  });
});

describe('a reply read aloud as it streams', () => {
  it('counts the audio and skipped sentences and keeps why speech stopped, only for a turn sent with speak', () => {
    let turn = newTurn('t', 'x', 'c1', null, new Date(), null, true);
    turn = applyChatEvent(turn, { type: 'audio', index: 0, audioUrl: '/audio/a', durationMs: 900, chars: 20 });
    turn = applyChatEvent(turn, { type: 'audio_skipped', index: 1, reason: 'provider_unavailable', message: 'x' });
    turn = applyChatEvent(turn, { type: 'audio_end', index: 2, reason: 'quota_exhausted', limit: 'ttsCharsPerDay', message: 'You have used today’s voice.' });
    expect(turn.speech).toEqual({
      clips: 1,
      costMicroUsd: 0,
      skipped: 1,
      ended: { reason: 'quota_exhausted', limit: 'ttsCharsPerDay', message: 'You have used today’s voice.' },
      over: false,
    });
    expect(closeSpeech(turn).speech?.over).toBe(true);
    expect(describeSpeech(turn.speech)).toEqual(['One sentence could not be read aloud.', 'Reading aloud stopped: You have used today’s voice.']);
    expect(describeVoiceCost(turn.speech?.costMicroUsd, formatMicroUsd)).toBeNull();
    const silent = applyChatEvent(newTurn('u', 'x', 'c1', null), { type: 'audio', index: 0, audioUrl: '/audio/a', durationMs: 1, chars: 1 });
    expect(silent.speech).toBeNull();
    expect(describeSpeech(silent.speech)).toEqual([]);
  });

  it('sums what the sentences cost with a paid engine, for the usage line ("voice $0.0012")', () => {
    let turn = newTurn('t', 'x', 'c1', null, new Date(), null, true);
    turn = applyChatEvent(turn, { type: 'audio', index: 0, audioUrl: '/audio/a', durationMs: 900, chars: 40, costMicroUsd: 494 });
    // A server that leaves the cost out (or a reused clip) adds nothing.
    turn = applyChatEvent(turn, { type: 'audio', index: 1, audioUrl: '/audio/b', durationMs: 900, chars: 40 });
    turn = applyChatEvent(turn, { type: 'audio', index: 2, audioUrl: '/audio/c', durationMs: 900, chars: 60, costMicroUsd: 741 });
    expect(turn.speech).toMatchObject({ clips: 3, costMicroUsd: 1235 });
    expect(describeVoiceCost(turn.speech?.costMicroUsd, formatMicroUsd)).toBe('voice $0.001235');
    expect(describeVoiceCost(turn.speech?.costMicroUsd, (m) => formatMicroUsd(m, { maxFractionDigits: 4 }))).toBe('voice $0.0012');
    expect(describeVoiceCost(0, formatMicroUsd)).toBeNull();
  });
});
