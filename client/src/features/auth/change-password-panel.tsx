import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, ZChangePasswordInput, type TChangePasswordInput } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { PasswordField } from '../../components/password-field.tsx';
import { SubmitButton } from '../../components/submit-button.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { useZodForm } from '../../lib/use-zod-form.ts';
import { trpc } from '../../trpc.ts';

export const passwordStatusQueryKey = ['auth', 'passwordStatus'] as const;

/** With a password: the current one is needed, as the server checks. */
const ZWithCurrent = ZChangePasswordInput.extend({
  currentPassword: z.string().min(1, 'Enter your current password').max(PASSWORD_MAX_LENGTH),
});
const WITH_CURRENT = ['currentPassword', 'newPassword'] as const;
const FIRST_ONLY = ['newPassword'] as const;

/** Change the password, or set a first one on an account that only used sign-in links. */
export function ChangePasswordPanel({ onChanged }: { onChanged(): void }) {
  const status = useQuery({ queryKey: passwordStatusQueryKey, queryFn: () => trpc.auth.passwordStatus.query() });
  // Kept here: setting a first password turns the form into the change form (a new one), and the
  // confirmation must outlive that.
  const [done, setDone] = useState<Done | null>(null);
  return (
    <section className="panel" aria-labelledby="password-title">
      <h2 id="password-title" className="panel__title">
        {status.data && !status.data.hasPassword ? 'Set a password' : 'Password'}
      </h2>
      {status.isPending ? <p className="muted">Loading…</p> : null}
      {status.error ? <ApiErrorAlert error={readApiError(status.error)} /> : null}
      {status.data ? (
        <PasswordForm key={String(status.data.hasPassword)} hasPassword={status.data.hasPassword} onChanged={onChanged} done={done} setDone={setDone} />
      ) : null}
    </section>
  );
}

interface Done {
  sessionsEnded: number;
  first: boolean;
}

function PasswordForm({
  hasPassword,
  onChanged,
  done,
  setDone,
}: {
  hasPassword: boolean;
  onChanged(): void;
  done: Done | null;
  setDone(done: Done | null): void;
}) {
  const queryClient = useQueryClient();
  const form = useZodForm(hasPassword ? ZWithCurrent : ZChangePasswordInput, hasPassword ? WITH_CURRENT : FIRST_ONLY);
  const change = useMutation({
    mutationFn: (input: TChangePasswordInput) => trpc.auth.changePassword.mutate(input),
    onSuccess: ({ sessionsEnded }) => {
      setDone({ sessionsEnded, first: !hasPassword });
      form.setValues({ currentPassword: '', newPassword: '' });
      onChanged();
      // Last: a first password turns this form into the change form.
      void queryClient.invalidateQueries({ queryKey: passwordStatusQueryKey });
    },
    onError: (error) => form.showServerErrors(readApiError(error)),
  });
  const apiError = change.error ? readApiError(change.error) : null;
  const shownInline = apiError?.reason === 'invalid_input' && Object.keys(apiError.fieldErrors).some((f) => f === 'currentPassword' || f === 'newPassword');
  const ended = done ? (done.sessionsEnded === 1 ? '1 other session was' : `${done.sessionsEnded} other sessions were`) : '';

  return (
    <form
      className="form"
      noValidate
      aria-label={hasPassword ? 'Change password' : 'Set a password'}
      onSubmit={form.handleSubmit((data) => {
        setDone(null);
        change.mutate(data);
      })}
    >
      {hasPassword ? null : <p className="muted">You have signed in with e-mail links only. Set a password to sign in with it as well.</p>}
      {done ? (
        <StatusNotice>
          {done.first ? 'Password set.' : 'Password changed.'}{' '}
          {done.sessionsEnded > 0 ? `${ended} signed out; this one stays.` : 'No other session was signed in.'}
        </StatusNotice>
      ) : null}
      {apiError && !shownInline ? <ApiErrorAlert key={change.submittedAt} error={apiError} /> : null}
      {hasPassword ? (
        <PasswordField {...form.field('currentPassword')} label="Current password" autoComplete="current-password" required disabled={change.isPending} />
      ) : null}
      <PasswordField
        {...form.field('newPassword')}
        label="New password"
        autoComplete="new-password"
        hint={`At least ${PASSWORD_MIN_LENGTH} characters. Every other session of your account is signed out.`}
        required
        disabled={change.isPending}
      />
      <SubmitButton pending={change.isPending} pendingLabel="Saving…">
        {hasPassword ? 'Change password' : 'Set password'}
      </SubmitButton>
    </form>
  );
}
