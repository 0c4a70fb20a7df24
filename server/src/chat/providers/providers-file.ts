/**
 * PROVIDERS_FILE: several upstream endpoints at once. A JSON list of
 * `{ id, kind, baseUrl, apiKeyEnv, models, maxConcurrent?, tokensPerMinute? }`; each model
 * is listed by exactly one provider and routes to it. Read and checked once at start-up
 * (env.ts): a bad file, or an `apiKeyEnv` variable that is not set, stops start-up with a
 * message naming the file, the entry and the field.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const ZProviderEntry = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a short lower-case id (letters, digits, "-" or "_", at most 32)'),
    /** `openai`: OpenAI's own API (or Azure OpenAI): OpenAI's request shape. `compatible`: any other server speaking the protocol. */
    kind: z.enum(['openai', 'compatible'], { error: 'must be "openai" or "compatible"' }),
    baseUrl: z
      .url({ error: 'must be a URL such as https://api.groq.com/openai/v1' })
      .refine((v) => /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
    /** Name of the environment variable holding the key (never the key itself). */
    apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'must be the NAME of an environment variable (e.g. GROQ_API_KEY), not the key'),
    models: z.array(z.string().min(1, 'model ids are not empty').max(200)).min(1, 'list at least one model'),
    /** Requests in flight to this provider at once, across instances. */
    maxConcurrent: z.number().int().min(1).max(100_000).optional(),
    /** Prompt + completion tokens this provider may be sent per minute, across instances. */
    tokensPerMinute: z.number().int().min(1).max(1_000_000_000_000).optional(),
  })
  .strict();

export const ZProvidersFile = z
  .array(ZProviderEntry)
  .min(1, 'list at least one provider')
  .superRefine((entries, ctx) => {
    const ids = new Map<string, number>();
    const models = new Map<string, string>();
    entries.forEach((entry, i) => {
      const seen = ids.get(entry.id);
      if (seen !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `"${entry.id}" is already the id of entry ${seen}` });
      else ids.set(entry.id, i);
      entry.models.forEach((model, j) => {
        const owner = models.get(model);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'models', j],
            message: `"${model}" is already routed to provider "${owner}" (a model routes to one provider)`,
          });
        } else models.set(model, entry.id);
      });
    });
  });

export type TProviderEntry = z.infer<typeof ZProviderEntry>;

/** An entry with its key read from the environment. */
export interface ProviderSpec extends TProviderEntry {
  apiKey: string;
}

export class ProvidersFileError extends Error {
  override readonly name = 'ProvidersFileError';
}

function describe(entries: unknown, pathParts: readonly PropertyKey[]): string {
  const [index, ...rest] = pathParts;
  if (typeof index !== 'number') return pathParts.join('.') || '(file)';
  const id = Array.isArray(entries) ? (entries[index] as { id?: unknown } | undefined)?.id : undefined;
  const entry = `entry ${index}${typeof id === 'string' ? ` ("${id}")` : ''}`;
  return rest.length ? `${entry}, field ${rest.join('.')}` : entry;
}

/** Checks a parsed file and reads each key from `source`; throws a ProvidersFileError naming every problem. */
export function parseProviders(json: unknown, source: Record<string, string | undefined>, label: string): ProviderSpec[] {
  const result = ZProvidersFile.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${describe(json, issue.path)}: ${issue.message}`);
    throw new ProvidersFileError(`PROVIDERS_FILE ${label} is not valid:\n${lines.join('\n')}`);
  }
  const missing: string[] = [];
  const specs = result.data.map((entry, i) => {
    const apiKey = source[entry.apiKeyEnv]?.trim() ?? '';
    if (!apiKey)
      missing.push(
        `  entry ${i} ("${entry.id}"), field apiKeyEnv: the environment variable ${entry.apiKeyEnv} is not set (any non-empty value for a server that needs no key)`,
      );
    return { ...entry, apiKey };
  });
  if (missing.length) throw new ProvidersFileError(`PROVIDERS_FILE ${label}:\n${missing.join('\n')}`);
  return specs;
}

/** Reads PROVIDERS_FILE (resolved against `baseDir`). */
export function loadProvidersFile(file: string, baseDir: string, source: Record<string, string | undefined>): ProviderSpec[] {
  const resolved = path.resolve(baseDir, file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(resolved, 'utf8'));
  } catch (error) {
    throw new ProvidersFileError(`PROVIDERS_FILE ${resolved}: cannot be read as JSON: ${(error as Error).message}`);
  }
  return parseProviders(json, source, resolved);
}
