// The chat replies streaming on this instance, by user, so that deleting an
// account can stop its replies at once and wait until they are metered
// (account/account-data.ts). Per instance only: a reply streaming on another
// instance runs to its end, and its settlement still lands without the person
// because the deletion marked its reservation (migration 20261204051000).

export interface InflightStream {
  /** The stream has settled (or given up): call exactly once, last. */
  done(): void;
}

interface Entry {
  /** Called with ACCOUNT_DELETED when the user's account is deleted (the reply's own controller, not one more per reply). */
  abort: (reason: string) => void;
  finished: Promise<void>;
  resolve: () => void;
}

export const ACCOUNT_DELETED = 'account_deleted';

export class InflightStreams {
  private readonly byUser = new Map<string, Set<Entry>>();

  /** `abort` stops the reply (with the reason ACCOUNT_DELETED) when the account is deleted. */
  track(userId: string, abort: (reason: string) => void): InflightStream {
    let resolve!: () => void;
    const finished = new Promise<void>((r) => (resolve = r));
    const entry: Entry = { abort, finished, resolve };
    let set = this.byUser.get(userId);
    if (!set) {
      set = new Set();
      this.byUser.set(userId, set);
    }
    set.add(entry);
    return {
      done: () => {
        const current = this.byUser.get(userId);
        current?.delete(entry);
        if (current?.size === 0) this.byUser.delete(userId);
        entry.resolve();
      },
    };
  }

  count(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /**
   * Aborts every reply of this user streaming here and waits until each has
   * settled, at most `timeoutMs`. Returns how many there were.
   */
  async abortUser(userId: string, timeoutMs = 10_000): Promise<number> {
    const entries = [...(this.byUser.get(userId) ?? [])];
    if (entries.length === 0) return 0;
    for (const entry of entries) entry.abort(ACCOUNT_DELETED);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(entries.map((e) => e.finished)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return entries.length;
  }
}
