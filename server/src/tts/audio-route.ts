// GET /audio/:id: a spoken clip, for a user who had it spoken (a row in
// spoken_messages), found through the session cookie as tRPC finds it. Anyone
// else gets the same 404 as for a clip that does not exist. express's sendFile
// does Content-Length, Range (206/416), ETag and conditional requests.
import type { Request, RequestHandler, Response } from 'express';
import { routeSession } from '../auth/request-auth.ts';
import type { Deps } from '../deps.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function refuse(res: Response, status: number, reason: string, message: string): void {
  if (res.headersSent) return;
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).json({ error: { reason, message } });
}

export function audioRoute(deps: Pick<Deps, 'sessions' | 'tts' | 'env'>): RequestHandler {
  return async (req: Request, res: Response) => {
    const session = await routeSession(deps, req, res);
    if (!('user' in session)) return refuse(res, session.status, session.reason, session.message);

    const id = String(req.params.id ?? '');
    const clip = UUID.test(id) ? await deps.tts.clipFor(session.user.id, id.toLowerCase()) : null;
    if (!clip) return refuse(res, 404, 'not_found', 'No such audio.');

    res.setHeader('Content-Type', clip.mime);
    // Only this user's browser may keep it; the bytes behind an id never change.
    res.setHeader('Cache-Control', 'private, max-age=86400');
    res.setHeader('Vary', 'Cookie');
    res.sendFile(clip.file, { cacheControl: false, acceptRanges: true, dotfiles: 'allow' }, (error?: Error) => {
      // A missing file (evicted meanwhile, or another instance's DATA_DIR) is a 404;
      // a client that hung up mid-download needs no answer.
      if (error) refuse(res, 404, 'not_found', 'No such audio.');
    });
  };
}
