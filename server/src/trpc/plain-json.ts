// superjson's answer for a value JSON already says exactly: `{ json: value }`, with no `meta`.
// The stream fast path serializes every chat event through the router's transformer
// (superjson), which walks and copies the value to look for Dates, Maps, undefined and the
// like; chat events are plain data, so the walk found nothing in them but cost about 3 % of
// the server's CPU per chat (issue 17). `isPlainJson` says when the walk can be skipped:
// only when superjson would give the same bytes (property test in plain-json.test.ts).

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * True when `value` is made only of null, booleans, strings, finite numbers other than -0,
 * arrays without holes and objects whose prototype is Object.prototype or null, with no
 * object reached twice (superjson records shared references) and no key superjson refuses.
 */
export function isPlainJson(value: unknown): boolean {
  return plain(value, new Set());
}

function plain(value: unknown, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (seen.has(value)) return false;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !plain(value[i], seen)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return false;
        if (UNSAFE_KEYS.has(key) || !plain((value as Record<string, unknown>)[key], seen)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
