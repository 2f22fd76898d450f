/**
 * Typed errors of the relay client. Each carries a stable `code` and a
 * one-line message in sentence case naming the failed action.
 *
 * @module
 */

/** Stable codes of the client's errors. */
export const ClientErrorCode = {
  /** The relay could not be reached (first connect or every reconnect attempt). */
  ConnectFailed: "ConnectFailed",
  /** The relay answered a Subscribe with an Error TLV; the filter is unchanged. */
  SubscribeRefused: "SubscribeRefused",
  /** The relay did not answer a Subscribe in time. */
  SubscribeTimeout: "SubscribeTimeout",
  /** The outbound buffer is over `maxPendingBytes`. */
  Backpressure: "Backpressure",
  /** The client is closed (by `close()`, an abort signal, or a lost connection). */
  ClientClosed: "ClientClosed",
  /** The relay refused a recovery request (status 3) and said why. */
  RecoveryRefused: "RecoveryRefused",
  /** The relay answered that recovery is disabled (status 2). */
  RecoveryDisabled: "RecoveryDisabled",
  /** The relay did not answer a recovery request in time (e.g. `recovery.enabled: false`). */
  RecoveryTimeout: "RecoveryTimeout",
  /** This client cannot recover: it is publish-only, or it reads NATS rather than a relay. */
  RecoveryUnavailable: "RecoveryUnavailable",
} as const;

/** One of {@linkcode ClientErrorCode}. */
export type ClientErrorCode = typeof ClientErrorCode[keyof typeof ClientErrorCode];

/**
 * The relay could not be reached.
 *
 * @example
 * ```ts
 * import { RelayClient } from "./mod.ts";
 *
 * try {
 *   await RelayClient.connect({ domain: "signal" });
 * } catch (e) {
 *   if (e instanceof ConnectError) console.error(e.message);
 *   // Cannot connect to signal relay at /tmp/torq/signals.sock: no such socket (is 'torq relay signal' running?)
 * }
 * ```
 */
export class ConnectError extends Error {
  /** Always `ConnectFailed`. */
  readonly code: "ConnectFailed" = ClientErrorCode.ConnectFailed;
  /** The transport's short reason: `no_socket`, `refused`, `denied` or `other`. */
  readonly reason: string;
  /** The relay's address (socket path). */
  readonly address: string;
  /** Connection attempts made (1 for a first connect). */
  readonly attempts: number;

  /**
   * Creates the error.
   *
   * @param message one-line message
   * @param details transport reason, address and attempts (and the underlying cause)
   */
  constructor(
    message: string,
    details: { reason: string; address: string; attempts?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ConnectError";
    this.reason = details.reason;
    this.address = details.address;
    this.attempts = details.attempts ?? 1;
  }
}

/**
 * A Subscribe was refused by the relay or not answered in time.
 *
 * @example
 * ```ts
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient; // on the signal relay (auto_discover off)
 *
 * try {
 *   await client.subscribe(["no_such_topic"]);
 * } catch (e) {
 *   if (e instanceof SubscribeError && e.code === "SubscribeRefused") console.log(e.reason, e.filter);
 *   // TopicNotFound: "no_such_topic" is not a topic of the signal relay and auto_discover is off [ "*" ]
 * }
 * ```
 */
export class SubscribeError extends Error {
  /** `SubscribeRefused` or `SubscribeTimeout`. */
  readonly code: "SubscribeRefused" | "SubscribeTimeout";
  /** The relay's reason text (refused), or a description of the timeout. */
  readonly reason: string;
  /** The patterns of the request. */
  readonly patterns: readonly string[];
  /** The filter in effect according to the relay's answer (`null` when unknown, e.g. timeout). */
  readonly filter: readonly string[] | null;

