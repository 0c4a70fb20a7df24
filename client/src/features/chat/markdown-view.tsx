// The Markdown of a reply as React elements: react-markdown (CommonMark) with GFM
// (tables, task lists, strikethrough, autolinks) and highlight.js colours in fenced code.
// Loaded on its own (message-content.tsx imports it lazily), so the first page stays small.
//
// Safety: no rehype-raw, so HTML written by a model is shown as text, never parsed;
// links only to http(s) (others are shown as their text); images are never
// loaded (their alt text is shown, so a reply cannot make the browser fetch a URL).
import { memo, useDeferredValue, useMemo, useState, type ComponentProps, type ReactNode } from 'react';
import ReactMarkdown, { type Components, type Options } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { closeOpenMarks, codeLanguage, codeOfPre, hastText, rehypeCaret, rehypeHighlightCode, safeUrl } from './markdown.ts';

// Re-exported for the chat header: the same title the server stores, from this lazily loaded chunk.
export { conversationTitle } from '@chatmeter/shared/conversation-title';

export interface MarkdownViewProps {
  text: string;
  /** Still being written: a caret follows the last character. */
  streaming?: boolean;
  /** Cut short (streaming, stopped, at the length limit): marks left open are closed. */
  partial?: boolean;
}

// Strikethrough needs `~~`: models write "~5 min to ~10 min" for "about", not as a strike.
const REMARK_PLUGINS: Options['remarkPlugins'] = [[remarkGfm, { singleTilde: false }]];
const REHYPE_PLUGINS: Options['rehypePlugins'] = [rehypeHighlightCode];
const REHYPE_PLUGINS_STREAMING: Options['rehypePlugins'] = [rehypeHighlightCode, rehypeCaret];

const urlTransform: Options['urlTransform'] = (url) => safeUrl(url);

const HEADING_LEVEL = { h1: 1, h2: 2, h3: 3, h4: 3, h5: 3, h6: 3 } as const;

// Replies sit under the page's headings: their #, ## and ### are shown, not outlined.
function heading(tag: keyof typeof HEADING_LEVEL) {
  return function Heading({ children }: { children?: ReactNode }) {
    return <p className={`md__heading md__heading--${HEADING_LEVEL[tag]}`}>{children}</p>;
  };
}

const COMPONENTS: Components = {
  h1: heading('h1'),
  h2: heading('h2'),
  h3: heading('h3'),
  h4: heading('h4'),
  h5: heading('h5'),
  h6: heading('h6'),
  a({ href, children }) {
    // urlTransform already refused what is not http(s): such a link is its text.
    if (!href) return <span className="md__link-refused">{children}</span>;
    return (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    );
  },
  img({ alt }) {
    // Never loaded: a model could otherwise make every reader's browser call any address.
    return <span className="md__image">{alt ? `[image: ${alt}]` : '[image]'}</span>;
  },
  pre({ node, children }) {
    const code = node ? codeOfPre(node) : undefined;
    return (
      <CodeBlock language={code ? codeLanguage(code) : undefined} text={code ? hastText(code).replace(/\n$/, '') : ''}>
        {children}
      </CodeBlock>
    );
  },
  table({ children }) {
    // Wide tables scroll inside the reply, not the page (360 px screens); focusable so keyboard users can scroll it.
    // A group, not a region: a reply with several tables must not add landmarks of one name.
    return (
      <div className="md__table" role="group" aria-label="Table" tabIndex={0}>
        <table>{children}</table>
      </div>
    );
  },
  input({ type, checked }: ComponentProps<'input'>) {
    // GFM task list items: a read-only box with a name for screen readers.
    if (type !== 'checkbox') return null;
    return <input type="checkbox" checked={Boolean(checked)} disabled aria-label={checked ? 'Done' : 'Not done'} />;
  },
};

export const MarkdownView = memo(function MarkdownView({ text, streaming = false, partial = streaming }: MarkdownViewProps) {
  const source = useMemo(() => (partial ? closeOpenMarks(text) : text), [text, partial]);
  // Each delta re-parses the whole reply: as a deferred value, React renders the newest text
  // when it has time, skipping states a slow device cannot keep up with, and typing in the
  // composer stays responsive. (What is deferred is already closed: no stray marks.)
  const shown = useDeferredValue(source);
  return <MarkdownBody source={shown} streaming={streaming} />;
});

const MarkdownBody = memo(function MarkdownBody({ source, streaming }: { source: string; streaming: boolean }) {
  return (
    <div className="md">
      <ReactMarkdown
        remarkPlugins={REMARK_PLUGINS}
        rehypePlugins={streaming ? REHYPE_PLUGINS_STREAMING : REHYPE_PLUGINS}
        components={COMPONENTS}
        urlTransform={urlTransform}
      >
        {source}
      </ReactMarkdown>
    </div>
  );
});

export default MarkdownView;

function CodeBlock({ language, text, children }: { language: string | undefined; text: string; children: ReactNode }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard?.writeText(text).then(
      () => {
        setCopied(true);
        window.setTimeout(() => setCopied(false), 1500);
      },
      () => setCopied(false),
    );
  };
  const label = language || 'code';
  return (
    <div className="md__code">
      <div className="md__code-bar">
        <span>{label}</span>
        <button type="button" className="md__copy" onClick={copy} aria-label={copied ? 'Copied' : `Copy ${label}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre>{children}</pre>
    </div>
  );
}
