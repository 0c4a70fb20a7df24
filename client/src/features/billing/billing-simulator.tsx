// The offline billing simulator's stand-ins for Stripe Checkout and the customer
// portal. Labelled as tests everywhere: they charge nothing, and exist only when
// the server runs with BILLING_SIMULATOR=1 and no Stripe key.
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatMonthlyPrice } from '../../lib/format.ts';
import { useSimulate, useSimulatedCheckout, type BillingStatus } from './use-billing.ts';

export function BillingSimulatorCheckout({ sessionId, onDone, onCancel }: { sessionId: string; onDone(redirectTo: string | null): void; onCancel(): void }) {
  const session = useSimulatedCheckout(sessionId);
  const simulate = useSimulate();
  const amount = session.data ? formatMonthlyPrice(session.data.amountCents) : '';
  return (
    <section className="panel sim-panel" aria-labelledby="sim-checkout-title">
      <p className="sim-panel__label">Simulator · test checkout · no real payment</p>
      <h2 id="sim-checkout-title" className="panel__title">
        Test checkout
      </h2>
      {session.isPending ? <Spinner label="Loading the test checkout…" /> : null}
      {session.error ? <ApiErrorAlert error={readApiError(session.error)} /> : null}
      {session.data ? (
        <>
          <p className="sim-panel__item">
            {session.data.description}
            {session.data.kind === 'plan_change' ? ' (plan change)' : ''}
          </p>
          <p className="sim-panel__amount">
            {amount}
            {session.data.kind !== 'payment' ? <span> / month</span> : null}
          </p>
          <p className="muted">
            In place of Stripe Checkout: paying here builds the events Stripe would send, signs them with the webhook secret and hands them to ChatMeter's
            webhook handler. No card is asked for and nothing is charged.
          </p>
          {simulate.error ? <ApiErrorAlert error={readApiError(simulate.error)} /> : null}
          <div className="sim-panel__actions">
            <button
              type="button"
              className="btn btn--primary"
              disabled={simulate.isPending}
              onClick={() => simulate.mutate({ action: 'complete_checkout', sessionId }, { onSuccess: (result) => onDone(result.redirectTo) })}
            >
              {simulate.isPending ? 'Paying…' : `Pay ${amount} (test)`}
            </button>
            <button type="button" className="btn btn--ghost" onClick={onCancel} disabled={simulate.isPending}>
              Cancel
            </button>
          </div>
        </>
      ) : null}
    </section>
  );
}

const PORTAL_ACTIONS = [
  { action: 'cancel_at_period_end', label: 'Cancel at period end', when: (s: BillingStatus) => live(s) && !s.subscription!.cancelAtPeriodEnd },
  { action: 'resume', label: 'Resume subscription', when: (s: BillingStatus) => live(s) && s.subscription!.cancelAtPeriodEnd },
  { action: 'payment_failed', label: 'Simulate a failed payment', when: (s: BillingStatus) => live(s) && s.subscription!.status !== 'past_due' },
  { action: 'renew', label: 'Simulate the renewal (new period, paid)', when: live },
  { action: 'cancel_now', label: 'Cancel now', when: live },
  {
    action: 'refund_last_pack',
    label: 'Refund the last credit pack',
    when: (s: BillingStatus) => s.payments.some((p) => p.kind === 'pack' && p.status === 'paid'),
  },
] as const;

function live(status: BillingStatus): boolean {
  return !!status.subscription && ['active', 'trialing', 'past_due', 'unpaid'].includes(status.subscription.status);
}

export function BillingSimulatorPortal({ status, onClose }: { status: BillingStatus; onClose(): void }) {
  const simulate = useSimulate();
  const available = PORTAL_ACTIONS.filter((a) => a.when(status));
  return (
    <section className="panel sim-panel" aria-labelledby="sim-portal-title">
      <p className="sim-panel__label">Simulator · test billing portal</p>
      <h2 id="sim-portal-title" className="panel__title">
        Manage billing (test)
      </h2>
      <p className="muted">In place of Stripe's customer portal: each action sends the events Stripe would, through the real webhook handler.</p>
      {simulate.error ? <ApiErrorAlert error={readApiError(simulate.error)} /> : null}
      {simulate.data ? <p className="sim-panel__result">Done: {simulate.data.outcomes.join(', ')}</p> : null}
      <div className="sim-panel__actions">
        {available.map((a) => (
          <button
            key={a.action}
            type="button"
            className="btn btn--secondary btn--small"
            disabled={simulate.isPending}
            onClick={() => simulate.mutate({ action: a.action })}
          >
            {a.label}
          </button>
        ))}
        {available.length === 0 ? <p className="muted">Nothing to manage yet: choose a plan or buy a pack first.</p> : null}
        <button type="button" className="btn btn--ghost btn--small" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}
