import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chunkText,
  hostOf,
  normalizeEnglish,
  numberToWords,
  ordinalToWords,
  prepareForSpeech,
  prepareText,
  primaryLanguage,
  removeEmoji,
  speakMoney,
  speechChars,
  spellDigits,
  spellNumber,
  spellOutNumbers,
  splitLong,
  SentenceCutter,
  speechSentences,
  splitSentences,
} from './speech-text.ts';

describe('prepareText: markdown', () => {
  it('keeps heading text and ends it as a sentence', () => {
    expect(prepareText('# Getting started\nInstall it first.')).toBe('Getting started.\nInstall it first.');
    expect(prepareText('## Done!')).toBe('Done!');
    expect(prepareText('Title\n=====\nBody text')).toBe('Title.\nBody text.');
  });

  it('strips emphasis but keeps the words and identifiers', () => {
    expect(prepareText('This is **bold**, *italic*, ***both*** and ~~gone~~ text')).toBe('This is bold, italic, both and gone text.');
    expect(prepareText('Use __init__ and my_var_name here')).toBe('Use init and my_var_name here.');
    expect(prepareText('an _emphasised_ word')).toBe('an emphasised word.');
  });

  it('keeps link text, drops the URL, drops images entirely', () => {
    expect(prepareText('Read [the guide](https://example.com/guide "Guide") now.')).toBe('Read the guide now.');
    expect(prepareText('Look: ![a chart](https://x.com/chart.png) done')).toBe('Look: done.');
    expect(prepareText('See [docs][1].\n\n[1]: https://example.com')).toBe('See docs.');
  });

  it('replaces fenced code blocks with a short phrase, including an unterminated one', () => {
    const md = 'Run this:\n\n```bash\nnpm install\nnpm test\n```\n\nThen relax.';
    expect(prepareText(md)).toBe('Run this:\n(code omitted).\nThen relax.');
    expect(prepareText('Here:\n~~~\nx = 1\n~~~')).toBe('Here:\n(code omitted).');
    expect(prepareText('Start\n```js\nconst cut = "off mid reply')).toBe('Start.\n(code omitted).');
    expect(prepareText('```\nonly code\n```')).not.toContain('only code');
  });

  it('keeps inline code as text', () => {
    expect(prepareText('Call `fetchUser(id)` then `snake_case_fn`.')).toBe('Call fetchUser(id) then snake_case_fn.');
  });

  it('turns list items and table rows into separate sentences', () => {
    expect(prepareText('Steps:\n- first thing\n* second thing\n1. third thing\n- [x] done item')).toBe(
      'Steps:\nfirst thing.\nsecond thing.\nthird thing.\ndone item.',
    );
    expect(prepareText('| Plan | Price |\n|---|---:|\n| Pro | 10 |')).toBe('Plan, Price.\nPro, ten.');
  });

  it('drops blockquote markers, rules, html tags and decodes entities', () => {
    expect(prepareText('> quoted line\n\n---\n\nafter <b>bold</b> &amp; more<br/>end')).toBe('quoted line.\nafter bold and more end.');
  });

  it('joins soft-wrapped paragraph lines', () => {
    expect(prepareText('one line\ncontinues here.\n\nNew paragraph')).toBe('one line continues here.\nNew paragraph.');
  });
});

describe('prepareText: URLs and emoji', () => {
  it('speaks a bare URL as its host', () => {
    expect(prepareText('Go to https://www.example.com/a/b?c=1.')).toBe('Go to a link to example.com.');
    expect(prepareText('Or www.test.org/path, maybe')).toBe('Or a link to test.org, maybe.');
    expect(prepareText('(see https://en.wikipedia.org/wiki/Speech)')).toBe('(see a link to en.wikipedia.org).');
    expect(prepareText('<https://autolink.dev/x>')).toBe('a link to autolink.dev.');
  });

  it('uses the voice language for the phrases, falling back to the bare host', () => {
    expect(prepareText('Siehe https://beispiel.de/x', { language: 'de' })).toBe('Siehe ein Link zu beispiel.de.');
    expect(prepareText('Смотрите https://example.ru/x', { language: 'ru' })).toBe('Смотрите example.ru.');
    expect(prepareText('```\ncode\n```', { language: 'ru' })).toBe('');
  });

  it('removes emoji, including sequences, flags and keycaps', () => {
    expect(prepareText('Great job 🎉🚀 👍🏽 👨‍👩‍👧 🇫🇷!')).toBe('Great job !');
    expect(removeEmoji('1️⃣ ok ❤️')).toBe('1 ok ');
    expect(prepareText('🎉🎉🎉')).toBe('');
  });

  it('extracts hosts and rejects garbage', () => {
    expect(hostOf('https://www.sub.example.co.uk:8080/x')).toBe('sub.example.co.uk');
    expect(hostOf('www.example.com')).toBe('example.com');
    expect(hostOf('http://')).toBeUndefined();
  });
});

