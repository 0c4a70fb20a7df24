import { Fragment, useMemo, useState, type ReactNode } from 'react';
import { closeOpenMarks, parseMarkdown, type Block, type Inline } from './markdown.ts';

/**
 * A reply rendered from its Markdown, as React elements (never as HTML). `partial`:
 * the text was cut short (streaming, stopped), so a mark left open is closed.
 */
export function MessageContent({ text, streaming = false, partial = streaming }: { text: string; streaming?: boolean; partial?: boolean }) {
  const blocks = useMemo(() => parseMarkdown(partial ? closeOpenMarks(text) : text), [text, partial]);
  return (
    <div className="md">
      {blocks.map((block, index) => (
        <BlockView key={index} block={block} caret={streaming && index === blocks.length - 1} />
      ))}
      {streaming && blocks.length === 0 ? <span className="caret" aria-hidden="true" /> : null}
    </div>
  );
}

function BlockView({ block, caret }: { block: Block; caret: boolean }) {
  const tail = caret ? <span className="caret" aria-hidden="true" /> : null;
  switch (block.type) {
    case 'code':
      return <CodeBlock lang={block.lang} text={block.text} tail={tail} />;
    case 'heading': {
      // Replies sit under the page's headings: their #, ## and ### are shown, not outlined.
      return (
        <p className={`md__heading md__heading--${block.level}`}>
          <Inlines nodes={block.children} />
          {tail}
        </p>
      );
    }
    case 'list': {
      const items = block.items.map((item, index) => (
        <li key={index}>
          <Inlines nodes={item} />
          {index === block.items.length - 1 ? tail : null}
        </li>
      ));
      return block.ordered ? <ol start={block.start}>{items}</ol> : <ul>{items}</ul>;
    }
    case 'quote':
      return (
        <blockquote>
          <Inlines nodes={block.children} />
          {tail}
        </blockquote>
      );
    case 'paragraph':
      return (
        <p>
          <Inlines nodes={block.children} />
          {tail}
        </p>
      );
  }
}

function Inlines({ nodes }: { nodes: readonly Inline[] }): ReactNode {
  return nodes.map((node, index) => {
    switch (node.type) {
      case 'text':
        return <Fragment key={index}>{withLineBreaks(node.text)}</Fragment>;
      case 'code':
        return <code key={index}>{node.text}</code>;
      case 'strong':
        return (
          <strong key={index}>
            <Inlines nodes={node.children} />
          </strong>
        );
      case 'em':
        return (
          <em key={index}>
            <Inlines nodes={node.children} />
          </em>
        );
      case 'link':
        return (
          <a key={index} href={node.href} target="_blank" rel="noopener noreferrer nofollow">
            <Inlines nodes={node.children} />
          </a>
        );
    }
  });
}

function withLineBreaks(text: string): ReactNode {
  const lines = text.split('\n');
  return lines.map((line, index) => (
    <Fragment key={index}>
      {index > 0 ? <br /> : null}
      {line}
    </Fragment>
  ));
}

function CodeBlock({ lang, text, tail }: { lang: string; text: string; tail: ReactNode }) {
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
  return (
    <div className="md__code">
      <div className="md__code-bar">
        <span>{lang || 'code'}</span>
        <button type="button" className="md__copy" onClick={copy} aria-label={copied ? 'Copied' : `Copy ${lang || 'code'}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre>
        <code>
          {text}
          {tail}
        </code>
      </pre>
    </div>
  );
}
