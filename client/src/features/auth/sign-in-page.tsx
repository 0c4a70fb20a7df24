import { useMutation } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, Navigate, useLocation, useSearchParams } from 'react-router';
import { ZSignInInput, type TSignInInput } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { PasswordField } from '../../components/password-field.tsx';
import { SubmitButton } from '../../components/submit-button.tsx';
import { TextField } from '../../components/text-field.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { signedOutNotice } from '../../lib/navigation.ts';
import { useZodForm } from '../../lib/use-zod-form.ts';
import { trpc } from '../../trpc.ts';
import { AuthLayout } from './auth-layout.tsx';
import { readAuthPageState, useEnterApp, useNextPath, useNextSuffix } from './use-enter-app.ts';
import { useMe } from './use-me.ts';

const FIELDS = ['email', 'password'] as const;

export function SignInPage() {
  const me = useMe();
  const location = useLocation();
  const pageState = readAuthPageState(location.state);
  const [params, setParams] = useSearchParams();
  // Read once, then take the marker out of the address so a reload does not repeat it.
  const [signedOut] = useState(() => signedOutNotice(params.get('signed-out')));
  useEffect(() => {
    if (!params.has('signed-out')) return;
    const rest = new URLSearchParams(params);
    rest.delete('signed-out');
    setParams(rest, { replace: true, state: location.state });
  }, [params, setParams, location.state]);
  const notice = pageState.notice ?? signedOut;
  const next = useNextPath();
  const nextSuffix = useNextSuffix();
  const enterApp = useEnterApp();
  const form = useZodForm(ZSignInInput, FIELDS, { email: pageState.email ?? '' });
  const signIn = useMutation({
    mutationFn: (input: TSignInInput) => trpc.auth.signIn.mutate(input),
    onSuccess: ({ user }) => enterApp(user),
    onError: (error) => form.showServerErrors(readApiError(error)),
  });
  const guest = useMutation({
    mutationFn: () => trpc.auth.guest.mutate(),
    onSuccess: ({ user }) => enterApp(user),
  });

  if (me.data && !me.data.isGuest) return <Navigate to={next} replace />;

  const busy = signIn.isPending || guest.isPending;
  const signInError = signIn.error ? readApiError(signIn.error) : null;
  const shownInline = signInError?.reason === 'invalid_input' && FIELDS.some((f) => signInError.fieldErrors[f]);
  const guestError = guest.error ? readApiError(guest.error) : null;

  return (
    <AuthLayout
      title="Sign in to ChatMeter"
      subtitle="Welcome back."
      footer={
        <>
          New to ChatMeter? <Link to={`/sign-up${nextSuffix}`}>Create an account</Link>
        </>
      }
    >
      {notice ? <StatusNotice>{notice}</StatusNotice> : null}
      <form className="form" noValidate onSubmit={form.handleSubmit((data) => signIn.mutate(data))} aria-label="Sign in">
        {signInError && !shownInline ? (
          <ApiErrorAlert key={signIn.submittedAt} error={signInError}>
            {signInError.reason === 'rate_limited' ? (
              // Failed passwords do not count against sign-in links: the owner of a throttled e-mail can still get in.
              <p>
                <Link to={`/magic-link${nextSuffix}`} state={{ email: form.values.email }}>
                  E-mail me a sign-in link instead
                </Link>
              </p>
            ) : null}
          </ApiErrorAlert>
        ) : null}
        <TextField {...form.field('email')} label="E-mail" type="email" inputMode="email" autoComplete="email" required autoFocus disabled={busy} />
        <PasswordField {...form.field('password')} label="Password" autoComplete="current-password" required disabled={busy} />
        <SubmitButton pending={signIn.isPending} pendingLabel="Signing in…" disabled={guest.isPending}>
          Sign in
        </SubmitButton>
        <p className="form__aside">
          Forgot your password, or prefer no password?{' '}
          <Link to={`/magic-link${nextSuffix}`} state={{ email: form.values.email }}>
            E-mail me a sign-in link
          </Link>
        </p>
      </form>

      <div className="divider" role="separator">
        <span>or</span>
      </div>

      {guestError ? <ApiErrorAlert key={guest.submittedAt} error={guestError} /> : null}
      <button type="button" className="btn btn--secondary btn--block" onClick={() => guest.mutate()} disabled={busy} aria-busy={guest.isPending || undefined}>
        {guest.isPending ? 'Starting guest session…' : 'Continue as guest'}
      </button>
      <p className="form__aside form__aside--center">Guests get a small daily allowance. Create an account any time to keep your chats.</p>
    </AuthLayout>
  );
}