  /**
   * Creates the error.
   *
   * @param code `SubscribeRefused` or `SubscribeTimeout`
   * @param message one-line message
   * @param details the relay's reason, the requested patterns and the filter in effect
   */
  constructor(
    code: "SubscribeRefused" | "SubscribeTimeout",
    message: string,
    details: { reason: string; patterns: readonly string[]; filter: readonly string[] | null },
  ) {
    super(message);
    this.name = "SubscribeError";
    this.code = code;
    this.reason = details.reason;
    this.patterns = details.patterns;
    this.filter = details.filter;
  }
}

/**
 * `publish()` would take the outbound buffer over `maxPendingBytes`; await
 * `drain()` and publish again.
 *
 * @example
 * ```ts
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient;
 * declare const frame: Uint8Array; // one whole frame
 *
 * try {
 *   client.publish(frame);
 * } catch (e) {
 *   if (!(e instanceof BackpressureError)) throw e;
 *   await client.drain();
 *   client.publish(frame);
 * }
 * ```
 */
export class BackpressureError extends RangeError {
  /** Always `Backpressure`. */
  readonly code: "Backpressure" = ClientErrorCode.Backpressure;
  /** Bytes queued or being written when the frame was refused. */
  readonly pendingBytes: number;
  /** Size of the refused frame. */
  readonly frameBytes: number;
  /** The `maxPendingBytes` limit. */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param pendingBytes bytes already pending
   * @param frameBytes size of the refused frame
   * @param limit the configured limit
   */
  constructor(pendingBytes: number, frameBytes: number, limit: number) {
    super(
      `Cannot publish frame of ${frameBytes} bytes: ${pendingBytes} bytes are pending, limit ${limit} (await drain())`,
    );
    this.name = "BackpressureError";
    this.pendingBytes = pendingBytes;
    this.frameBytes = frameBytes;
    this.limit = limit;
  }
}

/**
 * The client is closed; nothing more can be published or subscribed.
 *
 * @example
 * ```ts
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient;
 * declare const frame: Uint8Array; // one whole frame
 *
 * await client.close();
 * try {
 *   client.publish(frame);
 * } catch (e) {
 *   if (e instanceof ClientClosedError) console.log(e.code); // ClientClosed
 * }
 * ```
 */
export class ClientClosedError extends Error {
  /** Always `ClientClosed`. */
  readonly code: "ClientClosed" = ClientErrorCode.ClientClosed;

  /**
   * Creates the error.
   *
   * @param action what could not be done, e.g. `publish`
   * @param cause the error that closed the client, if it was not closed on purpose
   */
  constructor(action: string, cause?: Error | null) {
    super(
      cause === undefined || cause === null
        ? `Cannot ${action}: the client is closed`
        : `Cannot ${action}: the client is closed (${cause.message})`,
      cause === undefined || cause === null ? undefined : { cause },
    );
    this.name = "ClientClosedError";
  }
}

/** The codes a {@linkcode RecoveryError} carries. */
export type RecoveryErrorCode =
  | "RecoveryRefused"
  | "RecoveryDisabled"
  | "RecoveryTimeout"
  | "RecoveryUnavailable";

/**
 * A recovery (`recover()`, or the automatic mode's, through the `error` event)
 * failed: the relay refused the request (its reason is in `reason`), recovery
 * is off on the relay, no answer came in time, or the client cannot recover.
 *
 * @example
 * ```ts
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient;
 *
 * try {
 *   await client.recover({ source: 20, after: 100n, upTo: 50n });
 * } catch (e) {
 *   if (e instanceof RecoveryError) console.error(e.code, e.reason);
 *   // RecoveryRefused MalformedRecovery: current_sequence 50 is below last_sequence 100
 * }
 * ```
 */
export class RecoveryError extends Error {
  /** Why it failed. */
  readonly code: RecoveryErrorCode;
  /** The relay's reason text (refused), or what happened instead of an answer. */
  readonly reason: string;
  /** The request's source (0: any). */
  readonly source: number;
  /** Whether the request was a snapshot. */
  readonly snapshot: boolean;

  /**
   * Creates the error.
   *
   * @param code why it failed
   * @param message one-line message
   * @param details the reason and what was requested
   */
  constructor(
    code: RecoveryErrorCode,
    message: string,
    details: { reason: string; source: number; snapshot: boolean },
  ) {
    super(message);
    this.name = "RecoveryError";
    this.code = code;
    this.reason = details.reason;
    this.source = details.source;
    this.snapshot = details.snapshot;
  }
}
