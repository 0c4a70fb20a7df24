// Synthesized audio as files under DATA_DIR/audio/<clip id>.<format>; the rows in
// audio_clips say what each file is and when it was last used. The files are
// capped at TTS_CACHE_MAX_MB: past the cap the least recently used clips go
// (row first, then file), down to 90% of the cap so eviction does not run on
// every request.
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Prisma, type PrismaClient } from '@chatmeter/db/client';
import type { Logger } from '../lib/logger.ts';

const TEMP_PREFIX = '.tmp-';
const EVICT_BATCH = 500;

/** What makes two clips the same audio: the engine (and its version), the voice, the format and the text. */
export function clipCacheKey(parts: { engine: string; voice: string; format: string; text: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([parts.engine, parts.voice, parts.format, parts.text]))
    .digest('hex');
}

export class AudioCache {
  private evicting: Promise<number> | undefined;
  private made: Promise<unknown> | undefined;

  constructor(
    private readonly prisma: PrismaClient,
    readonly dir: string,
    readonly maxBytes: number,
    private readonly logger: Logger,
  ) {}

  fileFor(id: string, format: string): string {
    return path.join(this.dir, `${id}.${format}`);
  }

  async has(id: string, format: string): Promise<boolean> {
    try {
      await access(this.fileFor(id, format));
      return true;
    } catch {
      return false;
    }
  }

  /** Written under a temporary name first, so a reader never sees half a file. */
  async writeTemp(bytes: Uint8Array): Promise<string> {
    this.made ??= mkdir(this.dir, { recursive: true }).catch((error: unknown) => {
      this.made = undefined;
      throw error;
    });
    await this.made;
    const file = path.join(this.dir, `${TEMP_PREFIX}${randomUUID()}`);
    await writeFile(file, bytes);
    return file;
  }

  async commit(tempFile: string, id: string, format: string): Promise<void> {
    await rename(tempFile, this.fileFor(id, format));
  }

  async discard(tempFile: string): Promise<void> {
    await rm(tempFile, { force: true });
  }

  /**
   * The files of clips whose rows are gone (spoken-audio.ts); a file already missing is
   * fine. Never throws: the rows are gone, so a file left behind by a failure here is
   * unreachable; it is logged.
   */
  async removeFiles(clips: readonly { id: string; format: string }[]): Promise<void> {
    for (const clip of clips) {
      await rm(this.fileFor(clip.id, clip.format), { force: true }).catch((error: Error) =>
        this.logger.warn({ err: error.message, clip: clip.id }, 'audio cache: could not remove the file of a deleted clip'),
      );
    }
  }

  /** Temporary files older than an hour are left-overs of a crash. */
  async removeStaleTemp(now = Date.now()): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const file = path.join(this.dir, name);
      const info = await stat(file).catch(() => null);
      if (info && now - info.mtimeMs > 60 * 60 * 1000) await rm(file, { force: true });
    }
  }

  /** Evicts least recently used clips past the cap; `keep` (the clip just made) stays. One run at a time per process. */
  evict(keep?: string): Promise<number> {
    this.evicting ??= this.runEviction(keep).finally(() => {
      this.evicting = undefined;
    });
    return this.evicting;
  }

  private async runEviction(keep: string | undefined): Promise<number> {
    const [{ total } = { total: 0n }] = await this.prisma.$queryRaw<{ total: bigint }[]>(
      Prisma.sql`SELECT COALESCE(SUM(bytes), 0)::bigint AS total FROM audio_clips`,
    );
    if (total <= BigInt(this.maxBytes)) return 0;
    const target = BigInt(Math.floor(this.maxBytes * 0.9));
    let remaining = total;
    let removed = 0;
    while (remaining > target) {
      const candidates = await this.prisma.$queryRaw<{ id: string; format: string; bytes: number; last_used_at: Date }[]>(Prisma.sql`
        SELECT id::text AS id, format, bytes, last_used_at FROM audio_clips
         WHERE ${keep ?? null}::uuid IS NULL OR id <> ${keep ?? null}::uuid
         ORDER BY last_used_at, id LIMIT ${EVICT_BATCH}`);
      if (candidates.length === 0) break;
      const chosen: typeof candidates = [];
      let freed = 0n;
      for (const clip of candidates) {
        if (remaining - freed <= target) break;
        chosen.push(clip);
        freed += BigInt(clip.bytes);
      }
      // Only rows nobody used since we looked: a clip touched meanwhile stays.
      const deleted = await this.prisma.$queryRaw<{ id: string; format: string; bytes: number }[]>(Prisma.sql`
        DELETE FROM audio_clips
         WHERE (id, last_used_at) IN (${Prisma.join(chosen.map((c) => Prisma.sql`(${c.id}::uuid, ${c.last_used_at}::timestamptz)`))})
        RETURNING id::text AS id, format, bytes`);
      for (const clip of deleted) {
        await rm(this.fileFor(clip.id, clip.format), { force: true });
        remaining -= BigInt(clip.bytes);
        removed++;
      }
      if (deleted.length === 0) break;
    }
    if (removed > 0) this.logger.info({ removed, bytes: Number(remaining), capBytes: this.maxBytes }, 'audio cache: evicted least recently used clips');
    return removed;
  }
}
