/**
 * RelayClient: one connection to one relay, for publishing and receiving
 * Protocol V2 frames (PROTOCOL.md 7.3, 7.8, 7.9).
 *
 * - Publishing copies each frame into an outbound buffer and returns; one
 *   write is in flight at a time and each write takes everything queued since
 *   the previous one (coalescing). `flush()` waits until what was queued so far
 *   is handed to the kernel; `confirm()` until the relay has read it.
 * - Receiving re-frames the stream with a FrameReader; frames are yielded by
 *   `for await` as {@linkcode ReceivedFrame}s, viewing one copy per socket read.
 * - `subscribe()` sends a Subscribe (TLV 113) and awaits the relay's answer,
 *   which is consumed, not yielded. Answers are matched to requests by the
 *   filter they list, so a lost or late answer cannot shift later ones.
 * - Gaps, duplicates and restarts per source are reported as events; the
 *   connection is re-established with backoff when `reconnect` is set.
 * - `recover()` asks the relay for what was missed (PROTOCOL.md 7.9): a
 *   source's frames after a sequence, or a snapshot; with `recovery: "auto"`
 *   the client asks by itself on a gap and after a reconnect. Frames of a
 *   source being recovered are held until the answer, then handed over
 *   replay first, in order, without the ones received before.
 *
 * What the client promises:
 *
 * - **publish** is at most once, like core NATS: a frame handed to the kernel
 *   is lost if the connection drops before the relay reads it. `confirm()`
 *   proves the relay read everything published before it; the `disconnect`
 *   event and `stats()` count the frames written since the last such point.
 * - **close** drains for at most `closeTimeoutMs`, then discards what is left
 *   and says how much (`close()`'s result, `stats().discardedFrames`).
 * - **reconnect** restores the hello and the filter, writes what was queued,
 *   and never re-sends frames the kernel had accepted; a producer found
 *   numbering anew is one `restart` event, frames lost meanwhile are gaps.
 * - **recover** hands every frame of the answer to the receive path once, per
 *   source in sequence order, before the live frames that follow; frames older
 *   than ones already queued go in front of them, never behind frames the
 *   application has read. A start the relay's window no longer holds is a
 *   `partial` event; what the window does hold still arrives.
 * - **recovery "auto"** asks on every gap (the frame that showed it waits behind
 *   the missing ones) and after a reconnect for every source seen; a relay that
 *   does not answer is one `error` event, and the mode rests until the next
 *   connection.
 *
 * @module
 */

import {
  checkFrameStart,
  decodeErrorText,
  DEFAULT_SOCKET_PATHS,
  DOMAIN_NUMBERS,
  type DomainName,
  domainName,
  encodeHeader,
  encodeSubscribe,
  ERROR_TLV,
  ErrorCode,
  FrameError,
  FrameReader,
  frameStartError,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  MessageBuilder,
  parseSubscribe,
  readPayloadSize,
  readSequence,
  SourceType,
  Status,
  SUBSCRIBE_TLV,
  SubscribeMode,
  walkTlvs,
} from "../protocol/mod.ts";
import { type StreamConn, type Transport, TransportError } from "../transport/mod.ts";
import { backoffDelay, concat, sleep, writeAll } from "../io/mod.ts";
import { transportForPath } from "./_address.ts";
import {
  BackpressureError,
  ClientClosedError,
  ConnectError,
  RecoveryError,
  SubscribeError,
} from "./errors.ts";
import type { ClientStats, RelayClientEventMap, RelayClientListener } from "./events.ts";
import { LocalFilter, type LocalFilterOptions } from "./local_filter.ts";
import { ReceivedFrame } from "./received_frame.ts";
import { SequenceTracker, SequenceVerdict } from "./sequence_tracker.ts";
import { OutboundQueue } from "./_outbound.ts";
import {
  bySequence,
  isRecoveryAnswer,
  mergeOlder,
  mergeReplay,
  MissingRanges,
  parseRecoveryAnswer,
  type RecoverOptions,
  type RecoveryAnswer,
  type RecoveryRequestFields,
  recoveryRequestFrame,
  type RecoveryResult,
  RecoveryStatus,
  requestFields,
} from "./recovery.ts";

/** A relay domain by name or wire value (1–4). */
export type DomainOption = DomainName | number;

/** How a Subscribe changes the filter. */
export type SubscribeModeName = "replace" | "add" | "remove";

/** Reconnection backoff (7.3): delay before attempt n is `initialMs × 2^(n−1)`, capped at `maxMs`. */
export interface ReconnectOptions {
  /** Delay before the first attempt (default 100 ms). */
  initialMs?: number;
  /** Largest delay (default 30,000 ms). */
  maxMs?: number;
  /** Attempts before giving up and closing (default 10). */
  maxAttempts?: number;
}

/** Options of {@linkcode RelayClient.connect}. */
export interface RelayClientOptions {
  /** The relay's domain (default `market_data`); sets the header domain of requests and builders. */
  domain?: DomainOption;
  /**
   * Where the relay is (default: the domain's default socket path, 3.4): a Unix
   * socket path, `tcp://HOST:PORT`, or `nats://HOST:PORT[,nats://…]` to read and
   * write the domain's NATS subject directly (a relay bridged to NATS is on the
   * other side; Subscribe patterns are then applied on this side, hello frames
   * are not published). Ignored when `transport` is given.
   */
  path?: string;
  /** Transport to connect with (default: the one `path` names). */
  transport?: Transport;
  /**
   * Re-establish a lost connection with backoff (default false). Applies after
   * the first connection succeeded; the first connect is one attempt.
   */
  reconnect?: boolean | ReconnectOptions;
  /** Send a hello frame first so the relay never writes to this connection (7.8). */
  publishOnly?: boolean;
  /** Subscribe to these patterns right after connecting (connect fails if refused). */
  subscribe?: readonly string[];
  /** SourceType of requests, hello and builders (default 99 TestClient). */
  source?: number;
  /** Closes the client when aborted. */
  signal?: AbortSignal;
  /** Client-side filter applied to received frames. */
  filter?: LocalFilterOptions;
  /** Outbound buffer limit in bytes (default 64 MiB); `publish()` throws `BackpressureError` above it. */
  maxPendingBytes?: number;
  /** Received-but-unread limit in bytes (default 64 MiB); reading pauses above it until half is read. */
  maxBufferedBytes?: number;
  /** How long `subscribe()` waits for the relay's answer (default 5,000 ms). */
  subscribeTimeoutMs?: number;
  /** How long `close()` waits for pending writes (default 1,000 ms). */
  closeTimeoutMs?: number;
  /**
   * `auto`: on a sequence gap, and for every source seen after a reconnect, ask
   * the relay for the missing frames (PROTOCOL.md 7.9) and deliver them in
   * order before what follows; a start the relay no longer holds is a `partial`
   * event. `off` (default): gaps are only reported; `recover()` asks by hand.
   */
  recovery?: "off" | "auto";
  /** How long a recovery waits for the relay's answer (default 10,000 ms). */
  recoveryTimeoutMs?: number;
}

/** What {@linkcode RelayClient.close} left behind. */
export interface CloseReport {
  /** Published frames never written (the drain ran out of time, or there was no connection). */
  discardedFrames: number;
  /** Bytes of those frames. */
  discardedBytes: number;
  /** Received frames never read from the client. */
  unreadFrames: number;
}

/** Options of {@linkcode RelayClient.close}. */
export interface CloseOptions {
  /** Longest wait for pending writes, in ms (default: the client's `closeTimeoutMs`). */
  timeoutMs?: number;
}

/** Where the data stream stood when a control frame was written: published frames and bytes. */
interface Mark {
  readonly conn: StreamConn;
  readonly frames: number;
  readonly bytes: number;
}

interface PendingSubscribe {
  /** The request frame, re-sent after a reconnect while unanswered. */
  readonly frame: Uint8Array;
  /** The request's mode and patterns (deduplicated): what an answer must reflect. */
  readonly mode: number;
  readonly patterns: readonly string[];
  /** Internal re-subscribe after a reconnect (dropped, not re-sent, when the connection is lost). */
  readonly internal: boolean;
  /** A `confirm()` round trip: its answer does not turn a `null` filter into `["*"]`. */
  readonly confirm: boolean;
  /** Answered, timed out or rejected. */
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resend: ReturnType<typeof setInterval> | undefined;
  /** The data stream's position when the request was first written on the current connection. */
  mark: Mark | null;
  answer(patterns: string[] | null, reason: string | null): void;
  fail(error: Error): void;
}

