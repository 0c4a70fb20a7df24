/**
 * Real provider streams (server/test/fixtures/outside/openai, see its README) as the
 * events a replaying server sends: `.sse` files are raw SSE bodies, split at their blank
 * lines and sent unchanged; `.chunks.txt` files (vercel/ai recordings, one JSON chunk a
 * line) are framed the way vercel/ai's own tests frame them: `data: <line>\n\n` each,
 * then `data: [DONE]\n\n`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CAPTURES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'outside', 'openai');

/** Every capture file name in the folder. */
export function captureNames(): string[] {
  return readdirSync(CAPTURES_DIR)
    .filter((name) => name.endsWith('.sse') || name.endsWith('.chunks.txt'))
    .sort();
}

/** The SSE events of a capture, each with its terminating blank line. */
export function loadCapture(name: string): string[] {
  const raw = readFileSync(path.join(CAPTURES_DIR, name), 'utf8');
  if (name.endsWith('.chunks.txt')) {
    const lines = raw.split('\n').filter((line) => line.trim() !== '');
    return [...lines.map((line) => `data: ${line}\n\n`), 'data: [DONE]\n\n'];
  }
  if (!name.endsWith('.sse')) throw new Error(`not a capture: ${name}`);
  const events: string[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\n\n');
    if (end < 0) break;
    events.push(rest.slice(0, end + 2));
    rest = rest.slice(end + 2);
  }
  // A body cut mid-way (no blank line after its last event) is sent as it was cut.
  if (rest.length > 0) events.push(rest);
  return events;
}

/** The parsed JSON chunks of a capture (`[DONE]` and unparsable events left out), for reference decoding in tests. */
export function captureChunks(name: string): any[] {
  const chunks: any[] = [];
  for (const event of loadCapture(name)) {
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      try {
        chunks.push(JSON.parse(data));
      } catch {
        // not JSON: nothing to decode
      }
    }
  }
  return chunks;
}
