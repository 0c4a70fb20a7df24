// chat.renameConversation: the owner's own, live conversations only. The title
// is validated by the shared schema (trimmed, 1..CONVERSATION_TITLE_MAX, no
// control characters); renaming does not move the conversation up the list.
import type { PrismaClient } from '@chatmeter/db/client';
import { AppError } from '../lib/app-error.ts';

export async function renameConversation(
  prisma: PrismaClient,
  userId: string,
  input: { conversationId: string; title: string },
): Promise<{ id: string; title: string }> {
  // One conditional update: another user's id and a deleted conversation look the same (not_found).
  const { count } = await prisma.conversation.updateMany({
    where: { id: input.conversationId, userId, deletedAt: null },
    data: { title: input.title },
  });
  if (count !== 1) throw new AppError('not_found', 'That conversation does not exist.');
  return { id: input.conversationId, title: input.title };
}
