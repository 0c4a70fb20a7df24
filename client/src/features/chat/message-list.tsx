import { memo, useEffect, useId, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { SpeakButton } from '../tts/speak-button.tsx';
import { useVoicePreferences } from '../tts/use-voice-preferences.ts';
import { describeVoiceCost } from '../tts/voice-state.ts';
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
  describeVersion,
  isInterrupted,
  isTurnActive,
  replyUsageOf,
  retryTarget,
  type MessageVersions,
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
  /** Another reply to the message a reply answered (chat.regenerate); undefined while a reply streams. */
  onRegenerate?: ((replyId: string, question: string) => void) | undefined;
  /** A new version of a message of the user's, and a reply to it (chat.edit); resolves false when refused. */
  onEdit?: ((messageId: string, content: string) => Promise<boolean>) | undefined;
  /** Shows another version of a message (chat.selectVersion). */
  onSelectVersion?: ((messageId: string) => void) | undefined;
}

/** What the Edit buttons and the inline editor share: which message is being edited, and its text. */
interface EditControl {
  editingId: string | null;
  start(id: string): void;
  cancel(): void;
  save(id: string, content: string): void;
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
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the conversation changes; the key itself is not read.
  useLayoutEffect(() => {
    stick.current = true;
    setAway(false);
    anchor.current = null;
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [props.conversationKey]);

  // A message was sent: follow the reply to the end again.
  // biome-ignore lint/correctness/useExhaustiveDependencies: followSignal is a trigger, bumped by every send.
  useLayoutEffect(() => {
    stick.current = true;
  }, [props.followSignal]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the end of the list (tail), its oldest message or the loading state changes; the lengths read inside change with them.
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

  // The message being edited; the editor closes on Save & send and opens again if the edit is refused.
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const onEdit = props.onEdit;
  const edit: EditControl | undefined = onEdit
    ? {
        editingId: editing?.id ?? null,
        start: (id) => setEditing({ id, text: '' }),
        cancel: () => setEditing(null),
        save: (id, content) => {
          setEditing(null);
          void onEdit(id, content).then((accepted) => {
            if (!accepted) setEditing({ id, text: content });
          });
        },
      }
    : undefined;
  const draftFor = (id: string) => (editing?.id === id && editing.text ? editing.text : undefined);

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
        {messages.map((message, i) => {
          const question = message.role === 'assistant' ? messages[i - 1] : undefined;
          const onRegenerate = props.onRegenerate;
          return (
            <ServerMessageView
              key={message.id}
              message={message}
              onContinue={continuable === message.id ? props.onContinue : undefined}
              onRetry={retry?.id === message.id ? onRetry : undefined}
              onRegenerate={onRegenerate && question?.role === 'user' ? () => onRegenerate(message.id, question.content) : undefined}
              edit={edit}
              editDraft={draftFor(message.id)}
              onSelectVersion={props.onSelectVersion}
            />
          );
        })}
        {turns.map((turn) => (
          <TurnView
            key={turn.key}
            turn={turn}
            onContinue={continuable === turn.key ? props.onContinue : undefined}
            onRetry={retry?.id === turn.key ? onRetry : undefined}
            onRegenerate={props.onRegenerate}
            edit={edit}
            editDraft={turn.userMessageId ? draftFor(turn.userMessageId) : undefined}
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
  onRegenerate,
  edit,
  editDraft,
  onSelectVersion,
}: {
  message: ServerMessage;
  onContinue?: (() => void) | undefined;
  onRetry?: (() => void) | undefined;
  onRegenerate?: (() => void) | undefined;
  edit?: EditControl | undefined;
  editDraft?: string | undefined;
  onSelectVersion?: ((messageId: string) => void) | undefined;
}) {
  const versions = message.versions ? (
    <VersionSwitch versions={message.versions} who={message.role === 'user' ? 'user' : 'assistant'} onSelect={onSelectVersion} />
  ) : null;
  return message.role === 'user' ? (
    <>
      <UserMessage content={message.content} at={message.createdAt} messageId={message.id} edit={edit} editDraft={editDraft} versions={versions} />
      {onRetry ? <RetryButton onRetry={onRetry} hint="No reply arrived for this message." /> : null}
    </>
  ) : (
    <AssistantMessage
      text={message.content}
      at={message.createdAt}
      actions={
        <>
          {versions}
          {onRegenerate ? <RegenerateButton onRegenerate={onRegenerate} /> : null}
        </>
      }
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

/** ‹ 2/3 ›: the versions of a message (a regenerated reply, an edited message), switched in place. */
function VersionSwitch({
  versions,
  who,
  onSelect,
}: {
  versions: MessageVersions;
  who: 'user' | 'assistant';
  onSelect?: ((messageId: string) => void) | undefined;
}) {
  const { short, long } = describeVersion(versions);
  const previous = versions.ids[versions.index - 1];
  const next = versions.ids[versions.index + 1];
  return (
    <div className="msg-versions" role="group" aria-label={who === 'user' ? 'Versions of your message' : 'Versions of this reply'}>
      <button
        type="button"
        className="msg-versions__btn"
        aria-label="Previous version"
        disabled={!onSelect || !previous}
        onClick={() => previous && onSelect?.(previous)}
      >
        <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
          <path d="M12.5 4.5 7 10l5.5 5.5" fill="none" stroke="currentColor" strokeWidth="1.9" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      </button>
      <span className="msg-versions__count" aria-hidden="true">
        {short}
      </span>
      <span className="visually-hidden">{long}</span>
      <button type="button" className="msg-versions__btn" aria-label="Next version" disabled={!onSelect || !next} onClick={() => next && onSelect?.(next)}>
        <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
          <path d="m7.5 4.5 5.5 5.5-5.5 5.5" fill="none" stroke="currentColor" strokeWidth="1.9" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      </button>
    </div>
  );
}

/** Under a reply: ask for another one to the same message; the first is kept as a version. */
function RegenerateButton({ onRegenerate }: { onRegenerate: () => void }) {
  return (
    <button
      type="button"
      className="msg-copy msg-action"
      aria-label="Regenerate reply"
      title="Another reply to the same message (counts as a message)"
      onClick={onRegenerate}
    >
      <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
        <path
          d="M15.5 8A6 6 0 0 0 4.6 6.5M4.5 12a6 6 0 0 0 10.9 1.5M15.5 3.5V8H11M4.5 16.5V12H9"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.7"
          strokeLinecap="round"
          strokeLinejoin="round"
        />
      </svg>
      <span aria-hidden="true">Regenerate</span>
    </button>
  );
}

/** Edit a message in place: Save & send makes a new version with a new reply; Escape or Cancel leaves it as it was. */
function MessageEditor({ initial, onSave, onCancel }: { initial: string; onSave: (content: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const content = text.trim();
  return (
    <form
      className="msg-edit"
      onSubmit={(event) => {
        event.preventDefault();
        if (content) onSave(content);
      }}
    >
      <label className="visually-hidden" htmlFor={id}>
        Edit your message
      </label>
      <textarea
        id={id}
        ref={area}
        className="msg-edit__input"
        value={text}
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onCancel();
          } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && content) {
            event.preventDefault();
            onSave(content);
          }
        }}
      />
      <div className="msg-edit__actions">
        <button type="button" className="btn btn--ghost btn--small" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn--primary btn--small" disabled={!content}>
          Save &amp; send
        </button>
      </div>
    </form>
  );
}

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

function UserMessage({
  content,
  at,
  messageId,
  edit,
  editDraft,
  versions,
}: {
  content: string;
  at: Date;
  /** Known once stored: the message can then be edited. */
  messageId?: string | null | undefined;
  edit?: EditControl | undefined;
  editDraft?: string | undefined;
  versions?: ReactNode;
}) {
  const editing = !!messageId && edit?.editingId === messageId;
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  // Cancel returns the focus to the Edit button it came from.
  useEffect(() => {
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);
  if (editing && messageId && edit) {
    return (
      <article className="msg msg--user msg--editing" aria-label="You">
        <MessageEditor initial={editDraft ?? content} onSave={(text) => edit.save(messageId, text)} onCancel={edit.cancel} />
      </article>
    );
  }
  return (
    <article className="msg msg--user" aria-label="You">
      <div className="msg__bubble" title={formatDateTime(at)}>
        {content}
      </div>
      <div className="msg-actions">
        {versions}
        {messageId && edit ? (
          <button type="button" ref={editButton} className="msg-copy msg-action" aria-label="Edit your message" onClick={() => edit.start(messageId)}>
            <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
              <path d="M13.5 3.5 16.5 6.5 7 16H4v-3l9.5-9.5Z" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinejoin="round" />
            </svg>
            <span aria-hidden="true">Edit</span>
          </button>
        ) : null}
        <CopyMessageButton text={content} who="user" />
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
  actions,
}: {
  text: string;
  at?: Date;
  meta: ReactNode;
  /** Versions and Regenerate, beside Copy. */
  actions?: ReactNode;
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
        {!streaming && !waiting ? (
          <div className="msg-actions">
            {actions}
            {text ? <CopyMessageButton text={text} who="assistant" /> : null}
          </div>
        ) : null}
      </div>
    </article>
  );
}

function TurnView({
  turn,
  onContinue,
  onRetry,
  onRegenerate,
  edit,
  editDraft,
}: {
  turn: Turn;
  onContinue?: (() => void) | undefined;
  onRetry?: (() => void) | undefined;
  onRegenerate?: ((replyId: string, question: string) => void) | undefined;
  edit?: EditControl | undefined;
  editDraft?: string | undefined;
}) {
  const active = isTurnActive(turn);
  const replyId = turn.assistantMessageId;
  // A reply that was stored (finished or stopped with text) can be regenerated.
  const regenerate =
    onRegenerate && replyId && (turn.phase === 'done' || (turn.phase === 'stopped' && turn.text)) ? () => onRegenerate(replyId, turn.content) : undefined;
  return (
    <>
      <UserMessage content={turn.content} at={turn.createdAt} messageId={active ? null : turn.userMessageId} edit={edit} editDraft={editDraft} />
      <AssistantMessage
        actions={regenerate ? <RegenerateButton onRegenerate={regenerate} /> : null}
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

/** What reading the reply aloud as it streamed cost, beside its chat cost (nothing with a free engine). */
function VoiceCost({ turn }: { turn: Turn }) {
  const text = describeVoiceCost(turn.speech?.costMicroUsd, formatMicroUsd);
  return text ? (
    <span className="msg__voice-cost" title={`Reading this reply aloud: ${turn.speech?.clips ?? 0} sentences`}>
      {text}
    </span>
  ) : null;
}

function TurnMeta({ turn }: { turn: Turn }) {
  if (turn.phase === 'done' && turn.usage) {
    const parts = describeUsage(turn.usage, turn.cached, formatMicroUsd);
    return (
      <p
        className="msg__meta"
        role="group"
        aria-label="Usage of this reply"
        title={`${turn.usage.promptTokens} prompt + ${turn.usage.completionTokens} completion tokens`}
      >
        {turn.model ? <span className="msg__model">{turn.model}</span> : null}
        <EndingFlag finishReason={turn.finishReason} />
        {parts.map((part) => (
          <span key={part} className={part === 'estimated' || part === 'cached' ? 'msg__flag' : undefined}>
            {part}
          </span>
        ))}
        <VoiceCost turn={turn} />
      </p>
    );
  }
  if (turn.phase === 'stopped') {
    return (
      <p className="msg__meta">
        <span className="msg__flag msg__flag--stopped">Stopped</span>
        <span>{turn.text ? 'partial answer kept' : 'before the answer began'}</span>
        <VoiceCost turn={turn} />
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
      role="group"
      aria-label={message.usage ? 'Usage of this reply' : 'About this reply'}
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