/** A RecoveryRequest written (or to write) and not yet answered. */
interface PendingRecovery {
  /** The request frame, written again on a new connection while unanswered. */
  readonly frame: Uint8Array;
  readonly fields: RecoveryRequestFields;
  /** Who asked: `recover()`, or the automatic mode on a gap or a reconnect. */
  readonly reason: "request" | "gap" | "reconnect";
  /** Timed out: its answer, if it ever comes, is consumed and nothing else. */
  abandoned: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve(result: RecoveryResult): void;
  reject(error: Error): void;
}

/** A control frame to write, and the request it carries (null for a hello). */
interface Control {
  readonly frame: Uint8Array;
  readonly entry: PendingSubscribe | null;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

interface Waiter {
  target: number;
  /** What to name in the error when the client closes first. */
  action?: string;
  resolve(): void;
  reject(e: Error): void;
}

const DEFAULT_RECONNECT = { initialMs: 100, maxMs: 30_000, maxAttempts: 10 } as const;
const DEFAULT_RECOVERY_TIMEOUT_MS = 10_000;
/** `#pass` flags: gaps are expected (a snapshot's frames), so neither reported nor recorded. */
const QUIET_GAPS = 1;
/** `#pass` flag: a gap does not start an automatic recovery (the frame is a replayed one). */
const NO_AUTO = 2;
const DEFAULT_MAX_PENDING = 67_108_864;
const READ_SIZE = 65_536;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A connection to one relay.
 *
 * @example
 * ```ts
 * await using client = await RelayClient.connect({ domain: "signal", subscribe: ["tlv.32"] });
 * client.on("gap", (e) => console.warn(`source ${e.source}: ${e.missing} missing`));
 * for await (const frame of client) {
 *   console.log(frame.source, frame.sequence, frame.decode().tlvs[0]?.name);
 * }
 * ```
 */
export class RelayClient implements AsyncIterable<ReceivedFrame>, AsyncDisposable {
  /** Wire domain of the relay (1–4). */
  readonly domain: number;
  /** The relay's name in messages (`market-data`, `signal`, `execution`, `system`). */
  readonly relayName: string;
  /** The relay's address (socket path, `tcp://…` or `nats://…`). */
  readonly address: string;
  /** SourceType written into hello, requests and builders. */
  readonly source: number;

  readonly #transport: Transport;
  readonly #reconnect: Required<ReconnectOptions> | null;
  readonly #publishOnly: boolean;
  readonly #local: LocalFilter | null;
  readonly #maxPending: number;
  readonly #maxBuffered: number;
  readonly #subscribeTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #recoveryTimeoutMs: number;
  readonly #autoRecovery: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();

  // Connection state.
  #conn: StreamConn | null = null;
  /** The data stream's position the relay is known to have read on the current connection. */
  #confirmed: Mark | null = null;
  #closing = false;
  #closed = false;
  #closeError: Error | null = null;
  readonly #closedPromise: Promise<Error | undefined>;
  #resolveClosed!: (e: Error | undefined) => void;
  #readDone: Promise<void> = Promise.resolve();
  #pumpDone: Promise<void> = Promise.resolve();
  #reconnectDone: Promise<void> = Promise.resolve();
  /** Aborted when the client starts closing: ends the reconnect loop's backoff sleep at once. */
  readonly #stopSleeps = new AbortController();

  // Outbound.
  readonly #out = new OutboundQueue();
  #control: Control[] = [];
  #writing = false;
  #flushWaiters: Waiter[] = [];
  #drainWaiters: Waiter[] = [];
  readonly #controlBuilder: MessageBuilder;
  readonly #builders = new Map<number, MessageBuilder>();

  // Subscriptions.
  #filter: string[] | null = null;
  #pendingSubs: PendingSubscribe[] = [];

  // Inbound.
  readonly #reader = new FrameReader();
  #starts = new Int32Array(64);
  #ends = new Int32Array(64);
  #queue: (ReceivedFrame | undefined)[] = [];
  #qHead = 0;
  #bufferedBytes = 0;
  #waiters: ((r: IteratorResult<ReceivedFrame>) => void)[] = [];
  #paused: Deferred | null = null;
  readonly #seq = new SequenceTracker();

  // Recovery (PROTOCOL.md 7.9).
  /** Requests in the order written; the relay answers in that order. */
  #recoveries: PendingRecovery[] = [];
  /** Per source: unanswered requests that cover it; frames of such a source are held. */
  readonly #holding = new Uint16Array(256);
  /** Unanswered requests for every source (source 0). */
  #holdingAll = 0;
  /** Frames held while their source is being recovered, in arrival order. */
  #held: ReceivedFrame[] = [];
  /** While a recovery's frames are handed over: deliveries only queue, waiters are woken after. */
  #batching = false;
  /** Sequences reported missing (gaps), so a replay tells missed frames from received ones. */
  readonly #missing = new MissingRanges();
  /** Per source: the highest sequence a retransmit already covered (no automatic request below it). */
  readonly #recoveredUpTo = new BigUint64Array(256);
  /** The automatic mode gave up on this connection (a request went unanswered). */
  #autoOff = false;

  // Events and counters.
  readonly #listeners = new Map<string, Set<(event: never) => void>>();
  #framesIn = 0;
  #bytesIn = 0;
  #framesOut = 0;
  #bytesOut = 0;
  #controlOut = 0;
  #unconfirmedAtDisconnect = 0;
  #discardedFrames = 0;
  #discardedBytes = 0;
  #gaps = 0;
  #duplicates = 0;
  #restarts = 0;
  #reconnects = 0;
  #filtered = 0;
  #unread = 0;
  #recoveriesDone = 0;
  #partialRecoveries = 0;
  #recoveredFrames = 0;
  #recoveryDuplicates = 0;

