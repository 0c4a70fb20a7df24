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
