// Input of admin.reconciliation (the Admin overview's reconciliation panel).
import { z } from 'zod';

/** The longest window the panel asks for. */
export const RECONCILE_MAX_DAYS = 90;

export const ZReconciliationInput = z.object({
  /** Closed UTC days ending yesterday. */
  days: z.number().int().min(1).max(RECONCILE_MAX_DAYS).default(30),
});
