import { z } from 'zod';
import type { LimitName } from './errors.ts';
import type { TSpeechEvent } from './tts.ts';

/**
 * `speak: true` reads the reply aloud as it streams: the stream then also carries the
 * speech events (`TSpeechEvent`). Shared by chat.send, chat.regenerate and chat.edit.
 */
export const ZSpeakFlag = z.boolean().optional();

export const ZChatSendInput = z.object({
  conversationId: z.uuid().optional(),
  content: z.string().min(1, 'Write a message first').max(100_000, 'That message is far too long'),
  model: z.string().min(1).max(200).optional(),
  /** Proof-of-work payload, needed to start a guest session when the captcha is on. */
  captcha: z.string().max(8192).optional(),
  speak: ZSpeakFlag,
});

/**
 * chat.regenerate: another reply to the message the reply `messageId` answered, kept beside it.
 * `speak`: read the reply aloud as it streams, as chat.send.
 */
export const ZChatRegenerateInput = z.object({
  messageId: z.uuid(),
  model: z.string().min(1).max(200).optional(),
  speak: ZSpeakFlag,
});

/** chat.edit: a new version of the user message `messageId` with `content`, and a reply to it. */
export const ZChatEditInput = z.object({
  messageId: z.uuid(),
  content: z.string().min(1, 'Write a message first').max(100_000, 'That message is far too long'),
  model: z.string().min(1).max(200).optional(),
  speak: ZSpeakFlag,
});

/** chat.selectVersion: show this version of a message (and the newest messages of its branch) from now on. */
export const ZSelectVersionInput = z.object({ messageId: z.uuid() });

export const ZCursorPage = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(50).default(50),
});

export const ZMessagesInput = ZCursorPage.extend({ conversationId: z.uuid() });
export const ZConversationIdInput = z.object({ conversationId: z.uuid() });

export const CONVERSATION_TITLE_MAX = 120;

/** chat.renameConversation: the title is trimmed and must keep at least one character. */
export const ZRenameConversationInput = z.object({
  conversationId: z.uuid(),
  title: z
    .string()
    .max(1000, `Keep the title within ${CONVERSATION_TITLE_MAX} characters`)
    // Line breaks and other control characters have no place in a one-line title.
    .transform((title) => title.replace(/[\u0000-\u001f\u007f]+/g, ' '))
    .pipe(z.string().trim().min(1, 'Give the conversation a title').max(CONVERSATION_TITLE_MAX, `Keep the title within ${CONVERSATION_TITLE_MAX} characters`)),
});

export const SEARCH_QUERY_MAX = 200;

/** chat.searchConversations: words, "a phrase", -excluded, or (websearch_to_tsquery's syntax). */
export const ZSearchConversationsInput = z.object({
  query: z.string().trim().min(1, 'Type something to search for').max(SEARCH_QUERY_MAX, `Keep the search within ${SEARCH_QUERY_MAX} characters`),
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(50).default(20),
});

/**
 * A search snippet marks each matched word between these two characters (Unicode
 * private-use code points, stripped from the text before it is marked), so the
 * client can highlight them as text, never as HTML.
 */
export const SNIPPET_MATCH_START = '\uE000';
export const SNIPPET_MATCH_END = '\uE001';

/** Splits a snippet into plain and matched parts, in order; unbalanced markers are dropped. */
export function splitSnippet(snippet: string): Array<{ text: string; match: boolean }> {
  const parts: Array<{ text: string; match: boolean }> = [];
  let match = false;
  let text = '';
  const flush = () => {
    if (text) parts.push({ text, match });
    text = '';
  };
  for (const char of snippet) {
    if (char === SNIPPET_MATCH_START || char === SNIPPET_MATCH_END) {
      flush();
      match = char === SNIPPET_MATCH_START;
    } else {
      text += char;
    }
  }
  flush();
  return parts;
}

/** How a metered chat request ended, as the usage ledger records it. */
export type TUsageStatus = 'ok' | 'aborted' | 'error' | 'cached' | 'expired';

/** The reply's own events, in order: `start`, `delta`s, then `done` (the server's ChatService yields these). */
export type TChatReplyEvent =
  | { type: 'start'; conversationId: string; messageId: string; userMessageId: string; model: string; demo: boolean; maxTokens: number }
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      usage: { promptTokens: number; completionTokens: number; totalTokens: number; costMicroUsd: number; estimated: boolean };
      status: TUsageStatus;
      cached: boolean;
      /**
       * How the reply ended: the provider's finish reason (`stop`, `length`, `content_filter`,
       * `tool_calls`...), `refusal` when the model refused, null when the provider sent none.
       */
      finishReason: string | null;
      /** The limit that shortened the completion cap to fit what was left (`start.maxTokens`), or null. */
      limitedBy: LimitName | null;
      /** The model asked for when the plan's fallback answered instead (`start.model` names it), or null. */
      degradedFrom: string | null;
    };

/** What chat.send, chat.regenerate and chat.edit stream: the reply's events and, with `speak`, the speech events. */
export type TChatEvent = TSpeechEvent | TChatReplyEvent;
