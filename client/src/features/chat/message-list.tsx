import { memo, useLayoutEffect, useRef, type ReactNode } from 'react';
import { SpeakButton } from '../voice/speak-button.tsx';
import { useVoicePreferences } from '../voice/use-voice-preferences.ts';
import { BrandMark } from '../../components/brand.tsx';
import { InfiniteSentinel } from '../../components/infinite-sentinel.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { formatDateTime } from '../../lib/format.ts';
import { formatMicroUsd } from '@chatmeter/shared/money';
// What a reading is charged (the spoken text: numbers in words, no markup or code), as the server counts it.
import { speechChars } from '@chatmeter/shared/speech-text';
import { continuableReplyId, describeEnding, describeUsage, isTurnActive, type ServerMessage, type Turn } from './chat-state.ts';
import { MessageContent } from './message-content.tsx';

interface MessageListProps {
  /** Changes when another conversation opens: the list jumps to its end. */
  conversationKey: string;
  messages: readonly ServerMessage[];
  turns: readonly Turn[];
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder(): void;
  /** Shown instead of the log when there is nothing yet. */
  empty: ReactNode;
  loading: boolean;
  error: ReactNode;
  /** Bumped when the visitor sends: scroll to the end even if they had scrolled up. */
  followSignal: number;
  /**
   * Asks the model to go on with a reply cut at the length limit (offered under the last
   * reply when it was cut); undefined while that is not possible (a reply is streaming).
   */
  onContinue?: (() => void) | undefined;
}

/** Within this distance of the end, new text keeps the view at the end. */
const STICK_PX = 96;

/**
 * The conversation as a polite live log (screen readers hear new messages; a reply
 * still streaming is aria-busy so it is read once complete). Older messages load
 * when the top comes into view, without moving what is on screen.
 */
export function MessageList(props: MessageListProps) {
  const { messages, turns } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const anchor = useRef<{ height: number; oldest: string | undefined } | null>(null);
  const oldestId = messages[0]?.id;
  const last = turns.at(-1);
  // Everything that can change the height at the end of the list.
  const tail = `${messages.length}:${turns.length}:${last?.text.length ?? 0}:${last?.phase ?? ''}`;

  const loadOlder = () => {
    const el = scroller.current;
    if (!el || !props.hasOlder || props.loadingOlder) return;
    anchor.current = { height: el.scrollHeight, oldest: oldestId };
    props.onLoadOlder();
  };

  // Another conversation: start at its end.
  useLayoutEffect(() => {
    stick.current = true;
    anchor.current = null;
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [props.conversationKey]);

  useLayoutEffect(() => {
    stick.current = true;
  }, [props.followSignal]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const saved = anchor.current;
    if (saved && saved.oldest !== oldestId) {
      // Older messages were added above: move down by their height, so the same message stays under
      // the reader's eyes (from where they are now: they may have scrolled on while the page loaded).
      el.scrollTop += el.scrollHeight - saved.height;
      anchor.current = null;
      return;
    }
    // Nothing yet (the welcome): from its top. Otherwise follow the end while the reader is there.
    if (messages.length === 0 && turns.length === 0) el.scrollTop = 0;
    else if (stick.current) el.scrollTop = el.scrollHeight;
  }, [tail, oldestId, props.loading]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
  };

  const nothing = messages.length === 0 && turns.length === 0;
  const continuable = props.onContinue ? continuableReplyId(messages, turns) : null;
  return (
    <div className="chat-scroll" ref={scroller} onScroll={onScroll}>
      {props.error}
      {props.loading && nothing ? (
        <div className="chat-scroll__loading">
          <Spinner label="Loading messages…" />
        </div>
      ) : null}
      {!props.loading && nothing && !props.error ? props.empty : null}
      {/* Always in the page, even empty: a live region must exist before what it announces. */}
      <div className="chat-log" role="log" aria-live="polite" aria-label="Messages">
        {props.hasOlder ? (
          <div className="chat-log__older">
            <InfiniteSentinel onVisible={loadOlder} disabled={props.loadingOlder} margin="120px" />
            <button type="button" className="btn btn--ghost btn--small" onClick={loadOlder} disabled={props.loadingOlder}>
              {props.loadingOlder ? 'Loading older messages…' : 'Load older messages'}
            </button>
          </div>
        ) : null}
        {messages.map((message) => (
          <ServerMessageView key={message.id} message={message} onContinue={continuable === message.id ? props.onContinue : undefined} />
        ))}
        {turns.map((turn) => (
          <TurnView key={turn.key} turn={turn} onContinue={continuable === turn.key ? props.onContinue : undefined} />
        ))}
      </div>
    </div>
  );
}

/** A stored message; unchanged ones are not rendered again while a reply streams below them. */
const ServerMessageView = memo(function ServerMessageView({ message, onContinue }: { message: ServerMessage; onContinue?: (() => void) | undefined }) {
  return message.role === 'user' ? (
    <UserMessage content={message.content} at={message.createdAt} />
  ) : (
    <AssistantMessage
      text={message.content}
      at={message.createdAt}
      partial={(message.status !== 'ok' && message.status !== 'cached') || message.finishReason === 'length'}
      ending={message.finishReason}
      meta={
        <>
          <ServerMeta message={message} />
          {message.content ? <SpeakButton messageId={message.id} chars={speechChars(message.content)} /> : null}
          {onContinue ? <ContinueButton onContinue={onContinue} /> : null}
        </>
      }
    />
  );
});

