/**
 * Events a {@linkcode RelayClient} emits, and the counters it keeps.
 *
 * @module
 */

import type { RecoveryResult } from "./recovery.ts";

/** A received frame's sequence jumped ahead of the last one from its source plus one. */
export interface GapEvent {
  /** Source byte of the frame. */
  source: number;
  /** The sequence that was expected (last + 1). */
  expected: bigint;
  /** The sequence received. */
  got: bigint;
  /** How many numbers were skipped (`got - expected`). */
  missing: bigint;
}

/** A received frame's sequence was not above the last one from its source. */
export interface DuplicateEvent {
  /** Source byte of the frame. */
  source: number;
  /** The highest sequence seen before from this source. */
  last: bigint;
  /** The sequence received. */
  got: bigint;
}

/** A producer restarted its numbering: sequence 1, or far below the last one (7.9). */
export interface RestartEvent {
  /** Source byte of the frame. */
  source: number;
  /** The highest sequence seen before from this source. */
  last: bigint;
  /** The sequence received (tracking continues from it). */
  got: bigint;
}

/**
 * The connection to the relay was lost. Publishing is at most once: what the
 * relay had not read when the connection dropped is lost unless published
 * again; these counts say how much that may be.
 */
export interface DisconnectEvent {
  /** Why (end of stream, read or write error). */
  error: Error;
  /** Whether the client will try to reconnect. */
  willReconnect: boolean;
  /**
   * Published frames written on this connection since the last point the relay
   * is known to have read (connection start, or the answer to a Subscribe or
   * `confirm()` written after them): they may or may not have reached the relay.
   */
  unconfirmedFrames: number;
  /** Bytes of those frames. */
  unconfirmedBytes: number;
  /** Published frames not yet written: sent after a reconnect, else discarded. */
  pendingFrames: number;
  /** Bytes of those frames. */
  pendingBytes: number;
}

/** The client reconnected and restored its hello and filter. */
export interface ReconnectEvent {
  /** The attempt that succeeded (1 = first). */
  attempt: number;
  /** Time without a connection, in ms. */
  downMs: number;
  /** The relay-side filter now in effect (`null` = never subscribed: every frame). */
  filter: readonly string[] | null;
}

/** Something went wrong outside any call the application is awaiting. */
export interface ErrorEvent {
  /** The error: e.g. a `ConnectError` after the last reconnect attempt, a refused re-subscribe. */
  error: Error;
}

/**
 * A recovery was answered with status partial: the relay's window no longer
 * holds the start of what was asked; frames `firstLost` up to `windowStart - 1`
 * of the source cannot be recovered from it.
 */
export interface PartialEvent {
  /** The source requested (0: any source). */
  source: number;
  /** The first sequence that was asked for and is lost (`after + 1`). */
  firstLost: bigint;
  /** The oldest sequence of the source the relay still holds (0 when unknown). */
  windowStart: bigint;
  /** Whether the automatic mode made the request. */
  auto: boolean;
}

/** A recovery was answered and its frames handed to the receive path: the answer, and what was asked. */
export interface RecoveredEvent extends RecoveryResult {
  /** Why it was asked: `request` (`recover()`), `gap` or `reconnect` (automatic mode). */
  reason: "request" | "gap" | "reconnect";
  /** The source requested (0: any source). */
  source: number;
  /** A snapshot rather than a retransmit. */
  snapshot: boolean;
  /** Frames after this sequence were asked for (retransmit). */
  after: bigint;
  /** …up to this one (0: no bound). */
  upTo: bigint;
}

/** Event names and their payloads. */
export interface RelayClientEventMap {
  /** A sequence gap (7.9). */
  gap: GapEvent;
  /** A duplicate or regressed sequence (7.9). */
  duplicate: DuplicateEvent;
  /** A producer restarted its numbering (once per restart, not once per frame). */
  restart: RestartEvent;
  /** The connection was lost. */
  disconnect: DisconnectEvent;
  /** The connection was re-established. */
  reconnect: ReconnectEvent;
  /** An error not tied to an awaited call. */
  error: ErrorEvent;
  /** A recovery could not start where it was asked: the window no longer holds it. */
  partial: PartialEvent;
  /** A recovery was answered (by `recover()` or the automatic mode). */
  recovered: RecoveredEvent;
}

/** A listener of one event type. */
export type RelayClientListener<K extends keyof RelayClientEventMap> = (
  event: RelayClientEventMap[K],
) => void;

/** The client's counters. */
export interface ClientStats {
  /** Frames received from the relay (including Subscribe answers). */
  framesIn: number;
  /** Bytes of those frames. */
  bytesIn: number;
  /** Published frames handed to the kernel whole (hello and Subscribe requests not included). */
  framesOut: number;
  /** Bytes of those frames. */
  bytesOut: number;
  /** Control frames written: hello, Subscribe requests, `confirm()` round trips. */
  controlFramesOut: number;
  /**
   * Published frames written on the current connection since the last point the relay is known
   * to have read them (see `DisconnectEvent`).
   */
  unconfirmedFrames: number;
  /** Bytes of those frames. */
  unconfirmedBytes: number;
  /** Frames that were unconfirmed when a connection was lost, over all connections. */
  unconfirmedAtDisconnect: number;
  /** Published frames never written: discarded by `close()` or when the client closed. */
  discardedFrames: number;
  /** Bytes of those frames. */
  discardedBytes: number;
  /** Sequence gaps seen. */
  gaps: number;
  /** Duplicate or regressed sequences seen. */
  duplicates: number;
  /** Successful reconnections. */
  reconnects: number;
  /** Producers seen restarting their numbering (`restart` events). */
  restarts: number;
  /** Frames dropped by the local filter. */
  filtered: number;
  /** Recoveries answered (`recover()` and the automatic mode). */
  recoveries: number;
  /** Of those, answered as partial (the window no longer held the start). */
  partialRecoveries: number;
  /** Replayed frames handed to the receive path. */
  recoveredFrames: number;
  /** Frames dropped during recoveries because they had been received already. */
  recoveryDuplicates: number;
  /** Received frames waiting to be iterated. */
  bufferedFrames: number;
  /** Outbound bytes not yet written. */
  pendingBytes: number;
  /** Bytes skipped while resynchronising the receive stream. */
  garbageBytes: number;
}
