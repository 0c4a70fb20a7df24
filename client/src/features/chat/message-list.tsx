import { memo, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { SpeakButton } from '../voice/speak-button.tsx';
import { useVoicePreferences } from '../voice/use-voice-preferences.ts';
import { BrandMark } from '../../components/brand.tsx';
import { InfiniteSentinel } from '../../components/infinite-sentinel.tsx';
import { Spinner } from '../../components/spinner.tsx';
import { formatDateTime } from '../../lib/format.ts';
import { formatMicroUsd } from '@chatmeter/shared/money';
// What a reading is charged (the spoken text: numbers in words, no markup or code), as the server counts it.
import { speechChars } from '@chatmeter/shared/speech-text';
import {
  continuableReplyId,
  describeBudgetFit,
  describeEnding,
  describeSpeech,
  describeUsage,
  isInterrupted,
  isTurnActive,
  replyUsageOf,
  retryTarget,
  type ServerMessage,
  type Turn,
} from './chat-state.ts';
import { MessageContent } from './message-content.tsx';
import { CopyMessageButton } from './copy-message-button.tsx';
import { JumpToLatest } from './jump-to-latest.tsx';

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
  /**
   * Sends a message again as a new turn (metered like any message): offered under the last
   * reply when it failed or was interrupted, or under a last message left without a reply.
   */
  onRetry?: ((content: string) => void) | undefined;
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
  // Scrolled up from the end: offer a way back (a state, unlike `stick`, because it is shown).
  const [away, setAway] = useState(false);
  // The message that was first when older ones were asked for, and where it was in the view.
  const anchor = useRef<{ element: Element | null; top: number; height: number; oldest: string | undefined } | null>(null);
  const oldestId = messages[0]?.id;
  const last = turns.at(-1);
  // Everything that can change the height at the end of the list.
  const tail = `${messages.length}:${turns.length}:${last?.text.length ?? 0}:${last?.phase ?? ''}`;

  const loadOlder = () => {
    const el = scroller.current;
    if (!el || !props.hasOlder || props.loadingOlder) return;
    const element = el.querySelector('.msg');
    anchor.current = { element, top: element ? element.getBoundingClientRect().top : 0, height: el.scrollHeight, oldest: oldestId };
    props.onLoadOlder();
  };

  // Another conversation: start at its end.
  useLayoutEffect(() => {
    stick.current = true;
    setAway(false);
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
      // Older messages were added above: move down by as much as the message that was first moved, so it
      // stays under the reader's eyes (whatever else changed above it, such as the "Load older" row
      // going away, and from where they are now: they may have scrolled on while the page loaded).
      if (saved.element?.isConnected) el.scrollTop += saved.element.getBoundingClientRect().top - saved.top;
      else el.scrollTop += el.scrollHeight - saved.height;
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
    setAway(!stick.current);
  };

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = true;
    setAway(false);
    el.scrollTop = el.scrollHeight;
  };

  const nothing = messages.length === 0 && turns.length === 0;
  const continuable = props.onContinue ? continuableReplyId(messages, turns) : null;
  const retry = props.onRetry ? retryTarget(messages, turns) : null;
  const onRetry = retry && props.onRetry ? () => props.onRetry?.(retry.content) : undefined;
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
          <ServerMessageView
            key={message.id}
            message={message}
            onContinue={continuable === message.id ? props.onContinue : undefined}
            onRetry={retry?.id === message.id ? onRetry : undefined}
          />
        ))}
        {turns.map((turn) => (
          <TurnView
            key={turn.key}
            turn={turn}
            onContinue={continuable === turn.key ? props.onContinue : undefined}
            onRetry={retry?.id === turn.key ? onRetry : undefined}
          />
        ))}
      </div>
      {away && !nothing ? <JumpToLatest onJump={jumpToLatest} /> : null}
    </div>
  );
}

/** A stored message; unchanged ones are not rendered again while a reply streams below them. */
const ServerMessageView = memo(function ServerMessageView({
  message,
  onContinue,
  onRetry,
}: {
  message: ServerMessage;
  onContinue?: (() => void) | undefined;
  onRetry?: (() => void) | undefined;
}) {
  return message.role === 'user' ? (
    <>
      <UserMessage content={message.content} at={message.createdAt} />
      {onRetry ? <RetryButton onRetry={onRetry} hint="No reply arrived for this message." /> : null}
    </>
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
          {onRetry ? <RetryButton onRetry={onRetry} hint="The reply broke off. Retrying sends your message again (it counts as a new message)." /> : null}
        </>
      }
    />
  );
});