describe('English numbers and money', () => {
  it('reads currencies naturally', () => {
    expect(normalizeEnglish('$4.50')).toBe('4 dollars and 50 cents');
    expect(normalizeEnglish('$1')).toBe('1 dollar');
    expect(normalizeEnglish('$1.00')).toBe('1 dollar');
    expect(normalizeEnglish('$0.99')).toBe('99 cents');
    expect(normalizeEnglish('$0.01')).toBe('1 cent');
    expect(normalizeEnglish('$4.5')).toBe('4 dollars and 50 cents');
    expect(normalizeEnglish('-$3')).toBe('minus 3 dollars');
    expect(normalizeEnglish('€20 or £2.50 or ¥500')).toBe('20 euros or 2 pounds and 50 pence or 500 yen');
    expect(normalizeEnglish('$1.5M, $3bn and $20 million')).toBe('1.5 million dollars, 3 billion dollars and 20 million dollars');
    expect(normalizeEnglish('costs 25 USD')).toBe('costs 25 dollars');
    expect(normalizeEnglish('$100 T-shirts')).toBe('100 dollars T-shirts');
    expect(normalizeEnglish('$0.005 per token')).toBe('0.005 dollars per token');
  });

  it('removes thousands separators only where they are separators', () => {
    expect(normalizeEnglish('1,234 and 1,234,567.89')).toBe('1234 and 1234567.89');
    expect(normalizeEnglish('$1,299.99')).toBe('1299 dollars and 99 cents');
    expect(normalizeEnglish('pick 1,2,3 or 12,34')).toBe('pick 1,2,3 or 12,34');
  });

  it('reads percentages, ordinals, ranges and abbreviations', () => {
    expect(normalizeEnglish('up 12.5% and 3 %')).toBe('up 12.5 percent and 3 percent');
    expect(normalizeEnglish('the 1st, 2nd, 3rd, 4th, 11th, 22nd and 101st')).toBe(
      'the first, second, third, fourth, eleventh, twenty-second and one hundred first',
    );
    expect(normalizeEnglish('pages 10–20')).toBe('pages 10 to 20');
    expect(normalizeEnglish('fruit, e.g. apples, i.e. food, etc.')).toBe('fruit, for example apples, that is food, et cetera.');
    expect(normalizeEnglish('issue #42 & more')).toBe('issue number 42 and more');
  });

  it('leaves other languages alone', () => {
    expect(prepareText('Kostet $4.50 und 1,234', { language: 'de' })).toBe('Kostet $4.50 und 1,234.');
  });

  it('spells cardinals and ordinals', () => {
    expect(numberToWords(0)).toBe('zero');
    expect(numberToWords(15)).toBe('fifteen');
    expect(numberToWords(40)).toBe('forty');
    expect(numberToWords(99)).toBe('ninety-nine');
    expect(numberToWords(105)).toBe('one hundred five');
    expect(numberToWords(1_000_001)).toBe('one million one');
    expect(ordinalToWords(12)).toBe('twelfth');
    expect(ordinalToWords(20)).toBe('twentieth');
    expect(ordinalToWords(1000)).toBe('one thousandth');
    expect(() => numberToWords(-1)).toThrow(RangeError);
  });

  it('speakMoney handles currencies without minor units', () => {
    expect(speakMoney('3.50', { one: 'yen', many: 'yen' })).toBe('3.50 yen');
    expect(speakMoney('3', { one: 'yen', many: 'yen' })).toBe('3 yen');
  });
});

