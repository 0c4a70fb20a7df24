import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../../env.ts';
import { parseProviders, ProvidersFileError } from './providers-file.ts';
import { createProviders } from './select.ts';

const example = path.resolve(import.meta.dirname, '../../../../docs/examples/providers.json');
const keys = { OPENAI_API_KEY: 'sk-test', GROQ_API_KEY: 'gsk-test', OLLAMA_API_KEY: 'ollama' };

describe('PROVIDERS_FILE', () => {
  it('reads the example and routes each model to the provider that lists it', () => {
    const env = parseEnv({ PROVIDERS_FILE: example, ...keys });
    expect(env.providers?.map((p) => [p.id, p.kind, p.models])).toEqual([
      ['openai', 'openai', ['gpt-4o-mini']],
      ['groq', 'compatible', ['llama-3.3-70b-versatile']],
      ['ollama', 'compatible', ['qwen2.5']],
    ]);
    expect(env.providers?.[1]?.apiKey).toBe('gsk-test');
    const registry = createProviders({ providers: env.providers, timeoutMs: 1_000, maxRetries: 0, demoDelayMs: 0 });
    expect(registry.forModel('llama-3.3-70b-versatile')?.id).toBe('groq');
    expect(registry.forModel('llama-3.3-70b-versatile')?.provider.id).toBe('groq');
    expect(registry.forModel('qwen2.5')?.maxConcurrent).toBe(2);
    expect(registry.forModel('gpt-4o')).toBeUndefined();
    expect(registry.openaiIds()).toEqual(['openai']);
    expect(registry.isDemo).toBe(false);
  });

  it('stops start-up naming the file, the entry and the field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'providers-'));
    const file = path.join(dir, 'providers.json');
    writeFileSync(file, JSON.stringify([{ id: 'groq', kind: 'compatible', baseUrl: 'not a url', apiKeyEnv: 'GROQ_API_KEY', models: ['m'] }]));
    expect(() => parseEnv({ PROVIDERS_FILE: file, GROQ_API_KEY: 'x' })).toThrow(EnvError);
    expect(() => parseEnv({ PROVIDERS_FILE: file, GROQ_API_KEY: 'x' })).toThrow(
      /providers\.json is not valid:\n\s+entry 0 \("groq"\), field baseUrl: must be a URL/,
    );
    writeFileSync(file, '[{');
    expect(() => parseEnv({ PROVIDERS_FILE: file })).toThrow(/PROVIDERS_FILE .*providers\.json: cannot be read as JSON/);
    expect(() => parseEnv({ PROVIDERS_FILE: path.join(dir, 'missing.json') })).toThrow(/missing\.json: cannot be read/);
  });

  it('refuses a missing key variable, a key in place of a name, a model routed twice, duplicate ids and unknown fields', () => {
    const entry = { id: 'a', kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'A_KEY', models: ['x'] };
    expect(() => parseProviders([entry], {}, 'f.json')).toThrow(/entry 0 \("a"\), field apiKeyEnv: the environment variable A_KEY is not set/);
    const problems = (json: unknown) => {
      try {
        parseProviders(json, { A_KEY: 'k' }, 'f.json');
      } catch (error) {
        expect(error).toBeInstanceOf(ProvidersFileError);
        return (error as Error).message;
      }
      throw new Error('expected a ProvidersFileError');
    };
    expect(problems([{ ...entry, apiKeyEnv: 'sk-abc123' }])).toMatch(/entry 0 \("a"\), field apiKeyEnv: must be the NAME/);
    expect(problems([entry, { ...entry, id: 'b' }])).toMatch(/entry 1 \("b"\), field models\.0: "x" is already routed to provider "a"/);
    expect(problems([entry, { ...entry, models: ['y'] }])).toMatch(/entry 1 \("a"\), field id: "a" is already the id of entry 0/);
    expect(problems([{ ...entry, kind: 'anthropic' }])).toMatch(/field kind: must be "openai" or "compatible"/);
    expect(problems([{ ...entry, maxConcurrent: 0 }])).toMatch(/field maxConcurrent/);
    expect(problems([{ ...entry, extra: 1 }])).toMatch(/entry 0 \("a"\)/);
    expect(problems([])).toMatch(/list at least one provider/);
  });

  it('without the file, OPENAI_API_KEY is one provider "openai" serving every model, and no key is the demo model', () => {
    const one = createProviders({ apiKey: 'sk-x', timeoutMs: 1_000, maxRetries: 0, demoDelayMs: 0 });
    expect(one.entries.map((e) => [e.id, e.kind])).toEqual([['openai', 'openai']]);
    expect(one.forModel('anything')?.id).toBe('openai');
    const local = createProviders({ apiKey: 'x', baseUrl: 'http://127.0.0.1:11434/v1', timeoutMs: 1_000, maxRetries: 0, demoDelayMs: 0 });
    expect(local.entries[0]?.kind).toBe('compatible');
    expect(local.openaiIds()).toEqual([]);
    const demo = createProviders({ timeoutMs: 1_000, maxRetries: 0, demoDelayMs: 0 });
    expect(demo.isDemo).toBe(true);
    expect(demo.forModel('demo')?.id).toBe('demo');
  });
});
