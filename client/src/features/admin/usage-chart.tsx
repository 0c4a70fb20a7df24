// Tokens (bars, left axis) and cost (line, right axis) per UTC day, with recharts.
import { microsToUsd } from '@chatmeter/shared/money';
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatCompact, formatCost, formatDay } from './admin-format.ts';
import type { Overview } from './use-admin.ts';

/** Axis dollars with as many decimals as small amounts need ($12, $0.25, $0.0035). */
export function formatAxisUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 10) return `$${usd.toFixed(0)}`;
  if (usd >= 0.1) return `$${usd.toFixed(2)}`;
  return `$${usd.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '')}`;
}

export function UsageChart({ series }: { series: Overview['series'] }) {
  const data = series.map((p) => ({
    day: formatDay(p.day),
    tokens: p.tokens,
    cost: microsToUsd(p.costMicroUsd),
    costMicroUsd: p.costMicroUsd,
    requests: p.requests,
  }));
  const summary = `Tokens and cost per day from ${series[0] ? formatDay(series[0].day) : ''} to ${series.at(-1) ? formatDay(series.at(-1)!.day) : ''}.`;
  return (
    <figure className="admin-chart" aria-label={summary}>
      <ResponsiveContainer width="100%" height={260}>
        <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
          <XAxis dataKey="day" tick={{ fill: 'var(--muted)', fontSize: 12 }} tickLine={false} axisLine={{ stroke: 'var(--border-strong)' }} minTickGap={12} />
          <YAxis
            yAxisId="tokens"
            tickFormatter={(v: number) => formatCompact(v)}
            tick={{ fill: 'var(--muted)', fontSize: 12 }}
            tickLine={false}
            axisLine={false}
            width={52}
          />
          <YAxis
            yAxisId="cost"
            orientation="right"
            tickFormatter={formatAxisUsd}
            tick={{ fill: 'var(--muted)', fontSize: 12 }}
            tickLine={false}
            axisLine={false}
            width={56}
          />
          <Tooltip
            contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
            formatter={(value, name, item) => {
              const payload = (item as { payload?: { costMicroUsd: number } }).payload;
              return name === 'Cost' && payload ? [formatCost(payload.costMicroUsd), name] : [formatCompact(Number(value)), name];
            }}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar yAxisId="tokens" dataKey="tokens" name="Tokens" fill="var(--accent)" radius={[3, 3, 0, 0]} maxBarSize={28} isAnimationActive={false} />
          <Line
            yAxisId="cost"
            dataKey="cost"
            name="Cost"
            stroke="var(--warn, #d97706)"
            strokeWidth={2}
            dot={series.length <= 7}
            type="linear"
            isAnimationActive={false}
          />
        </ComposedChart>
      </ResponsiveContainer>
      <figcaption className="visually-hidden">{summary}</figcaption>
    </figure>
  );
}
