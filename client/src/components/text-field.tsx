import { useId, type ReactNode, type Ref } from 'react';

export interface TextFieldProps {
  label: string;
  name: string;
  value: string;
  onChange(value: string): void;
  type?: 'text' | 'email' | 'password';
  autoComplete?: string;
  inputMode?: 'email' | 'text' | 'decimal';
  hint?: ReactNode;
  error?: string | undefined;
  required?: boolean;
  autoFocus?: boolean;
  disabled?: boolean;
  inputRef?: Ref<HTMLInputElement>;
  /** Rendered inside the input's frame, after it (e.g. a show-password toggle). */
  trailing?: ReactNode;
  id?: string;
}

/**
 * A labelled input whose hint and error are tied to it with aria-describedby, and
 * that is marked aria-invalid while it has an error, so screen readers announce both.
 */
export function TextField(props: TextFieldProps) {
  const autoId = useId();
  const id = props.id ?? `${props.name}-${autoId}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [props.error ? errorId : null, props.hint ? hintId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${props.error ? ' field--invalid' : ''}`}>
      <label className="field__label" htmlFor={id}>
        {props.label}
      </label>
      <div className="field__control">
        <input
          ref={props.inputRef}
          id={id}
          name={props.name}
          type={props.type ?? 'text'}
          value={props.value}
          onChange={(event) => props.onChange(event.target.value)}
          autoComplete={props.autoComplete}
          inputMode={props.inputMode}
          required={props.required}
          autoFocus={props.autoFocus}
          disabled={props.disabled}
          aria-invalid={props.error ? true : undefined}
          aria-describedby={describedBy}
          spellCheck={false}
          autoCapitalize="none"
        />
        {props.trailing}
      </div>
      {props.error ? (
        <p className="field__error" id={errorId}>
          <svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14">
            <path fill="currentColor" d="M8 1a7 7 0 1 0 0 14A7 7 0 0 0 8 1Zm-.75 3.5h1.5v4.5h-1.5Zm0 6h1.5V12h-1.5Z" />
          </svg>
          {props.error}
        </p>
      ) : null}
      {props.hint ? (
        <p className="field__hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}
