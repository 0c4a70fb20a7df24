import { formatMicroUsd } from '@chatmeter/shared/money';
import { useQuery } from '@tanstack/react-query';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { formatCount } from '../../lib/format.ts';
import { trpc } from '../../trpc.ts';
import { TableScroll } from '../../components/table-scroll.tsx';

export type UsageBreakdown = Awaited<ReturnType<typeof trpc.usage.breakdown.query>>;
type Item = UsageBreakdown['items'][number];

// Under 'usage' so refreshUsage (after every metered action) refreshes it too.
export const usageBreakdownQueryKey = ['usage', 'breakdown'] as const;

export function useUsageBreakdown() {
  return useQuery({ queryKey: usageBreakdownQueryKey, queryFn: () => trpc.usage.breakdown.query(), staleTime: 60_000 });
}

/** "GPT-4o mini" is the pricing label; here the model id and its provider, which the bill names. */
export function breakdownLabel(item: Pick<Item, 'kind' | 'model' | 'provider'>): string {
  const model = item.model || (item.kind === 'tts' ? 'voice' : item.kind);
  return item.provider ? `${model} · ${item.provider}` : model;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** This billing period's cost per model and provider: bars (share of the largest) and the figures as a table. */
export function BreakdownPanel() {
  const breakdown = useUsageBreakdown();
  const data = breakdown.data;
  const largest = data ? Math.max(0, ...data.items.map((i) => i.costMicroUsd)) : 0;
  return (
    <section className="panel breakdown-panel" aria-labelledby="breakdown-title">
      <div className="panel__head">
        <h2 id="breakdown-title" className="panel__title">
          This period by model
        </h2>
        {data ? (
          <span className="muted usage-note">
            {dateFormat.format(data.period.start)} – {dateFormat.format(new Date(data.period.end.getTime() - 1))} · {formatMicroUsd(data.total.costMicroUsd)}
          </span>
        ) : null}
      </div>
      {breakdown.isPending ? <Spinner label="Loading this period's usage…" /> : null}
      {breakdown.error ? <ApiErrorAlert error={readApiError(breakdown.error)} /> : null}
      {data && data.items.length === 0 ? <p className="muted">No usage in this period yet.</p> : null}
      {data && data.items.length > 0 ? (
        <>
          <ul className="breakdown-bars" aria-label="Cost per model and provider">
            {data.items.map((item) => {
              const share = largest > 0 ? item.costMicroUsd / largest : 0;
              return (
                <li key={`${item.kind}|${item.model}|${item.provider}`} className="breakdown-bar">
                  <span className="breakdown-bar__label">{breakdownLabel(item)}</span>
                  <span className="breakdown-bar__track" aria-hidden="true">
                    <span className="breakdown-bar__fill" style={{ width: `${Math.max(share * 100, item.costMicroUsd > 0 ? 1 : 0)}%` }} />
                  </span>
                  <span className="breakdown-bar__value">{formatMicroUsd(item.costMicroUsd)}</span>
                </li>
              );
            })}
          </ul>
          <TableScroll label="Usage by model table">
            <table className="usage-table">
              <caption className="visually-hidden">Usage this period per model and provider</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Provider</th>
                  <th scope="col" className="num">
                    Requests
                  </th>
                  <th scope="col" className="num">
                    Tokens
                  </th>
                  <th scope="col" className="num">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((item) => (
                  <tr key={`${item.kind}|${item.model}|${item.provider}`}>
                    <td>{item.model || item.kind}</td>
                    <td>{item.provider || '—'}</td>
                    <td className="num">{formatCount(item.requests)}</td>
                    <td className="num">{item.kind === 'tts' ? `${formatCount(item.ttsChars)} chars` : formatCount(item.tokens)}</td>
                    <td className="num">{formatMicroUsd(item.costMicroUsd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        </>
      ) : null}
    </section>
  );
}
