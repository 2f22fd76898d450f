/**
 * What to do when a service exits: restart it after a delay, leave it down,
 * or give up. Pure: times come in as arguments, nothing is scheduled here.
 *
 * - `restart` (`always | on-failure | never`) decides whether an exit is
 *   restarted at all; `on-failure` restarts a non-zero status or a death by
 *   signal.
 * - A **fast crash** is an exit less than `start_limit_interval_ms` after its
 *   start. The delay before a restart is `restart_delay_ms`, doubled for each
 *   fast crash in a row, capped at `restart_max_delay_ms`; a longer run starts
 *   the doubling over.
 * - Like systemd's `StartLimitBurst`/`StartLimitIntervalSec`: when the service
 *   was started `start_limit_burst` times within the last
 *   `start_limit_interval_ms`, the next restart is refused and the service is
 *   `failed` (0: no limit).
 *
 * @module
 */

import type { ServiceConfig } from "../config/mod.ts";

/** The rules of {@linkcode RestartTracker}: a service's restart keys. */
export type RestartRules = Pick<
  ServiceConfig,
  | "restart"
  | "restart_delay_ms"
  | "restart_max_delay_ms"
  | "start_limit_burst"
  | "start_limit_interval_ms"
>;

/** How a process ended. */
export interface ExitStatus {
  /** Exit code; with a signal, 128 + its number by convention. */
  code: number;
  /** The signal that ended it, or null. */
  signal: string | null;
}

/** The decision about one exit. */
export type ExitDecision =
  | { action: "restart"; delayMs: number }
  | { action: "exited"; reason: string }
  | { action: "failed"; reason: string };

/**
 * Whether an exit status is a failure: a non-zero code or a signal.
 *
 * @param status how the process ended
 * @returns true for a failure
 * @example
 * ```ts
 * isFailure({ code: 0, signal: null }); // false
 * ```
 */
export function isFailure(status: ExitStatus): boolean {
  return status.code !== 0 || status.signal !== null;
}

/**
 * An exit status as people read it.
 *
 * @param status how the process ended
 * @returns e.g. `status 0`, `status 3`, `signal SIGKILL`
 * @example
 * ```ts
 * describeExit({ code: 137, signal: "SIGKILL" }); // "signal SIGKILL"
 * ```
 */
export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `status ${status.code}`;
}

/**
 * A duration in ms as a short text: `250 ms`, `1 s`, `1.5 s`, `2 min`.
 *
 * @param ms milliseconds
 * @returns the text
 * @example
 * ```ts
 * formatDelay(60_000); // "60 s"
 * ```
 */
export function formatDelay(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/**
 * Tracks one service's starts and decides about each exit.
 *
 * @example
 * ```ts
 * const t = new RestartTracker({
 *   restart: "on-failure",
 *   restart_delay_ms: 1000,
 *   restart_max_delay_ms: 30_000,
 *   start_limit_burst: 5,
 *   start_limit_interval_ms: 60_000,
 * });
 * t.started(0);
 * t.exited(200, { code: 1, signal: null }); // { action: "restart", delayMs: 1000 }
 * ```
 */
export class RestartTracker {
  readonly #rules: RestartRules;
  #starts: number[] = [];
  #fastCrashes = 0;

  /** @param rules the service's restart keys */
  constructor(rules: RestartRules) {
    this.#rules = rules;
  }

  /**
   * Records a start.
   *
   * @param at time in ms
   */
  started(at: number): void {
    this.#starts.push(at);
    const keep = Math.max(this.#rules.start_limit_burst, 1);
    if (this.#starts.length > keep) this.#starts.splice(0, this.#starts.length - keep);
  }

  /**
   * Decides about an exit of the last start.
   *
   * @param at time in ms
   * @param status how the process ended
   * @returns restart after `delayMs`, or stay down (`exited` after a success,
   *   `failed` after a failure or at the start limit), with the reason
   */
  exited(at: number, status: ExitStatus): ExitDecision {
    const r = this.#rules;
    const last = this.#starts.at(-1) ?? at;
    this.#fastCrashes = at - last < r.start_limit_interval_ms ? this.#fastCrashes + 1 : 0;
    const failure = isFailure(status);
    const wanted = r.restart === "always" || (r.restart === "on-failure" && failure);
    if (!wanted) {
      const how = `exited with ${describeExit(status)}`;
      return failure ? { action: "failed", reason: how } : { action: "exited", reason: how };
    }
    const burst = r.start_limit_burst;
    if (burst > 0) {
      const recent = this.#starts.filter((t) => at - t < r.start_limit_interval_ms).length;
      if (recent >= burst) {
        return {
          action: "failed",
          reason: `start limit hit: ${recent} starts within ${
            formatDelay(r.start_limit_interval_ms)
          }, last ${describeExit(status)}`,
        };
      }
    }
    const doublings = Math.max(0, this.#fastCrashes - 1);
    const delay = r.restart_delay_ms * 2 ** Math.min(doublings, 40);
    return { action: "restart", delayMs: Math.min(delay, r.restart_max_delay_ms) };
  }

  /** Forgets every start and fast crash (a restart asked for by hand). */
  reset(): void {
    this.#starts = [];
    this.#fastCrashes = 0;
  }
}
