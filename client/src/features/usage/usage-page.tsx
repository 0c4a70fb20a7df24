import { formatCount } from '../../lib/format.ts';
import { useMe } from '../auth/use-me.ts';
import { usePlans, type Plan } from '../billing/use-plans.ts';
import { ComingSoon, PageHeader } from '../shell/page-header.tsx';

export function UsagePage() {
  const { data: me } = useMe();
  const plans = usePlans();
  const plan = plans.data?.find((p) => p.id === me?.plan);
  return (
    <div className="page">
      <PageHeader title="Usage" description="What your plan allows, and soon how much of it you have used." />
      <div className="grid grid--2">
        <section className="panel" aria-labelledby="limits-title">
          <h2 id="limits-title" className="panel__title">
            {plan ? `${plan.name} plan limits` : 'Plan limits'}
          </h2>
          {plans.isPending ? <p className="muted">Loading your plan…</p> : null}
          {plans.isError ? <p className="muted">The plan table could not be loaded.</p> : null}
          {plan ? <PlanLimits plan={plan} /> : null}
        </section>
        <ComingSoon title="Live counters" items={['Messages this hour and today', 'Tokens this month', 'Cost this month and lifetime', 'Per-request history with model and status']}>
          <p>Metering lands in an upcoming update. These figures will come straight from the usage ledger.</p>
        </ComingSoon>
      </div>
    </div>
  );
}

export function PlanLimits({ plan }: { plan: Plan }) {
  const rows: [string, string][] = [
    ['Messages per hour', formatCount(plan.limits.messagesPerHour)],
    ['Messages per day', formatCount(plan.limits.messagesPerDay)],
    ['Tokens per month', formatCount(plan.limits.tokensPerMonth)],
    ['Longest message', `${formatCount(plan.limits.maxInputChars)} characters`],
    ['Messages per conversation', formatCount(plan.limits.maxConversationMessages)],
    ['Text to speech per day', `${formatCount(plan.limits.ttsCharsPerDay)} characters`],
    ['Models', plan.limits.models.join(', ')],
  ];
  return (
    <dl className="stat-list">
      {rows.map(([label, value]) => (
        <div key={label} className="stat-list__row">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
