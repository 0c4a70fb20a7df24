// Settlement must survive a dropped database connection (a Postgres restart or
// failover, a pooler recycling connections) or the usage is lost and the
// reservation waits for the sweeper. cm_settle_chat is idempotent on the
// reservation's status (only the call that flips 'held' to 'settled' charges),
// so retrying after a connection error cannot charge twice: either the first
// attempt rolled back with its connection, or it committed and the retry finds
// the reservation settled and returns null.
import { isConnectionError } from '../lib/db-errors.ts';
import type { Meter, SettleChatInput, SettledChat } from './meter.ts';

export interface SettleRetryOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  /** First pause; doubles each time (default 100 ms: 100, 200, 400). */
  baseDelayMs?: number;
  onRetry?: (error: unknown, attempt: number) => void;
}

export async function settleChatWithRetry(meter: Meter, input: SettleChatInput, options: SettleRetryOptions = {}): Promise<SettledChat | null> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await meter.settleChat(input);
    } catch (error) {
      if (attempt >= attempts || !isConnectionError(error)) throw error;
      options.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, base * 2 ** (attempt - 1)));
    }
  }
}
