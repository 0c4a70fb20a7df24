import { describe, expect, it } from 'vitest';
import { createProvider } from './select.ts';

const base = { timeoutMs: 5_000, maxRetries: 2, demoDelayMs: 0 };

describe('createProvider', () => {
  it('uses the demo model without an API key', () => {
    expect(createProvider(base)).toMatchObject({ id: 'demo', isDemo: true, label: 'demo model' });
    expect(createProvider({ ...base, apiKey: '   ' })).toMatchObject({ id: 'demo' });
  });

  it('uses OpenAI (or a compatible server) with a key', () => {
    expect(createProvider({ ...base, apiKey: 'sk-x' })).toMatchObject({ id: 'openai', isDemo: false, label: 'OpenAI' });
    expect(createProvider({ ...base, apiKey: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' })).toMatchObject({
      id: 'openai',
      label: 'OpenAI-compatible (127.0.0.1:11434)',
    });
  });

  it('treats an explicit OPENAI_BASE_URL on api.openai.com as OpenAI, not as a compatible server', () => {
    for (const baseUrl of ['https://api.openai.com/v1', 'https://api.openai.com/v1/', 'https://api.openai.com', 'https://api.openai.com/']) {
      expect(createProvider({ ...base, apiKey: 'sk-x', baseUrl })).toMatchObject({ id: 'openai', label: 'OpenAI' });
    }
  });
});
