// Spoken audio goes with what it was spoken from. A clip is shared by everyone
// who had the same text read in the same voice (audio_clips.cache_key), and a
// user may fetch it only through a row in spoken_messages (a reply read aloud) or
// sentence_clips (a sentence of a reply read aloud as it streamed). Deleting a
// conversation or an account removes those rows, then every clip that no one
// else holds any more: its row here, its file after the transaction commits.
import { Prisma } from '@chatmeter/db/client';
import type { Tx } from '../metering/counters.ts';

export interface ForgottenClip {
  id: string;
  format: string;
}

export type SpokenScope = { conversationId: string } | { userId: string };

/** Inside the caller's transaction; returns the clips whose files should go once it commits. */
export async function forgetSpokenAudio(tx: Tx, scope: SpokenScope): Promise<ForgottenClip[]> {
  const released = await tx.$queryRaw<{ clip_id: string }[]>(
    'conversationId' in scope
      ? Prisma.sql`
          DELETE FROM spoken_messages s
           WHERE s.message_id IN (SELECT m.id FROM messages m WHERE m.conversation_id = ${scope.conversationId}::uuid)
          RETURNING s.clip_id::text AS clip_id`
      : Prisma.sql`
          DELETE FROM spoken_messages s WHERE s.user_id = ${scope.userId}::uuid
          RETURNING s.clip_id::text AS clip_id`,
  );
  // The sentences of replies read aloud as they streamed (sentence_clips) go the same way.
  const sentences = await tx.$queryRaw<{ clip_id: string }[]>(
    'conversationId' in scope
      ? Prisma.sql`DELETE FROM sentence_clips s WHERE s.conversation_id = ${scope.conversationId}::uuid RETURNING s.clip_id::text AS clip_id`
      : Prisma.sql`DELETE FROM sentence_clips s WHERE s.user_id = ${scope.userId}::uuid RETURNING s.clip_id::text AS clip_id`,
  );
  const ids = [...new Set([...released, ...sentences].map((r) => r.clip_id))];
  if (ids.length === 0) return [];
  const orphans = await tx.$queryRaw<{ id: string; last_used_at: Date }[]>(Prisma.sql`
    SELECT c.id::text AS id, c.last_used_at FROM audio_clips c
     WHERE c.id IN (${Prisma.join(ids.map((id) => Prisma.sql`${id}::uuid`))})
       AND NOT EXISTS (SELECT 1 FROM spoken_messages s WHERE s.clip_id = c.id)
       AND NOT EXISTS (SELECT 1 FROM sentence_clips s WHERE s.clip_id = c.id)`);
  if (orphans.length === 0) return [];
  // As in the cache's eviction: only rows nobody used since we looked. A clip that
  // another user's request is granting right now touches last_used_at first, so it stays.
  return tx.$queryRaw<ForgottenClip[]>(Prisma.sql`
    DELETE FROM audio_clips
     WHERE (id, last_used_at) IN (${Prisma.join(orphans.map((c) => Prisma.sql`(${c.id}::uuid, ${c.last_used_at}::timestamptz)`))})
    RETURNING id::text AS id, format`);
}
