import { z } from 'zod';

export const ZChatSendInput = z.object({
  conversationId: z.uuid().optional(),
  content: z.string().min(1, 'Write a message first').max(100_000, 'That message is far too long'),
  model: z.string().min(1).max(200).optional(),
  /** Proof-of-work payload, needed to start a guest session when the captcha is on. */
  captcha: z.string().max(8192).optional(),
});
export type TChatSendInput = z.infer<typeof ZChatSendInput>;

export const ZCursorPage = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(50).default(50),
});

export const ZMessagesInput = ZCursorPage.extend({ conversationId: z.uuid() });
export const ZConversationIdInput = z.object({ conversationId: z.uuid() });

export type TChatEvent =
  | { type: 'start'; conversationId: string; messageId: string; userMessageId: string; model: string; demo: boolean; maxTokens: number }
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      usage: { promptTokens: number; completionTokens: number; totalTokens: number; costMicroUsd: number; estimated: boolean };
      status: string;
      cached: boolean;
      /**
       * How the reply ended: the provider's finish reason (`stop`, `length`, `content_filter`,
       * `tool_calls`...), `refusal` when the model refused, null when the provider sent none.
       */
      finishReason: string | null;
    };
