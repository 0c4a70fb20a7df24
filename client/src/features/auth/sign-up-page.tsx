import { useMutation } from '@tanstack/react-query';
import { Link, Navigate, useLocation } from 'react-router';
import { PASSWORD_MIN_LENGTH, ZSignUpInput, type TSignUpInput } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { PasswordField } from '../../components/password-field.tsx';
import { SubmitButton } from '../../components/submit-button.tsx';
import { TextField } from '../../components/text-field.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { useZodForm } from '../../lib/use-zod-form.ts';
import { trpc } from '../../trpc.ts';
import { AuthLayout } from './auth-layout.tsx';
import { readAuthPageState, useEnterApp, useNextPath, useNextSuffix } from './use-enter-app.ts';
import { useMe } from './use-me.ts';

const FIELDS = ['email', 'password'] as const;

export function SignUpPage() {
  const me = useMe();
  const location = useLocation();
  const next = useNextPath();
  const nextSuffix = useNextSuffix();
  const enterApp = useEnterApp();
  const form = useZodForm(ZSignUpInput, FIELDS, { email: readAuthPageState(location.state).email ?? '' });
  const signUp = useMutation({
    mutationFn: (input: TSignUpInput) => trpc.auth.signUp.mutate(input),
    onSuccess: ({ user }) => enterApp(user),
    onError: (error) => form.showServerErrors(readApiError(error)),
  });

  if (me.data && !me.data.isGuest) return <Navigate to={next} replace />;

  const apiError = signUp.error ? readApiError(signUp.error) : null;
  const shownInline = apiError?.reason === 'invalid_input' && FIELDS.some((f) => apiError.fieldErrors[f]);

  return (
    <AuthLayout
      title="Create your account"
      subtitle="Free to start. Upgrade only when you need more."
      footer={
        <>
          Already have an account? <Link to={`/sign-in${nextSuffix}`}>Sign in</Link>
        </>
      }
    >
      {me.data?.isGuest ? (
        <StatusNotice tone="info">You are using ChatMeter as a guest. Your conversations and usage so far move to the new account.</StatusNotice>
      ) : null}
      <form className="form" noValidate onSubmit={form.handleSubmit((data) => signUp.mutate(data))} aria-label="Create your account">
        {apiError && !shownInline ? (
          <ApiErrorAlert key={signUp.submittedAt} error={apiError}>
            {apiError.reason === 'conflict' ? (
              <p>
                <Link to={`/sign-in${nextSuffix}`} state={{ email: form.values.email }}>
                  Sign in with this e-mail
                </Link>
              </p>
            ) : null}
          </ApiErrorAlert>
        ) : null}
        <TextField {...form.field('email')} label="E-mail" type="email" inputMode="email" autoComplete="email" required autoFocus disabled={signUp.isPending} />
        <PasswordField
          {...form.field('password')}
          label="Password"
          autoComplete="new-password"
          hint={`At least ${PASSWORD_MIN_LENGTH} characters. A short sentence is easy to remember.`}
          required
          disabled={signUp.isPending}
        />
        <SubmitButton pending={signUp.isPending} pendingLabel="Creating account…">
          Create account
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
