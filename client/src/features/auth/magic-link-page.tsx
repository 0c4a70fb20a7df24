import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { ZRequestMagicLinkInput } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { PageLoading } from '../../components/spinner.tsx';
import { SubmitButton } from '../../components/submit-button.tsx';
import { TextField } from '../../components/text-field.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { useZodForm } from '../../lib/use-zod-form.ts';
import { trpc } from '../../trpc.ts';
import { AuthLayout } from './auth-layout.tsx';
import { readAuthPageState, useEnterApp, useNextSuffix } from './use-enter-app.ts';

const FIELDS = ['email'] as const;

/**
 * `/magic-link` asks for a sign-in link; `/magic-link?token=…` (the link in the
 * e-mail) spends the token once and enters the app.
 */
export function MagicLinkPage() {
  const [params, setParams] = useSearchParams();
  const token = params.get('token');
  const enterApp = useEnterApp();
  const verify = useMutation({
    mutationFn: (value: string) => trpc.auth.verifyMagicLink.mutate({ token: value }),
    onSuccess: ({ user }) => enterApp(user),
    onError: () => {
      // The token is spent or bad either way: take it out of the address bar.
      const rest = new URLSearchParams(params);
      rest.delete('token');
      setParams(rest, { replace: true });
    },
  });
  // Tokens are single-use; StrictMode runs effects twice, so remember what was sent.
  const sent = useRef<string | null>(null);
  const { mutate } = verify;
  useEffect(() => {
    if (token && sent.current !== token) {
      sent.current = token;
      mutate(token);
    }
  }, [token, mutate]);

  if (token || verify.isPending || verify.isSuccess) {
    return (
      <AuthLayout title="Signing you in">
        <PageLoading label="Checking your sign-in link…" />
      </AuthLayout>
    );
  }
  return <RequestLinkForm verifyError={verify.error} />;
}

function RequestLinkForm({ verifyError }: { verifyError: unknown }) {
  const location = useLocation();
  const form = useZodForm(ZRequestMagicLinkInput, FIELDS, { email: readAuthPageState(location.state).email ?? '' });
  const [sentTo, setSentTo] = useState<string | null>(null);
  const request = useMutation({
    mutationFn: (email: string) => trpc.auth.requestMagicLink.mutate({ email }),
    onSuccess: (_result, email) => setSentTo(email),
    onError: (error) => form.showServerErrors(readApiError(error)),
  });
  const nextQuery = useNextSuffix();
  const footer = (
    <>
      <Link to={`/sign-in${nextQuery}`}>Back to sign in</Link>
    </>
  );

  if (sentTo) {
    return (
      <AuthLayout title="Check your inbox" footer={footer}>
        <StatusNotice>
          <p>
            If <strong>{sentTo}</strong> can receive mail, a sign-in link is on its way. It works once, within 15 minutes.
          </p>
        </StatusNotice>
        <p className="muted">
          No e-mail after a few minutes? Check your spam folder, or{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setSentTo(null);
              request.reset();
            }}
          >
            send another link
          </button>
          .
        </p>
      </AuthLayout>
    );
  }

  const requestError = request.error ? readApiError(request.error) : null;
  const shownInline = requestError?.reason === 'invalid_input' && Boolean(requestError.fieldErrors.email);
  const linkError = verifyError ? readApiError(verifyError) : null;
  return (
    <AuthLayout title="Sign in with an e-mail link" subtitle="No password needed: we e-mail you a link that signs you in." footer={footer}>
      {linkError ? <ApiErrorAlert error={linkError} /> : null}
      <form className="form" noValidate onSubmit={form.handleSubmit((data) => request.mutate(data.email))} aria-label="Request a sign-in link">
        {requestError && !shownInline ? <ApiErrorAlert key={request.submittedAt} error={requestError} /> : null}
        <TextField {...form.field('email')} label="E-mail" type="email" inputMode="email" autoComplete="email" required autoFocus disabled={request.isPending} />
        <SubmitButton pending={request.isPending} pendingLabel="Sending…">
          {linkError ? 'Send a new link' : 'Send sign-in link'}
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
