/**
 * Turns a chat reply (usually Markdown written by a language model) into plain text a
 * speech engine reads well, then cuts it into chunks: a short first chunk so the first
 * audio is ready quickly, then chunks of bounded length so no single engine call is huge.
 *
 * Everything here is pure and synchronous. Markdown structure and URLs are handled for
 * every language; number and currency wording is English only (other languages keep
 * the digits and symbols, which eSpeak NG reads by its own rules).
 *
 * Shared by the TTS worker (what it hands the engine) and the server (what a reading
 * costs, `speechChars`): the allowance is charged on the text actually synthesized,
 * after numbers are spelled out, so "1234567" costs what speaking it costs.
 */
import { countTtsChars } from './tts.ts';

// The WHATWG URL class exists in every runtime this module runs in (Node, browsers);
// this package's type setup has no DOM or Node types, so it is declared here.
declare const URL: new (input: string) => { hostname: string };

export interface PrepOptions {
  /** A BCP 47 tag or a voice id (`en-us+f3`); only its primary language is used. */
  language?: string;
}

export interface ChunkOptions {
  /** Upper bound for every chunk after the first. */
  maxChars?: number;
  /** Upper bound for the first chunk (kept small so the first audio is ready quickly). */
  firstMaxChars?: number;
}

export const DEFAULT_MAX_CHUNK_CHARS = 400;
export const DEFAULT_FIRST_CHUNK_CHARS = 150;

interface Phrases {
  codeOmitted: string;
  link: (host: string) => string;
}

const PHRASES: Record<string, Phrases> = {
  en: { codeOmitted: '(code omitted)', link: (host) => `a link to ${host}` },
  de: { codeOmitted: '(Code ausgelassen)', link: (host) => `ein Link zu ${host}` },
  fr: { codeOmitted: '(code omis)', link: (host) => `un lien vers ${host}` },
  es: { codeOmitted: '(código omitido)', link: (host) => `un enlace a ${host}` },
  it: { codeOmitted: '(codice omesso)', link: (host) => `un link a ${host}` },
  pt: { codeOmitted: '(código omitido)', link: (host) => `um link para ${host}` },
  nl: { codeOmitted: '(code weggelaten)', link: (host) => `een link naar ${host}` },
};
// Other languages: say nothing for code and only the host for a link, rather than
// English words in a foreign voice.
const NEUTRAL_PHRASES: Phrases = { codeOmitted: '', link: (host) => host };

export function primaryLanguage(language: string | undefined): string {
  return (language ?? 'en').toLowerCase().split(/[-_+]/)[0] || 'en';
}

// ---------------------------------------------------------------------------------------
// Markdown and markup

