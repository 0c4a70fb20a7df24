/**
 * A bounded-by-the-caller queue with a fixed set of priority classes: `shift()` takes the
 * oldest item of the highest class that has one (strict priority, FIFO within a class).
 */
export class PriorityQueue<P extends string, T> {
  private readonly lanes: Map<P, T[]>;

  /** @param priorities highest first */
  constructor(private readonly priorities: readonly P[]) {
    this.lanes = new Map(priorities.map((priority) => [priority, []]));
  }

  get size(): number {
    let total = 0;
    for (const lane of this.lanes.values()) total += lane.length;
    return total;
  }

  depths(): Record<P, number> {
    return Object.fromEntries(this.priorities.map((p) => [p, this.lane(p).length])) as Record<P, number>;
  }

  push(priority: P, item: T): void {
    this.lane(priority).push(item);
  }

  shift(): { priority: P; item: T } | undefined {
    for (const priority of this.priorities) {
      const lane = this.lane(priority);
      if (lane.length) return { priority, item: lane.shift() as T };
    }
    return undefined;
  }

  remove(item: T): boolean {
    for (const lane of this.lanes.values()) {
      const index = lane.indexOf(item);
      if (index >= 0) {
        lane.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  /**
   * Takes out the newest item of the lowest class that ranks strictly below `priority`,
   * to make room for an item of `priority`; undefined when there is none.
   */
  evictBelow(priority: P): { priority: P; item: T } | undefined {
    const rank = this.priorities.indexOf(priority);
    for (let i = this.priorities.length - 1; i > rank; i--) {
      const victimPriority = this.priorities[i] as P;
      const lane = this.lane(victimPriority);
      if (lane.length) return { priority: victimPriority, item: lane.pop() as T };
    }
    return undefined;
  }

  drain(): T[] {
    const all: T[] = [];
    for (const priority of this.priorities) all.push(...this.lane(priority).splice(0));
    return all;
  }

  private lane(priority: P): T[] {
    const lane = this.lanes.get(priority);
    if (!lane) throw new RangeError(`unknown priority "${priority}"`);
    return lane;
  }
}
