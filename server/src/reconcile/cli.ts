// `npm run reconcile -- --file costs.json [--json]`: reads an export of OpenAI's
// Costs API (one page object, or an array of pages, as GET /v1/organization/costs
// answers), stores each day's cost as the daily job would, and prints the
// per-day comparison with the meter. Without --file it prints what is stored
// for the last --days closed days. Uses DATABASE_URL, or the embedded database
// in DATA_DIR (stop the server first: PGlite allows one process).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '@chatmeter/db/client';
import { RECONCILE_MAX_DAYS } from '@chatmeter/shared/reconcile';
import { addDays, dayRange, utcDay } from '../lib/days.ts';
import { EnvError, parseEnv } from '../env.ts';
import { createLogger } from '../lib/logger.ts';
import { CostsShapeError, describeIssues, parseCostsExport, providerDays, type ProviderDay } from './costs-page.ts';
import { formatReconcileTable } from './format-table.ts';
import { ReconcileService } from './reconcile-service.ts';

const USAGE = `Usage: npm run reconcile -- --file <costs.json> [--json]
       npm run reconcile -- [--days <1-${RECONCILE_MAX_DAYS}>] [--json]   (what is stored, no import)`;

class UsageError extends Error {}

function readCostsFile(file: string, projectIds: readonly string[]): ProviderDay[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = parseCostsExport(json);
  if (!parsed.success) {
    throw new UsageError(
      `${file} is not a Costs API export (a page { object: "page", data: [buckets], has_more, next_page }, or an array of pages):\n${describeIssues(parsed.error)}`,
    );
  }
  try {
    return providerDays(parsed.data, { projectIds });
  } catch (error) {
    if (error instanceof CostsShapeError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      days: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const days = values.days === undefined ? 7 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > RECONCILE_MAX_DAYS)
    throw new UsageError(`--days must be a whole number from 1 to ${RECONCILE_MAX_DAYS}, got "${values.days}"`);
  if (values.file !== undefined && values.days !== undefined) throw new UsageError('--days applies without --file only (a file brings its own days)');

  const env = parseEnv(process.env);
  // The file is checked before the database is opened: a bad file changes nothing.
  const imported = values.file !== undefined ? readCostsFile(path.resolve(env.baseDir, values.file), env.RECONCILE_PROJECT_IDS) : undefined;
  if (imported && imported.length === 0) throw new UsageError(`${values.file} holds no daily buckets`);

  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: path.join(env.dataDirAbsolute, 'pglite'), poolMax: 2 });
  try {
    const service = new ReconcileService({
      prisma: db.prisma,
      logger: createLogger('silent'),
      costs: undefined,
      alertPercent: env.RECONCILE_ALERT_PERCENT,
      projectIds: env.RECONCILE_PROJECT_IDS,
      openaiProviderIds: env.providers?.filter((p) => p.kind === 'openai').map((p) => p.id),
      // The CLI prints; the admins are alerted by the daily job only.
      fireAlert: async () => false,
    });
    if (imported) await service.store(imported, 'file');
    const yesterday = addDays(utcDay(new Date()), -1);
    const rows = await service.compare(imported ? imported.map((d) => d.day) : dayRange(addDays(yesterday, -(days - 1)), yesterday));
    if (values.json) {
      console.log(JSON.stringify({ alertPercent: env.RECONCILE_ALERT_PERCENT, stored: imported?.length ?? 0, days: rows }, null, 2));
    } else {
      if (imported)
        console.log(
          `Stored OpenAI's cost for ${imported.length} day${imported.length === 1 ? '' : 's'} (${imported[0]!.day} to ${imported.at(-1)!.day}) from ${values.file}.\n`,
        );
      console.log(formatReconcileTable(rows, env.RECONCILE_ALERT_PERCENT));
    }
  } finally {
    await db.close();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof EnvError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