const FENCE_OPEN = /^[ \t]{0,3}(`{3,}|~{3,})[^\n]*$/;
const HEADING = /^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^[ \t]{0,3}(?:=+|-+)[ \t]*$/;
const HORIZONTAL_RULE = /^[ \t]{0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const LIST_ITEM = /^[ \t]*(?:[-*+•·‣◦▪]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?(.*)$/;
const BLOCKQUOTE = /^[ \t]{0,3}(?:>[ \t]?)+(.*)$/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$/;
const TABLE_ROW = /^[ \t]*\|.*\|[ \t]*$/;
const LINK_DEFINITION = /^[ \t]{0,3}\[[^\]]+\]:[ \t]+\S+.*$/;

const TERMINAL_PUNCTUATION = /[.!?…:;]["'”’)\]]*$/u;

/**
 * Markdown to plain text. Blocks (paragraphs, headings, list items, table rows, the code
 * placeholder) come back one per line, each ending in punctuation so the voice pauses.
 */
export function prepareText(input: string, options: PrepOptions = {}): string {
  const lang = primaryLanguage(options.language);
  const phrases = PHRASES[lang] ?? NEUTRAL_PHRASES;
  const lines = input
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    // Control characters other than tab and newline carry no speech.
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, ' ')
    .split('\n');

  const blocks: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) blocks.push(paragraph.join(' '));
    paragraph = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      // Skip to the closing fence (same character, at least as long) or the end of the
      // text: a reply cut off mid-code must not be read aloud either.
      const marker = fence[1] as string;
      const close = new RegExp(`^[ \\t]{0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`);
      let j = i + 1;
      while (j < lines.length && !close.test(lines[j] as string)) j++;
      i = j;
      flush();
      if (phrases.codeOmitted) blocks.push(phrases.codeOmitted);
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (LINK_DEFINITION.test(line) || HORIZONTAL_RULE.test(line) || TABLE_SEPARATOR.test(line)) {
      flush();
      continue;
    }
    if (SETEXT_UNDERLINE.test(line) && paragraph.length) {
      // "Title\n=====": the paragraph so far is a heading.
      flush();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push(heading[1] as string);
      continue;
    }
    const quote = BLOCKQUOTE.exec(line);
    const content = quote ? (quote[1] as string) : line;
    const item = LIST_ITEM.exec(content);
    if (item) {
      flush();
      blocks.push(item[1] as string);
      continue;
    }
    if (TABLE_ROW.test(content)) {
      flush();
      const cells = content
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim())
        .filter(Boolean);
      blocks.push(cells.join(', '));
      continue;
    }
    paragraph.push(content.trim());
  }
  flush();

  return blocks
    .map((block) => finishBlock(prepareInline(block, lang, phrases)))
    .filter((block) => block.length > 0)
    .join('\n');
}

function finishBlock(block: string): string {
  const text = block.replace(/\s+/g, ' ').trim();
  // Nothing but punctuation left (e.g. a line that only held an emoji and a dot).
  if (!/[\p{L}\p{N}]/u.test(text)) return '';
  return TERMINAL_PUNCTUATION.test(text) ? text : `${text}.`;
}

const HTML_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    }
    return HTML_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function prepareInline(block: string, lang: string, phrases: Phrases): string {
  let text = block;

  // Inline code keeps its text but is shielded from the emphasis rules below
  // (`snake_case_name` must not lose its underscores).
  const codeSpans: string[] = [];
  text = text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, __, code: string) => {
    codeSpans.push(code.trim());
    return `\uE000${codeSpans.length - 1}\uE001`;
  });

  text = text
    // Images go entirely; links keep their text.
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/!\[[^\]]*\]\[[^\]]*\]/g, ' ')
    .replace(/\[([^\]]+)\]\(\s*<?[^)\s>]*>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g, '$1')
    .replace(/\[\^[^\]]+\]/g, '')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    // Autolinks and mail links lose their angle brackets.
    .replace(/<((?:https?:\/\/|www\.)[^>\s]+)>/gi, ' $1 ')
    .replace(/<mailto:([^>\s]+)>/gi, ' $1 ')
    .replace(/<([^\s@<>]+@[^\s@<>]+)>/g, ' $1 ')
    // Any other HTML tag.
    .replace(/<\/?[a-z][a-z0-9-]*(?:\s[^<>]*)?\/?>/gi, ' ');
  text = decodeEntities(text);

  // Emphasis, strong, strikethrough: keep the words. Underscores only count at word
  // edges, so identifiers like snake_case survive.
  // "5 * 3" is multiplication, not emphasis.
  if (lang === 'en') text = text.replace(/(\d)\s\*\s(\d)/g, '$1 times $2');
  text = text
    .replace(/(\*{1,3})(?=\S)([^*\n]*?\S)\1/g, '$2')
    .replace(/(^|[^\p{L}\p{N}_])(_{1,3})(?=\S)([^_\n]*?\S)\2(?![\p{L}\p{N}_])/gu, '$1$3')
    .replace(/~~(?=\S)([^~\n]*?\S)~~/g, '$1')
    // Stray markers left by unbalanced emphasis.
    .replace(/\*+/g, ' ')
    .replace(/(^|\s)_{2,}|_{2,}(?=\s|$)/g, '$1 ');

  text = text.replace(/\uE000(\d+)\uE001/g, (_, index: string) => codeSpans[Number(index)] ?? '');

  text = speakUrls(text, phrases);
  text = removeEmoji(text);
  if (lang === 'en') text = spellOutNumbers(normalizeEnglish(text));
  return text;
}

// ---------------------------------------------------------------------------------------
// URLs and emoji

const URL_PATTERN = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;

export function hostOf(url: string): string | undefined {
  try {
    const parsed = new URL(/^https?:\/\//i.test(url) ? url : `http://${url}`);
    const host = parsed.hostname.replace(/^www\./i, '');
    return host || undefined;
  } catch {
    return undefined;
  }
}

