// Client-side validation with the same zod schemas the server uses
// (shared/src/auth.ts), turned into one message per field for inline errors.
import type { ZodType, output } from 'zod';

/** Issues that belong to no single field are reported under this key. */
export const FORM_KEY = '_form';

export type FieldErrors = Record<string, string>;

export type ValidationResult<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors };

export function validateForm<S extends ZodType>(schema: S, values: unknown): ValidationResult<output<S>> {
  const result = schema.safeParse(values);
  if (result.success) return { ok: true, data: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const head = issue.path[0];
    const key = typeof head === 'string' || typeof head === 'number' ? String(head) : FORM_KEY;
    // The first issue per field is the most basic one ("enter an address" before "valid address").
    errors[key] ??= issue.message;
  }
  return { ok: false, errors };
}

/** Validates one field of an object schema, for re-checking a field the user is correcting. */
export function validateField<S extends ZodType>(schema: S, values: Record<string, unknown>, field: string): string | undefined {
  const result = validateForm(schema, values);
  return result.ok ? undefined : result.errors[field];
}

/** The fields that have an error, in the order the form shows them (for focusing the first). */
export function firstInvalidField(order: readonly string[], errors: FieldErrors): string | undefined {
  return order.find((field) => errors[field] !== undefined);
}
