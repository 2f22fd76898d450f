/**
 * Flow control of a relay's producers (PROTOCOL.md 7.6, D-36): the gate every
 * connection's read loop passes before it reads.
 *
 * A relay must not read producers faster than it can write to the consumers
 * that keep reading. When a consumer that is still draining has more than half
 * of its queue limit queued, the relay {@linkcode ProducerGate.stall}s: the
 * gate closes, no connection is read, and the kernel's socket buffers push
 * back on the producers as in any stream. The gate opens again as soon as
 * every consumer it closed for is back under half (its writer reports
 * progress), and after `max_producer_stall_ms` at the latest; stalls take at
 * most `max_stall_total_ms` of any second, so a consumer that drains, but
 * slowly, cannot hold every producer for long. A consumer that stopped
 * reading never closes the gate: its queue overflows by the domain's policy.
 *
 * The execution relay's `backpressure` policy uses the same gate to
 * {@linkcode ProducerGate.block} producers for a full consumer, up to
 * `max_block_ms`, after which the consumer is disconnected.
 *
 * The gate's state changes once per stall, not per frame, and it allocates one
 * promise per stall.
 *
 * @module
 */

/** Limits of the gate, from the relay's configuration. */
export interface GateLimits {
  /** Longest single stall in ms (`max_producer_stall_ms`). */
  maxStallMs: number;
  /** Most stalled time in any second, in ms (`max_stall_total_ms`). */
  maxStallPerSecondMs: number;
}

/**
 * The relay's gate before every read.
 *
 * @example
 * ```ts
 * declare const consumer: object;
 *
 * const gate = new ProducerGate({ maxStallMs: 5, maxStallPerSecondMs: 100 });
 * gate.stall(consumer, performance.now());
 * await gate.wait; // in a read loop: resumes when the consumer drained or 5 ms passed
 * ```
 */
export class ProducerGate<T = unknown> {
  #limits: GateLimits;
  #wait: Promise<void> | null = null;
  #open: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closedAt = 0;
  /** Consumers the gate is closed for. */
  readonly #for = new Set<T>();
  /** A `block` (backpressure) rather than a `stall`. */
  #blocking = false;
  #onBlockTimeout: ((c: T) => void) | null = null;
  #windowStart = 0;
  #windowUsed = 0;
  /** Times the gate closed. */
  stalls = 0;
  /** Milliseconds it stayed closed, in all. */
  stalledMs = 0;

  /** @param limits stall bounds */
  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  /** Changes the bounds (configuration reload). */
  set limits(limits: GateLimits) {
    this.#limits = limits;
  }

  /** A promise to await before reading while the gate is closed, else null. */
  get wait(): Promise<void> | null {
    return this.#wait;
  }

  /** Whether the gate is closed for `c`. */
  holds(c: T): boolean {
    return this.#for.has(c);
  }

  /**
   * Closes the gate for a draining consumer over half its queue, unless this
   * second's stall budget is spent (D-36). Adds `c` to a gate already closed.
   *
   * @param c the consumer
   * @param now performance.now()
   * @returns whether producers are now paused
   */
  stall(c: T, now: number): boolean {
    if (this.#wait !== null) {
      this.#for.add(c);
      return true;
    }
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowUsed = 0;
    }
    const left = this.#limits.maxStallPerSecondMs - this.#windowUsed;
    if (left <= 0) return false;
    this.#close(c, now, Math.min(this.#limits.maxStallMs, left));
    return true;
  }

  /**
   * Closes the gate for a full consumer until it has room (the execution
   * relay's `backpressure` policy). After `maxMs` the gate opens and
   * `onTimeout` is called with the consumer (which the relay disconnects).
   *
   * @param c the consumer
   * @param maxMs longest block
   * @param onTimeout called when the block ran out
   */
  block(c: T, maxMs: number, onTimeout: (c: T) => void): void {
    if (this.#wait !== null && this.#blocking) {
      this.#for.add(c);
      return;
    }
    if (this.#wait !== null) this.open();
    this.#blocking = true;
    this.#onBlockTimeout = onTimeout;
    this.#close(c, performance.now(), maxMs);
  }

  /**
   * `c` no longer needs the pause (it drained under half, or under its limit
   * for a block, or it closed). The gate opens when no consumer needs it.
   *
   * @param c the consumer
   */
  release(c: T): void {
    if (!this.#for.delete(c)) return;
    if (this.#for.size === 0) this.open();
  }

  /** Opens the gate now. */
  open(): void {
    if (this.#wait === null) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const elapsed = performance.now() - this.#closedAt;
    this.stalledMs += elapsed;
    if (!this.#blocking) this.#windowUsed += elapsed;
    const open = this.#open!;
    this.#wait = null;
    this.#open = null;
    this.#blocking = false;
    this.#onBlockTimeout = null;
    this.#for.clear();
    open();
  }

  #close(c: T, now: number, ms: number): void {
    this.stalls++;
    this.#closedAt = now;
    this.#for.add(c);
    this.#wait = new Promise<void>((resolve) => (this.#open = resolve));
    this.#timer = setTimeout(() => {
      const timedOut = this.#blocking ? [...this.#for] : [];
      const onTimeout = this.#onBlockTimeout;
      this.open();
      if (onTimeout !== null) { for (const x of timedOut) onTimeout(x); }
    }, ms);
  }
}