function speakUrls(text: string, phrases: Phrases): string {
  return text.replace(URL_PATTERN, (match) => {
    // Sentence punctuation after a URL belongs to the sentence; a closing parenthesis
    // only belongs to the URL when the URL opened one.
    let url = match;
    let tail = '';
    while (/[.,;:!?'")\]}]$/.test(url)) {
      if (url.endsWith(')') && (url.match(/\(/g)?.length ?? 0) >= (url.match(/\)/g)?.length ?? 0)) break;
      tail = url.slice(-1) + tail;
      url = url.slice(0, -1);
    }
    const host = hostOf(url);
    return host ? `${phrases.link(host)}${tail}` : tail;
  });
}

const EMOJI = /[\p{Extended_Pictographic}\p{Regional_Indicator}\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}\u200D\uFE0E\uFE0F\u20E3]/gu;

export function removeEmoji(text: string): string {
  return text.replace(EMOJI, '');
}

// ---------------------------------------------------------------------------------------
// English numbers, currencies and abbreviations

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES: Array<[number, string]> = [
  [1e12, 'trillion'],
  [1e9, 'billion'],
  [1e6, 'million'],
  [1e3, 'thousand'],
];

/** Cardinal number in English words, for integers 0 <= n < 10^15. */
export function numberToWords(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 1e15) throw new RangeError(`cannot spell ${n}`);
  if (n < 20) return ONES[n] as string;
  if (n < 100) {
    const tens = TENS[Math.floor(n / 10)] as string;
    return n % 10 ? `${tens}-${ONES[n % 10]}` : tens;
  }
  if (n < 1000) {
    const rest = n % 100;
    return `${ONES[Math.floor(n / 100)]} hundred${rest ? ` ${numberToWords(rest)}` : ''}`;
  }
  for (const [scale, word] of SCALES) {
    if (n >= scale) {
      const rest = n % scale;
      return `${numberToWords(Math.floor(n / scale))} ${word}${rest ? ` ${numberToWords(rest)}` : ''}`;
    }
  }
  return String(n);
}

const IRREGULAR_ORDINALS: Record<string, string> = {
  one: 'first',
  two: 'second',
  three: 'third',
  five: 'fifth',
  eight: 'eighth',
  nine: 'ninth',
  twelve: 'twelfth',
};

/** Ordinal number in English words: 1 -> first, 22 -> twenty-second, 100 -> one hundredth. */
export function ordinalToWords(n: number): string {
  const words = numberToWords(n);
  return words.replace(/([a-z]+)$/, (last: string) => {
    if (IRREGULAR_ORDINALS[last]) return IRREGULAR_ORDINALS[last] as string;
    if (last.endsWith('y')) return `${last.slice(0, -1)}ieth`;
    return `${last}th`;
  });
}

interface Currency {
  one: string;
  many: string;
  minorOne?: string;
  minorMany?: string;
}

const CURRENCIES: Record<string, Currency> = {
  $: { one: 'dollar', many: 'dollars', minorOne: 'cent', minorMany: 'cents' },
  USD: { one: 'dollar', many: 'dollars', minorOne: 'cent', minorMany: 'cents' },
  '€': { one: 'euro', many: 'euros', minorOne: 'cent', minorMany: 'cents' },
  EUR: { one: 'euro', many: 'euros', minorOne: 'cent', minorMany: 'cents' },
  '£': { one: 'pound', many: 'pounds', minorOne: 'penny', minorMany: 'pence' },
  GBP: { one: 'pound', many: 'pounds', minorOne: 'penny', minorMany: 'pence' },
  '¥': { one: 'yen', many: 'yen' },
  JPY: { one: 'yen', many: 'yen' },
  '₹': { one: 'rupee', many: 'rupees', minorOne: 'paisa', minorMany: 'paise' },
  INR: { one: 'rupee', many: 'rupees', minorOne: 'paisa', minorMany: 'paise' },
};

const MAGNITUDES: Record<string, string> = {
  k: 'thousand',
  thousand: 'thousand',
  m: 'million',
  mm: 'million',
  million: 'million',
  b: 'billion',
  bn: 'billion',
  billion: 'billion',
  t: 'trillion',
  tn: 'trillion',
  trillion: 'trillion',
};

