import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { ZRequestMagicLinkInput, type TMagicLinkInfo, type TMe } from '@chatmeter/shared/auth';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { PageLoading } from '../../components/spinner.tsx';
import { SubmitButton } from '../../components/submit-button.tsx';
import { TextField } from '../../components/text-field.tsx';
import { errorReason, readApiError } from '../../lib/api-error.ts';
import { useZodForm } from '../../lib/use-zod-form.ts';
import { trpc } from '../../trpc.ts';
import { AuthLayout } from './auth-layout.tsx';
import { readAuthPageState, useEnterApp, useNextSuffix } from './use-enter-app.ts';
import { useMe } from './use-me.ts';

const FIELDS = ['email'] as const;

/**
 * `/magic-link` asks for a sign-in link; `/magic-link?token=…` (the link in the
 * e-mail) shows whom the link signs in and spends it only when the visitor
 * clicks: loading the page (or a mail scanner fetching it) uses nothing up.
 */
export function MagicLinkPage() {
  const [params, setParams] = useSearchParams();
  const token = params.get('token');
  const [linkError, setLinkError] = useState<unknown>(null);
  // The link is spent or bad: say so above the request form, and take it out of the address bar.
  const dropLink = (error: unknown) => {
    setLinkError(error);
    const rest = new URLSearchParams(params);
    rest.delete('token');
    setParams(rest, { replace: true });
  };
  if (token) return <ConfirmLink key={token} token={token} onInvalid={dropLink} />;
  return <RequestLinkForm verifyError={linkError} />;
}

function ConfirmLink({ token, onInvalid }: { token: string; onInvalid: (error: unknown) => void }) {
  const enterApp = useEnterApp();
  const me = useMe();
  const verify = useMutation({
    mutationFn: () => trpc.auth.verifyMagicLink.mutate({ token }),
    onSuccess: ({ user }) => enterApp(user),
    onError: onInvalid,
  });
  const info = useQuery({
    queryKey: ['auth', 'magicLinkInfo', token],
    queryFn: () => trpc.auth.magicLinkInfo.query({ token }),
    // Signing in drops every cached query; asking again about a link just used would only find it gone.
    enabled: verify.isIdle,
    retry: false,
    staleTime: Infinity,
    gcTime: 0,
  });
  const notFound = errorReason(info.error) === 'not_found';
  // biome-ignore lint/correctness/useExhaustiveDependencies: onInvalid changes with the page's params; the error is what matters.
  useEffect(() => {
    if (notFound) onInvalid(info.error);
  }, [notFound, info.error]);

  if (info.isPending || notFound) {
    return (
      <AuthLayout title="Sign in with your link">
        <PageLoading label={verify.isIdle ? 'Checking your sign-in link…' : 'Signing you in…'} />
      </AuthLayout>
    );
  }
  if (info.isError) {
    return (
      <AuthLayout title="Sign in with your link">
        <ApiErrorAlert error={readApiError(info.error)}>
          <p>
            <button type="button" className="link-button" onClick={() => void info.refetch()}>
              Try again
            </button>
          </p>
        </ApiErrorAlert>
      </AuthLayout>
    );
  }
  return (
    <AuthLayout
      title="Sign in to ChatMeter"
      subtitle="This link signs you in once, within 15 minutes of being sent."
      footer={<Link to="/">Not your address? Go to the chat without signing in</Link>}
    >
      <CurrentSessionNote me={me.data ?? null} info={info.data} />
      <form
        className="form"
        aria-label="Sign in with this link"
        onSubmit={(event) => {
          event.preventDefault();
          verify.mutate();
        }}
      >
        <SubmitButton pending={verify.isPending || verify.isSuccess} pendingLabel="Signing in…">
          <span className="magic-link__label">Sign in as {info.data.email}</span>
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}

/** What signing in does to whoever this browser is now. */
function CurrentSessionNote({ me, info }: { me: TMe | null; info: TMagicLinkInfo }) {
  if (!me) return null;
  if (me.isGuest) {
    return (
      <StatusNotice tone="info">
        {info.mergesGuest
          ? 'You are using ChatMeter as a guest. Your conversations and usage so far move to this account.'
          : 'You are using ChatMeter as a guest. Signing in ends the guest session: its conversations stay with it and do not move to this account, because the link was not requested from it.'}
      </StatusNotice>
    );
  }
  return <StatusNotice tone="info">You are signed in as {me.email}. Signing in with this link signs you out of that account in this browser.</StatusNotice>;
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
        <TextField
          {...form.field('email')}
          label="E-mail"
          type="email"
          inputMode="email"
          autoComplete="email"
          required
          autoFocus
          disabled={request.isPending}
        />
        <SubmitButton pending={request.isPending} pendingLabel="Sending…">
          {linkError ? 'Send a new link' : 'Send sign-in link'}
        </SubmitButton>
      </form>
    </AuthLayout>
  );
}
