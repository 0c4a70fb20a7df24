import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { useLocation } from 'react-router';
import { formatMicroUsd } from '@chatmeter/shared/money';
import { ApiErrorAlert, StatusNotice } from '../../components/alerts.tsx';
import { TextField } from '../../components/text-field.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { describeRemainingBudget, parseSpendLimit, spendLimitInputValue } from './spend-limit.ts';
import { refreshUsage, type UsageSummary } from './use-usage.ts';
import { usePreferences, useUpdatePreferences } from './use-usage-extras.ts';

/**
 * The user's own monthly spending limit (`preferences.update({ monthlySpendLimitMicroUsd })`),
 * below the plan's cost cap, and what is left of the tightest dollar budget this period.
 * The chat's "spending limit reached" notice links here (#spend-limit).
 */
export function SpendLimitPanel({ summary }: { summary: UsageSummary }) {
  const id = useId();
  const queryClient = useQueryClient();
  const location = useLocation();
  const inputRef = useRef<HTMLInputElement>(null);
  const sectionRef = useRef<HTMLElement>(null);
  const prefs = usePreferences();
  const update = useUpdatePreferences();
  // null: the input shows the saved limit; a string: what the user is typing.
  const [draft, setDraft] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [saved, setSaved] = useState<string | null>(null);

  const savedLimit = prefs.data?.monthlySpendLimitMicroUsd ?? null;
  const value = draft ?? spendLimitInputValue(savedLimit);
  const remaining = describeRemainingBudget(summary.budget.remainingMicroUsd);
  const planCap = summary.limits.costPerMonthMicroUsd;

  useEffect(() => {
    if (location.hash !== '#spend-limit' || !prefs.data) return;
    sectionRef.current?.scrollIntoView({ block: 'start' });
    inputRef.current?.focus({ preventScroll: true });
  }, [location.hash, prefs.data]);

  const save = (micros: number | null) => {
    setSaved(null);
    update.mutate(
      { monthlySpendLimitMicroUsd: micros },
      {
        onSuccess: () => {
          setDraft(null);
          setSaved(micros === null ? 'Your spending limit is removed.' : `Saved: at most ${formatMicroUsd(micros)} a month.`);
          void refreshUsage(queryClient);
        },
      },
    );
  };

  return (
    <section className="panel spend-limit" id="spend-limit" ref={sectionRef} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="panel__title">
        Your spending limit
      </h2>
      <p className="muted usage-note">
        Set the most your chats may cost in provider fees this period
        {planCap !== null && planCap !== undefined ? `, below your plan's cap of ${formatMicroUsd(planCap)}` : ''}. Near it, replies are shortened to fit what
        is left; at it, chat stops until the period resets.
      </p>
      <form
        className="spend-limit__form"
        noValidate
        aria-label="Monthly spending limit"
        onSubmit={(event) => {
          event.preventDefault();
          const parsed = parseSpendLimit(value);
          if (!parsed.ok) {
            setFieldError(parsed.error);
            setSaved(null);
            return;
          }
          setFieldError(undefined);
          save(parsed.micros);
        }}
      >
        <TextField
          label="Monthly spending limit"
          name="monthlySpendLimit"
          inputMode="decimal"
          autoComplete="off"
          value={value}
          onChange={(text) => {
            setDraft(text);
            setFieldError(undefined);
            setSaved(null);
          }}
          hint="In US dollars, e.g. 10 or 2.50. Empty: no limit of your own."
          error={fieldError}
          disabled={prefs.isPending || update.isPending}
          inputRef={inputRef}
        />
        <div className="usage-actions">
          <button type="submit" className="btn btn--primary" disabled={prefs.isPending || update.isPending} aria-busy={update.isPending || undefined}>
            {update.isPending ? 'Saving…' : 'Save'}
          </button>
          <button
            type="button"
            className="btn btn--secondary"
            disabled={prefs.isPending || update.isPending || (savedLimit === null && draft === null)}
            onClick={() => {
              setFieldError(undefined);
              save(null);
            }}
          >
            Remove
          </button>
        </div>
      </form>
      {saved ? <StatusNotice>{saved}</StatusNotice> : null}
      {prefs.error ? <ApiErrorAlert error={readApiError(prefs.error)} /> : null}
      {update.error ? <ApiErrorAlert error={readApiError(update.error)} /> : null}
      <p className="spend-limit__remaining" aria-live="polite">
        {remaining ?? 'No dollar limit applies to you this period.'}
      </p>
    </section>
  );
}
