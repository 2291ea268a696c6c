/**
 * Values remembered until they lapse, at most `capacity` of them, for what is
 * costly to get again and safe to reuse for a while: verified tokens (a caller
 * sends the same token on every call, and verifying its ECDSA signature costs
 * about half a millisecond of CPU; only a token that verified is stored, keyed
 * by all of it, so a forged one never hits) and NotificationService's
 * recipients. Bounded, so many distinct keys cannot grow it without limit.
 */
export class ExpiringMap<Value> {
  private readonly entries = new Map<string, { value: Value; validUntil: number }>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value remembered for `key`, unless it has lapsed. */
  get(key: string): Value | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() < entry.validUntil) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Remembers `value` for `key` until `validUntil` (a time in ms, as `now` gives). */
  remember(key: string, value: Value, validUntil: number): void {
    if (this.entries.size >= this.capacity) {
      const now = this.now();
      for (const [known, entry] of this.entries) if (entry.validUntil <= now) this.entries.delete(known);
      // Still full of live entries: forget the oldest.
      const oldest = this.entries.keys().next();
      if (this.entries.size >= this.capacity && !oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, validUntil });
  }
}
