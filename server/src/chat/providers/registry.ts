// Which provider serves a model. Built once at start (select.ts): PROVIDERS_FILE's
// entries, each listing its models, or one provider serving every model (the
// OPENAI_API_KEY shorthand, or the demo model).
import type { ChatProvider } from './provider.ts';

export interface RoutedProvider {
  /** Recorded with each usage event (usage_events.provider). */
  id: string;
  /** `openai`: OpenAI's own API, the only usage compared with OpenAI's bill (reconciliation). */
  kind: 'openai' | 'compatible' | 'demo';
  /** The models it serves, or '*' for every priced model. */
  models: readonly string[] | '*';
  /** Admission gate limits (gate.ts); absent: no limit of that kind. */
  maxConcurrent?: number;
  tokensPerMinute?: number;
  provider: ChatProvider;
}

export class ProviderRegistry {
  private readonly byModel = new Map<string, RoutedProvider>();
  private readonly fallback: RoutedProvider | undefined;

  constructor(readonly entries: readonly RoutedProvider[]) {
    if (entries.length === 0) throw new Error('ProviderRegistry: no provider');
    for (const entry of entries) {
      if (entry.models === '*') continue;
      for (const model of entry.models) this.byModel.set(model, entry);
    }
    this.fallback = entries.find((e) => e.models === '*');
  }

  /** The offline demo model only. */
  get isDemo(): boolean {
    return this.entries.every((e) => e.provider.isDemo);
  }

  /** For display where one name is wanted: the only provider's label, or "several providers". */
  get label(): string {
    return this.entries.length === 1 ? this.entries[0]!.provider.label : `${this.entries.length} providers`;
  }

  /** The provider serving `model`, or undefined when none lists it. */
  forModel(model: string): RoutedProvider | undefined {
    return this.byModel.get(model) ?? this.fallback;
  }

  /** Models listed explicitly (PROVIDERS_FILE); empty for the shorthand. */
  listedModels(): string[] {
    return [...this.byModel.keys()];
  }

  /** Ids of the providers whose usage OpenAI bills (reconciliation compares only these). */
  openaiIds(): string[] {
    return this.entries.filter((e) => e.kind === 'openai').map((e) => e.id);
  }
}
