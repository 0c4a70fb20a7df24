import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRICING_TABLE, DEFAULT_TTS_PRICING_TABLE } from '@chatmeter/shared/pricing';
import { PricingFileError, loadPricing, loadPricingTable } from './pricing-loader.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'chatmeter-pricing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const local = {
  model: 'llama3.1:8b',
  label: 'Llama 3.1 8B (local)',
  inputMicrosPerMillion: 0,
  outputMicrosPerMillion: 0,
  contextWindow: 8192,
  maxOutputTokens: 2048,
};

function problemOf(run: () => unknown): PricingFileError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PricingFileError);
    return error as PricingFileError;
  }
  throw new Error('expected a PricingFileError');
}

describe('loadPricingTable', () => {
  it('returns the built-in table without PRICING_FILE', () => {
    expect(loadPricingTable()).toBe(DEFAULT_PRICING_TABLE);
    expect(loadPricingTable({ requiredModels: ['demo', 'gpt-4o-mini'] })).toBe(DEFAULT_PRICING_TABLE);
  });

  it('replaces the built-in table with the file, resolving relative paths against baseDir', () => {
    write('local.json', [local]);
    expect(loadPricingTable({ pricingFile: 'local.json', baseDir: dir })).toEqual([local]);
  });

  it('names the file and the problem when it cannot be read', () => {
    const error = problemOf(() => loadPricingTable({ pricingFile: path.join(dir, 'missing.json') }));
    expect(error.message).toMatch(/^PRICING_FILE .*missing\.json: cannot be read: ENOENT/);
    expect(error.file).toBe(path.join(dir, 'missing.json'));
  });

  it('names the file and every problem when it is invalid', () => {
    const file = write('bad.json', [
      { ...local, inputMicrosPerMillion: -5 },
      { ...local, outputMicrosPerMillion: undefined },
    ]);
    const error = problemOf(() => loadPricingTable({ pricingFile: file }));
    expect(error.message).toContain(`PRICING_FILE ${file}: is not a valid pricing table:`);
    expect(error.message).toContain('[0].inputMicrosPerMillion: inputMicrosPerMillion must not be negative');
    expect(error.message).toContain('[1].outputMicrosPerMillion: outputMicrosPerMillion is required');
  });

  it('rejects broken JSON', () => {
    const file = write('broken.json', '[{"model": ');
    expect(problemOf(() => loadPricingTable({ pricingFile: file })).message).toMatch(/not valid JSON/);
  });

  it('fails at start-up when a required model has no price', () => {
    const file = write('only-local.json', [local]);
    const error = problemOf(() => loadPricingTable({ pricingFile: file, requiredModels: ['llama3.1:8b', 'demo', 'gpt-4o'] }));
    expect(error.message).toBe(`PRICING_FILE ${file}: has no price for "demo", "gpt-4o"`);
    expect(problemOf(() => loadPricingTable({ requiredModels: ['mistral'] })).message).toMatch(/built-in pricing table has no price for "mistral"/);
  });

  it('reads TTS prices from the same file, and fails at start-up when TTS_MODEL is not priced', () => {
    expect(loadPricing({ requiredTtsModels: ['tts-1'] }).tts).toBe(DEFAULT_TTS_PRICING_TABLE);
    const kokoro = { model: 'kokoro', kind: 'tts', microsPerMillionChars: 0 };
    const file = write('with-tts.json', [local, kokoro]);
    expect(loadPricing({ pricingFile: file, requiredTtsModels: ['kokoro'] })).toEqual({ chat: [local], tts: [kokoro] });
    expect(loadPricingTable({ pricingFile: file })).toEqual([local]);
    // The file replaces the built-in TTS prices too.
    expect(problemOf(() => loadPricing({ pricingFile: file, requiredTtsModels: ['tts-1'] })).message).toMatch(/has no price for the TTS model "tts-1"/);
    expect(problemOf(() => loadPricing({ requiredTtsModels: ['piper'] })).message).toMatch(/built-in pricing table has no price for the TTS model "piper"/);
  });
});