/** "4.50" in dollars -> "4 dollars and 50 cents"; "1.5" with "million" -> "1.5 million dollars". */
export function speakMoney(amount: string, currency: Currency, magnitude?: string): string {
  if (magnitude) return `${amount} ${magnitude} ${currency.many}`;
  const [whole = '0', fraction] = amount.split('.');
  const major = Number(whole);
  const majorWords = `${major} ${major === 1 ? currency.one : currency.many}`;
  if (fraction === undefined || !currency.minorMany || fraction.length > 2) {
    if (fraction !== undefined && Number(fraction) !== 0) return `${amount} ${currency.many}`;
    return majorWords;
  }
  const minor = Number(fraction.padEnd(2, '0'));
  if (minor === 0) return majorWords;
  const minorWords = `${minor} ${minor === 1 ? currency.minorOne : currency.minorMany}`;
  return major === 0 ? minorWords : `${majorWords} and ${minorWords}`;
}

// Words may follow after a space ("$5 million"); abbreviations must touch the number
// ("$5k", "$1.2M") so that "$100 T-shirts" stays dollars.
const MAGNITUDE_PATTERN = '(?:\\s?(thousand|million|billion|trillion)\\b|(k|K|m|M|mm|MM|bn|BN|b|B|tn|T)\\b)?';
const SYMBOL_MONEY = new RegExp(`(-|−)?([$€£¥₹])\\s?(\\d+(?:\\.\\d+)?)${MAGNITUDE_PATTERN}`, 'g');
const CODE_MONEY = new RegExp(`(\\d+(?:\\.\\d+)?)${MAGNITUDE_PATTERN}\\s?(USD|EUR|GBP|JPY|INR)\\b`, 'g');

function magnitudeWord(word: string | undefined, abbreviation: string | undefined): string | undefined {
  const key = (word ?? abbreviation)?.toLowerCase();
  return key ? MAGNITUDES[key] : undefined;
}

const ABBREVIATIONS: Array<[RegExp, string]> = [
  [/\be\.g\.(?=\s|,|$)/gi, 'for example'],
  [/\bi\.e\.(?=\s|,|$)/gi, 'that is'],
  [/\betc\.(?=\s*[,;:)]|\s+[a-z])/g, 'et cetera'],
  [/\betc\./g, 'et cetera.'],
  [/\bvs\.?(?=\s)/gi, 'versus'],
  [/\bapprox\.(?=\s)/gi, 'approximately'],
];

export function normalizeEnglish(input: string): string {
  let text = input;
  for (const [pattern, replacement] of ABBREVIATIONS) text = text.replace(pattern, replacement);
  text = text
    // Thousands separators: "1,234,567" -> "1234567" (only groups of exactly three).
    .replace(/(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d])(?!,\d)/g, (match) => match.replaceAll(',', ''))
    .replace(SYMBOL_MONEY, (_, minus: string | undefined, symbol: string, amount: string, word?: string, abbreviation?: string) => {
      const spoken = speakMoney(amount, CURRENCIES[symbol] as Currency, magnitudeWord(word, abbreviation));
      return minus ? `minus ${spoken}` : spoken;
    })
    .replace(CODE_MONEY, (_, amount: string, word: string | undefined, abbreviation: string | undefined, code: string) =>
      speakMoney(amount, CURRENCIES[code] as Currency, magnitudeWord(word, abbreviation)),
    )
    .replace(/(\d)\s?%/g, '$1 percent')
    .replace(/\b(\d{1,12})(st|nd|rd|th)\b/gi, (_, digits: string) => ordinalToWords(Number(digits)))
    // "10–20" with an en dash is a range; a hyphen is too ambiguous (dates, phone numbers).
    .replace(/(\d)\s?–\s?(\d)/g, '$1 to $2')
    .replace(/(^|\s)#(\d)/g, '$1number $2')
    .replace(/\s&\s/g, ' and ');
  return text;
}

/**
 * Every plain number still in digits, in words: "1234567" -> "one million two hundred
 * thirty-four thousand five hundred sixty-seven", "3.5" -> "three point five". Runs after
 * `normalizeEnglish` (which turns money, percentages and ordinals into digits and words).
 * Digits glued to letters ("4o", "mp3"), version-like runs ("1.2.3") and comma lists
 * ("1,2,3") stay for the engine.
 */
