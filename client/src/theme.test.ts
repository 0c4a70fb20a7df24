// theme.css repeats the palettes of styles.css and components.css (a media query
// cannot be combined with data-theme): this keeps the copies in step.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');

/** Custom properties declared in `css`, as name -> value. */
function vars(css: string): Map<string, string> {
  return new Map([...css.matchAll(/(--[\w-]+):\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
}

function darkBlock(css: string): string {
  const start = css.indexOf('@media (prefers-color-scheme: dark)');
  const end = css.indexOf('\n}\n', start);
  return css.slice(start, end);
}

function lightBlock(css: string): string {
  const start = css.indexOf(':root {');
  return css.slice(start, css.indexOf('}', start));
}

describe('theme.css', () => {
  const theme = read('./theme.css');
  const forcedDark = vars(theme.slice(theme.indexOf(':root[data-theme="dark"]'), theme.indexOf(':root[data-theme="light"]')));
  const forcedLight = vars(darkBlock(theme));

  it.each(['./styles.css', './components/components.css'])('has the dark and light colours of %s', (file) => {
    const css = read(file);
    for (const [name, value] of vars(darkBlock(css))) expect(forcedDark.get(name), name).toBe(value);
    for (const [name] of vars(darkBlock(css))) expect(forcedLight.get(name), name).toBe(vars(lightBlock(css)).get(name));
  });
});
