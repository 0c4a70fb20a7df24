import { describe, expect, it } from 'vitest';
import { PriorityQueue } from './priority-queue.ts';

const make = () => new PriorityQueue<'paid' | 'free' | 'guest', string>(['paid', 'free', 'guest']);

describe('PriorityQueue', () => {
  it('takes higher classes first and keeps arrival order within a class', () => {
    const queue = make();
    queue.push('guest', 'g1');
    queue.push('free', 'f1');
    queue.push('paid', 'p1');
    queue.push('guest', 'g2');
    queue.push('paid', 'p2');
    queue.push('free', 'f2');
    expect(queue.size).toBe(6);
    expect(queue.depths()).toEqual({ paid: 2, free: 2, guest: 2 });
    const order: string[] = [];
    for (let next = queue.shift(); next; next = queue.shift()) order.push(next.item);
    expect(order).toEqual(['p1', 'p2', 'f1', 'f2', 'g1', 'g2']);
    expect(queue.shift()).toBeUndefined();
  });

  it('evicts the newest job of the lowest class strictly below the newcomer', () => {
    const queue = make();
    queue.push('free', 'f1');
    queue.push('guest', 'g1');
    queue.push('guest', 'g2');
    expect(queue.evictBelow('paid')).toEqual({ priority: 'guest', item: 'g2' });
    expect(queue.evictBelow('free')).toEqual({ priority: 'guest', item: 'g1' });
    expect(queue.evictBelow('free')).toBeUndefined();
    expect(queue.evictBelow('paid')).toEqual({ priority: 'free', item: 'f1' });
    expect(queue.evictBelow('guest')).toBeUndefined();
  });

  it('removes a given item and drains in priority order', () => {
    const queue = make();
    queue.push('free', 'a');
    queue.push('paid', 'b');
    queue.push('free', 'c');
    expect(queue.remove('a')).toBe(true);
    expect(queue.remove('a')).toBe(false);
    expect(queue.drain()).toEqual(['b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('refuses unknown priorities', () => {
    expect(() => make().push('vip' as 'paid', 'x')).toThrow(RangeError);
  });
});
