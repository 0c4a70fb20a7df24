import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useRef } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { nextQuery } from '../../lib/navigation.ts';
import { ErrorAlert } from '../../components/alerts.tsx';
import { CaptchaWidget } from '../../components/captcha-widget.tsx';
import { formatWait, readApiError } from '../../lib/api-error.ts';
import { useCountdown } from '../../lib/use-countdown.ts';
import { useDocumentTitle } from '../../lib/use-document-title.ts';
import { trpc } from '../../trpc.ts';
import { useMe } from '../auth/use-me.ts';
import { usePlans } from '../billing/use-plans.ts';
import { QuotaMeter } from '../usage/quota-meter.tsx';
import { allowanceOf, NOTHING_USED } from '../usage/usage-math.ts';
import { useUsageSummary } from '../usage/use-usage.ts';
import { ChatNotice } from './chat-notice.tsx';
import { useConversations, useMessages, useModels, type Conversation } from './chat-queries.ts';
import { mergeServerMessages, messagesBeforeBranch, turnsFor } from './chat-state.ts';
import { chatStore, useChatStore } from './chat-store.ts';
import { Composer } from './composer.tsx';
import { ConversationList } from './conversation-list.tsx';
import { loadMarkdown, useConversationTitle } from './message-content.tsx';
import { ConversationSearchBox, ConversationSearchResults } from './conversation-search.tsx';
import { MessageList } from './message-list.tsx';
import { ModelPicker } from './model-picker.tsx';
import { useClientPrefs } from '../../lib/use-client-prefs.ts';
import './chat.css';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SUGGESTIONS = ['How is my usage metered?', 'Fibonacci in TypeScript', 'What is a context window?'];

/** What the Continue button sends after a reply cut at the length limit. */
const CONTINUE_MESSAGE = 'Continue.';

