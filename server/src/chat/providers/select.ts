import { createDemoProvider } from './demo.ts';
import type { FetchFunction } from './node-fetch.ts';
import { createOpenAIProvider } from './openai.ts';
import type { ChatProvider } from './provider.ts';

export interface ProviderConfig {
  /** OPENAI_API_KEY: when set (non-empty) the real provider is used, else the demo model. */
  apiKey?: string;
  /** OPENAI_BASE_URL: any OpenAI-compatible server, including `/v1`. */
  baseUrl?: string;
  timeoutMs: number;
  /** Retries before the first token. */
  maxRetries: number;
  /** Pause between the demo model's chunks. */
  demoDelayMs: number;
  /** The OpenAI SDK's HTTP client (default nodeFetch); tests route OpenAI's host to a local fake with it. */
  fetch?: FetchFunction;
}

export function createProvider(config: ProviderConfig): ChatProvider {
  const apiKey = config.apiKey?.trim();
  if (apiKey) {
    return createOpenAIProvider({
      apiKey,
      ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}),
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      ...(config.fetch ? { fetch: config.fetch } : {}),
    });
  }
  return createDemoProvider({ delayMs: config.demoDelayMs });
}
