// One process per embedded database folder: a second opener is refused with a message
// naming the owner; a lock left by a process that is gone is taken over; closing gives it back.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './client.ts';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './data-dir-lock.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'chatmeter-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process has now: one that just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('lockDataDir', () => {
  it('refuses a second holder while the first holds it, and lets it go on release', () => {
    const release = lockDataDir(dir);
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir)).toThrow(/in use by process \d+ \(this one\)/);
    release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir)();
  });

  it('refuses while another live process holds it', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      writeFileSync(path.join(dir, LOCK_FILE), `${holder.pid}\n`);
      const error = (() => {
        try {
          lockDataDir(dir);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(DataDirInUseError);
      expect((error as DataDirInUseError).pid).toBe(holder.pid);
      expect((error as Error).message).toContain('DATABASE_URL');
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock left by a process that is gone', () => {
    writeFileSync(path.join(dir, LOCK_FILE), `${deadPid()}\n`);
    const release = lockDataDir(dir);
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    release();
  });
});

describe('openDatabase on a folder', () => {
  it('holds the lock while open: a second open is refused, and opens again once closed', async () => {
    const first = await openDatabase({ dataDir: dir });
    try {
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(DataDirInUseError);
      expect(await first.ping()).toBe(true);
    } finally {
      await first.close();
    }
    const again = await openDatabase({ dataDir: dir, migrate: false });
    expect(await again.ping()).toBe(true);
    await again.close();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  }, 120_000);
});
