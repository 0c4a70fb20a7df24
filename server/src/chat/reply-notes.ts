// ChatMeter's own words under a reply that would otherwise say nothing useful: the model
// only called tools (ChatMeter offers none, so nothing runs), or it ended with no text.
// The note is shown and stored with the reply; it is not the provider's output, so it is
// never counted as completion tokens.

const MAX_NAMES = 5;
const MAX_NAME_CHARS = 64;

export interface ReplyOutcome {
  /** The provider's text as relayed. */
  text: string;
  /** From the provider's `finish` event. */
  finishReason: string | undefined;
  /** Tools the model called, each name once, in order. */
  toolCalls: readonly string[];
}

export function replyNote(reply: ReplyOutcome): string | undefined {
  if (reply.toolCalls.length > 0) {
    const shown = reply.toolCalls.slice(0, MAX_NAMES).map((name) => (name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}…` : name));
    const more = reply.toolCalls.length - shown.length;
    const names = more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
    return reply.toolCalls.length === 1
      ? `The model tried to call a tool (${names}), which ChatMeter does not offer.`
      : `The model tried to call tools (${names}), which ChatMeter does not offer.`;
  }
  if (reply.text.trim() !== '') return undefined;
  switch (reply.finishReason) {
    case 'length':
      return 'The model reached its length limit before writing any text.';
    case 'content_filter':
      return "The provider's content filter stopped this reply.";
    default:
      return 'The model sent an empty reply.';
  }
}
