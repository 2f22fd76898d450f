/**
 * The process signals a relay service answers, caught from before it binds
 * anything: SIGINT and SIGTERM stop it gracefully, SIGHUP reloads its
 * configuration. Without a listener, Deno (like any process) dies of these
 * signals at once, so a SIGTERM that arrived between the `listening` line and
 * the listener left the socket file behind and exited 143. With
 * {@linkcode ProcessSignals} installed first, a stop signal at any moment of the
 * start-up is remembered and honoured as soon as the service runs.
 *
 * @module
 */

/** A signal that stops the service. */
export type StopSignal = "SIGINT" | "SIGTERM";

const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM"];

/**
 * SIGINT/SIGTERM/SIGHUP listeners for the life of a service.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * import { runUntilSignal, startRelays } from "./relays.ts";
 * const config = loadConfig();
 *
 * const signals = new ProcessSignals(); // before binding anything
 * const service = await startRelays(config, ["signal"]);
 * await runUntilSignal(service, { signals });
 * ```
 */
export class ProcessSignals {
  #received: StopSignal | null = null;
  #wake: ((signal: StopSignal) => void) | null = null;
  readonly #stopped: Promise<StopSignal>;
  #hangup: (() => void) | null = null;
  readonly #handlers: [Deno.Signal, () => void][] = [];

  /** Installs the listeners at once. */
  constructor() {
    this.#stopped = new Promise((resolve) => this.#wake = resolve);
    for (const signal of STOP_SIGNALS) this.#listen(signal, () => this.#stop(signal));
    // A SIGHUP before the service runs has nothing to reload; it must not kill the process.
    this.#listen("SIGHUP", () => this.#hangup?.());
  }

  /** The stop signal received so far, if any. */
  get received(): StopSignal | null {
    return this.#received;
  }

  /**
   * Resolves with the first SIGINT or SIGTERM (at once when one came already).
   *
   * @returns the signal
   */
  stopped(): Promise<StopSignal> {
    return this.#stopped;
  }

  /**
   * Sets what SIGHUP does from now on (nothing until this is called).
   *
   * @param fn e.g. the service's reload
   */
  onHangup(fn: (() => void) | null): void {
    this.#hangup = fn;
  }

  /** Removes every listener: the signals have their default effect again. Idempotent. */
  dispose(): void {
    for (const [signal, handler] of this.#handlers.splice(0)) {
      Deno.removeSignalListener(signal, handler);
    }
    this.#hangup = null;
  }

  #listen(signal: Deno.Signal, handler: () => void): void {
    Deno.addSignalListener(signal, handler);
    this.#handlers.push([signal, handler]);
  }

  #stop(signal: StopSignal): void {
    if (this.#received !== null) return;
    this.#received = signal;
    // A second Ctrl-C or SIGTERM while stopping ends the process at once, as it always did.
    for (let i = this.#handlers.length - 1; i >= 0; i--) {
      const [s, h] = this.#handlers[i]!;
      if (s === "SIGINT" || s === "SIGTERM") {
        Deno.removeSignalListener(s, h);
        this.#handlers.splice(i, 1);
      }
    }
    this.#wake?.(signal);
  }
}
