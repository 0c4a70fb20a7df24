import { formatCount, formatMonthlyPrice } from '../../lib/format.ts';
import { useMe } from '../auth/use-me.ts';
import { PageHeader } from '../shell/page-header.tsx';
import { usePlans } from './use-plans.ts';

export function BillingPage() {
  const { data: me } = useMe();
  const plans = usePlans();
  // Guests cannot buy; the guest plan is not something to choose.
  const choices = plans.data?.filter((plan) => plan.id !== 'guest') ?? [];
  return (
    <div className="page">
      <PageHeader
        title="Billing"
        description="Plans and credit packs. Checkout and the billing portal (through Stripe) arrive in an upcoming update."
      />
      {plans.isPending ? <p className="muted">Loading plans…</p> : null}
      {plans.isError ? <p className="muted">The plans could not be loaded.</p> : null}
      <ul className="plan-grid" aria-label="Plans">
        {choices.map((plan) => {
          const current = plan.id === me?.plan;
          return (
            <li key={plan.id} className={`plan-card${current ? ' plan-card--current' : ''}`} aria-current={current || undefined}>
              <div className="plan-card__head">
                <h2 className="plan-card__name">{plan.name}</h2>
                {current ? <span className="badge badge--accent">Your plan</span> : null}
              </div>
              <p className="plan-card__price">
                {formatMonthlyPrice(plan.priceMonthlyCents)}
                {plan.priceMonthlyCents > 0 ? <span> / month</span> : null}
              </p>
              <ul className="plan-card__features">
                <li>{formatCount(plan.limits.tokensPerMonth)} tokens a month</li>
                <li>{formatCount(plan.limits.messagesPerDay)} messages a day</li>
                <li>Up to {formatCount(plan.limits.maxInputChars)} characters a message</li>
                <li>{plan.limits.models.filter((m) => m !== 'demo').join(', ') || 'Demo model'}</li>
              </ul>
            </li>
          );
        })}
      </ul>
      {me?.isGuest ? <p className="muted">Create an account to choose a plan.</p> : null}
    </div>
  );
}
