// The planner page's form -> the four planner.estimate inputs (three profiles
// and the custom column), validated with the shared schema, and the chart rows.
// Pure: the page renders, this decides.
import { microsToUsd } from '@chatmeter/shared/money';
import {
  type PLANNER_PROFILE_IDS,
  PLANNER_PROFILES,
  ZPlannerCustomInput,
  ZPlannerInput,
  ZPlannerProfileInput,
  type TPlannerInput,
} from '@chatmeter/shared/planner';

export interface PlannerForm {
  users: string;
  pricing: 'model' | 'flat';
  model: string;
  pricePer1k: string;
  promptTokens: string;
  completionTokens: string;
  interactions: string;
}

export const INITIAL_FORM: PlannerForm = {
  users: '200',
  pricing: 'model',
  model: '',
  pricePer1k: '0.03',
  promptTokens: String(PLANNER_PROFILES.medium.promptTokens),
  completionTokens: String(PLANNER_PROFILES.medium.completionTokens),
  interactions: String(PLANNER_PROFILES.medium.interactionsPerUserPerDay),
};

export type ColumnId = (typeof PLANNER_PROFILE_IDS)[number] | 'custom';
export const COLUMN_LABELS: Record<ColumnId, string> = { light: 'Light', medium: 'Medium', heavy: 'Heavy', custom: 'Your figures' };

/** '' stays NaN so the schema reports "must be a number" rather than treating it as 0. */
function num(value: string): number {
  return value.trim() === '' ? Number.NaN : Number(value);
}

export type FieldErrors = Partial<Record<keyof PlannerForm, string>>;

const FIELD_OF: Record<string, keyof PlannerForm> = {
  users: 'users',
  pricePer1kTokensUsd: 'pricePer1k',
  model: 'model',
  promptTokens: 'promptTokens',
  completionTokens: 'completionTokens',
  interactionsPerUserPerDay: 'interactions',
};

/** The four inputs, or the form's field errors (the first message per field). */
export function plannerInputs(form: PlannerForm): { ok: true; inputs: Record<ColumnId, TPlannerInput> } | { ok: false; errors: FieldErrors } {
  const common = {
    users: num(form.users),
    ...(form.pricing === 'flat' ? { pricePer1kTokensUsd: num(form.pricePer1k) } : form.model ? { model: form.model } : {}),
  };
  const raw: Record<ColumnId, unknown> = {
    light: { ...common, profile: 'light' },
    medium: { ...common, profile: 'medium' },
    heavy: { ...common, profile: 'heavy' },
    custom: {
      ...common,
      promptTokens: num(form.promptTokens),
      completionTokens: num(form.completionTokens),
      interactionsPerUserPerDay: num(form.interactions),
    },
  };
  const errors: FieldErrors = {};
  const inputs = {} as Record<ColumnId, TPlannerInput>;
  for (const [id, value] of Object.entries(raw) as [ColumnId, unknown][]) {
    // The branch's own schema names the field; the union adds the overall size check.
    const branch = (id === 'custom' ? ZPlannerCustomInput : ZPlannerProfileInput).safeParse(value);
    const parsed = branch.success ? ZPlannerInput.safeParse(branch.data) : branch;
    if (parsed.success) {
      inputs[id] = parsed.data;
      continue;
    }
    for (const issue of parsed.error.issues) {
      const field = FIELD_OF[String(issue.path[0])];
      if (field && !errors[field]) errors[field] = issue.message;
    }
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, inputs };
}

export interface ChartRow {
  name: string;
  costPerMonthUsd: number;
  tokensPerMonth: number;
}

/** Bars of the monthly cost (USD floats are for the chart only). */
export function chartRows(
  columns: readonly { name: string; figures: { costMicroUsdPerMonth: number; tokensPerMonth: number } | null | undefined }[],
): ChartRow[] {
  return columns.flatMap((c) =>
    c.figures ? [{ name: c.name, costPerMonthUsd: microsToUsd(c.figures.costMicroUsdPerMonth), tokensPerMonth: c.figures.tokensPerMonth }] : [],
  );
}
