import { lazy, Suspense, useEffect, useState, type ComponentType } from 'react';
import type { MarkdownViewProps } from './markdown-view.tsx';

type MarkdownModule = typeof import('./markdown-view.tsx');

// The Markdown renderer (react-markdown, GFM, highlight.js) is its own chunk: the first
// page does not wait for it. The chat page asks for it as soon as it opens.
let loaded: MarkdownModule | undefined;
let loading: Promise<MarkdownModule> | undefined;

export function loadMarkdown(): Promise<MarkdownModule> {
  loading ??= import('./markdown-view.tsx').then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

// If the chunk cannot be fetched (offline, a deploy replaced it), replies stay plain text
// rather than the page failing; a later page load tries again.
const MarkdownView = lazy(
  (): Promise<{ default: ComponentType<MarkdownViewProps> }> =>
    loadMarkdown().catch(() => {
      loading = undefined;
      return { default: ({ text, streaming = false }: MarkdownViewProps) => <PlainContent text={text} streaming={streaming} /> };
    }),
);

/**
 * A reply rendered from its Markdown, as React elements (never as HTML). `partial`:
 * the text was cut short (streaming, stopped), so a mark left open is closed. Until the
 * renderer has loaded, the text is shown as it is.
 */
export function MessageContent({ text, streaming = false, partial = streaming }: { text: string; streaming?: boolean; partial?: boolean }) {
  return (
    <Suspense fallback={<PlainContent text={text} streaming={streaming} />}>
      <MarkdownView text={text} streaming={streaming} partial={partial} />
    </Suspense>
  );
}

function PlainContent({ text, streaming }: { text: string; streaming: boolean }) {
  return (
    <div className="md md--plain">
      <p>
        {text}
        {streaming ? <span className="caret" aria-hidden="true" /> : null}
      </p>
    </div>
  );
}

/**
 * The title a new conversation gets from its first message, as the server makes it
 * (Markdown stripped): computed here so the header shows it before the list is fetched
 * again. Undefined until the Markdown chunk (which carries the parser) has loaded.
 */
export function useConversationTitle(firstMessage: string | undefined): string | undefined {
  const [module, setModule] = useState(loaded);
  // The chunk is fetched once there is a title to compute (a conversation has begun), not by a blank chat page.
  const wanted = firstMessage !== undefined;
  useEffect(() => {
    if (module || !wanted) return;
    let live = true;
    loadMarkdown().then(
      (m) => {
        if (live) setModule(m);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [module, wanted]);
  return firstMessage !== undefined && module ? module.conversationTitle(firstMessage) : undefined;
}
