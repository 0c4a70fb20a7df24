// GET /export/usage.csv and /export/usage.json: the session user's whole usage
// ledger (the usage.history items, oldest first), streamed page by page so a
// long history never sits in memory. CSV is RFC 4180 with a header row.
import type { RequestHandler, Response } from 'express';
import { csvRow } from '@chatmeter/shared/csv';
import { routeSession } from '../auth/request-auth.ts';
import type { Deps } from '../deps.ts';
import { isAppError } from '../lib/app-error.ts';
import { toUsageItem, USAGE_EXPORT_COLUMNS, usageEventSelect, type UsageItem } from './usage-rows.ts';

const PAGE = 1_000;
/** Exports a user may start a minute: each reads the whole ledger. */
const EXPORTS_PER_MINUTE = 6;

function refuse(res: Response, status: number, reason: string, message: string, retryAfterSeconds?: number): void {
  res.setHeader('Cache-Control', 'no-store');
  if (retryAfterSeconds) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(status).json({ error: { reason, message, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) } });
}

/** Writes and, when the client reads slower than the database answers, waits for it. */
async function write(res: Response, chunk: string): Promise<void> {
  if (res.destroyed) throw new ClientGone();
  if (res.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new ClientGone());
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

class ClientGone extends Error {
  constructor() {
    super('the client closed the download');
  }
}

/** Every usage event of a user, oldest first, in pages. */
async function* ledger(deps: Pick<Deps, 'prisma'>, userId: string): AsyncGenerator<UsageItem[]> {
  let after: bigint | undefined;
  for (;;) {
    const rows = await deps.prisma.usageEvent.findMany({
      where: { userId, ...(after !== undefined ? { id: { gt: after } } : {}) },
      orderBy: { id: 'asc' },
      take: PAGE,
      select: usageEventSelect,
    });
    if (rows.length === 0) return;
    yield rows.map(toUsageItem);
    if (rows.length < PAGE) return;
    after = rows.at(-1)!.id;
  }
}

export function usageExportRoute(deps: Pick<Deps, 'sessions' | 'env' | 'prisma' | 'limiters' | 'logger'>, format: 'csv' | 'json'): RequestHandler {
  return async (req, res) => {
    const session = await routeSession(deps, req, res);
    if (!('user' in session)) return refuse(res, session.status, session.reason, session.message);
    const userId = session.user.id;
    try {
      await deps.limiters.consume('usageExport', userId, {
        spec: { points: EXPORTS_PER_MINUTE, duration: 60 },
        message: `You can export your usage ${EXPORTS_PER_MINUTE} times a minute. Please wait a moment.`,
      });
    } catch (error) {
      if (isAppError(error)) return refuse(res, 429, error.reason, error.message, error.details.retryAfterSeconds);
      throw error;
    }

    const date = new Date().toISOString().slice(0, 10);
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="chatmeter-usage-${date}.${format}"`);
    res.setHeader('Cache-Control', 'no-store');
    try {
      if (format === 'csv') {
        await write(res, csvRow(USAGE_EXPORT_COLUMNS));
        for await (const page of ledger(deps, userId)) {
          await write(res, page.map((item) => csvRow(USAGE_EXPORT_COLUMNS.map((c) => (c === 'createdAt' ? item.createdAt.toISOString() : item[c])))).join(''));
        }
      } else {
        await write(res, `{"exportedAt":${JSON.stringify(new Date().toISOString())},"items":[`);
        let first = true;
        for await (const page of ledger(deps, userId)) {
          await write(res, `${first ? '' : ','}\n${page.map((item) => JSON.stringify(item)).join(',\n')}`);
          first = false;
        }
        res.write('\n]}\n');
      }
      res.end();
    } catch (error) {
      // Headers are out: cut the download so it is not mistaken for a complete file.
      if (!(error instanceof ClientGone)) deps.logger.error({ err: (error as Error).message }, 'usage export failed');
      res.destroy();
    }
  };
}