export function spellOutNumbers(input: string): string {
  return input.replace(CARDINAL, (_, whole: string, fraction: string | undefined) =>
    fraction === undefined ? spellNumber(whole) : `${spellNumber(whole)} point ${spellDigits(fraction)}`,
  );
}

const CARDINAL = /(?<![\p{L}\p{N}_.,])(\d+)(?:\.(\d+))?(?![\p{L}\p{N}_]|[.,]\d)/gu;

/** Digits one by one: "007" -> "zero zero seven". */
export function spellDigits(digits: string): string {
  return Array.from(digits, (d) => ONES[Number(d)] as string).join(' ');
}

/** A run of digits in English words: a cardinal below 10^15 without a leading zero, else digit by digit. */
export function spellNumber(digits: string): string {
  if ((digits.length > 1 && digits.startsWith('0')) || digits.length > 15) return spellDigits(digits);
  return numberToWords(Number(digits));
}

/**
 * The characters a reading of `text` is charged: those of the text the engine is
 * given (`prepareText`: markup, code and emoji gone; English numbers, money and
 * ordinals spelled out), in Unicode code points. Digits still left in it (other
 * languages' numbers, "1.2.3", "4o") count as long as their English spelling, since the
 * engine reads them out in words too.
 */
export function speechChars(input: string, options: PrepOptions = {}): number {
  return countTtsChars(prepareText(input, options).replace(/\d+/g, (digits) => spellNumber(digits)));
}

// ---------------------------------------------------------------------------------------
// Sentences and chunks

const NEVER_ENDS_SENTENCE = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'vs',
  'e.g',
  'i.e',
  'cf',
  'fig',
  'no',
  'nr',
  'approx',
  'dept',
  'est',
  'gen',
  'gov',
  'lt',
  'col',
  'sgt',
  'capt',
  'rev',
  'hon',
  'ft',
  'u.s',
  'u.k',
]);

