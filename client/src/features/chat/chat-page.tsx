import { Link } from 'react-router';
import { useDocumentTitle } from '../../lib/use-document-title.ts';
import { useMe } from '../auth/use-me.ts';

export function ChatPage() {
  useDocumentTitle('Chat');
  const { data: me } = useMe();
  return (
    <div className="chat">
      <section className="chat__empty" aria-labelledby="chat-title">
        <div className="chat__icon" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="28" height="28">
            <path fill="currentColor" d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H11l-4.6 3.7a.6.6 0 0 1-1-.5V16h0A2.5 2.5 0 0 1 3 13.5Z" opacity=".9" />
          </svg>
        </div>
        <h1 id="chat-title" className="chat__title">
          Start a conversation
        </h1>
        <p className="chat__lead">
          Chat is arriving in the next update. You will write here, watch replies stream in, and see the tokens and cost of every reply as it
          finishes.
        </p>
        {me?.isGuest ? (
          <p className="muted">
            You are a guest. <Link to="/sign-up">Create an account</Link> to keep your conversations and get a larger allowance.
          </p>
        ) : null}
      </section>
      <div className="composer" aria-disabled="true">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea id="composer-input" className="composer__input" rows={1} placeholder="Chat is not available yet" disabled />
        <button type="button" className="btn btn--primary" disabled>
          Send
        </button>
      </div>
    </div>
  );
}
