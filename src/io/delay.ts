/**
 * Waiting: a sleep that an {@linkcode AbortSignal} cuts short, and the
 * exponential backoff of every reconnect loop (PROTOCOL.md 7.3: the delay
 * doubles per attempt, capped).
 *
 * @module
 */

/**
 * Sleeps `ms` milliseconds, or until `signal` aborts (then it resolves at once,
 * without an error: the caller checks what it was waiting for).
 *
 * @param ms how long (negative counts as 0)
 * @param signal ends the sleep early; an aborted one returns at once
 * @returns a promise resolved after `ms` or on abort
 * @example
 * ```ts
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 10);
 * await sleep(60_000, stop.signal); // returns after about 10 ms
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits for one turn of the event loop, so that what is due (timers, finished
 * I/O, signal handlers) runs before a long burst of synchronous work goes on.
 * `sleep(0)` would wait for a timer, which the runtime clamps to milliseconds
 * when timers nest (measured here: ~2 ms per `setTimeout(0)` in a loop against
 * ~4 µs per `setImmediate`).
 *
 * @returns a promise resolved in the next turn
 * @example
 * ```ts
 * for (let i = 0; i < 100_000; i++) {
 *   if ((i & 4095) === 4095) await nextTurn();
 * }
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The bounds of a {@linkcode Backoff}. */
export interface BackoffOptions {
  /** The first delay, ms. */
  initialMs: number;
  /** The longest delay, ms. */
  maxMs: number;
}

/**
 * The delay before attempt `attempt` (1-based): `initialMs × 2^(attempt − 1)`,
 * capped at `maxMs`.
 *
 * @param attempt 1 for the first retry
 * @param options the bounds
 * @returns the delay, ms
 * @example
 * ```ts
 * backoffDelay(3, { initialMs: 100, maxMs: 30_000 }); // 400
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  return Math.min(options.initialMs * 2 ** (attempt - 1), options.maxMs);
}

/**
 * A backoff that remembers where it is: {@linkcode Backoff.next} gives the
 * current delay and doubles it (up to `maxMs`) for the time after;
 * {@linkcode Backoff.reset} starts again at `initialMs` once things work.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialMs: 100, maxMs: 250 });
 * [backoff.next(), backoff.next(), backoff.next()]; // [100, 200, 250]
 * backoff.reset();
 * backoff.delayMs; // 100
 * ```
 */
export class Backoff {
  readonly #options: BackoffOptions;
  #delayMs: number;

  /**
   * Starts at `initialMs`.
   *
   * @param options the bounds
   */
  constructor(options: BackoffOptions) {
    this.#options = { ...options };
    this.#delayMs = options.initialMs;
  }

  /** The delay the next {@linkcode Backoff.next} gives, ms. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /**
   * The current delay; the one after it is twice as long, up to `maxMs`.
   *
   * @returns the delay to wait now, ms
   */
  next(): number {
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#options.maxMs);
    return delay;
  }

  /** Back to `initialMs` (after a success). */
  reset(): void {
    this.#delayMs = this.#options.initialMs;
  }
}