/** Under a reply cut at the length limit: sends "Continue." in the same conversation. */
function ContinueButton({ onContinue }: { onContinue: () => void }) {
  return (
    <div className="msg__continue">
      <button type="button" className="btn btn--secondary btn--small" onClick={onContinue}>
        Continue
      </button>
      <span className="msg__continue-hint">The reply was cut at its length limit.</span>
    </div>
  );
}

/** "Cut off · reached the length limit", "Refused · ...": how a finished reply ended, when not normally. */
function EndingFlag({ finishReason }: { finishReason: string | null | undefined }) {
  const ending = describeEnding(finishReason);
  if (!ending) return null;
  return (
    <>
      <span className={`msg__flag msg__flag--${ending.kind}`}>{ending.flag}</span>
      <span>{ending.detail}</span>
    </>
  );
}

function UserMessage({ content, at }: { content: string; at: Date }) {
  return (
    <article className="msg msg--user" aria-label="You">
      <div className="msg__bubble" title={formatDateTime(at)}>
        {content}
      </div>
    </article>
  );
}

function AssistantMessage({
  text,
  at,
  meta,
  streaming = false,
  waiting = false,
  partial = streaming,
  ending,
}: {
  text: string;
  at?: Date;
  meta: ReactNode;
  streaming?: boolean;
  waiting?: boolean;
  partial?: boolean;
  /** How the finished reply ended: a refusal is set apart. */
  ending?: string | null | undefined;
}) {
  return (
    <article
      className={`msg msg--assistant${ending === 'refusal' ? ' msg--refusal' : ''}`}
      aria-label="Assistant"
      aria-busy={streaming || waiting || undefined}
      data-finish-reason={ending ?? undefined}
    >
      <span className="msg__avatar" aria-hidden="true">
        <BrandMark size={26} />
      </span>
      <div className="msg__main" title={at ? formatDateTime(at) : undefined}>
        {waiting ? (
          <div className="msg__typing">
            <span className="typing" aria-hidden="true">
              <span />
              <span />
              <span />
            </span>
            <span className="visually-hidden">The assistant is replying…</span>
          </div>
        ) : (
          <MessageContent text={text} streaming={streaming} partial={partial} />
        )}
        {meta}
      </div>
    </article>
  );
}

function TurnView({ turn, onContinue }: { turn: Turn; onContinue?: (() => void) | undefined }) {
  const active = isTurnActive(turn);
  return (
    <>
      <UserMessage content={turn.content} at={turn.createdAt} />
      <AssistantMessage
        text={turn.text}
        streaming={active && turn.text.length > 0}
        waiting={active && turn.text.length === 0}
        partial={turn.phase !== 'done' || turn.finishReason === 'length'}
        ending={turn.phase === 'done' ? turn.finishReason : undefined}
        meta={
          <>
            <TurnMeta turn={turn} />
            {turn.phase === 'done' && turn.assistantMessageId && turn.text ? <TurnSpeak messageId={turn.assistantMessageId} chars={speechChars(turn.text)} /> : null}
            {onContinue ? <ContinueButton onContinue={onContinue} /> : null}
          </>
        }
      />
    </>
  );
}

/** A freshly finished answer: read aloud at once when the auto-play preference is on. */
function TurnSpeak({ messageId, chars }: { messageId: string; chars: number }) {
  const [preferences] = useVoicePreferences();
  return <SpeakButton messageId={messageId} chars={chars} autoPlay={preferences.autoPlay} />;
}

function TurnMeta({ turn }: { turn: Turn }) {
  if (turn.phase === 'done' && turn.usage) {
    const parts = describeUsage(turn.usage, turn.cached, formatMicroUsd);
    return (
      <p className="msg__meta" aria-label="Usage of this reply" title={`${turn.usage.promptTokens} prompt + ${turn.usage.completionTokens} completion tokens`}>
        {turn.model ? <span className="msg__model">{turn.model}</span> : null}
        <EndingFlag finishReason={turn.finishReason} />
        {parts.map((part) => (
          <span key={part} className={part === 'estimated' || part === 'cached' ? 'msg__flag' : undefined}>
            {part}
          </span>
        ))}
      </p>
    );
  }
  if (turn.phase === 'stopped') {
    return (
      <p className="msg__meta">
        <span className="msg__flag msg__flag--stopped">Stopped</span>
        <span>{turn.text ? 'partial answer kept' : 'before the answer began'}</span>
      </p>
    );
  }
  if (turn.phase === 'failed') {
    return (
      <p className="msg__meta">
        <span className="msg__flag msg__flag--failed">Interrupted</span>
        <span>{turn.error?.message ?? 'The reply broke off.'}</span>
      </p>
    );
  }
  return null;
}

function ServerMeta({ message }: { message: ServerMessage }) {
  const flag = message.status === 'aborted' ? 'Stopped' : message.status === 'error' ? 'Interrupted' : message.status === 'cached' ? 'cached' : null;
  const ending = describeEnding(message.finishReason);
  if (!message.model && !flag && !ending) return null;
  return (
    <p className="msg__meta">
      {message.model ? <span className="msg__model">{message.model}</span> : null}
      <EndingFlag finishReason={message.finishReason} />
      {flag ? <span className={`msg__flag${flag === 'Stopped' ? ' msg__flag--stopped' : flag === 'Interrupted' ? ' msg__flag--failed' : ''}`}>{flag}</span> : null}
    </p>
  );
}
