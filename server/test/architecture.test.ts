// Imports point down and never go round in a circle (issue 16): dependency-cruiser
// checks server/src against the rules in server/.dependency-cruiser.cjs.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rules = createRequire(import.meta.url)(path.join(serverDir, '.dependency-cruiser.cjs'));

async function violations(dir: string): Promise<string[]> {
  const previous = process.cwd();
  process.chdir(serverDir);
  try {
    const reported = await cruise([dir], { ...rules.options, validate: true, ruleSet: { forbidden: rules.forbidden } });
    const output = reported.output as ICruiseResult;
    expect(output.summary.totalCruised).toBeGreaterThan(1);
    return output.summary.violations.map((v: IViolation) => `${v.rule.name}: ${[v.from, ...(v.cycle?.map((c) => c.name) ?? [v.to])].join(' -> ')}`);
  } finally {
    process.chdir(previous);
  }
}

describe('server imports', () => {
  it('have no cycles and point down (routers, trpc, admin and lib rules)', async () => {
    expect(await violations('src')).toEqual([]);
  }, 60_000);

  it('the check finds a cycle when there is one', async () => {
    const found = await violations('test/fixtures/import-cycle');
    expect(found.some((v) => v.startsWith('no-circular:'))).toBe(true);
  }, 60_000);
});

/**
 * A Prisma model call or raw SQL on a client (`prisma.user.findMany(`, `tx.$queryRaw` ...), or the
 * database client itself handed on (`ctx.deps.prisma`, `deps.db`): a router calls services, which own theirs.
 */
const QUERY =
  /\b(?:prisma|tx|db)\s*\.\s*(?:\$(?:queryRaw|executeRaw|transaction)\w*|[a-z]\w*\s*\.\s*(?:find|create|update|upsert|delete|count|aggregate|groupBy)\w*)\b|\bdeps\s*\.\s*(?:prisma|db)\b/;

describe('routers', () => {
  it('only validate, check roles and call services: no query runs in a router or in the tRPC middleware, and none holds the database client', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const files = [...(await readdir(path.join(serverDir, 'src/routers'))).filter((f) => f.endsWith('.ts')).map((f) => `src/routers/${f}`), 'src/trpc/init.ts'];
    expect(files.length).toBeGreaterThan(5);
    const found: string[] = [];
    for (const file of files) {
      const lines = (await readFile(path.join(serverDir, file), 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (QUERY.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('the check sees a query', () => {
    expect(QUERY.test('const rows = await ctx.deps.prisma.conversation.findMany({')).toBe(true);
    expect(QUERY.test('await ctx.deps.prisma.$queryRaw`SELECT 1`')).toBe(true);
    expect(QUERY.test('listConversations(ctx.deps.prisma, ctx.user.id, input)')).toBe(true);
    expect(QUERY.test('ctx.deps.conversations.list(ctx.user.id, input)')).toBe(false);
  });
});
