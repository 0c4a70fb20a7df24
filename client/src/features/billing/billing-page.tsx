// The Billing tab: plans side by side (from plans.list) with the current one
// highlighted, billed monthly or yearly (a toggle, when a plan sells a year),
// upgrade / downgrade through Stripe Checkout or the customer portal,
// credit packs, payment-state banners, recent payments. With the offline billing
// simulator, Stripe's hosted pages are stood in for by clearly labelled test panels.
import type { TBillingInterval } from '@chatmeter/shared/billing';
import { formatMicroUsd } from '@chatmeter/shared/money';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { ApiErrorAlert, ErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount, formatDateTime, formatMonthlyPrice } from '../../lib/format.ts';
import { meQueryKey, useMe } from '../auth/use-me.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { BillingSimulatorCheckout, BillingSimulatorPortal } from './billing-simulator.tsx';
import { anyYearly, costCapText, LIVE_STATUSES as LIVE, planOffer } from './plan-offer.ts';
import { useBillingStatus, useCheckout, usePacks, usePortal, type BillingStatus, type CreditPack } from './use-billing.ts';
import { planName, usePlans, type Plan } from './use-plans.ts';
import './billing.css';
import { TableScroll } from '../../components/table-scroll.tsx';

const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
/** How long to keep asking after Stripe sends the browser back, while its webhook arrives. */
const WAIT_FOR_WEBHOOK_MS = 30_000;

function formatUsdCents(cents: number): string {
  return formatMonthlyPrice(cents) === 'Free' ? '$0' : formatMonthlyPrice(cents);
}