export function ChatPage() {
  useDocumentTitle('Chat');
  const queryClient = useQueryClient();
  const { data: me } = useMe();
  const isVisitor = !me;
  const isGuest = !me || me.isGuest;
  const planId = !me || me.isGuest ? 'guest' : me.plan;

  const [params, setParams] = useSearchParams();
  const requested = params.get('c');
  const selectedId = requested && UUID.test(requested) ? requested : null;

  const chat = useChatStore();
  const streaming = chat.activeKey !== null;
  const { sidebarOpen, searchQuery, pickedModel, followSignal } = chat.view;
  const captchaPayload = chat.view.captcha.payload;
  // Until the user picks one here: the default model chosen under Usage > Preferences, which may arrive
  // from the account after the page opened (ignored when the plan lacks it).
  const [clientPrefs] = useClientPrefs();
  const chosenModel = pickedModel ?? clientPrefs.defaultModel;
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const menuButtonRef = useRef<HTMLButtonElement>(null);
  const newButtonRef = useRef<HTMLButtonElement>(null);

  useEffect(() => chatStore.bindOwner(me?.id ?? null, me?.isGuest ?? true), [me?.id, me?.isGuest]);
  // Signing up from here comes back to this conversation.
  const location = useLocation();
  const backHere = nextQuery(location.pathname, location.search);

  // What this visitor may use.
  const models = useModels(me ? planId : null);
  const model = chosenModel && models.data?.models.includes(chosenModel) ? chosenModel : (models.data?.models[0] ?? null);
  const plans = usePlans();
  const summary = useUsageSummary(!isVisitor);
  const plan = plans.data?.find((p) => p.id === planId);
  const limits = summary.data?.limits ?? plan?.limits ?? null;
  const allowance = summary.data
    ? allowanceOf({ ...summary.data, credits: isGuest ? null : summary.data.credits })
    : isVisitor && plan
      ? allowanceOf({ limits: plan.limits, used: NOTHING_USED, credits: null, period: null })
      : null;

  // A visitor's first message creates the guest session; with the captcha on, it needs a solved check.
  const captcha = useQuery({
    queryKey: ['auth', 'captchaChallenge'],
    queryFn: () => trpc.auth.captchaChallenge.query(),
    enabled: isVisitor,
    staleTime: Infinity,
  });
  const captchaOn = isVisitor && captcha.data != null;

  // The open conversation: the server's pages plus this tab's turns (which carry usage).
  const messages = useMessages(selectedId);
  const turns = selectedId ? turnsFor(chat.turns, selectedId) : chat.turns.filter((t) => t.conversationId === null || (t.startedNew && !t.claimed));
  // While a regenerated reply or an edited message streams, the version it replaces is not shown.
  const serverMessages = messagesBeforeBranch(mergeServerMessages(messages.data?.pages ?? [], turns), turns);

  // A new conversation's first reply started: follow it to its own address.
  useLayoutEffect(() => {
    const started = chat.turns.find((t) => t.startedNew && !t.claimed && t.conversationId !== null);
    if (!started?.conversationId) return;
    chatStore.claim(started.key);
    if (selectedId === null) setParams({ c: started.conversationId }, { replace: true });
  }, [chat.turns, selectedId, setParams]);

  // The drawer (narrow screens): focus moves into it, and Escape closes it and returns to its button.
  useEffect(() => {
    if (!sidebarOpen) return;
    newButtonRef.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      chatStore.setSidebarOpen(false);
      menuButtonRef.current?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [sidebarOpen]);

  const focusInput = () => window.requestAnimationFrame(() => inputRef.current?.focus());

  const newConversation = () => {
    setParams({});
    chatStore.setSidebarOpen(false);
    chatStore.dismissNotice();
    focusInput();
  };

  const send = async () => {
    // A reply is coming: fetch its renderer now (the first page does not carry it).
    loadMarkdown().catch(() => undefined);
    const content = chat.draft.trim();
    if (!content) return;
    const usedCaptcha = captchaOn;
    await chatStore.send(
      { content, conversationId: selectedId, model, captcha: usedCaptcha ? (captchaPayload ?? undefined) : undefined },
      { queryClient, isVisitor },
    );
    // A payload is good once: a visitor still without a session needs a fresh check.
    if (usedCaptcha) chatStore.renewCaptcha();
    focusInput();
  };

  const stop = () => {
    chatStore.stop();
    focusInput();
  };

  // A reply cut at the length limit: ask the model to go on, in the same conversation.
  const continueReply = async () => {
    if (!selectedId) return;
    await chatStore.send({ content: CONTINUE_MESSAGE, conversationId: selectedId, model, keepDraft: true }, { queryClient, isVisitor });
    focusInput();
  };

  // A reply that failed or broke off: the same message again, as a new turn in this conversation.
  const retry = async (content: string) => {
    if (!selectedId) return;
    await chatStore.send({ content, conversationId: selectedId, model, keepDraft: true }, { queryClient, isVisitor });
    focusInput();
  };

  // Another reply to the same message: the first stays as a version (‹ 1/2 ›).
  const regenerate = async (replyId: string, question: string) => {
    if (!selectedId) return;
    await chatStore.settleTurns(selectedId, queryClient);
    await chatStore.send({ content: question, conversationId: selectedId, model, branch: { kind: 'regenerate', replyId } }, { queryClient, isVisitor });
  };

  // A new version of one of the user's messages, and a reply to it; false when it was refused (the editor opens again).
  const edit = async (messageId: string, content: string): Promise<boolean> => {
    if (!selectedId) return false;
    await chatStore.settleTurns(selectedId, queryClient);
    const outcome = await chatStore.send({ content, conversationId: selectedId, model, branch: { kind: 'edit', messageId } }, { queryClient, isVisitor });
    return outcome.ok || outcome.started !== false;
  };

  const selectVersion = (messageId: string) => {
    if (!selectedId) return;
    void chatStore.selectVersion(selectedId, messageId, queryClient);
  };

  const waitLeft = useCountdown(chat.notice?.waitUntil);
  const blockedReason =
    waitLeft !== undefined && waitLeft > 0
      ? `You can send again in ${formatWait(waitLeft)}.`
      : captchaOn && !captchaPayload
        ? 'Finishing a quick check that you are human…'
        : null;

  const conversations = useConversations(!isVisitor);
  const current: Conversation | undefined = selectedId ? conversations.data?.pages.flatMap((p) => p.items).find((c) => c.id === selectedId) : undefined;
  // A conversation this tab started: the title the server gave it (Markdown stripped) before the list is fetched again.
  const startedTitle = useConversationTitle(turns.find((turn) => turn.startedNew)?.content);
  const title = selectedId ? (current?.title ?? startedTitle ?? 'Conversation') : 'New conversation';

  const messagesError = messages.isError ? (
    <div className="chat-scroll__error">
      <ErrorAlert>{readApiError(messages.error).message}</ErrorAlert>
      <button type="button" className="btn btn--secondary btn--small" onClick={newConversation}>
        Start a new conversation
      </button>
    </div>
  ) : null;

  return (
    <div className="chat-layout">
      <aside id="chat-sidebar" className={`chat-sidebar${sidebarOpen ? ' is-open' : ''}`} aria-label="Conversations">
        <div className="chat-sidebar__head">
          <button type="button" ref={newButtonRef} className="btn btn--secondary chat-sidebar__new" onClick={newConversation}>
            <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
              <path d="M10 4v12M4 10h12" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
            </svg>
            New conversation
          </button>
          <button
            type="button"
            className="icon-btn chat-sidebar__close"
            aria-label="Close conversations"
            onClick={() => {
              chatStore.setSidebarOpen(false);
              menuButtonRef.current?.focus();
            }}
          >
            <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
              <path d="M5 5l10 10M15 5 5 15" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        <ConversationSearchBox value={searchQuery} onChange={(query) => chatStore.setSearchQuery(query)} disabled={isVisitor} />
        <div className="chat-sidebar__list">
          {searchQuery.trim() && !isVisitor ? (
            <ConversationSearchResults
              query={searchQuery}
              selectedId={selectedId}
              onOpen={() => {
                chatStore.setSidebarOpen(false);
                chatStore.dismissNotice();
              }}
            />
          ) : (
            <ConversationList
              enabled={!isVisitor}
              selectedId={selectedId}
              onOpen={() => {
                chatStore.setSidebarOpen(false);
                chatStore.dismissNotice();
              }}
              onDeleted={(id) => {
                if (id === selectedId) setParams({}, { replace: true });
                focusInput();
              }}
            />
          )}
        </div>
      </aside>
      {sidebarOpen ? <div className="chat-backdrop" onClick={() => chatStore.setSidebarOpen(false)} aria-hidden="true" /> : null}

      <section className="chat-main" aria-labelledby="chat-title">
        <header className="chat-head">
          <button
            type="button"
            ref={menuButtonRef}
            className="icon-btn chat-head__menu"
            aria-label="Show conversations"
            aria-expanded={sidebarOpen}
            aria-controls="chat-sidebar"
            onClick={() => chatStore.setSidebarOpen(!sidebarOpen)}
          >
            <svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true">
              <path d="M3 5.5h14M3 10h14M3 14.5h14" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
          <h1 id="chat-title" className="chat-head__title" title={title}>
            {title}
          </h1>
          <ModelPicker models={models.data} value={model} onChange={(picked) => chatStore.pickModel(picked)} disabled={streaming} />
        </header>
        <QuotaMeter allowance={allowance} loading={summary.isPending && !isVisitor} linkToUsage={!isVisitor} />
        {isGuest ? (
          <div className="nudge" role="note">
            <p>
              <strong>Sign up to keep your conversations.</strong>{' '}
              <span className="nudge__more">{isVisitor ? 'No account needed to try it.' : 'Guest chats stay on this browser only.'}</span>
            </p>
            <span className="nudge__actions">
              <Link to={`/sign-up${backHere}`} className="btn btn--primary btn--small">
                Sign up
              </Link>
              {isVisitor ? (
                <Link to={`/sign-in${backHere}`} className="btn btn--ghost btn--small">
                  Sign in
                </Link>
              ) : null}
            </span>
          </div>
        ) : null}

        <MessageList
          conversationKey={selectedId ?? 'new'}
          messages={serverMessages}
          turns={turns}
          hasOlder={messages.hasNextPage}
          loadingOlder={messages.isFetchingNextPage}
          onLoadOlder={() => void messages.fetchNextPage()}
          loading={selectedId !== null && messages.isPending}
          error={messagesError}
          followSignal={followSignal}
          onContinue={streaming || !selectedId ? undefined : () => void continueReply()}
          onRetry={streaming || !selectedId ? undefined : (content) => void retry(content)}
          onRegenerate={streaming || !selectedId ? undefined : (replyId, question) => void regenerate(replyId, question)}
          onEdit={streaming || !selectedId ? undefined : edit}
          onSelectVersion={streaming || !selectedId ? undefined : selectVersion}
          empty={
            <section className="chat-empty" aria-labelledby="chat-empty-title">
              <div className="chat-empty__icon" aria-hidden="true">
                <svg viewBox="0 0 24 24" width="28" height="28">
                  <path
                    fill="currentColor"
                    d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H11l-4.6 3.7a.6.6 0 0 1-1-.5V16h0A2.5 2.5 0 0 1 3 13.5Z"
                    opacity=".9"
                  />
                </svg>
              </div>
              <h2 id="chat-empty-title" className="chat-empty__title">
                Start a conversation
              </h2>
              <p className="chat-empty__lead">Ask anything. Replies stream in as they are written, and each one shows the tokens it used and what it cost.</p>
              {models.data?.demo ? (
                <p className="chat-empty__demo">
                  This server runs the offline <strong>demo model</strong>: answers are canned, the metering is real.
                </p>
              ) : null}
              <ul className="suggestions" aria-label="Suggestions">
                {SUGGESTIONS.map((suggestion) => (
                  <li key={suggestion}>
                    <button
                      type="button"
                      className="suggestion"
                      onClick={() => {
                        chatStore.setDraft(suggestion);
                        focusInput();
                      }}
                    >
                      {suggestion}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          }
        />

        <div className="chat-bottom">
          {chat.notice ? (
            <ChatNotice
              key={chat.notice.id}
              notice={chat.notice}
              isGuest={isGuest}
              onDismiss={() => chatStore.dismissNotice()}
              onNewConversation={newConversation}
            />
          ) : null}
          <Composer
            value={chat.draft}
            onChange={(text) => chatStore.setDraft(text)}
            onSend={() => void send()}
            onStop={stop}
            streaming={streaming}
            speaking={chat.speaking}
            blockedReason={blockedReason}
            maxChars={limits?.maxInputChars ?? null}
            placeholder={selectedId ? 'Reply…' : isVisitor ? 'Ask anything: no account needed' : 'Ask anything'}
            inputRef={inputRef}
            before={
              captchaOn ? (
                <div className="composer__captcha">
                  <p className="composer__captcha-text">A quick check that you are human runs in your browser before your first message.</p>
                  <CaptchaWidget
                    key={chat.view.captcha.key}
                    getChallenge={() => trpc.auth.captchaChallenge.query()}
                    autoStart
                    onSolved={(payload) => chatStore.captchaSolved(payload)}
                    onReset={() => chatStore.captchaCleared()}
                    onError={(error) => chatStore.captchaFailed(error.message)}
                  />
                  {chat.view.captcha.error ? <p className="composer__blocked">{chat.view.captcha.error}</p> : null}
                </div>
              ) : null
            }
          />
        </div>
      </section>
    </div>
  );
}