describe('English numbers in words (what the engine would spell out anyway)', () => {
  it('spells plain numbers, decimals and long or zero-led digit runs', () => {
    expect(spellOutNumbers('1234567 89012345')).toBe(
      'one million two hundred thirty-four thousand five hundred sixty-seven eighty-nine million twelve thousand three hundred forty-five',
    );
    expect(spellOutNumbers('pi is 3.14, not 3.')).toBe('pi is three point one four, not three.');
    expect(spellOutNumbers('call 007 or 0')).toBe('call zero zero seven or zero');
    expect(spellOutNumbers('1234567890123456')).toBe(spellDigits('1234567890123456'));
    expect(spellNumber('999999999999999')).toBe(
      'nine hundred ninety-nine trillion nine hundred ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine',
    );
  });

  it('leaves digits glued to letters, versions and comma lists to the engine', () => {
    expect(spellOutNumbers('gpt-4o, mp3, v1.2.3, 1,2,3, x_1')).toBe('gpt-4o, mp3, v1.2.3, 1,2,3, x_1');
  });

  it('prepareText spells numbers after money, percentages and ordinals (English only)', () => {
    expect(prepareText('Pay $4.50 for 12.5% of 1,234 items, the 3rd time.')).toBe(
      'Pay four dollars and fifty cents for twelve point five percent of one thousand two hundred thirty-four items, the third time.',
    );
    expect(prepareText('Es kostet 1234 Euro', { language: 'de' })).toBe('Es kostet 1234 Euro.');
  });
});

describe('speechChars: what a reading is charged', () => {
  it('counts the text the engine speaks, numbers spelled out, not the digits', () => {
    const spoken = prepareText('1234567 89012345');
    expect(spoken.startsWith('one million two hundred thirty-four thousand')).toBe(true);
    expect(speechChars('1234567 89012345')).toBe(spoken.length);
    expect(speechChars('1234567 89012345')).toBeGreaterThan(100);
    expect(speechChars('1234567 89012345', { language: 'en-US' })).toBe(speechChars('1234567 89012345'));
  });

  it('digits a language leaves to the engine count as their English spelling', () => {
    expect(speechChars('1234567', { language: 'de' })).toBe(spellNumber('1234567').length + 1);
    expect(speechChars('Version 1.2.3')).toBe('Version one.two.three.'.length);
  });

  it('markup and code that are not spoken are not charged; characters are code points', () => {
    expect(speechChars('**Hello** world')).toBe('Hello world.'.length);
    expect(speechChars('Run:\n```\nrm -rf /\n```')).toBe('Run:\n(code omitted).'.length);
    expect(speechChars('naïve café ✓')).toBe(Array.from('naïve café ✓.').length);
    expect(speechChars('🎉')).toBe(0);
  });
});