export function BillingPage() {
  const { data: me } = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const returned = params.get('checkout');
  const simulatedCheckout = params.get('simulated_checkout');
  const simulatedPortal = params.get('simulated_portal') === '1';
  const [pollUntil] = useState(() => (returned === 'success' ? Date.now() + WAIT_FOR_WEBHOOK_MS : 0));

  const plans = usePlans();
  const packs = usePacks();
  const status = useBillingStatus(pollUntil > Date.now());
  const checkout = useCheckout();
  const portal = usePortal();
  // The toggle starts where the user's subscription is billed; the user may flip it.
  const [chosenInterval, setChosenInterval] = useState<TBillingInterval | null>(null);
  const showInterval = anyYearly(plans.data ?? []);
  const interval: TBillingInterval = showInterval ? (chosenInterval ?? status.data?.subscription?.interval ?? 'month') : 'month';

  // The plan is decided by Stripe's webhook; once the server has it, the header badge follows.
  const serverPlan = status.data?.plan;
  useEffect(() => {
    if (serverPlan && me && serverPlan !== me.plan) void queryClient.invalidateQueries({ queryKey: meQueryKey, exact: true });
  }, [serverPlan, me, queryClient]);

  const clearParams = () => setParams({}, { replace: true });
  const busy = checkout.isPending || portal.isPending;
  const actionError = checkout.error ?? portal.error;
  const data = status.data;
  const canManage = !!data && data.mode !== 'off' && (data.subscription !== null || data.payments.length > 0);

  return (
    <div className="page billing">
      <PageHeader
        title="Billing"
        description="Your plan, credit packs and payments. Payments are handled by Stripe."
        actions={
          canManage ? (
            <button type="button" className="btn btn--secondary" onClick={() => portal.mutate()} disabled={busy}>
              {portal.isPending ? 'Opening…' : 'Manage billing'}
            </button>
          ) : null
        }
      />

      {data?.mode === 'simulator' ? (
        <div className="billing-test-banner" role="note">
          <strong>Test mode.</strong> Payments on this server are simulated (BILLING_SIMULATOR): nothing is charged, and test checkouts grant plans and credits
          through the same signed webhook events Stripe would send.
        </div>
      ) : null}
      {data?.mode === 'off' ? (
        <StatusNotice tone="info">Payments are not set up on this server, so plans cannot be bought here. Ask the operator to change your plan.</StatusNotice>
      ) : null}

      {returned === 'success' ? (
        <StatusNotice>
          Thank you — your payment went through. {pollUntil > Date.now() && data?.plan === me?.plan ? 'Your plan updates as soon as Stripe confirms it…' : ''}
        </StatusNotice>
      ) : null}
      {returned === 'canceled' ? <StatusNotice tone="info">Checkout canceled. Nothing was charged.</StatusNotice> : null}

      {simulatedCheckout ? (
        <BillingSimulatorCheckout
          sessionId={simulatedCheckout}
          onDone={(redirectTo) => navigate(redirectTo ?? '/billing?checkout=success', { replace: true })}
          onCancel={() => setParams({ checkout: 'canceled' }, { replace: true })}
        />
      ) : null}
      {simulatedPortal && data ? <BillingSimulatorPortal status={data} onClose={clearParams} /> : null}

      {actionError ? <ApiErrorAlert key={String(checkout.submittedAt || portal.submittedAt)} error={readApiError(actionError)} /> : null}
      {status.isPending ? <Spinner label="Loading billing…" /> : null}
      {status.error ? <ApiErrorAlert error={readApiError(status.error)} /> : null}

      {data ? <PaymentStateBanner status={data} plans={plans.data} onManage={() => portal.mutate()} busy={busy} /> : null}
      {data ? <CurrentPlanPanel status={data} plans={plans.data} /> : null}

      <section aria-labelledby="plans-title" className="billing__section">
        <div className="billing__plans-head">
          <h2 id="plans-title" className="billing__heading">
            Plans
          </h2>
          {showInterval ? <IntervalToggle value={interval} onChange={setChosenInterval} /> : null}
        </div>
        {plans.isPending ? <Spinner label="Loading plans…" /> : null}
        {plans.isError ? <p className="muted">The plans could not be loaded.</p> : null}
        <ul className="plan-grid" aria-label="Plans">
          {(plans.data ?? [])
            .filter((plan) => plan.id !== 'guest')
            .map((plan) => (
              <PlanCard
                key={plan.id}
                plan={plan}
                plans={plans.data ?? []}
                status={data}
                interval={interval}
                isGuest={me?.isGuest ?? true}
                busy={busy}
                onCheckout={(at) => checkout.mutate({ plan: plan.id, interval: at })}
                onPortal={() => portal.mutate()}
              />
            ))}
        </ul>
        {me?.isGuest ? (
          <p className="muted">
            <Link to="/sign-up">Create an account</Link> to choose a plan or buy credits.
          </p>
        ) : null}
      </section>

      <section aria-labelledby="packs-title" className="billing__section">
        <h2 id="packs-title" className="billing__heading">
          Credit packs
        </h2>
        <p className="muted">
          One-time top-ups. Credits are used after your plan's monthly tokens run out, and do not expire.
          {data ? ` You have ${formatCount(data.credits.tokens)} tokens of credit.` : ''}
          {data && data.credits.heldTokens > 0 ? ` ${formatCount(data.credits.heldTokens)} more are on hold while a payment dispute is open.` : ''}
        </p>
        <ul className="pack-grid" aria-label="Credit packs">
          {(packs.data ?? []).map((pack) => (
            <PackCard
              key={pack.id}
              pack={pack}
              disabled={busy || !data || data.mode === 'off' || (me?.isGuest ?? true)}
              onBuy={() => checkout.mutate({ pack: pack.id })}
            />
          ))}
        </ul>
      </section>

      {data && data.payments.length > 0 ? <PaymentsTable payments={data.payments} /> : null}
    </div>
  );
}

/** For the shell: the Billing tab's component. */
export { BillingPage as BillingTab };

