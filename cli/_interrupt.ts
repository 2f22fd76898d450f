/**
 * Ctrl-C (SIGINT) and SIGTERM as an AbortSignal, for the long-running commands
 * (`sub`, `pub`, `record`, `replay`, `bench`, `top`, `logs -f` …): the first
 * signal aborts, so the command stops, flushes and prints its summary instead
 * of dying mid-write. (Relay processes install `ProcessSignals`, src/daemon.)
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
 * declare const client: AsyncIterable<unknown>;
 *
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
