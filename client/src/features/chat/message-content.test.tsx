import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { loadMarkdown, MessageContent } from './message-content.tsx';

describe('MessageContent', () => {
  it('shows the text as it is until the Markdown chunk has loaded, then renders it', async () => {
    // Not loaded yet: plain text (markup and all), never HTML, with the caret while streaming.
    expect(renderToStaticMarkup(<MessageContent text={'**Hi** <b>x</b>'} streaming />)).toBe(
      '<div class="md md--plain"><p>**Hi** &lt;b&gt;x&lt;/b&gt;<span class="caret" aria-hidden="true"></span></p></div>',
    );
    const module = await loadMarkdown();
    expect(module.conversationTitle('**Hi** `there`')).toBe('Hi there');
    // lazy() settles on its own promise, chained after the module's: let queued callbacks run.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(renderToStaticMarkup(<MessageContent text={'**Hi** <b>x</b>'} />)).toBe('<div class="md"><p><strong>Hi</strong> &lt;b&gt;x&lt;/b&gt;</p></div>');
  });
});
