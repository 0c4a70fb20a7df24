import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, Navigate, useLocation } from 'react-router';
import { PASSWORD_MIN_LENGTH, ZSignUpInput, type TSignUpInput } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { CaptchaWidget } from '../../components/captcha-widget.tsx';
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
  // With the captcha on (the server hands out challenges), a sign-up carries a solved proof-of-work, like a
  // guest's first message. It solves in the background as soon as the page opens.
  const captcha = useQuery({
    queryKey: ['auth', 'captchaChallenge'],
    queryFn: () => trpc.auth.captchaChallenge.query(),
    staleTime: Infinity,
  });
  const captchaOn = captcha.data != null;
  const captchaKnown = !captcha.isPending;
  const [captchaPayload, setCaptchaPayload] = useState<string | null>(null);
  const [captchaKey, setCaptchaKey] = useState(0);
  const [captchaError, setCaptchaError] = useState<string | null>(null);
  // A valid form sent before the check finished: it goes as soon as the check is done.
  const [waiting, setWaiting] = useState<TSignUpInput | null>(null);

  const signUp = useMutation({
    mutationFn: (input: TSignUpInput) => trpc.auth.signUp.mutate(input),
    onSuccess: ({ user }) => enterApp(user),
    onError: (error) => form.showServerErrors(readApiError(error)),
    onSettled: (_data, _error, input) => {
      // A solution is accepted once: the next attempt needs a fresh check.
      if (input.captcha) {
        setCaptchaPayload(null);
        setCaptchaKey((k) => k + 1);
      }
    },
  });

  const canSend = captchaKnown && (!captchaOn || captchaPayload !== null);
  useEffect(() => {
    if (!waiting || !canSend) return;
    setWaiting(null);
    signUp.mutate(captchaOn && captchaPayload ? { ...waiting, captcha: captchaPayload } : waiting);
  }, [waiting, canSend, captchaOn, captchaPayload, signUp.mutate]);

  if (me.data && !me.data.isGuest) return <Navigate to={next} replace />;

  const apiError = signUp.error ? readApiError(signUp.error) : null;
  const shownInline = apiError?.reason === 'invalid_input' && FIELDS.some((f) => apiError.fieldErrors[f]);
  const busy = signUp.isPending || waiting !== null;

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
      <form
        className="form"
        noValidate
        onSubmit={form.handleSubmit((data) => {
          signUp.reset();
          setWaiting(data);
        })}
        aria-label="Create your account"
      >
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
        <TextField {...form.field('email')} label="E-mail" type="email" inputMode="email" autoComplete="email" required autoFocus disabled={busy} />
        <PasswordField
          {...form.field('password')}
          label="Password"
          autoComplete="new-password"
          hint={`At least ${PASSWORD_MIN_LENGTH} characters. A short sentence is easy to remember.`}
          required
          disabled={busy}
        />
        {captchaOn ? (
          <div className="form__captcha">
            <CaptchaWidget
              key={captchaKey}
              getChallenge={() => trpc.auth.captchaChallenge.query()}
              autoStart
              onSolved={(payload) => {
                setCaptchaPayload(payload);
                setCaptchaError(null);
              }}
              onReset={() => setCaptchaPayload(null)}
              onError={(error) => {
                setCaptchaError(error.message);
                setWaiting(null);
              }}
            />
            {captchaError ? (
              <p className="form__captcha-error" role="alert">
                {captchaError}
              </p>
            ) : (
              <p className="form__aside">A quick check that you are human runs in your browser; no puzzle to solve.</p>
            )}
          </div>
        ) : null}
        <SubmitButton pending={busy} pendingLabel={signUp.isPending ? 'Creating account…' : 'Finishing the human check…'}>
          Create account
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