  private constructor(options: RelayClientOptions) {
    this.domain = resolveDomain(options.domain ?? "market_data");
    const name = domainName(this.domain)!;
    this.relayName = name.replaceAll("_", "-");
    this.#transport = options.transport ??
      transportForPath(options.path ?? DEFAULT_SOCKET_PATHS[name], this.domain);
    this.address = this.#transport.address;
    this.source = options.source ?? SourceType.TestClient;
    const r = options.reconnect ?? false;
    this.#reconnect = r === false ? null : { ...DEFAULT_RECONNECT, ...(r === true ? {} : r) };
    this.#publishOnly = options.publishOnly ?? false;
    this.#local = options.filter === undefined ? null : new LocalFilter(options.filter);
    this.#maxPending = options.maxPendingBytes ?? DEFAULT_MAX_PENDING;
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_PENDING;
    this.#subscribeTimeoutMs = options.subscribeTimeoutMs ?? 5_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 1_000;
    this.#recoveryTimeoutMs = options.recoveryTimeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS;
    const recovery = options.recovery ?? "off";
    if (recovery !== "off" && recovery !== "auto") {
      throw new RangeError(
        `Cannot create relay client: recovery "${String(recovery)}" is not "off" or "auto"`,
      );
    }
    this.#autoRecovery = recovery === "auto";
    const unavailable = this.#recoveryUnavailable();
    if (this.#autoRecovery && unavailable !== null) {
      throw new RangeError(`Cannot create relay client with recovery "auto": ${unavailable}`);
    }
    this.#signal = options.signal;
    this.#controlBuilder = new MessageBuilder({ domain: this.domain, source: this.source });
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /**
   * Connects to a relay (one attempt), sends the hello when `publishOnly`, and
   * subscribes when `subscribe` is given.
   *
   * @param options where to connect and how to behave
   * @returns the connected client
   * @throws {ConnectError} when the relay cannot be reached (one-line message)
   * @throws {SubscribeError} when the initial subscription is refused or not answered
   * @example
   * ```ts
   * const client = await RelayClient.connect({ domain: "market_data", reconnect: true });
   * ```
   */
  static async connect(options: RelayClientOptions = {}): Promise<RelayClient> {
    options.signal?.throwIfAborted();
    const client = new RelayClient(options);
    const conn = await client.#dial();
    if (options.signal?.aborted) {
      conn.close();
      options.signal.throwIfAborted();
    }
    client.#attach(conn, false);
    client.#signal?.addEventListener("abort", client.#onAbort, { once: true });
    if (client.#publishOnly) {
      // The hello is on its way before connect() returns: the relay sees it first.
      await client.#pumpDone;
      if (client.#closed) {
        const e = client.#closeError;
        // The relay closed it before it could even take the hello: e.g. at max_connections.
        throw e === null ? new ClientClosedError("connect") : new ConnectError(
          `Cannot connect to ${client.relayName} relay at ${client.address}: it closed the connection at once (${
            e.cause instanceof Error ? e.cause.message : e.message
          }); a relay does this at max_connections`,
          { reason: "closed", address: client.address, cause: e },
        );
      }
    }
    if (options.subscribe !== undefined) {
      try {
        await client.subscribe(options.subscribe);
      } catch (e) {
        await client.close();
        throw e;
      }
    }
    return client;
  }

  /** Whether a connection is up (false while reconnecting and after close). */
  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Whether the client is closed (or closing). */
  get isClosed(): boolean {
    return this.#closing;
  }

  /**
   * The relay-side filter in effect as last confirmed by the relay; `null`
   * when this client never subscribed (every frame is delivered unless
   * `publishOnly`).
   */
  get filter(): readonly string[] | null {
    return this.#filter;
  }

  /**
   * Queues one complete frame for writing and returns at once (no promise per
   * frame). At most once, like core NATS: a frame the kernel accepted is lost
   * if the connection drops before the relay reads it (`confirm()` proves it
   * did; the `disconnect` event counts what may be lost). Frames published
   * while reconnecting are written after the reconnect. When a write fails,
   * the frame it cut and every later one are written again on the next
   * connection; bytes the kernel had already accepted are not re-sent.
   *
   * @param frame exactly one frame (`32 + payload_size` bytes); copied
   * @throws {ClientClosedError} after close
   * @throws {BackpressureError} when pending bytes would exceed `maxPendingBytes`
   * @throws {FrameError} when `frame` is not exactly one well-formed frame
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare const signals: Uint8Array[]; // encoded ArbitrageSignal (TLV 32) payloads
   *
   * const b = client.builder(20);
   * for (const s of signals) client.publish(b.begin().addTlv(32, s).finish());
   * await client.flush();
   * ```
   */
  publish(frame: Uint8Array): void {
    if (this.#closing) throw new ClientClosedError("publish", this.#closeError);
    const status = checkFrameStart(frame, 0, frame.length, MAX_PAYLOAD_SIZE);
    if (status !== Status.OK) throw frameStartError(status, frame, 0, frame.length);
    const size = HEADER_SIZE + readPayloadSize(frame, 0);
    if (size !== frame.length) {
      throw new FrameError(
        ErrorCode.TrailingBytes,
        `Cannot publish frame: ${frame.length - size} bytes follow the ${size}-byte frame`,
        { offset: size, expected: size, actual: frame.length },
      );
    }
    const pending = this.#out.pendingBytes;
    if (pending + frame.length > this.#maxPending) {
      throw new BackpressureError(pending, frame.length, this.#maxPending);
    }
    this.#out.push(frame);
    if (!this.#writing) this.#kick();
  }

  /**
   * Resolves when every frame published so far has been handed to the kernel
   * (not that the relay read them: see {@linkcode confirm}).
   *
   * @returns a promise that rejects with `ClientClosedError` if the client closes first
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare const frame: Uint8Array; // one whole frame
   *
   * client.publish(frame);
   * await client.flush();
   * ```
   */
  flush(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClientClosedError("flush", this.#closeError));
    return this.#flushTo(this.#out.enqueued);
  }

  /**
   * Resolves once the relay has read every frame published before the call:
   * flushes, then makes a round trip behind those frames (a Subscribe that
   * adds no pattern, which changes nothing, and its answer). Like nats.js
   * `flush()`. A relay that closed the connection meanwhile (e.g. it refused
   * it at `max_connections`) makes it reject.
   *
   * Over `nats://` the answer is given on this side: it confirms that the
   * frames were flushed to the NATS server.
   *
   * @returns a promise resolved once the relay has read them
   * @throws {ClientClosedError} when the connection ends first (the cause says why)
   * @throws {SubscribeError} `SubscribeTimeout` when no answer comes within `subscribeTimeoutMs`
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare const frames: Uint8Array[];
   *
   * for (const f of frames) client.publish(f);
   * await client.confirm(); // the relay has read them all
   * ```
   */
  async confirm(): Promise<void> {
    if (this.#closing) throw new ClientClosedError("confirm", this.#closeError);
    await this.#flushTo(this.#out.enqueued, "confirm");
    await this.#request([], SubscribeMode.add, true);
  }

  #flushTo(target: number, action = "flush"): Promise<void> {
    if (this.#out.committed >= target) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ClientClosedError(action, this.#closeError));
    return new Promise((resolve, reject) =>
      this.#flushWaiters.push({ target, action, resolve, reject })
    );
  }

  /**
   * Publishes one frame and waits until it (and everything before it) is written.
   *
   * @param frame exactly one frame
   * @returns a promise resolved once written
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare const frame: Uint8Array; // one whole frame
   *
   * await client.publishAndFlush(frame);
   * ```
   */
  publishAndFlush(frame: Uint8Array): Promise<void> {
    try {
      this.publish(frame);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.flush();
  }

  /**
   * Resolves when the outbound buffer is at most half of `maxPendingBytes`
   * (at once when it already is).
   *
   * @returns a promise that rejects with `ClientClosedError` if the client closes first
   * @example
   * ```ts
   * declare const frames: Uint8Array[];
   *
   * const client = await RelayClient.connect({ domain: "signal", maxPendingBytes: 8 << 20 });
   * for (const f of frames) {
   *   client.publish(f);
   *   await client.drain(); // waits only while more than 4 MiB are pending
   * }
   * ```
   */
  drain(): Promise<void> {
    if (this.#out.pendingBytes * 2 <= this.#maxPending) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ClientClosedError("drain", this.#closeError));
    return new Promise((resolve, reject) =>
      this.#drainWaiters.push({ target: 0, resolve, reject })
    );
  }

  /**
   * A builder for this client's domain that numbers its messages 1, 2, 3, …
   * (one builder, hence one numbering, per source per client; the numbering
   * continues across reconnects). `finish()` returns a view valid until the
   * next `begin()`; `publish()` copies it.
   *
   * @param source SourceType of the messages (default the client's `source`)
   * @returns the builder
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare const signal: Uint8Array; // an encoded ArbitrageSignal (TLV 32) payload
   *
   * const b = client.builder(20);
   * client.publish(b.begin().addTlv(32, signal).finish());
   * ```
   */
  builder(source: number = this.source): MessageBuilder {
    let b = this.#builders.get(source);
    if (b === undefined) {
      b = new MessageBuilder({ domain: this.domain, source });
      this.#builders.set(source, b);
    }
    return b;
  }

  /**
   * Changes the relay-side filter (7.8) and waits for the relay's answer.
   *
   * @param patterns topic patterns (`*`, `prefix*`, exact; e.g. `tlv.32`, `source.20`, `arbitrage_signals`)
   * @param mode `replace` (default), `add` or `remove`
   * @returns the complete filter now in effect
   * @throws {SubscribeError} `SubscribeRefused` with the relay's reason (filter unchanged), or `SubscribeTimeout`
   * @throws {ClientClosedError} when the client closes before the answer
   * @throws {FrameError} `MalformedSubscribe` for an empty or over-long pattern
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * await client.subscribe(["tlv.32"]); // ["tlv.32"]
   * await client.subscribe(["source.20"], "add"); // ["tlv.32", "source.20"]
   * ```
   */
  subscribe(patterns: readonly string[], mode: SubscribeModeName = "replace"): Promise<string[]> {
    if (this.#closing) return Promise.reject(new ClientClosedError("subscribe", this.#closeError));
    const modeValue = SubscribeMode[mode];
    if (modeValue === undefined) {
      return Promise.reject(
        new RangeError(`Cannot subscribe: mode "${String(mode)}" is not replace, add or remove`),
      );
    }
    return this.#request(patterns, modeValue, false);
  }

  /**
   * Sends a Subscribe and waits for the answer that reflects it. The request is
   * written again every `max(250 ms, subscribeTimeoutMs / 5)` while it is the
   * newest one unanswered (a relay may have dropped its answer; applying the
   * same request twice changes nothing), and given up after `subscribeTimeoutMs`.
   */
  #request(patterns: readonly string[], mode: number, confirm: boolean): Promise<string[]> {
    let frame: Uint8Array;
    try {
      frame = this.#subscribeFrame(patterns, mode);
    } catch (e) {
      return Promise.reject(e);
    }
    const requested = [...patterns];
    return new Promise<string[]>((resolve, reject) => {
      const done = () => {
        entry.settled = true;
        clearTimeout(entry.timer);
        clearInterval(entry.resend);
      };
      const entry: PendingSubscribe = {
        frame,
        mode,
        patterns: [...new Set(requested)],
        internal: false,
        confirm,
        settled: false,
        timer: undefined,
        resend: undefined,
        mark: null,
        answer: (filter, reason) => {
          if (entry.settled) return;
          done();
          if (reason === null && filter !== null) resolve(filter);
          else reject(this.#refused(requested, filter, reason ?? "answer without a filter"));
        },
        fail: (error) => {
          if (entry.settled) return;
          done();
          reject(error);
        },
      };
      const action = confirm
        ? "confirm what was published"
        : `subscribe to ${quoteList(requested)}`;
      entry.timer = setTimeout(() => {
        // Given up: out of the queue, so a lost answer cannot hold up the requests after it.
        const i = this.#pendingSubs.indexOf(entry);
        if (i >= 0) this.#pendingSubs.splice(i, 1);
        entry.fail(
          new SubscribeError(
            "SubscribeTimeout",
            `Cannot ${action} on the ${this.relayName} relay at ${this.address}: no answer within ${this.#subscribeTimeoutMs} ms`,
            { reason: "timeout", patterns: requested, filter: null },
          ),
        );
      }, this.#subscribeTimeoutMs);
      entry.resend = setInterval(() => {
        if (this.#conn === null || this.#pendingSubs.at(-1) !== entry) return;
        this.#control.push({ frame, entry });
        this.#kick();
      }, Math.max(250, this.#subscribeTimeoutMs / 5));
      this.#pendingSubs.push(entry);
      if (this.#conn !== null) {
        this.#control.push({ frame, entry });
        this.#kick();
      }
    });
  }

  /**
   * Asks the relay for frames this client missed (PROTOCOL.md 7.9, D-37): a
   * source's retained frames after a sequence (`{ source, after, upTo? }`), or
   * a snapshot (`{ snapshot: true }`: on market data the last frame per
   * instrument and TLV type, elsewhere the relay's whole window). The relay
   * applies this connection's Subscribe filter to them.
   *
   * From the call until the answer, frames of the requested source (every
   * source for 0 or a snapshot) are held; then the replayed frames are handed
   * to the receive path in sequence order, followed by the held live frames,
   * and every frame received before (live or replayed) is dropped, so nothing
   * arrives twice. Frames older than ones still waiting to be read are put in
   * front of them; call it before reading to get the replay first.
   *
   * @param options what to recover
   * @returns the relay's answer, once its frames are in the receive path
   * @throws {RecoveryError} `RecoveryRefused` with the relay's reason (status 3),
   *   `RecoveryDisabled`, `RecoveryTimeout` (no answer within
   *   `recoveryTimeoutMs`: is `recovery.enabled` off on the relay?) or
   *   `RecoveryUnavailable` (publish-only client, or `nats://`)
   * @throws {ClientClosedError} when the client closes before the answer
   * @throws {RangeError} when a value does not fit the request (u64 sequences, u32 source)
   * @example
   * ```ts
   * import type { ReceivedFrame } from "./mod.ts";
   *
   * declare const lastSeen: bigint; // the last sequence of source 20 this consumer handled
   * declare function handle(frame: ReceivedFrame): void;
   *
   * const client = await RelayClient.connect({ domain: "signal" });
   * const r = await client.recover({ source: 20, after: lastSeen });
   * if (r.status === "partial") console.warn(`lost ${lastSeen + 1n} to ${r.windowStart - 1n}`);
   * for await (const frame of client) handle(frame); // the replay, then live
   * ```
   */
  recover(options: RecoverOptions): Promise<RecoveryResult> {
    if (this.#closing) return Promise.reject(new ClientClosedError("recover", this.#closeError));
    let fields: RecoveryRequestFields;
    try {
      fields = requestFields(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const unavailable = this.#recoveryUnavailable();
    if (unavailable !== null) {
      return Promise.reject(
        this.#recoveryError("RecoveryUnavailable", fields, unavailable),
      );
    }
    return new Promise((resolve, reject) => this.#askRecovery(fields, "request", resolve, reject));
  }

  /** Why this client cannot recover, or null when it can. */
  #recoveryUnavailable(): string | null {
    if (this.#publishOnly) return "the client is publish-only: the relay replays nothing to it";
    if (this.#transport.kind === "nats") {
      return "recovery is served by a relay, not over nats:// (connect to the relay's socket)";
    }
    return null;
  }

  /** Queues a RecoveryRequest: its source's frames are held from now until the answer. */
  #askRecovery(
    fields: RecoveryRequestFields,
    reason: PendingRecovery["reason"],
    resolve: (r: RecoveryResult) => void,
    reject: (e: Error) => void,
  ): PendingRecovery {
    const entry: PendingRecovery = {
      frame: recoveryRequestFrame(this.#controlBuilder, fields),
      fields,
      reason,
      abandoned: false,
      timer: undefined,
      resolve,
      reject,
    };
    entry.timer = setTimeout(() => this.#recoveryTimedOut(entry), this.#recoveryTimeoutMs);
    this.#cover(fields.source, 1);
    this.#recoveries.push(entry);
    // The answer must be read even when nobody reads frames meanwhile.
    this.#resume();
    if (this.#conn !== null) {
      this.#control.push({ frame: entry.frame, entry: null });
      this.#kick();
    }
    return entry;
  }

  #cover(source: number, by: 1 | -1): void {
    if (source === 0 || source > 255) this.#holdingAll += by;
    else this.#holding[source]! += by;
  }

  #holds(source: number): boolean {
    return this.#holdingAll > 0 || this.#holding[source]! > 0;
  }

  #recoveryError(
    code: "RecoveryRefused" | "RecoveryDisabled" | "RecoveryTimeout" | "RecoveryUnavailable",
    f: RecoveryRequestFields,
    reason: string,
  ): RecoveryError {
    const what = f.snapshot
      ? `a snapshot${f.source === 0 ? "" : ` of source ${f.source}`}`
      : `${f.source === 0 ? "every source" : `source ${f.source}`} after ${f.after}${
        f.upTo === 0n ? "" : ` up to ${f.upTo}`
      }`;
    return new RecoveryError(
      code,
      `Cannot recover ${what} from the ${this.relayName} relay at ${this.address}: ${reason}`,
      { reason, source: f.source, snapshot: f.snapshot },
    );
  }

  /** No answer in time: the request is given up, its held frames are handed over. */
  #recoveryTimedOut(entry: PendingRecovery): void {
    if (entry.abandoned) return;
    entry.abandoned = true;
    this.#cover(entry.fields.source, -1);
    const error = this.#recoveryError(
      "RecoveryTimeout",
      entry.fields,
      `no answer within ${this.#recoveryTimeoutMs} ms (is recovery.enabled off on the relay?)`,
    );
    this.#releaseUncovered();
    if (entry.reason === "request") entry.reject(error);
    else if (!this.#autoOff) {
      // One unanswered request turns the automatic mode off until the next connection.
      this.#autoOff = true;
      this.#emit("error", { error });
    }
  }

  /**
   * Adds an event listener.
   *
   * @param type `gap`, `duplicate`, `restart`, `disconnect`, `reconnect`,
   *   `partial`, `recovered` or `error`
   * @param listener called synchronously with the event
   * @returns a function that removes the listener
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * const off = client.on("gap", (e) => console.warn(e.source, e.expected, e.got, e.missing));
   * off();
   * ```
   */
  on<K extends keyof RelayClientEventMap>(type: K, listener: RelayClientListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, set = new Set());
    set.add(listener as (event: never) => void);
    return () => this.off(type, listener);
  }

  /**
   * Removes an event listener.
   *
   * @param type the event type
   * @param listener the listener given to `on()`
   * @example
   * ```ts
   * import type { GapEvent } from "./mod.ts";
   *
   * declare const client: RelayClient;
   *
   * const onGap = (e: GapEvent) => console.warn(`source ${e.source}: ${e.missing} missing`);
   * client.on("gap", onGap);
   * client.off("gap", onGap);
   * ```
   */
  off<K extends keyof RelayClientEventMap>(type: K, listener: RelayClientListener<K>): void {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
  }

  /**
   * A snapshot of the client's counters.
   *
   * @returns the counters
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * const { framesIn, gaps } = client.stats();
   * ```
   */
  stats(): ClientStats {
    return {
      framesIn: this.#framesIn,
      bytesIn: this.#bytesIn,
      framesOut: this.#framesOut,
      bytesOut: this.#bytesOut,
      controlFramesOut: this.#controlOut,
      unconfirmedFrames: this.#conn === null ? 0 : this.#framesOut - (this.#confirmed?.frames ?? 0),
      unconfirmedBytes: this.#conn === null ? 0 : this.#bytesOut - (this.#confirmed?.bytes ?? 0),
      unconfirmedAtDisconnect: this.#unconfirmedAtDisconnect,
      discardedFrames: this.#discardedFrames,
      discardedBytes: this.#discardedBytes,
      gaps: this.#gaps,
      duplicates: this.#duplicates,
      reconnects: this.#reconnects,
      restarts: this.#restarts,
      filtered: this.#filtered,
      recoveries: this.#recoveriesDone,
      partialRecoveries: this.#partialRecoveries,
      recoveredFrames: this.#recoveredFrames,
      recoveryDuplicates: this.#recoveryDuplicates,
      bufferedFrames: this.#queue.length - this.#qHead,
      pendingBytes: this.#out.pendingBytes,
      garbageBytes: this.#reader.garbageBytes,
    };
  }

  /**
   * Resolves when the client has closed, with the error that closed it
   * (`undefined` after `close()` or an abort).
   *
   * @returns the closing error, if any
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * const err = await client.closed();
   * if (err) console.error(err.message);
   * ```
   */
  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  /**
   * Waits for the next received frame.
   *
   * @param timeoutMs give up after this long (default: wait until a frame arrives or the client closes)
   * @returns the frame, or `null` on timeout or when the client is closed and drained
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * const frame = await client.receive(1000); // null after a second without one
   * ```
   */
  receive(timeoutMs?: number): Promise<ReceivedFrame | null> {
    const f = this.#take();
    if (f !== undefined) return Promise.resolve(f);
    if (this.#ended()) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = (r: IteratorResult<ReceivedFrame>) => {
        clearTimeout(timer);
        resolve(r.done ? null : r.value);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(null);
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Iterates over received frames until the client closes. Breaking out of the
   * loop does not close the client. Use one consumer at a time.
   *
   * @returns the iterator
   * @example
   * ```ts
   * declare const client: RelayClient;
   * declare function handle(bytes: Uint8Array): void;
   *
   * for await (const frame of client) handle(frame.bytes);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    return {
      next: () => {
        const f = this.#take();
        if (f !== undefined) return Promise.resolve({ done: false, value: f });
        if (this.#ended()) return Promise.resolve(DONE);
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => Promise.resolve(DONE),
    };
  }

  /**
   * A bounded drain, then close (like nats.js `drain()`): nothing more may be
   * published, pending writes get at most `timeoutMs` (default
   * `closeTimeoutMs`, 1 s) to reach the kernel, then the connection closes,
   * reconnecting stops and the iterator ends. What could not be written is
   * discarded and reported, never dropped silently; `flush()` and `publish()`
   * after `close()` reject. Idempotent: every call resolves with the same report.
   *
   * @param options the drain's bound
   * @returns what was discarded
   * @example
   * ```ts
   * declare const client: RelayClient;
   *
   * const { discardedFrames } = await client.close();
   * if (discardedFrames > 0) console.warn(`${discardedFrames} frames were never written`);
   * ```
   */
  async close(options: CloseOptions = {}): Promise<CloseReport> {
    if (!this.#closing) {
      this.#closing = true;
      this.#stopSleeps.abort();
      if (this.#conn !== null && this.#out.pendingBytes > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          this.#flushTo(this.#out.enqueued).catch(() => {}),
          new Promise<void>((resolve) =>
            timer = setTimeout(resolve, options.timeoutMs ?? this.#closeTimeoutMs)
          ),
        ]);
        clearTimeout(timer);
      }
      this.#unread = this.#queue.length - this.#qHead;
      this.#shutdown(null, true);
    }
    await Promise.allSettled([this.#readDone, this.#pumpDone, this.#reconnectDone]);
    return {
      discardedFrames: this.#discardedFrames,
      discardedBytes: this.#discardedBytes,
      unreadFrames: this.#unread,
    };
  }

  /**
   * Same as {@linkcode close} (for `await using`).
   *
   * @returns a promise resolved when closed
   * @example
   * ```ts
   * await using client = await RelayClient.connect();
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- connection

  async #dial(): Promise<StreamConn> {
    try {
      return await this.#transport.connect();
    } catch (e) {
      throw this.#connectError(e, 1, false);
    }
  }

  #connectError(e: unknown, attempts: number, reconnecting: boolean): ConnectError {
    const reason = e instanceof TransportError ? e.reason : "other";
    const text = e instanceof Error ? e.message : String(e);
    const hint = reason !== "no_socket" && reason !== "refused"
      ? ""
      : this.#transport.kind === "nats"
      ? " (is a NATS server running there?)"
      : ` (is 'torq relay ${this.relayName}' running?)`;
    const what = reconnecting
      ? `Cannot reconnect to ${this.relayName} relay at ${this.address} after ${attempts} attempt${
        attempts === 1 ? "" : "s"
      }`
      : `Cannot connect to ${this.relayName} relay at ${this.address}`;
    return new ConnectError(`${what}: ${text}${hint}`, {
      reason,
      address: this.address,
      attempts,
      cause: e,
    });
  }

  /**
   * Makes `conn` current. On a reconnect, the hello, a re-subscribe to the last
   * confirmed filter and every unanswered request go first; `restored` runs once
   * the filter is back (at once when there is none to restore).
   */
  #attach(
    conn: StreamConn,
    reconnected: boolean,
    restored?: (filter: string[] | null, reason: string | null, wanted: readonly string[]) => void,
  ): void {
    this.#conn = conn;
    // Nothing is written on the new connection yet: nothing is unconfirmed.
    this.#confirmed = { conn, frames: this.#framesOut, bytes: this.#bytesOut };
    this.#reader.reset();
    const control: Control[] = [];
    if (this.#publishOnly) {
      const hello = new Uint8Array(HEADER_SIZE);
      encodeHeader({ relayDomain: this.domain, source: this.source }, hello);
      control.push({ frame: hello, entry: null });
    }
    let restoring = false;
    if (reconnected) {
      // Producers may have restarted while we were away: a step back is one restart event
      // (not a duplicate per frame); a step forward is still a gap (frames lost meanwhile).
      this.#seq.resume();
      const pending = this.#pendingSubs.filter((p) => !p.settled);
      const wanted = this.#filter;
      if (wanted !== null) {
        restoring = true;
        const entry: PendingSubscribe = {
          frame: this.#subscribeFrame(wanted, SubscribeMode.replace),
          mode: SubscribeMode.replace,
          patterns: wanted,
          internal: true,
          confirm: false,
          settled: false,
          timer: undefined,
          resend: undefined,
          mark: null,
          answer: (filter, reason) => {
            if (entry.settled) return;
            entry.settled = true;
            restored?.(filter, reason, wanted);
          },
          fail: () => {
            entry.settled = true;
          },
        };
        pending.unshift(entry);
      }
      this.#pendingSubs = pending;
      for (const p of pending) {
        p.mark = null;
        control.push({ frame: p.frame, entry: p });
      }
      // Unanswered recoveries are asked again, after the filter (the relay applies it to them).
      for (const r of this.#recoveries) control.push({ frame: r.frame, entry: null });
    }
    this.#control = control;
    if (reconnected && this.#autoRecovery) this.#recoverAfterReconnect();
    this.#readDone = this.#readLoop(conn);
    this.#kick();
    if (!restoring) restored?.(this.#filter, null, []);
  }

  /**
   * The automatic mode after a reconnect: for every source seen, the frames
   * after the last one received (unless such a request is already pending).
   */
  #recoverAfterReconnect(): void {
    this.#autoOff = false;
    for (const source of this.#seq.sources()) {
      const pending = this.#recoveries.some((r) =>
        !r.fields.snapshot && r.fields.upTo === 0n && r.fields.source === source
      );
      if (pending) continue;
      const after = this.#seq.last(source)!;
      this.#askRecovery({ source, after, upTo: 0n, snapshot: false }, "reconnect", noop, noop);
    }
  }

  /** The connection `conn` ended (read end, read or write error). Idempotent per connection. */
  #lost(conn: StreamConn, error: Error): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    try {
      conn.close();
    } catch {
      // already closed
    }
    this.#control = [];
    // Internal re-subscribes are rebuilt on the next connection.
    for (const p of this.#pendingSubs) if (p.internal) p.settled = true;
    // Requests given up are never answered now; the others are asked again on the next one.
    this.#recoveries = this.#recoveries.filter((r) => !r.abandoned);
    if (this.#closing) {
      this.#shutdown(error, false);
      return;
    }
    const willReconnect = this.#reconnect !== null;
    const confirmed = this.#confirmed;
    this.#confirmed = null;
    const unconfirmedFrames = this.#framesOut - (confirmed?.frames ?? this.#framesOut);
    this.#unconfirmedAtDisconnect += unconfirmedFrames;
    this.#emit("disconnect", {
      error,
      willReconnect,
      unconfirmedFrames,
      unconfirmedBytes: this.#bytesOut - (confirmed?.bytes ?? this.#bytesOut),
      pendingFrames: this.#out.pendingFrames,
      pendingBytes: this.#out.pendingBytes,
    });
    if (this.#closing) return; // a listener closed the client
    if (willReconnect) this.#reconnectDone = this.#reconnectLoop(error);
    else this.#shutdown(error, false);
  }

  async #reconnectLoop(cause: Error): Promise<void> {
    const { initialMs, maxMs, maxAttempts } = this.#reconnect!;
    const downSince = Date.now();
    await this.#readDone;
    let last: unknown = cause;
    for (let n = 1; n <= maxAttempts; n++) {
      await sleep(backoffDelay(n, { initialMs, maxMs }), this.#stopSleeps.signal);
      if (this.#closing) return;
      let conn: StreamConn;
      try {
        conn = await this.#transport.connect();
      } catch (e) {
        last = e;
        continue;
      }
      if (this.#closing) {
        conn.close();
        return;
      }
      this.#reconnects++;
      const attempt = n;
      this.#attach(conn, true, (filter, reason, wanted) => {
        if (reason !== null) this.#emit("error", { error: this.#refused(wanted, filter, reason) });
        if (this.#conn !== conn) return;
        this.#emit("reconnect", { attempt, downMs: Date.now() - downSince, filter: this.#filter });
      });
      return;
    }
    const error = this.#connectError(last, maxAttempts, true);
    this.#emit("error", { error });
    this.#shutdown(error, false);
  }

  /** Final state: everything pending fails, the iterator ends. */
  #shutdown(error: Error | null, discardUnread: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#closeError = error;
    this.#stopSleeps.abort();
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#control = [];
    this.#discard();
    const closedError = (action: string) => new ClientClosedError(action, error);
    for (const p of this.#pendingSubs) p.fail(closedError("subscribe"));
    this.#pendingSubs = [];
    for (const w of this.#flushWaiters) w.reject(closedError(w.action ?? "flush"));
    this.#flushWaiters = [];
    for (const w of this.#drainWaiters) w.reject(closedError("drain"));
    this.#drainWaiters = [];
    const recoveries = this.#recoveries;
    this.#recoveries = [];
    for (const r of recoveries) {
      clearTimeout(r.timer);
      if (r.abandoned) continue;
      r.abandoned = true;
      this.#cover(r.fields.source, -1);
      if (r.reason === "request") r.reject(closedError("recover"));
    }
    // What was held for them is still readable, unless the client is closed on purpose.
    if (discardUnread) this.#held = [];
    else this.#releaseUncovered();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (discardUnread) {
      this.#queue = [];
      this.#qHead = 0;
      this.#bufferedBytes = 0;
    }
    if (this.#qHead === this.#queue.length) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w(DONE);
    }
    this.#resume();
    this.#resolveClosed(error ?? undefined);
  }

  /** Drops what is queued for writing (closed), counting it. */
  #discard(): void {
    const gone = this.#out.clear();
    this.#discardedFrames += gone.frames;
    this.#discardedBytes += gone.bytes;
  }

  // ---------------------------------------------------------------- writing

  #kick(): void {
    if (this.#writing || this.#conn === null) return;
    if (this.#control.length === 0 && this.#out.queuedBytes === 0) return;
    this.#pumpDone = this.#pump(this.#conn);
  }

  /** The one writer: control frames first, then everything queued, one write in flight. */
  async #pump(conn: StreamConn): Promise<void> {
    this.#writing = true;
    let inData = false;
    let written = 0;
    try {
      // Yield once so a synchronous burst of publish() calls lands in the first write.
      await undefined;
      while (this.#conn === conn) {
        if (this.#control.length > 0) {
          const items = this.#control;
          this.#control = [];
          const bytes = items.length === 1 ? items[0]!.frame : concat(items.map((c) => c.frame));
          await writeAll(conn, bytes);
          this.#controlOut += items.length;
          // Everything published before these requests is now ahead of them in the stream.
          const mark: Mark = { conn, frames: this.#framesOut, bytes: this.#bytesOut };
          for (const { entry } of items) {
            if (entry !== null && entry.mark === null) entry.mark = mark;
          }
          continue;
        }
        const chunk = this.#out.take();
        if (chunk === null) break;
        inData = true;
        written = 0;
        // writeAll() by hand: when a write fails, `fail(written)` needs how far this one got.
        while (written < chunk.length) {
          written += await conn.write(written === 0 ? chunk : chunk.subarray(written));
        }
        inData = false;
        this.#framesOut += this.#out.done();
        this.#bytesOut += chunk.length;
        this.#settleWrites();
      }
    } catch (e) {
      if (inData) {
        const whole = this.#out.fail(written);
        this.#framesOut += whole.frames;
        this.#bytesOut += whole.bytes;
        this.#settleWrites();
      }
      this.#lost(conn, this.#closedByRelay(asError(e)));
    } finally {
      this.#writing = false;
      // Closed while this write was in flight: what it put back is discarded too.
      if (this.#closed) this.#discard();
    }
    // A new connection may have been attached while this write was failing.
    if (this.#conn !== null && this.#conn !== conn) this.#kick();
  }

  #settleWrites(): void {
    const done = this.#out.committed;
    let i = 0;
    const fw = this.#flushWaiters;
    while (i < fw.length && fw[i]!.target <= done) fw[i++]!.resolve();
    if (i > 0) this.#flushWaiters = fw.slice(i);
    if (this.#drainWaiters.length > 0 && this.#out.pendingBytes * 2 <= this.#maxPending) {
      const dw = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of dw) w.resolve();
    }
  }

  /**
   * The error of a connection the relay ended: end of stream, or a write the
   * peer refused (broken pipe, reset). E.g. a relay at `max_connections`
   * accepts and closes at once; the client must say so, not end silently.
   */
  #closedByRelay(cause: Error | null): Error {
    const base = `connection closed by the ${this.relayName} relay at ${this.address}`;
    if (cause === null) return new Error(base);
    const peerGone = cause instanceof Deno.errors.BrokenPipe ||
      cause instanceof Deno.errors.ConnectionReset;
    return peerGone ? new Error(`${base} (${cause.message})`, { cause }) : cause;
  }

  #subscribeFrame(patterns: readonly string[], mode: number): Uint8Array {
    return this.#controlBuilder
      .begin({ sequence: 0 })
      .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode, patterns }))
      .build();
  }

  #refused(requested: readonly string[], filter: string[] | null, reason: string): SubscribeError {
    return new SubscribeError(
      "SubscribeRefused",
      `Cannot subscribe to ${quoteList(requested)} on the ${this.relayName} relay: ${reason}`,
      { reason, patterns: requested, filter },
    );
  }

  // ---------------------------------------------------------------- reading

  async #readLoop(conn: StreamConn): Promise<void> {
    const r = this.#reader;
    let error: Error | null = null;
    try {
      while (this.#conn === conn) {
        if (this.#paused !== null) {
          await this.#paused.promise;
          continue;
        }
        const n = await conn.read(r.writable(READ_SIZE));
        if (n === null) break;
        if (n === 0) continue;
        if (this.#conn !== conn) break;
        r.commit(n);
        this.#onData();
      }
    } catch (e) {
      error = asError(e);
    }
    // A reset read (the relay closed with our bytes unread) says so like a refused write.
    this.#lost(conn, this.#closedByRelay(error));
  }

  /**
   * Scans one read's complete frames: Subscribe answers are consumed at once;
   * the other frames share one copy of the read and are taken in order
   * (recovery answers, then held or checked and delivered by `#arrive`).
   */
  #onData(): void {
    const r = this.#reader;
    const b = r.buffer;
    let n = 0;
    while (r.next()) {
      const s = r.frameStart;
      const e = r.frameEnd;
      this.#framesIn++;
      this.#bytesIn += e - s;
      if (isSubscribeAnswer(b, s, e)) {
        this.#onAnswer(b.subarray(s, e));
        continue;
      }
      if (n === this.#starts.length) this.#growScratch();
      this.#starts[n] = s;
      this.#ends[n] = e;
      n++;
    }
    if (n === 0 || this.#closed) return;
    const base = this.#starts[0]!;
    const copy = b.slice(base, this.#ends[n - 1]!);
    for (let i = 0; i < n; i++) {
      const s = this.#starts[i]! - base;
      const e = this.#ends[i]! - base;
      if (isRecoveryAnswer(copy, s, e)) this.#onRecoveryAnswer(copy.subarray(s, e));
      else this.#arrive(copy, s, e, null);
      if (this.#closed) return;
    }
  }

  /** One received frame: held while its source is being recovered, else passed on. */
  #arrive(b: Uint8Array, s: number, e: number, frame: ReceivedFrame | null): void {
    if (this.#holds(b[s + 6]!)) {
      this.#held.push(frame ?? new ReceivedFrame(b.subarray(s, e)));
      return;
    }
    this.#pass(b, s, e, frame, 0);
  }

  /**
   * The sequence check, then the local filter, then delivery. A gap may start
   * an automatic recovery (or a gap listener may call `recover()`): the frame
   * is then held, unchecked, behind the missing ones.
   *
   * @returns whether the frame was delivered
   */
  #pass(b: Uint8Array, s: number, e: number, frame: ReceivedFrame | null, flags: number): boolean {
    const v = this.#seq.check(b, s);
    if (v >= SequenceVerdict.gap) {
      const src = b[s + 6]!;
      if (v === SequenceVerdict.gap && (flags & QUIET_GAPS) !== 0) {
        // A snapshot's frames skip sequences by nature; none of this is a loss.
      } else if (v === SequenceVerdict.gap && (flags & NO_AUTO) === 0 && this.#autoGap(b, s)) {
        this.#held.push(frame ?? new ReceivedFrame(b.subarray(s, e)));
        return false;
      } else {
        this.#onSequence(v, b, s);
        if (v === SequenceVerdict.gap && this.#holds(src)) {
          // A gap listener asked for the missing frames: this one waits behind them.
          const got = readSequence(b, s);
          this.#seq.undo();
          this.#missing.deleteRange(src, this.#seq.last(src)! + 1n, got - 1n);
          this.#held.push(frame ?? new ReceivedFrame(b.subarray(s, e)));
          return false;
        }
      }
    }
    const local = this.#local;
    if (local !== null && !local.matchesBytes(b, s, e)) {
      this.#filtered++;
      return false;
    }
    const f = frame ?? new ReceivedFrame(b.subarray(s, e));
    const predicate = local?.predicate ?? null;
    if (predicate !== null && !this.#keep(predicate, f)) {
      this.#filtered++;
      return false;
    }
    this.#deliver(f);
    return true;
  }

  /**
   * The automatic mode on a gap: takes the check back and asks for the missing
   * range, unless a retransmit already covered it (the relay holds nothing
   * more of it for this connection) or the mode is off.
   *
   * @returns whether a recovery was started (the caller holds the frame)
   */
  #autoGap(b: Uint8Array, s: number): boolean {
    if (!this.#autoRecovery || this.#autoOff || this.#closing) return false;
    const src = b[s + 6]!;
    const got = readSequence(b, s);
    if (got - 1n <= this.#recoveredUpTo[src]!) return false;
    const last = this.#seq.previous();
    this.#seq.undo();
    this.#askRecovery(
      { source: src, after: last, upTo: got - 1n, snapshot: false },
      "gap",
      noop,
      noop,
    );
    return true;
  }

  /** Whether `sequence` of `source`, at or below the last one checked, was never received. */
  #unseen(source: number, sequence: bigint): boolean {
    const first = this.#seq.first(source);
    return first === undefined || sequence < first || this.#missing.has(source, sequence);
  }

  /**
   * A RecoveryResponse: it answers the oldest request unanswered (the relay
   * answers in order). Its replayed frames are the last `frames` frames held
   * (they came just before it); they are handed over first, then the held live
   * frames whose source no request covers any more.
   */
  #onRecoveryAnswer(frame: Uint8Array): void {
    const entry = this.#recoveries.shift();
    if (entry === undefined) return; // not ours to answer: a request given up on an earlier connection
    let answer: RecoveryAnswer;
    try {
      answer = parseRecoveryAnswer(frame);
    } catch (e) {
      answer = {
        status: RecoveryStatus.malformed,
        frames: 0,
        first: 0n,
        last: 0n,
        windowStart: 0n,
        reason: `malformed answer from the relay: ${asError(e).message}`,
      };
    }
    if (entry.abandoned) return;
    clearTimeout(entry.timer);
    this.#cover(entry.fields.source, -1);
    const ok = answer.status === RecoveryStatus.complete ||
      answer.status === RecoveryStatus.partial;
    const replayed = ok ? this.#held.splice(Math.max(0, this.#held.length - answer.frames)) : [];
    const f = entry.fields;
    if (!f.snapshot) {
      const covered = f.upTo === 0n ? answer.last : f.upTo;
      const src = f.source;
      if (src !== 0 && src < 256 && covered > this.#recoveredUpTo[src]!) {
        this.#recoveredUpTo[src] = covered;
      }
    }
    const partial = answer.status === RecoveryStatus.partial;
    if (partial) {
      this.#partialRecoveries++;
      this.#emit("partial", {
        source: f.source,
        firstLost: f.after + 1n,
        windowStart: answer.windowStart,
        auto: entry.reason !== "request",
      });
    }
    const { delivered, duplicates } = this.#release(replayed, f.snapshot);
    if (!ok) {
      const refused = answer.status === RecoveryStatus.malformed;
      const error = this.#recoveryError(
        refused ? "RecoveryRefused" : "RecoveryDisabled",
        f,
        answer.reason ??
          (refused ? `refused (status ${answer.status})` : "recovery is disabled on the relay"),
      );
      if (entry.reason === "request") entry.reject(error);
      else this.#emit("error", { error });
      return;
    }
    this.#recoveriesDone++;
    const result: RecoveryResult = {
      status: partial ? "partial" : "complete",
      frames: answer.frames,
      first: answer.first,
      last: answer.last,
      windowStart: answer.windowStart,
      delivered,
      duplicates,
    };
    this.#emit("recovered", {
      reason: entry.reason,
      source: f.source,
      snapshot: f.snapshot,
      after: f.after,
      upTo: f.upTo,
      ...result,
    });
    entry.resolve(result);
  }

