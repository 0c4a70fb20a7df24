// ADR 011: hand-written SQL is always parameterised. `$queryRawUnsafe` and
// `$executeRawUnsafe` take a string that may have been built from input; nothing in
// the server, the worker or the db package uses them, except the embedded database's
// `Database.query` (prisma/src/client.ts), the hot path's driver call: constant text
// with `$n` parameters, as the pg pool's `query` beside it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return ['node_modules', 'dist', 'generated'].includes(entry.name) ? [] : sources(full);
    return /\.(ts|tsx|mts)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

describe('raw SQL policy (ADR 011)', () => {
  it('no source file uses $queryRawUnsafe or $executeRawUnsafe', () => {
    const files = ['server/src', 'tts-worker/src', 'prisma/src'].flatMap((d) => sources(path.join(root, d)));
    expect(files.length).toBeGreaterThan(50);
    // The driver call: a constant statement text and its parameters, passed through as they are.
    const allowed = /^query: <T,?>\(text: string, params: readonly unknown\[\]\) => prisma\.\$queryRawUnsafe<T\[\]>\(text, \.\.\.params\),$/;
    const offenders = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line: line.trim(), at: `${path.relative(root, f)}:${i + 1}` }))
        .filter(({ line }) => /\$(query|execute)RawUnsafe\b/.test(line) && !(allowed.test(line) && /prisma\/src\/client\.ts/.test(f)))
        .map(({ at }) => at),
    );
    expect(offenders).toEqual([]);
  });
});
