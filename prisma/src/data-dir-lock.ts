// The embedded database (PGlite) belongs to one process: two PGlite instances on one
// folder each believe they own its files, and what one writes the other can overwrite.
// A lock file in the folder, holding the owner's pid, makes a second opener stop with a
// message instead (a second `npm start`, or `npm run db:migrate` or the reconcile command
// while the server runs). A lock left by a process that is gone (killed, crashed) is taken
// over.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'chatmeter.lock';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by process ${pid}${pid === process.pid ? ' (this one)' : ''}. ` +
        'Stop that process first, use another DATA_DIR, or set DATABASE_URL to share a Postgres server between processes.',
    );
    this.name = 'DataDirInUseError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the folder's lock for this process; the function returned gives it back (also done at exit). */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  // Written whole, then linked into place: the lock never exists without its pid.
  const mine = path.join(dataDir, `${LOCK_FILE}.${process.pid}`);
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        linkSync(mine, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = ownerOf(file);
        if (pid !== undefined && alive(pid)) throw new DataDirInUseError(dataDir, pid);
        if (attempt >= 3) throw error;
        // Left by a process that is gone: take it over.
        rmSync(file, { force: true });
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    // Only our own: a lock taken over meanwhile (ours looked stale) is the other's.
    if (ownerOf(file) === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', release);
  return release;
}
