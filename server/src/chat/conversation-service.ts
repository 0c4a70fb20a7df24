// What a user does with their conversations outside the metered path: list, read,
// search, rename, delete, and choose which version of a message shows. The routers
// call this; the queries live in the modules beside it.
import type { PrismaClient } from '@chatmeter/db/client';
import type { AudioCache } from '../tts/audio-cache.ts';
import { deleteConversation } from './conversation-deletion.ts';
import { listConversations } from './conversation-list.ts';
import { renameConversation } from './conversation-rename.ts';
import { searchConversations } from './conversation-search.ts';
import { listMessages } from './message-history.ts';
import { selectVersion } from './message-tree.ts';

export class ConversationService {
  constructor(private readonly options: { prisma: PrismaClient; audio: Pick<AudioCache, 'removeFiles'> }) {}

  /** Newest activity first, keyset paged. */
  list(userId: string, page: { cursor?: string | undefined; limit: number }) {
    return listConversations(this.options.prisma, userId, page);
  }

  /** The active path of one conversation, newest first, each reply with its metered usage and versions. */
  messages(userId: string, input: { conversationId: string; limit: number; cursor?: string | undefined }) {
    return listMessages(this.options.prisma, userId, input);
  }

  search(userId: string, input: { query: string; cursor?: string | undefined; limit: number }) {
    return searchConversations(this.options.prisma, userId, input);
  }

  rename(userId: string, input: { conversationId: string; title: string }) {
    return renameConversation(this.options.prisma, userId, input);
  }

  /** Hidden at once, with what was spoken from it (conversation-deletion.ts). */
  delete(userId: string, conversationId: string) {
    return deleteConversation(this.options, userId, conversationId);
  }

  selectVersion(userId: string, messageId: string) {
    return selectVersion(this.options.prisma, userId, messageId);
  }
}
