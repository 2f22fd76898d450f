/**
 * The accept loop of a listener, made to survive: an `accept()` that fails
 * because the process is out of file descriptors (EMFILE), the system is
 * (ENFILE), memory is short (ENOMEM, ENOBUFS) or the client gave up first
 * (ECONNABORTED) is counted, logged at most once a second, and retried after a
 * short backoff (10 ms, doubling up to 500 ms while it keeps failing).
 * Meanwhile connecting clients wait in the kernel's backlog and are accepted
 * when descriptors are free again. Only a closed listener ends the loop.
 * {@linkcode AcceptHealth} says whether the listeners accept now, for
 * `/healthz` and `stats()`: not from the first failure until accept() has gone
 * a second without one.
 *
 * @module
 */

import type { StreamConn, TransportListener } from "./transport.ts";
import { type Logger, RateLimit } from "../log/mod.ts";

/** First wait after a failed accept, in ms. */
export const ACCEPT_RETRY_FIRST_MS = 10;
/** Longest wait between retries, in ms. */
export const ACCEPT_RETRY_MAX_MS = 500;

/** Errors of accept() that pass: the loop waits and tries again. */
const TRANSIENT = new Set([
  "EMFILE",
  "ENFILE",
  "ENOMEM",
  "ENOBUFS",
  "ECONNABORTED",
  "EAGAIN",
  "EINTR",
  "EPROTO",
  "EPERM",
]);

/** Whether the listeners of one relay accept connections, and how often they failed to. */
export class AcceptHealth {
  /** Failed accept() calls, all listeners, since start. */
  errors = 0;
  /** The last failure's message with its code, e.g. `Too many open files (EMFILE)`. */
  lastError: string | null = null;
  /** Listeners failing now (they recover on their next successful accept). */
  #failing = 0;
  /** Listeners whose loop ended without being closed by the relay. */
  #ended = 0;

  /** True while every listener accepts (none failing, none ended). */
  get accepting(): boolean {
    return this.#failing === 0 && this.#ended === 0;
  }

  /** @internal a listener started failing */
  fail(): void {
    this.#failing++;
  }

  /** @internal a failing listener accepted again */
  recover(): void {
    this.#failing--;
  }

  /** @internal a loop ended on its own */
  end(): void {
    this.#ended++;
  }
}

/** Options of {@linkcode acceptEach}. */
export interface AcceptEachOptions {
  /** Where failures are counted. */
  health: AcceptHealth;
  /** Where failures and recoveries are logged. */
  log: Logger;
  /** True once the relay stops: errors of its closed listener are expected then. */
  stopping: () => boolean;
  /** Takes each accepted connection (synchronously); one that throws is closed and logged. */
  onConnection: (conn: StreamConn) => void;
  /** Sleeps between retries (tests may pass a fake). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * How long accept() must go without failing before the listener counts as
   * accepting again, in ms (default {@linkcode ACCEPT_SETTLE_MS}).
   */
  settleMs?: number;
}

/**
 * Accept() without a failure for this long ends a failure episode (ms): while a
 * full descriptor table drains, accepts alternate between success and EMFILE,
 * and one success does not make the listener healthy.
 */
export const ACCEPT_SETTLE_MS = 1000;

/**
 * Accepts connections until the listener is closed, handing each to
 * `onConnection`; survives failed accepts (see the module documentation).
 *
 * One episode of failures (from the first failed accept until accept() has gone
 * `settleMs` without failing, whether it accepted connections or waited for one)
 * makes one `accept failed` line, a repeat at most once a second while it lasts,
 * and one `accepting connections again` line with its duration and count.
 *
 * @param listener the listener
 * @param options health, logger, callbacks
 * @example
 * ```ts
 * import { Logger } from "../log/mod.ts";
 * import type { TransportListener } from "./transport.ts";
 * declare const listener: TransportListener;
 *
 * const health = new AcceptHealth();
 * await acceptEach(listener, {
 *   health,
 *   log: new Logger(),
 *   stopping: () => false,
 *   onConnection: (conn) => conn.close(),
 * });
 * ```
 */
export async function acceptEach(
  listener: TransportListener,
  options: AcceptEachOptions,
): Promise<void> {
  const { health, log, stopping, onConnection } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const settleMs = options.settleMs ?? ACCEPT_SETTLE_MS;
  const rateLimit = new RateLimit(1000);
  let failingSince = 0;
  let failures = 0;
  let waitMs = ACCEPT_RETRY_FIRST_MS;
  let settle: ReturnType<typeof setTimeout> | undefined;
  const recovered = () => {
    settle = undefined;
    health.recover();
    log.info("accepting connections again", {
      failed_for_ms: Date.now() - failingSince,
      failed_accepts: failures,
    });
    failures = 0;
    waitMs = ACCEPT_RETRY_FIRST_MS;
  };
  try {
    for (;;) {
      if (failures > 0 && settle === undefined) {
        settle = setTimeout(recovered, settleMs);
        Deno.unrefTimer(settle);
      }
      let conn: StreamConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (stopping() || isClosed(e)) return;
        clearTimeout(settle);
        settle = undefined;
        const code = (e as { code?: unknown }).code;
        const error = `${(e as Error).message ?? String(e)}${
          typeof code === "string" ? ` (${code})` : ""
        }`.replace(/ \(os error \d+\)/, "");
        health.errors++;
        health.lastError = error;
        if (failures++ === 0) {
          failingSince = Date.now();
          health.fail();
        }
        const suppressed = rateLimit.take(Date.now());
        if (suppressed >= 0) {
          const known = typeof code === "string" && TRANSIENT.has(code);
          log.error(
            known
              ? "accept failed: not accepting connections until it succeeds again"
              : "accept failed with an unexpected error; retrying",
            { error, retry_ms: waitMs, accept_errors: health.errors, suppressed_lines: suppressed },
          );
        }
        await sleep(waitMs);
        waitMs = Math.min(waitMs * 2, ACCEPT_RETRY_MAX_MS);
        continue;
      }
      waitMs = ACCEPT_RETRY_FIRST_MS; // descriptors were free just now
      try {
        onConnection(conn);
      } catch (e) {
        conn.close();
        log.error("cannot take an accepted connection; closed it", {
          error: (e as Error).message ?? String(e),
        });
      }
    }
  } finally {
    clearTimeout(settle);
    if (failures > 0) health.recover();
    if (!stopping()) health.end();
  }
}
/** Whether an accept error means the listener is closed (by `close()`). */
function isClosed(e: unknown): boolean {
  return e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted;
}
