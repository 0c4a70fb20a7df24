import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { TMe } from '@chatmeter/shared/auth';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { trpc } from '../../trpc.ts';
import { meQueryKey } from './use-me.ts';
import './verify-email.css';

/** "Send the link again", with what happened (sent, rate limited with a countdown, or already verified). */
export function ResendVerification({ email }: { email: string | null }) {
  const queryClient = useQueryClient();
  const resend = useMutation({
    mutationFn: () => trpc.auth.resendVerification.mutate(),
    onSuccess: ({ alreadyVerified }) => {
      if (alreadyVerified) void queryClient.invalidateQueries();
    },
  });
  const error = resend.error ? readApiError(resend.error) : null;
  return (
    <div className="verify-resend">
      <button type="button" className="btn btn--secondary btn--small" onClick={() => resend.mutate()} disabled={resend.isPending}>
        {resend.isPending ? 'Sending…' : 'Send the link again'}
      </button>
      <span className="verify-resend__status" role="status">
        {resend.isSuccess && resend.data.sent ? `Sent${email ? ` to ${email}` : ''}. Check your inbox (and spam folder).` : null}
      </span>
      {error ? <ApiErrorAlert key={resend.submittedAt} error={error} /> : null}
    </div>
  );
}

/**
 * Shown above every page while the account is held to the guest plan's limits
 * because its address is unproven (EMAIL_VERIFICATION=required).
 */
export function VerifyEmailBanner({ me }: { me: TMe }) {
  const queryClient = useQueryClient();
  // The link is usually opened in another tab: coming back here asks whether it was.
  useEffect(() => {
    const recheck = () => void queryClient.invalidateQueries({ queryKey: meQueryKey, exact: true });
    window.addEventListener('focus', recheck);
    return () => window.removeEventListener('focus', recheck);
  }, [queryClient]);
  return (
    <section className="verify-banner" aria-labelledby="verify-banner-title">
      <div className="verify-banner__inner">
        <p className="verify-banner__text">
          <strong id="verify-banner-title">Verify your e-mail address.</strong> We sent a link to <span className="verify-banner__email">{me.email}</span>.
          Until you open it, your account has the guest plan’s limits.
        </p>
        <ResendVerification email={me.email} />
      </div>
    </section>
  );
}
