// chat.deleteConversation: the conversation is hidden (its messages stay until
// retention, usage already metered stays metered) and what was spoken from it
// goes at once: the user's access to the audio, and the clips and files no one
// else holds (tts/spoken-audio.ts).
import type { PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';
import { forgetSpokenAudio } from '../tts/spoken-audio.ts';
import type { AudioCache } from '../tts/audio-cache.ts';

export async function deleteConversation(
  o: { prisma: PrismaClient; audio: Pick<AudioCache, 'removeFiles'> },
  userId: string,
  conversationId: string,
  now = new Date(),
): Promise<void> {
  const clips = await o.prisma.$transaction(async (tx) => {
    const { count } = await tx.conversation.updateMany({
      where: { id: conversationId, userId, deletedAt: null },
      data: { deletedAt: now },
    });
    if (count !== 1) throw new AppError('not_found', 'That conversation does not exist.');
    return forgetSpokenAudio(tx, { conversationId });
  });
  // The rows are gone, so nobody can be served these files any more.
  await o.audio.removeFiles(clips);
}
