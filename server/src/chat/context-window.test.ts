import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultSafetyMargin, fitContextWindow, promptBudget, type ContextMessage } from './context-window.ts';
import { countMessageTokens, estimatePromptTokens } from './tokens.ts';

const model = 'gpt-4o-mini';
const system = 'You are ChatMeter, a concise assistant.';

function turn(i: number, words = 20): ContextMessage {
  return { role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: ${'lorem ipsum '.repeat(words)}` };
}

const history = Array.from({ length: 40 }, (_, i) => turn(i));
const newMessage: ContextMessage = { role: 'user', content: 'And what about the last point?' };

describe('fitContextWindow', () => {
  it('sends the whole history when it fits', () => {
    const result = fitContextWindow({
      model,
      limits: { contextWindow: 128_000, maxOutputTokens: 16_384 },
      systemPrompt: system,
      history,
      newMessage,
    });
    expect(result.fits).toBe(true);
    expect(result.keptHistory).toBe(40);
    expect(result.droppedHistory).toBe(0);
    expect(result.messages).toEqual([{ role: 'system', content: system }, ...history, newMessage]);
    expect(result.promptTokens).toBe(estimatePromptTokens(model, result.messages));
  });

  it('keeps only the most recent messages that fit, always with system prompt and new message', () => {
    const perMessage = countMessageTokens(model, history[39]!);
    const fixed = estimatePromptTokens(model, [{ role: 'system', content: system }, newMessage]);
    // room for exactly 5 history messages (they all have the same size)
    const budget = fixed + 5 * perMessage + Math.floor(perMessage / 2);
    const result = fitContextWindow({
      model,
      limits: { contextWindow: budget + 1_000, maxOutputTokens: 1_000 },
      safetyMarginTokens: 0,
      reserveOutputTokens: 1_000,
      systemPrompt: system,
      history,
      newMessage,
    });
    expect(result.budgetTokens).toBe(budget);
    expect(result.fits).toBe(true);
    expect(result.keptHistory).toBe(5);
    expect(result.droppedHistory).toBe(35);
    expect(result.messages[0]).toEqual({ role: 'system', content: system });
    expect(result.messages.slice(1, -1)).toEqual(history.slice(35));
    expect(result.messages.at(-1)).toEqual(newMessage);
    expect(result.promptTokens).toBeLessThanOrEqual(budget);
    expect(result.promptTokens).toBe(estimatePromptTokens(model, result.messages));
  });

  it('stops at the first message that does not fit instead of skipping to older, smaller ones', () => {
    const big: ContextMessage = { role: 'assistant', content: 'x '.repeat(5_000) };
    const small: ContextMessage = { role: 'user', content: 'hi' };
    const result = fitContextWindow({
      model,
      limits: { contextWindow: 4_000, maxOutputTokens: 1_000 },
      history: [small, big, small],
      newMessage,
    });
    expect(result.messages).toEqual([small, newMessage]);
    expect(result.keptHistory).toBe(1);
    expect(result.droppedHistory).toBe(2);
  });

  it('reports fits=false when the system prompt and new message alone are too big', () => {
    const huge: ContextMessage = { role: 'user', content: 'word '.repeat(10_000) };
    const result = fitContextWindow({
      model,
      limits: { contextWindow: 8_192, maxOutputTokens: 2_048 },
      systemPrompt: system,
      history,
      newMessage: huge,
    });
    expect(result.fits).toBe(false);
    expect(result.messages).toEqual([{ role: 'system', content: system }, huge]);
    expect(result.keptHistory).toBe(0);
    expect(result.droppedHistory).toBe(40);
  });

  it('applies maxPromptTokens as a cost cap', () => {
    const result = fitContextWindow({
      model,
      limits: { contextWindow: 1_047_576, maxOutputTokens: 32_768 },
      history,
      newMessage,
      maxPromptTokens: 500,
    });
    expect(result.budgetTokens).toBe(500);
    expect(result.promptTokens).toBeLessThanOrEqual(500);
    expect(result.keptHistory).toBeGreaterThan(0);
    expect(result.keptHistory).toBeLessThan(40);
  });

  it('never exceeds the budget and always keeps a contiguous recent tail (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ words: fc.nat(60) }), { maxLength: 30 }),
        fc.integer({ min: 300, max: 6_000 }),
        fc.boolean(),
        (sizes, contextWindow, withSystem) => {
          const h = sizes.map(({ words }, i) => turn(i, words));
          const result = fitContextWindow({
            model,
            limits: { contextWindow, maxOutputTokens: 256 },
            ...(withSystem ? { systemPrompt: system } : {}),
            history: h,
            newMessage,
          });
          const tail = h.slice(h.length - result.keptHistory);
          const expected = [...(withSystem ? [{ role: 'system', content: system }] : []), ...tail, newMessage];
          return (
            JSON.stringify(result.messages) === JSON.stringify(expected) &&
            result.keptHistory + result.droppedHistory === h.length &&
            (!result.fits || result.promptTokens <= result.budgetTokens) &&
            result.promptTokens === estimatePromptTokens(model, result.messages)
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('promptBudget', () => {
  it('reserves the output and a safety margin', () => {
    expect(defaultSafetyMargin(128_000)).toBe(2_560);
    expect(defaultSafetyMargin(4_096)).toBe(128);
    expect(promptBudget({ limits: { contextWindow: 128_000, maxOutputTokens: 16_384 } })).toBe(128_000 - 16_384 - 2_560);
    expect(promptBudget({ limits: { contextWindow: 128_000, maxOutputTokens: 16_384 }, reserveOutputTokens: 1_000 })).toBe(128_000 - 1_000 - 2_560);
    // an output limit as large as the window is capped at half of it by default
    expect(promptBudget({ limits: { contextWindow: 131_072, maxOutputTokens: 131_072 } })).toBe(131_072 - 65_536 - 2_622);
    expect(promptBudget({ limits: { contextWindow: 1_000, maxOutputTokens: 900 }, reserveOutputTokens: 900 })).toBe(0);
  });
});
