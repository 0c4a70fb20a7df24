// Reading the SQL functions a database holds, as `pg_get_functiondef` prints them:
// the one form in which a function's definition can be compared, whichever file or
// migration created it (ADR 010).
import type { SqlRunner } from './migrate.ts';

export interface DbFunction {
  name: string;
  /** `name(argument types)`: overloads differ here. */
  signature: string;
  definition: string;
}

/** The functions of the public schema, not those an extension brought. */
export async function listFunctions(runner: SqlRunner): Promise<DbFunction[]> {
  const rows = await runner.query(`
    SELECT p.proname AS name, p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS definition
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.prokind = 'f'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
     ORDER BY p.proname, signature`);
  return rows.map((r) => ({ name: String(r.name), signature: String(r.signature), definition: String(r.definition) }));
}

/** The header every function file starts with. */
export function functionFileHeader(name: string): string {
  return [
    `-- ${name}: its one current definition (docs/decisions/010-sql-functions-in-files.md).`,
    '-- Change the function here, not in a migration: the migration runner applies this file',
    '-- after the versioned migrations whenever its checksum changes. A change of arguments or',
    '-- return type needs a DROP FUNCTION IF EXISTS of the old signature first, in this file.',
    '',
  ].join('\n');
}

/** A file's text for the given definitions (one per overload). */
export function functionFile(name: string, definitions: string[]): string {
  return `${functionFileHeader(name)}${definitions.map((d) => `${d.trimEnd()};\n`).join('\n')}`;
}
