/**
 * Verified tokens remembered until they lapse, so a caller that sends the
 * same token on every call pays for the ECDSA verification once (about half
 * a millisecond of CPU each time otherwise). Keyed by the whole token: only a
 * token that verified is ever stored, so a forged one never hits. Bounded, so
 * many distinct valid tokens cannot grow it without limit.
 */
export class VerifiedTokens<Verified> {
  private readonly entries = new Map<string, { verified: Verified; validUntil: number }>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** What `token` verified as, if it did and has not lapsed since. */
  get(token: string): Verified | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (this.now() < entry.validUntil) return entry.verified;
    this.entries.delete(token);
    return undefined;
  }

  remember(token: string, verified: Verified, validUntil: number): void {
    if (this.entries.size >= this.capacity) {
      const now = this.now();
      for (const [known, entry] of this.entries) if (entry.validUntil <= now) this.entries.delete(known);
      // Still full of live tokens: forget the oldest.
      const oldest = this.entries.keys().next();
      if (this.entries.size >= this.capacity && !oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { verified, validUntil });
  }
}
