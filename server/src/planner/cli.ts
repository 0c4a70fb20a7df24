// `npm run estimate -- --users 200 --profile medium [--model m] [--price-per-1k 0.03]`
// (or --prompt-tokens, --completion-tokens, --interactions for custom figures).
// Prints the planner's table for the three profiles (and the custom one), with
// this server's pricing table (PRICING_FILE). With DATABASE_URL, or --from-data,
// it adds the "from your data" columns from the usage roll-up.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '@chatmeter/db/client';
import { observedColumn, PLANNER_PROFILE_IDS, ZPlannerInput, type TObservedColumn, type TPlannerInput } from '@chatmeter/shared/planner';
import { loadPricingTable } from '../chat/providers/pricing-loader.ts';
import { EnvError, parseEnv } from '../env.ts';
import { AppError } from '../lib/app-error.ts';
import { formatPlannerTable } from './format-table.ts';
import { OBSERVED_WINDOWS, PlannerService } from './planner-service.ts';

const USAGE = `Usage: npm run estimate -- --users <n> [--profile light|medium|heavy]
         [--prompt-tokens <n> --completion-tokens <n> --interactions <n>]
         [--model <id> | --price-per-1k <usd>] [--from-data] [--json]`;

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      users: { type: 'string' },
      profile: { type: 'string' },
      'prompt-tokens': { type: 'string' },
      'completion-tokens': { type: 'string' },
      interactions: { type: 'string' },
      model: { type: 'string' },
      'price-per-1k': { type: 'string' },
      'from-data': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const custom = values['prompt-tokens'] !== undefined || values['completion-tokens'] !== undefined || values.interactions !== undefined;
  const common = {
    users: number(values.users, 'users'),
    ...(values.model ? { model: values.model } : {}),
    ...(values['price-per-1k'] !== undefined ? { pricePer1kTokensUsd: number(values['price-per-1k'], 'price-per-1k') } : {}),
  };
  const parsed = ZPlannerInput.safeParse(
    custom
      ? {
          ...common,
          promptTokens: number(values['prompt-tokens'], 'prompt-tokens'),
          completionTokens: number(values['completion-tokens'], 'completion-tokens'),
          interactionsPerUserPerDay: number(values.interactions, 'interactions'),
        }
      : { ...common, profile: values.profile ?? 'medium' },
  );
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('\n'));
  }
  const input: TPlannerInput = parsed.data;

  const env = parseEnv(process.env);
  const pricing = loadPricingTable({ pricingFile: env.PRICING_FILE, baseDir: env.baseDir });
  const { users, model, pricePer1kTokensUsd } = input;
  const base = { users, ...(model ? { model } : {}), ...(pricePer1kTokensUsd !== undefined ? { pricePer1kTokensUsd } : {}) };
  const columns: TPlannerInput[] = [...PLANNER_PROFILE_IDS.map((profile) => ({ ...base, profile })), ...('profile' in input ? [] : [input])];
  const estimates = columns.map((c) => new PlannerService(pricing).estimateOnly(c));

  let observed: TObservedColumn[] | undefined;
  if (env.DATABASE_URL || values['from-data']) {
    // Read-only: no migrations from here. PGlite (no DATABASE_URL) allows one process: stop the server first.
    const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: path.join(env.dataDirAbsolute, 'pglite'), migrate: false });
    try {
      const totals = await new PlannerService(pricing, db.prisma).observedTotals();
      observed = OBSERVED_WINDOWS.flatMap((days) => {
        const t = totals.get(days);
        return t ? [observedColumn(t, users)] : [];
      });
    } catch (error) {
      console.error(`(no "from your data" columns: ${(error as Error).message.trim().split('\n').at(-1)})`);
    } finally {
      await db.close();
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ estimates, fromYourData: observed ?? null }, null, 2));
  } else {
    console.log(formatPlannerTable({ estimates, selected: 'profile' in input ? input.profile : 'custom', observed }));
    if (!env.DATABASE_URL && !values['from-data'])
      console.log('\nSet DATABASE_URL (or pass --from-data with the server stopped, for the embedded database) to compare with your real usage.');
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof EnvError || error instanceof AppError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
