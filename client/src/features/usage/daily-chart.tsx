// Loaded lazily by daily-panel.tsx: recharts is only fetched with the Usage page's chart.
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatCount } from '../../lib/format.ts';
import type { DailyPoint } from './usage-series.ts';

const cents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const small = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 2 });
/** Cents from a dollar up; below, two significant digits ($0.00007), so small days do not all read $0.00. */
const usd = { format: (v: number) => (v === 0 ? '$0' : Math.abs(v) >= 1 ? cents.format(v) : small.format(v)) };
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const tick = { fill: 'var(--muted)', fontSize: 12 };

export default function DailyChart({ points }: { points: DailyPoint[] }) {
  return (
    <ResponsiveContainer width="100%" height={260}>
      <ComposedChart data={points} margin={{ top: 8, right: 4, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
        <XAxis dataKey="label" tick={tick} stroke="var(--border-strong)" interval="preserveStartEnd" minTickGap={16} />
        <YAxis yAxisId="tokens" tick={tick} stroke="var(--border-strong)" tickFormatter={(v: number) => compact.format(v)} width={48} />
        <YAxis yAxisId="cost" orientation="right" tick={tick} stroke="var(--border-strong)" tickFormatter={(v: number) => usd.format(v)} width={72} />
        <Tooltip
          formatter={(value, name) => (name === 'Cost' ? [usd.format(Number(value)), name] : [formatCount(Number(value)), name])}
          contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
        />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Bar yAxisId="tokens" dataKey="tokens" name="Tokens" fill="var(--accent)" radius={[3, 3, 0, 0]} />
        <Line yAxisId="cost" dataKey="costUsd" name="Cost" stroke="var(--warn)" strokeWidth={2} dot={false} type="monotone" />
      </ComposedChart>
    </ResponsiveContainer>
  );
}
