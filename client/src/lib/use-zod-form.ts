import { useRef, useState, type FormEvent } from 'react';
import type { ZodType, output } from 'zod';
import { firstFieldErrors, type ApiError } from './api-error.ts';
import { firstInvalidField, validateField, validateForm, type FieldErrors } from './form-validation.ts';

/**
 * Form state checked with a shared zod schema. Errors appear on submit (not while
 * typing); a field that has one is re-checked as it is corrected, so the message
 * goes away as soon as the value is right. Focus moves to the first invalid field.
 */
export function useZodForm<F extends string, S extends ZodType>(schema: S, fields: readonly F[], initial: Partial<Record<F, string>> = {}) {
  const [values, setValues] = useState(() => Object.fromEntries(fields.map((f) => [f, initial[f] ?? ''])) as Record<F, string>);
  const [errors, setErrors] = useState<FieldErrors>({});
  const inputs = useRef(new Map<string, HTMLInputElement>());

  const focusFirstInvalid = (errs: FieldErrors) => {
    const first = firstInvalidField(fields, errs);
    if (first) inputs.current.get(first)?.focus();
  };

  const field = (name: F) => ({
    name,
    value: values[name],
    error: errors[name],
    onChange: (value: string) => {
      const next = { ...values, [name]: value };
      setValues(next);
      if (errors[name] !== undefined) {
        const message = validateField(schema, next, name);
        setErrors((current) => {
          const updated = { ...current };
          if (message) updated[name] = message;
          else delete updated[name];
          return updated;
        });
      }
    },
    inputRef: (element: HTMLInputElement | null) => {
      if (element) inputs.current.set(name, element);
      else inputs.current.delete(name);
    },
  });

  const handleSubmit = (onValid: (data: output<S>) => void) => (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const result = validateForm(schema, values);
    if (!result.ok) {
      setErrors(result.errors);
      focusFirstInvalid(result.errors);
      return;
    }
    setErrors({});
    onValid(result.data);
  };

  /** Shows the server's zod field errors inline; true when any belonged to this form. */
  const showServerErrors = (error: ApiError): boolean => {
    const all = firstFieldErrors(error.fieldErrors);
    const mine: FieldErrors = {};
    for (const f of fields) if (all[f]) mine[f] = all[f];
    if (Object.keys(mine).length === 0) return false;
    setErrors(mine);
    focusFirstInvalid(mine);
    return true;
  };

  return { values, errors, field, handleSubmit, showServerErrors, setValues };
}
