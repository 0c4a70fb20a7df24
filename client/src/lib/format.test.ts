import { describe, expect, it } from 'vitest';
import { describeUserAgent, formatCount, formatMonthlyPrice, formatRelativeTime } from './format.ts';

describe('formatMonthlyPrice', () => {
  it('shows whole dollars without cents, and cents when there are some', () => {
    expect(formatMonthlyPrice(0)).toBe('Free');
    expect(formatMonthlyPrice(1500)).toBe('$15');
    expect(formatMonthlyPrice(9900)).toBe('$99');
    expect(formatMonthlyPrice(950)).toBe('$9.50');
    expect(formatMonthlyPrice(999)).toBe('$9.99');
  });
});

describe('formatCount', () => {
  it('groups thousands', () => {
    expect(formatCount(2_000_000)).toBe('2,000,000');
  });
});

describe('formatRelativeTime', () => {
  const now = new Date('2030-06-15T12:00:00Z');
  const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  it.each([
    [-10, 'just now'],
    [-5 * 60, '5 minutes ago'],
    [-2 * 3600, '2 hours ago'],
    [-26 * 3600, 'yesterday'],
    [29 * 24 * 3600, 'in 4 weeks'],
    [-400 * 24 * 3600, 'last year'],
  ])('%s s -> %s', (seconds, text) => {
    expect(formatRelativeTime(at(seconds), now)).toBe(text);
  });
});

describe('describeUserAgent', () => {
  it.each([
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36', 'Headless Chrome on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0', 'Firefox on macOS'],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari on iOS',
    ],
    ['curl/8.5.0', 'curl'],
    ['', 'Unknown device'],
    [null, 'Unknown device'],
  ])('%s', (ua, text) => {
    expect(describeUserAgent(ua)).toBe(text);
  });
});