/** Under a reply that failed or broke off: sends the user's message again, as a new turn. */
function RetryButton({ onRetry, hint }: { onRetry: () => void; hint: string }) {
  return (
    <div className="msg__continue msg__retry">
      <button type="button" className="btn btn--secondary btn--small" onClick={onRetry}>
        Retry
      </button>
      <span className="msg__continue-hint">{hint}</span>
    </div>
  );
}

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
      <CopyMessageButton text={content} who="user" />
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
        {text && !streaming && !waiting ? <CopyMessageButton text={text} who="assistant" /> : null}
      </div>
    </article>
  );
}

function TurnView({ turn, onContinue, onRetry }: { turn: Turn; onContinue?: (() => void) | undefined; onRetry?: (() => void) | undefined }) {
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
            {turn.phase === 'done' ? <BudgetFitNotes turn={turn} /> : null}
            <SpeechNotes turn={turn} />
            {turn.phase === 'done' && turn.assistantMessageId && turn.text && (!turn.speech || turn.speech.over) ? (
              <TurnSpeak messageId={turn.assistantMessageId} chars={speechChars(turn.text)} readAlready={turn.speech !== null} />
            ) : null}
            {onContinue ? <ContinueButton onContinue={onContinue} /> : null}
            {onRetry ? <RetryButton onRetry={onRetry} hint="Retrying sends your message again (it counts as a new message)." /> : null}
          </>
        }
      />
    </>
  );
}

/**
 * Under a reply that had to fit what was left of a budget: shortened to fit, or answered by the plan's
 * fallback model. Only for replies of this tab (stored messages do not keep it).
 */
function BudgetFitNotes({ turn }: { turn: Turn }) {
  const lines = describeBudgetFit(turn);
  if (lines.length === 0) return null;
  return (
    <ul className="msg__budget" aria-label="Fitted to your budget">
      {lines.map((line) => (
        <li key={line}>{line}</li>
      ))}
    </ul>
  );
}

/**
 * A freshly finished answer: read aloud at once when the auto-play preference is on, unless it
 * was already read aloud as it streamed (then the button replays those clips).
 */
function TurnSpeak({ messageId, chars, readAlready }: { messageId: string; chars: number; readAlready: boolean }) {
  const [preferences] = useVoicePreferences();
  return <SpeakButton messageId={messageId} chars={chars} autoPlay={preferences.autoPlay && !readAlready} />;
}

/** Under a reply read aloud as it streamed: a sentence the voice service skipped, or why reading stopped. */
function SpeechNotes({ turn }: { turn: Turn }) {
  const lines = describeSpeech(turn.speech);
  if (lines.length === 0) return null;
  return (
    <ul className="msg__speech" aria-label="Reading aloud">
      {lines.map((line) => (
        <li key={line} className={turn.speech?.ended && line.startsWith('Reading aloud stopped') ? 'msg__speech-end' : undefined}>
          {line}
        </li>
      ))}
    </ul>
  );
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
  const flag = message.status === 'aborted' ? 'Stopped' : isInterrupted(message) ? 'Interrupted' : null;
  const ending = describeEnding(message.finishReason);
  // The same line as under a reply that has just finished: tokens, cost, estimated, cached.
  const parts = message.usage
    ? describeUsage(replyUsageOf(message.usage), message.status === 'cached', formatMicroUsd)
    : message.status === 'cached'
      ? ['cached']
      : [];
  if (!message.model && !flag && !ending && parts.length === 0) return null;
  return (
    <p
      className="msg__meta"
      aria-label={message.usage ? 'Usage of this reply' : undefined}
      title={message.usage ? `${message.usage.promptTokens} prompt + ${message.usage.completionTokens} completion tokens` : undefined}
    >
      {message.model ? <span className="msg__model">{message.model}</span> : null}
      <EndingFlag finishReason={message.finishReason} />
      {flag ? <span className={`msg__flag${flag === 'Stopped' ? ' msg__flag--stopped' : ' msg__flag--failed'}`}>{flag}</span> : null}
      {parts.map((part) => (
        <span key={part} className={part === 'estimated' || part === 'cached' ? 'msg__flag' : undefined}>
          {part}
        </span>
      ))}
    </p>
  );
}