  /**
   * Hands over the replayed frames (sorted by sequence for a snapshot) and the
   * held frames whose source no request covers any more, merged per source by
   * sequence (`mergeReplay`). A replayed frame above its source's last
   * sequence is checked like a live one; one at or below it is delivered only
   * if it was never received (older than the first one, or in a gap), in
   * front of newer queued frames. The relay sends a frame once per answer, so
   * a replayed frame with the sequence of the one before it (two producers
   * sharing a source value) takes the same way.
   */
  #release(
    replayed: ReceivedFrame[],
    snapshot: boolean,
  ): { delivered: number; duplicates: number } {
    this.#batching = true;
    let delivered = 0;
    const older: ReceivedFrame[] = [];
    const keep: ReceivedFrame[] = [];
    const live: ReceivedFrame[] = [];
    for (const f of this.#held) (this.#holds(f.source) ? keep : live).push(f);
    this.#held = keep;
    const merged = mergeReplay(snapshot ? bySequence(replayed) : replayed, live, snapshot);
    let duplicates = merged.duplicates;
    try {
      const flags = NO_AUTO | (snapshot ? QUIET_GAPS : 0);
      // Per source, the sequence of the previous replayed frame and whether it went in front.
      const previous = new Map<number, { q: bigint; older: boolean }>();
      for (const { frame: f, replayed } of merged.order) {
        if (!replayed) {
          this.#arrive(f.bytes, 0, f.bytes.length, f);
          continue;
        }
        const src = f.source;
        const q = f.sequence;
        const last = this.#seq.last(src);
        const prev = previous.get(src);
        if (q !== 0n) previous.set(src, { q, older: false });
        if (prev !== undefined && q === prev.q) {
          // Another producer's frame with the same number: never a repeat within one answer.
          if (!this.#passesLocal(f)) continue;
          if (prev.older) older.push(f);
          else this.#deliver(f);
          previous.set(src, prev);
          delivered++;
        } else if (q === 0n || last === undefined || q > last) {
          if (this.#pass(f.bytes, 0, f.bytes.length, f, flags)) delivered++;
        } else if (this.#unseen(src, q)) {
          previous.set(src, { q, older: true });
          this.#missing.delete(src, q);
          if (this.#passesLocal(f)) {
            older.push(f);
            delivered++;
          }
        } else duplicates++;
      }
      if (older.length > 0) this.#putOlder(older);
    } finally {
      this.#batching = false;
    }
    this.#recoveredFrames += delivered;
    this.#recoveryDuplicates += duplicates;
    this.#wakeWaiters();
    return { delivered, duplicates };
  }

  /**
   * Hands over the held frames whose source no request covers any more (a
   * request given up). Without its answer replayed and live frames cannot be
   * told apart, so each is judged on its own, like a replayed one.
   */
  #releaseUncovered(): void {
    const keep: ReceivedFrame[] = [];
    const loose: ReceivedFrame[] = [];
    for (const f of this.#held) (this.#holds(f.source) ? keep : loose).push(f);
    this.#held = keep;
    if (loose.length > 0) this.#release(loose, false);
  }

  /** Whether the local filter keeps `f` (counted when it does not). */
  #passesLocal(f: ReceivedFrame): boolean {
    const local = this.#local;
    if (local === null) return true;
    if (!local.matchesBytes(f.bytes, 0, f.bytes.length)) {
      this.#filtered++;
      return false;
    }
    const predicate = local.predicate;
    if (predicate !== null && !this.#keep(predicate, f)) {
      this.#filtered++;
      return false;
    }
    return true;
  }

  /**
   * Frames older than frames already queued go in front of them (see
   * `mergeOlder`); a source's first sequence moves down to the oldest, and
   * what lies between them and the frames received before is missing.
   */
  #putOlder(older: ReceivedFrame[]): void {
    const queued = this.#queue.slice(this.#qHead) as ReceivedFrame[];
    this.#queue = mergeOlder(queued, older);
    this.#qHead = 0;
    const bySource = new Map<number, bigint[]>();
    for (const f of older) {
      this.#bufferedBytes += f.bytes.length;
      const q = f.sequence;
      const first = this.#seq.first(f.source);
      if (q === 0n || first === undefined || q >= first) continue;
      let list = bySource.get(f.source);
      if (list === undefined) bySource.set(f.source, list = []);
      list.push(q);
    }
    for (const [src, seqs] of bySource) {
      seqs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const first = this.#seq.first(src)!;
      for (let i = 0; i < seqs.length; i++) {
        const next = i + 1 < seqs.length ? seqs[i + 1]! : first;
        this.#missing.add(src, seqs[i]! + 1n, next - 1n);
      }
      this.#seq.extendFirst(src, seqs[0]!);
    }
  }

  /** Hands queued frames to waiting readers (after a batch that only queued). */
  #wakeWaiters(): void {
    while (this.#waiters.length > 0) {
      const f = this.#take();
      if (f === undefined) break;
      this.#waiters.shift()!({ done: false, value: f });
    }
    this.#pauseIfFull();
  }

  #keep(predicate: (f: ReceivedFrame) => boolean, f: ReceivedFrame): boolean {
    try {
      return predicate(f);
    } catch (e) {
      this.#emit("error", { error: asError(e) });
      return false;
    }
  }

  #onSequence(v: SequenceVerdict, b: Uint8Array, s: number): void {
    const source = b[s + 6]!;
    const last = this.#seq.previous();
    const got = readSequence(b, s);
    if (v === SequenceVerdict.restart) {
      this.#missing.clear(source);
      this.#restarts++;
      this.#emit("restart", { source, last, got });
    } else if (v === SequenceVerdict.gap) {
      this.#missing.add(source, last + 1n, got - 1n);
      this.#gaps++;
      this.#emit("gap", { source, expected: last + 1n, got, missing: got - last - 1n });
    } else {
      this.#duplicates++;
      this.#emit("duplicate", { source, last, got });
    }
  }

  #onAnswer(frame: Uint8Array): void {
    let filter: string[] | null = null;
    let reason: string | null = null;
    try {
      for (const rec of walkTlvs(frame, HEADER_SIZE, frame.length)) {
        if (rec.type === SUBSCRIBE_TLV && filter === null) {
          filter = parseSubscribe(rec.value).patterns;
        } else if (rec.type === ERROR_TLV && reason === null) reason = decodeErrorText(rec.value);
      }
    } catch (e) {
      reason = `malformed answer from the relay: ${asError(e).message}`;
    }
    // Which request does it answer? The relay answers in order, with the complete filter after
    // the request (unchanged after a refusal). A success answers the first pending request the
    // filter reflects, a refusal the first one it does not; requests before that one were read
    // by the relay before it, their answers lost: they settle with this filter too. An answer
    // that fits none is late (its request timed out) or repeated (a request written twice).
    const pending = this.#pendingSubs;
    const has = new Set(filter ?? []);
    const refusal = reason !== null || filter === null;
    const k = pending.findIndex((p) => refusal !== (filter !== null && reflects(p, filter, has)));
    if (
      filter !== null &&
      (this.#filter !== null || k < 0 || pending.slice(0, k + 1).some((p) => !p.confirm))
    ) {
      this.#filter = filter;
    }
    if (k < 0) return;
    const settled = pending.splice(0, k + 1);
    for (const p of settled) {
      const mark = p.mark;
      if (
        mark !== null && mark.conn === this.#conn && mark.frames > (this.#confirmed?.frames ?? 0)
      ) {
        this.#confirmed = mark;
      }
      p.answer(filter, p === settled[k] ? reason : null);
    }
  }

  #deliver(f: ReceivedFrame): void {
    if (!this.#batching) {
      const w = this.#waiters.shift();
      if (w !== undefined) {
        w({ done: false, value: f });
        return;
      }
    }
    this.#queue.push(f);
    this.#bufferedBytes += f.bytes.length;
    this.#pauseIfFull();
  }

  /**
   * Pauses reading above `maxBufferedBytes`, unless a recovery is unanswered:
   * its answer must be read (the replay is bounded by the relay's window).
   */
  #pauseIfFull(): void {
    if (this.#bufferedBytes <= this.#maxBuffered || this.#paused !== null) return;
    if (this.#recoveries.some((r) => !r.abandoned)) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#paused = { promise, resolve };
  }

  #take(): ReceivedFrame | undefined {
    if (this.#qHead === this.#queue.length) return undefined;
    const f = this.#queue[this.#qHead]!;
    this.#queue[this.#qHead++] = undefined;
    if (this.#qHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#qHead = 0;
    } else if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead);
      this.#qHead = 0;
    }
    this.#bufferedBytes -= f.bytes.length;
    if (this.#paused !== null && this.#bufferedBytes * 2 <= this.#maxBuffered) this.#resume();
    return f;
  }

  #ended(): boolean {
    return this.#closed && this.#qHead === this.#queue.length;
  }

  #resume(): void {
    const p = this.#paused;
    this.#paused = null;
    p?.resolve();
  }

  #growScratch(): void {
    const grow = (a: Int32Array) => {
      const g = new Int32Array(a.length * 2);
      g.set(a);
      return g;
    };
    this.#starts = grow(this.#starts);
    this.#ends = grow(this.#ends);
  }

  // ---------------------------------------------------------------- events

  #emit<K extends keyof RelayClientEventMap>(type: K, event: RelayClientEventMap[K]): void {
    const set = this.#listeners.get(type);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as RelayClientListener<K>)(event);
      } catch (e) {
        if (type !== "error") this.#emit("error", { error: asError(e) });
      }
    }
  }
}

