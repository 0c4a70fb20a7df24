import { describe, expect, it } from 'vitest';
import { CostsApiError, redactKeys } from './openai-costs.ts';

describe('redactKeys', () => {
  it('cuts anything shaped like an OpenAI key to its kind', () => {
    expect(redactKeys('401 Incorrect API key provided: sk-admin-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.')).toBe(
      '401 Incorrect API key provided: sk-admin-[redacted]. You can find your API key at https://platform.openai.com/account/api-keys.',
    );
    expect(redactKeys('sk-proj-AbC_123 and sk-abcdef and sk-svcacct-x_y')).toBe('sk-proj-[redacted] and sk-[redacted] and sk-svcacct-[redacted]');
    expect(redactKeys('Connection error.')).toBe('Connection error.');
    expect(new CostsApiError('Costs API: 401 Incorrect API key provided: sk-admin-****wxyz', 401).message).toBe(
      'Costs API: 401 Incorrect API key provided: sk-admin-[redacted]',
    );
  });
});
