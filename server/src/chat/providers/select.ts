import { createDemoProvider } from './demo.ts';
import type { FetchFunction } from './node-fetch.ts';
import { createOpenAIProvider, resolveBaseUrl } from './openai.ts';
import type { ChatProvider } from './provider.ts';
import type { ProviderSpec } from './providers-file.ts';
import { ProviderRegistry, type RoutedProvider } from './registry.ts';

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

/** The one-provider shorthand: OPENAI_API_KEY (+ OPENAI_BASE_URL), else the demo model. */
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

/**
 * Every provider and the models each serves: PROVIDERS_FILE's entries when given, else the
 * shorthand as one provider that serves every priced model (`override` replaces it: tests).
 */
export function createProviders(config: ProviderConfig & { providers?: readonly ProviderSpec[] | undefined; override?: ChatProvider }): ProviderRegistry {
  if (config.override) return new ProviderRegistry([wildcard(config.override)]);
  if (!config.providers) {
    const provider = createProvider(config);
    return new ProviderRegistry([wildcard(provider, provider.isDemo ? 'demo' : resolveBaseUrl(config.baseUrl).official ? 'openai' : 'compatible')]);
  }
  return new ProviderRegistry(
    config.providers.map(
      (spec): RoutedProvider => ({
        id: spec.id,
        kind: spec.kind,
        models: spec.models,
        ...(spec.maxConcurrent ? { maxConcurrent: spec.maxConcurrent } : {}),
        ...(spec.tokensPerMinute ? { tokensPerMinute: spec.tokensPerMinute } : {}),
        provider: createOpenAIProvider({
          id: spec.id,
          kind: spec.kind,
          apiKey: spec.apiKey,
          baseUrl: spec.baseUrl,
          timeoutMs: config.timeoutMs,
          maxRetries: config.maxRetries,
          ...(config.fetch ? { fetch: config.fetch } : {}),
        }),
      }),
    ),
  );
}

function wildcard(provider: ChatProvider, kind: RoutedProvider['kind'] = provider.isDemo ? 'demo' : 'openai'): RoutedProvider {
  return { id: provider.id, kind, models: '*', provider };
}