function PaymentStateBanner({ status, plans, onManage, busy }: { status: BillingStatus; plans: Plan[] | undefined; onManage(): void; busy: boolean }) {
  const sub = status.subscription;
  if (!sub?.plan) return null;
  const name = planName(plans, sub.plan);
  if (sub.status === 'past_due') {
    return (
      <ErrorAlert title="Your last payment did not go through">
        <p>
          {sub.graceEndsAt && sub.graceEndsAt > new Date()
            ? `Your ${name} limits stay in place until ${formatDateTime(sub.graceEndsAt)}. Update your card before then, or your account moves to the Free plan.`
            : `Your account is on the Free plan until the payment goes through.`}
        </p>
        {status.mode !== 'off' ? (
          <button type="button" className="btn btn--primary btn--small billing__banner-action" onClick={onManage} disabled={busy}>
            Update payment method
          </button>
        ) : null}
      </ErrorAlert>
    );
  }
  if (sub.status === 'unpaid') {
    return <ErrorAlert title="Payment overdue">Your {name} subscription is unpaid, so your account is on the Free plan until the invoice is paid.</ErrorAlert>;
  }
  if (sub.cancelAtPeriodEnd && LIVE.has(sub.status) && sub.currentPeriodEnd) {
    return (
      <StatusNotice tone="info">
        Your {name} plan is canceled and ends on {dateFormat.format(sub.currentPeriodEnd)}. Until then nothing changes; you can resume it any time before.
      </StatusNotice>
    );
  }
  return null;
}

