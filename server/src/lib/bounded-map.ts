/**
 * A Map that keeps at most `max` entries: setting a new key beyond that drops the oldest
 * (Maps iterate in insertion order). For the in-memory memories of one instance (hashes,
 * alerts already fired, projections, cached answers) that must not grow with the users.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    while (this.size > this.max) this.delete(this.keys().next().value as K);
    return this;
  }
}
