// Depth of parsed JSON, measured without recursion: JSON.parse takes any depth,
// but the code after it (superjson, Postgres's jsonb parser, JSON.stringify)
// recurses, so untrusted input is measured before it gets there.

/**
 * Whether a parsed JSON value nests deeper than `max` arrays or objects. An
 * explicit stack, not recursion: the point is to be safe at any depth.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