function noop(): void {}

function resolveDomain(d: DomainOption): number {
  if (typeof d === "number") {
    if (!Number.isInteger(d) || d < 1 || d > 4) {
      throw new RangeError(`Cannot create relay client: domain ${d} is not 1–4`);
    }
    return d;
  }
  if (Object.hasOwn(DOMAIN_NUMBERS, d)) return DOMAIN_NUMBERS[d];
  throw new RangeError(`Cannot create relay client: domain "${String(d)}" is unknown`);
}

/** Whether the filter `f` (as the set `has`) is what request `p` asked for. */
function reflects(p: PendingSubscribe, f: readonly string[], has: ReadonlySet<string>): boolean {
  if (p.mode === SubscribeMode.replace) {
    return f.length === p.patterns.length && p.patterns.every((x) => has.has(x));
  }
  if (p.mode === SubscribeMode.add) return p.patterns.every((x) => has.has(x));
  return p.patterns.every((x) => !has.has(x));
}

/** Whether the frame is a relay's answer to a Subscribe: domain 4, first TLV 113. */
function isSubscribeAnswer(b: Uint8Array, s: number, e: number): boolean {
  if (b[s + 4] !== 4 || e - s < HEADER_SIZE + 2) return false;
  const t = b[s + HEADER_SIZE]!;
  return t === SUBSCRIBE_TLV ||
    (t === 255 && e - s >= HEADER_SIZE + 3 && b[s + HEADER_SIZE + 2] === SUBSCRIBE_TLV);
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function quoteList(patterns: readonly string[]): string {
  return `[${patterns.map((p) => JSON.stringify(p)).join(", ")}]`;
}
