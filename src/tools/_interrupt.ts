/**
 * Ctrl-C (SIGINT) and SIGTERM as an AbortSignal, for the long-running tools
 * (`sub`, `pub`, `record`, `replay`): the first signal aborts, so the tool
 * stops, flushes and prints its summary instead of dying mid-write.
 *
 * @module
 */

/** An abort controller wired to SIGINT and SIGTERM until disposed. */
export interface Interrupt extends Disposable {
  /** Aborted by the first SIGINT or SIGTERM (or by `abort()`). */
  readonly signal: AbortSignal;
  /** The signal that arrived, if any. */
  readonly received: Deno.Signal | null;
  /**
   * Aborts as if a signal had arrived.
   *
   * @param reason why
   */
  abort(reason?: unknown): void;
}

/**
 * Listens for SIGINT and SIGTERM; dispose it to remove the listeners.
 *
 * @returns the interrupt
 * @example
 * ```ts
 * using stop = interruptOnSignals();
 * for await (const f of client) if (stop.signal.aborted) break;
 * ```
 */
export function interruptOnSignals(): Interrupt {
  const controller = new AbortController();
  let received: Deno.Signal | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = () => {
      received ??= sig;
      controller.abort(new Error(`interrupted by ${sig}`));
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    abort: (reason?: unknown) => controller.abort(reason),
    [Symbol.dispose]() {
      for (const [s, h] of handlers) {
        try {
          Deno.removeSignalListener(s, h);
        } catch {
          // already removed
        }
      }
    },
  };
}

/**
 * Sleeps, waking early when `signal` aborts.
 *
 * @param ms how long
 * @param signal ends the sleep early
 * @returns a promise resolved after `ms` or on abort
 * @example
 * ```ts
 * await sleep(1000, stop.signal);
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
