import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { trpc } from '../../trpc.ts';
import { AuthLayout } from './auth-layout.tsx';
import { useMe } from './use-me.ts';
import { ResendVerification } from './verify-email-banner.tsx';

/**
 * `/verify-email?token=…`, the link mailed at sign-up. Nothing is spent until
 * the button is pressed: mail scanners and link previews that open the page
 * cannot use the link up.
 */
export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get('token');
  const me = useMe();
  const queryClient = useQueryClient();
  const verify = useMutation({
    mutationFn: (value: string) => trpc.auth.verifyEmail.mutate({ token: value }),
    // The plan, its limits and the models on offer may all have changed.
    onSuccess: () => void queryClient.invalidateQueries(),
  });
  const home = <Link to="/">Go to ChatMeter</Link>;

  if (verify.isSuccess) {
    const signedInAsIt = me.data?.email === verify.data.email;
    return (
      <AuthLayout title="E-mail address verified">
        <StatusNotice>
          <p>
            <strong>{verify.data.email}</strong> is verified.
            {signedInAsIt ? ' Your plan’s full limits apply now.' : ' Sign in to use your plan’s full limits.'}
          </p>
        </StatusNotice>
        <Link to={signedInAsIt ? '/' : '/sign-in'} className="btn btn--primary btn--block">
          {signedInAsIt ? 'Continue to ChatMeter' : 'Sign in'}
        </Link>
      </AuthLayout>
    );
  }

  if (!token) {
    return (
      <AuthLayout title="Verify your e-mail address" footer={home}>
        <p>Open the link from the e-mail we sent when you created your account. It works once, within 24 hours.</p>
        {me.data?.limitedUntilVerified ? <ResendVerification email={me.data.email} /> : null}
      </AuthLayout>
    );
  }

  const error = verify.error ? readApiError(verify.error) : null;
  return (
    <AuthLayout title="Verify your e-mail address" subtitle="Press the button to confirm that this address is yours." footer={home}>
      {error ? (
        <ApiErrorAlert key={verify.submittedAt} error={error}>
          {!me.data || me.data.isGuest ? (
            <p>
              <Link to="/sign-in">Sign in</Link> to ask for a new link.
            </p>
          ) : null}
        </ApiErrorAlert>
      ) : null}
      {error && me.data?.limitedUntilVerified ? <ResendVerification email={me.data.email} /> : null}
      {error?.reason !== 'invalid_input' ? (
        <button
          type="button"
          className="btn btn--primary btn--block"
          onClick={() => verify.mutate(token)}
          disabled={verify.isPending}
          aria-busy={verify.isPending || undefined}
        >
          {verify.isPending ? (
            <>
              <span className="spinner spinner--on-primary" aria-hidden="true" />
              Verifying…
            </>
          ) : (
            'Verify my e-mail'
          )}
        </button>
      ) : null}
    </AuthLayout>
  );
}
