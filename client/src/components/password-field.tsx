import { useState } from 'react';
import { TextField, type TextFieldProps } from './text-field.tsx';

/** A password input with a show/hide toggle (a pressed-state button, not a second label). */
export function PasswordField(props: Omit<TextFieldProps, 'type' | 'trailing'>) {
  const [visible, setVisible] = useState(false);
  return (
    <TextField
      {...props}
      type={visible ? 'text' : 'password'}
      trailing={
        <button type="button" className="field__toggle" aria-pressed={visible} onClick={() => setVisible((v) => !v)} disabled={props.disabled}>
          {visible ? 'Hide' : 'Show'}
        </button>
      }
    />
  );
}