describe('sentences and chunks', () => {
  it('splits sentences but not after abbreviations, initials or decimals', () => {
    expect(splitSentences('Dr. Smith paid 3.5 dollars. J. R. R. Tolkien wrote it! Did he? Yes…')).toEqual([
      'Dr. Smith paid 3.5 dollars.',
      'J. R. R. Tolkien wrote it!',
      'Did he?',
      'Yes…',
    ]);
    expect(splitSentences('It ends at 5 p.m. and then more. "Quoted." Next')).toEqual(['It ends at 5 p.m. and then more.', '"Quoted."', 'Next']);
    expect(splitSentences('   ')).toEqual([]);
  });

  it('cuts long sentences at clause punctuation, else spaces, within the limit', () => {
    const sentence = 'alpha beta gamma, delta epsilon zeta; eta theta iota kappa lambda mu nu xi omicron pi rho';
    const pieces = splitLong(sentence, 40);
    expect(pieces.every((piece) => piece.length <= 40)).toBe(true);
    expect(pieces[0]).toBe('alpha beta gamma, delta epsilon zeta;');
    expect(pieces.join(' ')).toBe(sentence);
    const unbroken = 'x'.repeat(95);
    expect(splitLong(unbroken, 40).map((p) => p.length)).toEqual([40, 40, 15]);
  });

  it('makes a small first chunk, then packs sentences up to the limit', () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `This is sentence number ${i + 1} of the reply.`);
    const chunks = chunkText(sentences.join(' '), { maxChars: 200, firstMaxChars: 60 });
    expect(chunks[0]).toBe(sentences[0]);
    expect(chunks.slice(1).every((chunk) => chunk.length <= 200)).toBe(true);
    expect(chunks[1]?.length).toBeGreaterThan(150);
    // Nothing lost or reordered.
    expect(chunks.join(' ')).toBe(sentences.join(' '));
  });

  it('bounds every chunk even for text without punctuation', () => {
    const text = 'word '.repeat(1000).trim();
    const chunks = chunkText(text, { maxChars: 300, firstMaxChars: 100 });
    expect(chunks[0]!.length).toBeLessThanOrEqual(100);
    expect(chunks.every((chunk) => chunk.length <= 300)).toBe(true);
    expect(chunks.join(' ')).toBe(text);
  });

  it('prepareForSpeech runs both steps', () => {
    const chunks = prepareForSpeech('# Hi\n\nThe total is **$4.50**. See https://example.com 🎉');
    expect(chunks).toEqual(['Hi. The total is four dollars and fifty cents. See a link to example.com.']);
    expect(prepareForSpeech('```\nonly code\n```', { language: 'fr' })).toEqual(['(code omis).']);
    expect(prepareForSpeech('🙂')).toEqual([]);
  });

  it('reads the primary language from a voice id or tag', () => {
    expect(primaryLanguage('en-us+f3')).toBe('en');
    expect(primaryLanguage('pt-BR')).toBe('pt');
    expect(primaryLanguage(undefined)).toBe('en');
  });
});

describe('speechSentences and SentenceCutter: a reply read aloud while it streams', () => {
  const REPLIES = [
    '# Plan\n\nHello there! The total is **$4.50**, i.e. cheap. Dr. Smith agrees.\n\n- first item\n- second item: 1,234 apples\n\n```js\nconst x = 1. + 2;\n```\n\nThat is all. Thanks.',
    'Version 3.5 is out. It costs 10% less than e.g. version 2.\nA second line, with a [link](https://example.com/a.b). Done?',
    `${'A very long sentence without a full stop, with clauses, and more clauses; '.repeat(12)}end.`,
    '| a | b |\n| --- | --- |\n| 1 | 2 |\n\nSee `snake_case.name` here. Ok…',
  ];

  it('cuts the prepared text into sentences, code placeholder included, long ones bounded', () => {
    expect(speechSentences('# Hi\n\nThe total is **$4.50**. See https://example.com 🎉\n\n```\ncode\n```')).toEqual([
      'Hi.',
      'The total is four dollars and fifty cents.',
      'See a link to example.com.',
      '(code omitted).',
    ]);
    expect(speechSentences('🙂 …')).toEqual([]);
    expect(speechSentences(REPLIES[2]!).every((s) => s.length <= 400)).toBe(true);
  });

  it('gives each sentence once, when the text after it has started, in any chunking', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REPLIES), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 40 }), (reply, sizes) => {
        const cutter = new SentenceCutter();
        const got: string[] = [];
        let at = 0;
        for (let i = 0; at < reply.length; i++) {
          const size = sizes[i % sizes.length]!;
          got.push(...cutter.push(reply.slice(at, at + size)));
          at += size;
        }
        got.push(...cutter.end());
        expect(got).toEqual(speechSentences(reply));
        expect(cutter.count).toBe(got.length);
      }),
      { numRuns: 200 },
    );
  });

  it('holds a sentence back until the next word decides it ended', () => {
    const cutter = new SentenceCutter();
    expect(cutter.push('It costs 3.')).toEqual([]);
    expect(cutter.push('5 dollars. ')).toEqual([]);
    expect(cutter.push('Then')).toEqual(['It costs three point five dollars.']);
    expect(cutter.push(' e.g. ')).toEqual([]);
    expect(cutter.push('more')).toEqual([]);
    expect(cutter.end()).toEqual(['Then for example more.']);
  });
});
