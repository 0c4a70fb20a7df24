// Compares the Prisma data model (schema.prisma, parsed by Prisma's own schema
// wasm) with the columns of a migrated database, so a model or field added
// without a migration, or a migration that disagrees on type or nullability,
// fails a test instead of a request.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wasm from '@prisma/prisma-schema-wasm';
import type { SqlRunner } from './migrate.ts';

export const SCHEMA_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema.prisma');

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
}
interface DmmfModel {
  name: string;
  dbName?: string | null;
  fields: DmmfField[];
}

/** Postgres `udt_name`s that a Prisma scalar (with its native type) may map to. */
function expectedUdt(field: DmmfField): string[] {
  if (field.kind === 'enum') return [field.type];
  const native = field.nativeType?.[0];
  const byNative: Record<string, string> = {
    Uuid: 'uuid',
    Text: 'text',
    VarChar: 'varchar',
    Timestamptz: 'timestamptz',
    Timestamp: 'timestamp',
    Date: 'date',
    Integer: 'int4',
    BigInt: 'int8',
    SmallInt: 'int2',
    JsonB: 'jsonb',
    Json: 'json',
    Inet: 'inet',
    Char: 'bpchar',
    DoublePrecision: 'float8',
    Real: 'float4',
    Decimal: 'numeric',
  };
  if (native && byNative[native]) return [byNative[native]];
  const byScalar: Record<string, string> = {
    String: 'text',
    Int: 'int4',
    BigInt: 'int8',
    Boolean: 'bool',
    DateTime: 'timestamp',
    Float: 'float8',
    Decimal: 'numeric',
    Json: 'jsonb',
    Bytes: 'bytea',
  };
  const udt = byScalar[field.type];
  return udt ? [udt] : [];
}

export function loadDataModel(schemaPath = SCHEMA_PATH): DmmfModel[] {
  const prismaSchema = readFileSync(schemaPath, 'utf8');
  const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema }))) as { datamodel: { models: DmmfModel[] } };
  return dmmf.datamodel.models;
}

/** Returns a list of human-readable differences; empty means no drift. */
export async function findDrift(runner: SqlRunner, models = loadDataModel()): Promise<string[]> {
  const rows = await runner.query(
    `SELECT table_name, column_name, is_nullable, udt_name, data_type
       FROM information_schema.columns WHERE table_schema = current_schema()`,
  );
  const columns = new Map<string, { nullable: boolean; udt: string }>();
  for (const row of rows) {
    columns.set(`${row.table_name}.${row.column_name}`, {
      nullable: row.is_nullable === 'YES',
      udt: String(row.udt_name).replace(/^_/, ''),
    });
  }
  const problems: string[] = [];
  for (const model of models) {
    const table = model.dbName ?? model.name;
    for (const field of model.fields) {
      if (field.kind === 'object') continue;
      const column = field.dbName ?? field.name;
      const actual = columns.get(`${table}.${column}`);
      const where = `${model.name}.${field.name} (${table}.${column})`;
      if (!actual) {
        problems.push(`${where}: column missing in the migrated database`);
        continue;
      }
      if (actual.nullable === field.isRequired) {
        problems.push(`${where}: model says ${field.isRequired ? 'required' : 'optional'}, database column is ${actual.nullable ? 'nullable' : 'NOT NULL'}`);
      }
      const expected = expectedUdt(field);
      if (expected.length > 0 && !expected.includes(actual.udt)) {
        problems.push(
          `${where}: model type ${field.type}${field.nativeType ? ` @db.${field.nativeType[0]}` : ''} expects ${expected.join('|')}, database has ${actual.udt}`,
        );
      }
    }
  }
  return problems;
}