function CurrentPlanPanel({ status, plans }: { status: BillingStatus; plans: Plan[] | undefined }) {
  const sub = status.subscription;
  const rows: [string, string][] = [['Plan', planName(plans, status.plan)]];
  if (sub?.plan) {
    const billed = sub.interval === 'year' ? ' · billed yearly' : sub.interval === 'month' ? ' · billed monthly' : '';
    rows.push(['Subscription', `${planName(plans, sub.plan)} · ${describeStatus(sub.status, sub.cancelAtPeriodEnd)}${billed}`]);
    if (sub.currentPeriodEnd && LIVE.has(sub.status)) {
      rows.push([sub.cancelAtPeriodEnd ? 'Ends on' : 'Renews on', dateFormat.format(sub.currentPeriodEnd)]);
    }
  }
  rows.push(['Credits', `${formatCount(status.credits.tokens)} tokens`]);
  if (status.credits.heldTokens > 0) rows.push(['On hold', `${formatCount(status.credits.heldTokens)} tokens (payment disputed)`]);
  return (
    <section className="panel billing__current" aria-labelledby="current-plan-title">
      <h2 id="current-plan-title" className="panel__title">
        Your plan
      </h2>
      <dl className="stat-list">
        {rows.map(([label, value]) => (
          <div key={label} className="stat-list__row">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function describeStatus(status: string, cancelAtPeriodEnd: boolean): string {
  if (cancelAtPeriodEnd && LIVE.has(status)) return 'canceled at period end';
  const words: Record<string, string> = {
    active: 'active',
    trialing: 'trial',
    past_due: 'payment failed',
    unpaid: 'unpaid',
    canceled: 'ended',
    incomplete: 'waiting for the first payment',
    incomplete_expired: 'first payment failed',
    paused: 'paused',
  };
  return words[status] ?? status;
}

function IntervalToggle({ value, onChange }: { value: TBillingInterval; onChange(next: TBillingInterval): void }) {
  const options: [TBillingInterval, string, string | null][] = [
    ['month', 'Monthly', null],
    ['year', 'Yearly', '2 months free'],
  ];
  return (
    <div className="interval-toggle" role="group" aria-label="Billing interval">
      {options.map(([option, label, note]) => (
        <button key={option} type="button" className="interval-toggle__item" aria-pressed={value === option} onClick={() => onChange(option)}>
          {label}
          {note ? <span className="interval-toggle__note">{note}</span> : null}
        </button>
      ))}
    </div>
  );
}

interface PlanCardProps {
  plan: Plan;
  plans: Plan[];
  status: BillingStatus | undefined;
  interval: TBillingInterval;
  isGuest: boolean;
  busy: boolean;
  onCheckout(interval: TBillingInterval): void;
  onPortal(): void;
}

function PlanCard({ plan, plans, status, interval, isGuest, busy, onCheckout, onPortal }: PlanCardProps) {
  const offer = planOffer(plan, plans, status, interval, isGuest);
  const costCap = costCapText(plan.limits.costPerMonthMicroUsd);
  const { action } = offer;
  const onClick = action.kind === 'checkout' ? () => onCheckout(action.interval) : action.kind === 'portal' ? onPortal : undefined;

  return (
    <li className={`plan-card${offer.current ? ' plan-card--current' : ''}`} aria-current={offer.current || undefined}>
      <div className="plan-card__head">
        <h3 className="plan-card__name">{plan.name}</h3>
        {offer.current ? <span className="badge badge--accent">Your plan</span> : null}
      </div>
      <div>
        <p className="plan-card__price">
          {formatMonthlyPrice(offer.priceCents)}
          {offer.per ? <span> / {offer.per}</span> : null}
        </p>
        {offer.monthlyEquivalentCents !== null ? (
          <p className="plan-card__billing muted">
            {formatUsdCents(offer.monthlyEquivalentCents)} a month, billed yearly
            {offer.savingCents ? <> · save {formatUsdCents(offer.savingCents)}</> : null}
          </p>
        ) : null}
        {offer.monthlyOnly ? <p className="plan-card__billing muted">Billed monthly only</p> : null}
      </div>
      <ul className="plan-card__features">
        <li>{formatCount(plan.limits.tokensPerMonth)} tokens a month</li>
        {/* The hourly cap first among the message limits: it is the one people reach first. */}
        <li>{formatCount(plan.limits.messagesPerHour)} messages an hour</li>
        <li>{formatCount(plan.limits.messagesPerDay)} messages a day</li>
        <li>{formatCount(plan.limits.requestsPerMinute)} messages a minute</li>
        <li>Up to {formatCount(plan.limits.maxInputChars)} characters a message</li>
        <li>{formatCount(plan.limits.ttsCharsPerDay)} characters of speech a day</li>
        <li>{plan.limits.models.filter((m) => m !== 'demo').join(', ') || 'Demo model'}</li>
        {costCap ? <li>{costCap}</li> : null}
      </ul>
      <button
        type="button"
        className={`btn ${action.primary ? 'btn--primary' : 'btn--secondary'} plan-card__action`}
        onClick={onClick}
        disabled={!onClick || busy}
      >
        {action.label}
      </button>
    </li>
  );
}

function PackCard({ pack, disabled, onBuy }: { pack: CreditPack; disabled: boolean; onBuy(): void }) {
  return (
    <li className="pack-card">
      <div>
        <h3 className="pack-card__name">{pack.name}</h3>
        <p className="muted">{formatCount(pack.tokens)} tokens, one-time</p>
      </div>
      <p className="pack-card__price">{formatUsdCents(pack.priceCents)}</p>
      <button type="button" className="btn btn--secondary" onClick={onBuy} disabled={disabled}>
        Buy {pack.name}
      </button>
    </li>
  );
}

const PAYMENT_STATUS: Record<string, { label: string; className: string }> = {
  paid: { label: 'Paid', className: 'badge' },
  failed: { label: 'Failed', className: 'badge badge--warn' },
  refunded: { label: 'Refunded', className: 'badge badge--quiet' },
  partially_refunded: { label: 'Partly refunded', className: 'badge badge--quiet' },
};

function PaymentsTable({ payments }: { payments: BillingStatus['payments'] }) {
  return (
    <section className="panel billing__section" aria-labelledby="payments-title">
      <h2 id="payments-title" className="panel__title">
        Recent payments
      </h2>
      <TableScroll label="Payments table">
        <table className="billing-table">
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">What</th>
              <th scope="col" className="billing-table__num">
                Amount
              </th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {payments.map((payment) => {
              const badge = PAYMENT_STATUS[payment.status] ?? { label: payment.status, className: 'badge' };
              return (
                <tr key={payment.id}>
                  <td>{formatDateTime(payment.createdAt)}</td>
                  <td>{payment.description}</td>
                  <td className="billing-table__num">
                    {formatMicroUsd(payment.amountMicroUsd, { maxFractionDigits: 2 })}
                    {payment.currency !== 'usd' ? ` ${payment.currency.toUpperCase()}` : ''}
                    {payment.refundedMicroUsd > 0 ? (
                      <span className="muted"> ({formatMicroUsd(payment.refundedMicroUsd, { maxFractionDigits: 2 })} back)</span>
                    ) : null}
                  </td>
                  <td>
                    <span className={badge.className}>{badge.label}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
      <p className="muted billing__hint">Invoices and receipts are under Manage billing.</p>
    </section>
  );
}
