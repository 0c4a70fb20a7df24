import { describe, expect, it } from 'vitest';
import { replyNote } from './reply-notes.ts';

describe('replyNote', () => {
  it('says which tools the model tried to call, with or without text', () => {
    expect(replyNote({ text: '', finishReason: 'tool_calls', toolCalls: ['get_weather'] })).toBe(
      'The model tried to call a tool (get_weather), which ChatMeter does not offer.',
    );
    expect(replyNote({ text: 'Let me check.', finishReason: 'tool_calls', toolCalls: ['a', 'b'] })).toBe(
      'The model tried to call tools (a, b), which ChatMeter does not offer.',
    );
    const many = replyNote({ text: '', finishReason: 'tool_calls', toolCalls: ['t1', 't2', 't3', 't4', 't5', 't6', 'x'.repeat(100)] })!;
    expect(many).toBe('The model tried to call tools (t1, t2, t3, t4, t5 and 2 more), which ChatMeter does not offer.');
    expect(replyNote({ text: '', finishReason: 'tool_calls', toolCalls: ['y'.repeat(100)] })).toContain(`(${'y'.repeat(64)}…)`);
  });

  it('explains a reply without text', () => {
    expect(replyNote({ text: '', finishReason: 'length', toolCalls: [] })).toBe('The model reached its length limit before writing any text.');
    expect(replyNote({ text: ' \n', finishReason: 'content_filter', toolCalls: [] })).toBe("The provider's content filter stopped this reply.");
    expect(replyNote({ text: '', finishReason: 'stop', toolCalls: [] })).toBe('The model sent an empty reply.');
    expect(replyNote({ text: '', finishReason: undefined, toolCalls: [] })).toBe('The model sent an empty reply.');
  });

  it('adds nothing to an ordinary reply', () => {
    expect(replyNote({ text: 'Hello.', finishReason: 'stop', toolCalls: [] })).toBeUndefined();
    expect(replyNote({ text: 'Cut he', finishReason: 'length', toolCalls: [] })).toBeUndefined();
  });
});