/** Splits one block of plain text into sentences, keeping their punctuation. */
export function splitSentences(block: string): string[] {
  const text = block.replace(/\s+/g, ' ').trim();
  if (!text) return [];
  const sentences: string[] = [];
  const boundary = /[.!?…]+["'”’)\]]*(?=\s|$)/gu;
  let start = 0;
  for (let match = boundary.exec(text); match; match = boundary.exec(text)) {
    const end = match.index + match[0].length;
    if (match[0].startsWith('.') && match[0].length === 1) {
      const word = /(\S+)$/.exec(text.slice(start, match.index))?.[1] ?? '';
      const bare = word.replace(/^["'“‘([]+/, '').toLowerCase();
      const next = text.slice(end).trimStart();
      // Initials ("J. Smith"), titles ("Dr. Who") and a lower-case continuation are not
      // sentence ends.
      if (/^\p{L}$/u.test(bare) || NEVER_ENDS_SENTENCE.has(bare) || /^\p{Ll}/u.test(next)) continue;
    }
    const sentence = text.slice(start, end).trim();
    if (sentence) sentences.push(sentence);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest) sentences.push(rest);
  return sentences;
}

/** Cuts a too-long sentence at clause punctuation, else at a space, else hard. */
export function splitLong(sentence: string, limit: number): string[] {
  const pieces: string[] = [];
  let rest = sentence.trim();
  while (rest.length > limit) {
    const window = rest.slice(0, limit + 1);
    let cut = -1;
    const clause = /[,;:—–)](?=\s)/g;
    for (let m = clause.exec(window); m; m = clause.exec(window)) {
      if (m.index + 1 <= limit && m.index >= limit * 0.4) cut = m.index + 1;
    }
    if (cut < 0) {
      const space = window.lastIndexOf(' ');
      cut = space > limit * 0.3 ? space : limit;
    }
    // Do not split a surrogate pair.
    if (/[\uD800-\uDBFF]/.test(rest[cut - 1] ?? '')) cut -= 1;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/**
 * Packs sentences into chunks: the first chunk up to `firstMaxChars` (at least one piece
 * of the first sentence), the others up to `maxChars`. Blocks (lines) are never joined
 * mid-sentence; a sentence longer than the limit is cut by `splitLong`.
 */
export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const maxChars = Math.max(20, options.maxChars ?? DEFAULT_MAX_CHUNK_CHARS);
  const firstMaxChars = Math.max(20, Math.min(maxChars, options.firstMaxChars ?? DEFAULT_FIRST_CHUNK_CHARS));
  const sentences = text.split('\n').flatMap(splitSentences);
  const chunks: string[] = [];
  let current = '';
  let limit = firstMaxChars;
  const queue = [...sentences];
  while (queue.length) {
    const sentence = queue.shift() as string;
    if (current && current.length + 1 + sentence.length <= limit) {
      current = `${current} ${sentence}`;
      continue;
    }
    if (current) {
      chunks.push(current);
      current = '';
      limit = maxChars;
    }
    if (sentence.length <= limit) {
      current = sentence;
      continue;
    }
    // Every piece of splitLong fits the limit; the rest may be packed with what follows.
    const [head = '', ...tail] = splitLong(sentence, limit);
    current = head;
    queue.unshift(...tail);
  }
  if (current) chunks.push(current);
  return chunks;
}

/** Markdown in, speakable chunks out (empty when nothing is left to say). */
export function prepareForSpeech(input: string, options: PrepOptions & ChunkOptions = {}): string[] {
  return chunkText(prepareText(input, options), options);
}

// ---------------------------------------------------------------------------------------
// Sentences of a reply, for reading it aloud while it streams

/**
 * A reply as it is read aloud sentence by sentence (chat.send with `speak`, and tts.speak
 * reusing those clips): the prepared text (`prepareText`: code blocks become the
 * "code omitted" placeholder, numbers are spelled out), cut into sentences, a sentence
 * longer than `maxChars` cut by `splitLong`. Pieces with no letter or digit are left out.
 */
export function speechSentences(input: string, options: PrepOptions & { maxChars?: number } = {}): string[] {
  return sentencePieces(input, options).flat();
}

/** Each sentence of the prepared text, as its pieces (one unless it is longer than maxChars). */
function sentencePieces(input: string, options: PrepOptions & { maxChars?: number }): string[][] {
  const max = Math.max(20, options.maxChars ?? DEFAULT_MAX_CHUNK_CHARS);
  return prepareText(input, options)
    .split('\n')
    .flatMap(splitSentences)
    .map((sentence) => splitLong(sentence, max).filter((piece) => /[\p{L}\p{N}]/u.test(piece)))
    .filter((pieces) => pieces.length > 0);
}

/**
 * Cuts a reply into `speechSentences` while it streams: `push` each piece of text as it
 * arrives and get the sentences it completed; `end` gives the rest. A sentence is complete
 * once text follows it: the last one may still grow, or turn out not to end ("3." of
 * "3.5", "e.g." before a lower-case word), so it waits (a very long one gives its first
 * pieces early). The text is prepared again only after a delta that may have ended a
 * sentence (punctuation or a line break), until a word follows it, so a long reply costs
 * a few preparations per sentence, not one per delta.
 */
export class SentenceCutter {
  private text = '';
  private given = 0;
  private dirty = false;
  private preparedAt = 0;

  constructor(private readonly options: PrepOptions & { maxChars?: number } = {}) {}

  push(delta: string): string[] {
    this.text += delta;
    if (/[.!?…:;\n]/u.test(delta) || this.text.length - this.preparedAt > (this.options.maxChars ?? DEFAULT_MAX_CHUNK_CHARS)) this.dirty = true;
    if (!this.dirty) return [];
    this.preparedAt = this.text.length;
    // Text ending in punctuation (and maybe spaces or closing marks) waits for the next word to decide.
    this.dirty = /[.!?…:;\n][\s"'”’)\]*_`~]*$/u.test(this.text);
    const sentences = sentencePieces(this.text, this.options);
    const last = sentences.pop() ?? [];
    // Pieces of a long unfinished sentence are cut from its start, so all but the last two are settled.
    return this.take([...sentences.flat(), ...last.slice(0, Math.max(0, last.length - 2))]);
  }

  end(): string[] {
    return this.take(speechSentences(this.text, this.options));
  }

  /** Sentences given so far. */
  get count(): number {
    return this.given;
  }

  private take(ready: string[]): string[] {
    if (ready.length <= this.given) return [];
    const fresh = ready.slice(this.given);
    this.given = ready.length;
    return fresh;
  }
}
