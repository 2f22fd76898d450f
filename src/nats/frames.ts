/**
 * NATS as a transport (PROTOCOL.md 7.12): one Protocol V2 frame per NATS
 * message, no extra framing, on the subject `<prefix>.<domain>`
 * (`torq.market_data`, `torq.signals`, `torq.execution`, `torq.system`).
 *
 * The pieces:
 *
 * - {@linkcode NatsFrameConn}: a {@linkcode StreamConn} whose `read()` returns
 *   the bytes of frames received from NATS and whose `write()` hands whole
 *   frames to a publisher. A relay serves it like any client connection
 *   (`Relay.attachConnection`), which is how the bridge works; RelayClient
 *   reads and writes it like a socket.
 * - {@linkcode CorePublisher}: publishes each frame of a written chunk as one
 *   message (no await per message) with the `Torq-Origin` header, then waits
 *   for one flush round trip per chunk, and counts what it could not confirm.
 * - {@linkcode NatsTransport}: what `RelayClient` uses for `nats://` paths. It
 *   plays the relay's control plane locally: hello frames are not published,
 *   Subscribe requests are answered at once and their patterns applied to the
 *   frames received (there is no relay on the other side to filter them).
 *
 * @module
 */

import {
  type ConnectionOptions,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NatsConnectionImpl,
  setTransportFactory,
  type Subscription,
} from "@nats-io/transport-node";
// The client's Node socket transport, extended below so that a refused connection cannot crash us.
import { nodeResolveHost, NodeTransport } from "@nats-io/transport-node/lib/node_transport.js";
import type { Socket } from "node:net";
import {
  encodeSubscribe,
  HEADER_SIZE,
  MAGIC,
  MAX_MESSAGE_SIZE,
  MessageBuilder,
  parseSubscribe,
  PROTOCOL_VERSION,
  readPayloadSize,
  readTlvAt,
  readU32,
  RELAY_SOURCE,
  SUBSCRIBE_TLV,
  SubscribeMode,
  TlvCursor,
} from "../protocol/mod.ts";
import { type StreamConn, type Transport, TransportError } from "../transport/mod.ts";

/** Sockets already given a lasting `error` listener. */
const guardedSockets = new WeakSet<Socket>();
const ignoreSocketError = (): void => {};

/**
 * Keeps an `error` listener on a socket for its whole life. The NATS client
 * removes every listener of a socket when it closes it, e.g. after the server
 * answered `-ERR 'Authorization Violation'`; when the server's reset arrives
 * a moment later, Node emits `read ECONNRESET` on a socket without an `error`
 * listener, and an unhandled `error` event ends the process. The client learns
 * of the failure from its own listeners and the protocol; this one only
 * absorbs what comes after.
 */
function guardSocket(socket: Socket | undefined): void {
  if (socket === undefined || guardedSockets.has(socket)) return;
  guardedSockets.add(socket);
  socket.on("error", ignoreSocketError);
  const removeAll = socket.removeAllListeners;
  socket.removeAllListeners = function (this: Socket, ...event: [string | symbol] | []) {
    removeAll.apply(this, event);
    if (this.listenerCount("error") === 0) this.on("error", ignoreSocketError);
    return this;
  };
}

/** The Node transport with {@linkcode guardSocket} applied to every socket it uses. */
class GuardedNodeTransport extends NodeTransport {
  override async dial(hp: { hostname: string; port: number }): Promise<Socket> {
    const socket = await super.dial(hp);
    guardSocket(socket);
    return socket;
  }

  override setupHandlers(): void {
    // After a TLS upgrade the socket is a new one.
    guardSocket(this.socket);
    super.setupHandlers();
  }
}

/**
 * Connects to NATS like the client's `connect()`, over a socket transport on
 * which a refused connection (wrong credentials, a server that resets it) is
 * an error returned to the caller, never an uncaught exception. Every NATS
 * connection of Torq is made here.
 *
 * @param options the client's connection options
 * @returns the connection
 * @throws {Error} the client's error when no server accepts the connection
 * @example
 * ```ts
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222", user: "torq", pass: "secret" });
 * ```
 */
export function connectNats(options: ConnectionOptions): Promise<NatsConnection> {
  // The factory is global in the client and read at every (re)connect; the client's own
  // connect() sets it too, so it is set again each time.
  setTransportFactory({ factory: () => new GuardedNodeTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(options);
}

/** Header naming the bridge or client instance that published a message (loop prevention). */
export const ORIGIN_HEADER = "Torq-Origin";

/**
 * Headers carrying `Torq-Origin: <origin>`, encoded once: the client encodes a
 * message's headers on every publish, which would cost more than the rest of
 * the publish for small frames.
 *
 * @param origin the instance id
 * @returns headers to pass with every publish
 * @example
 * ```ts
 * import type { NatsConnection } from "@nats-io/transport-node";
 * declare const nc: NatsConnection;
 * declare const frame: Uint8Array;
 *
 * nc.publish("torq.signals", frame, { headers: originHeaders(newOriginId()) });
 * ```
 */
export function originHeaders(origin: string): MsgHdrs {
  const h = headers();
  h.set(ORIGIN_HEADER, origin);
  const impl = h as unknown as { encode?: () => Uint8Array };
  if (typeof impl.encode === "function") {
    const bytes = impl.encode();
    impl.encode = () => bytes;
  }
  return h;
}

/**
 * Whether a received message carries `Torq-Origin: <origin>`. Looks for the
 * header line in the raw header block when the client exposes it (no header
 * parsing per message), else reads the parsed headers.
 *
 * @param msg the message
 * @param line the bytes of `Torq-Origin: <origin>`, from {@linkcode originLine}
 * @param origin the instance id
 * @returns true for the instance's own messages
 * @example
 * ```ts
 * import type { Msg, NatsConnection } from "@nats-io/transport-node";
 * declare const nc: NatsConnection;
 * declare const origin: string;
 * declare function handle(m: Msg): void;
 *
 * const own = originLine(origin);
 * nc.subscribe("torq.signals", {
 *   callback: (_e, m) => {
 *     if (!hasOrigin(m, own, origin)) handle(m);
 *   },
 * });
 * ```
 */
export function hasOrigin(msg: Msg, line: Uint8Array, origin: string): boolean {
  const raw = msg as unknown as { _msg?: { hdr?: number }; _rdata?: Uint8Array };
  const hdr = raw._msg?.hdr;
  const data = raw._rdata;
  if (typeof hdr === "number" && data instanceof Uint8Array) {
    if (hdr < 0) return false;
    return indexOf(data, line, hdr) >= 0;
  }
  return msg.headers?.get(ORIGIN_HEADER) === origin;
}

/**
 * The bytes {@linkcode hasOrigin} looks for.
 *
 * @param origin the instance id
 * @returns `Torq-Origin: <origin>` as bytes
 * @example
 * ```ts
 * new TextDecoder().decode(originLine("ab")); // "Torq-Origin: ab\r"
 * ```
 */
export function originLine(origin: string): Uint8Array {
  return new TextEncoder().encode(`${ORIGIN_HEADER}: ${origin}\r`);
}

function indexOf(hay: Uint8Array, needle: Uint8Array, end: number): number {
  const first = needle[0]!;
  const last = end - needle.length;
  outer: for (let i = 0; i <= last; i++) {
    if (hay[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Subject suffix of each wire domain (PROTOCOL.md 7.12). */
export const NATS_DOMAIN_SUBJECTS: Readonly<Record<number, string>> = {
  1: "market_data",
  2: "signals",
  3: "execution",
  4: "system",
};

/** Default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = "torq";

/**
 * The subject of a domain.
 *
 * @param prefix subject prefix (e.g. `torq`)
 * @param domain canonical domain 1–4
 * @returns `<prefix>.<domain subject>`
 * @throws {RangeError} for a domain outside 1–4
 * @example
 * ```ts
 * natsSubject("torq", 2); // "torq.signals"
 * ```
 */
export function natsSubject(prefix: string, domain: number): string {
  const name = NATS_DOMAIN_SUBJECTS[domain];
  if (name === undefined) throw new RangeError(`Cannot name a NATS subject: domain ${domain}`);
  return `${prefix}.${name}`;
}

/**
 * Whether a client path names NATS servers (`nats://…`).
 *
 * @param text a socket path or address
 * @returns true for `nats://` addresses
 * @example
 * ```ts
 * isNatsAddress("nats://127.0.0.1:4222"); // true
 * ```
 */
export function isNatsAddress(text: string): boolean {
  return /^nats:\/\//i.test(text.trim());
}

/**
 * Splits `nats://a:4222,nats://b:4222` into server URLs, checking each.
 *
 * @param text one URL or a comma-separated list
 * @returns the server URLs
 * @throws {TransportError} `other` when one is not `nats://HOST:PORT`
 * @example
 * ```ts
 * parseNatsServers("nats://127.0.0.1:4222"); // ["nats://127.0.0.1:4222"]
 * ```
 */
export function parseNatsServers(text: string): string[] {
  const servers = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const s of servers) {
    if (!/^nats:\/\/(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)(?::\d{1,5})?$/i.test(s)) {
      throw new TransportError("other", `"${s}" is not a NATS address: expected nats://HOST:PORT`);
    }
  }
  if (servers.length === 0) {
    throw new TransportError("other", `"${text}" names no NATS server: expected nats://HOST:PORT`);
  }
  return servers;
}

/**
 * A random id naming one bridge or client instance in the `Torq-Origin` header.
 *
 * @returns 16 hex digits
 * @example
 * ```ts
 * newOriginId(); // "3f9c0a1e5b7d2c48"
 * ```
 */
export function newOriginId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** What a NATS message must be to enter a frame stream: see {@linkcode natsMessageProblem}. */
export interface NatsMessageLimits {
  /** Largest whole frame, header included (a relay's `max_message_size`; default 1 MiB). */
  maxMessageSize?: number;
  /** The wire `relay_domain` every frame must carry (default: any). */
  domain?: number;
}

/**
 * Why a NATS message may not enter a frame stream, or null when it is exactly
 * one frame within the limits. On a bus every message has known bounds, so a
 * message that is not one well-formed frame is refused whole: once its bytes
 * were in a stream, a reader would resynchronise inside it (forwarding a frame
 * embedded in it) or read a forged header in its tail that swallows the next
 * messages.
 *
 * Checked: at least a header, the magic at offset 0, version 1,
 * `32 + payload_size` equal to the message's length and at most
 * `maxMessageSize`, and the domain.
 *
 * @param b the message's data
 * @param limits the reader's size and domain
 * @returns the reason in a few words, or null
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * natsMessageProblem(frame, { maxMessageSize: 32_768, domain: 2 }); // null
 * natsMessageProblem(new Uint8Array(10)); // "10 bytes, shorter than a header"
 * ```
 */
export function natsMessageProblem(b: Uint8Array, limits: NatsMessageLimits = {}): string | null {
  if (b.length < HEADER_SIZE) return `${b.length} bytes, shorter than a header`;
  if (readU32(b, 0) !== MAGIC) return "no magic at offset 0";
  if (b[5] !== PROTOCOL_VERSION) return `version ${b[5]}, expected ${PROTOCOL_VERSION}`;
  const size = HEADER_SIZE + readPayloadSize(b, 0);
  if (size !== b.length) return `payload_size says ${size} bytes, the message has ${b.length}`;
  const max = limits.maxMessageSize ?? MAX_MESSAGE_SIZE;
  if (size > max) return `${size} bytes, over the limit of ${max}`;
  if (limits.domain !== undefined && b[4] !== limits.domain) {
    return `relay_domain ${b[4]}, expected ${limits.domain}`;
  }
  return null;
}

/**
 * Cuts a byte stream of whole frames into frames by `payload_size`, carrying a
 * frame cut by the end of one chunk over to the next (writers usually write
 * whole frames; a short write may cut one).
 *
 * @example
 * ```ts
 * declare const chunk: Uint8Array;
 * declare function publish(frame: Uint8Array): void;
 *
 * const s = new FrameSplitter();
 * s.split(chunk, (frame) => publish(frame)); // frames are zero-copy subarrays of chunk
 * ```
 */
export class FrameSplitter {
  #carry: Uint8Array | null = null;
  #carried = 0;

  /** Bytes held of a frame cut by the end of the last chunk. */
  get carried(): number {
    return this.#carried;
  }

  /**
   * Calls `fn` with each whole frame of `chunk` (subarrays of `chunk`, or a copy
   * for a frame completed from a carried head).
   *
   * @param chunk the next bytes of the stream
   * @param fn called per frame, in order
   * @returns frames found
   * @throws {RangeError} when the stream is not at a frame boundary (bad magic)
   */
  split(chunk: Uint8Array, fn: (frame: Uint8Array) => void): number {
    let off = 0;
    let n = 0;
    if (this.#carry !== null) {
      off = this.#fill(chunk);
      if (this.#carry !== null && this.#carried === this.#carry.length) {
        const frame = this.#carry;
        this.#carry = null;
        this.#carried = 0;
        fn(frame);
        n++;
      } else if (this.#carry !== null) {
        return 0;
      }
    }
    while (off < chunk.length) {
      if (chunk.length - off < HEADER_SIZE) {
        this.#keep(chunk.subarray(off), -1);
        break;
      }
      if (readU32(chunk, off) !== MAGIC) {
        throw new RangeError(`Cannot split frames: no magic at offset ${off} of a written chunk`);
      }
      const size = HEADER_SIZE + readPayloadSize(chunk, off);
      if (off + size > chunk.length) {
        this.#keep(chunk.subarray(off), size);
        break;
      }
      fn(chunk.subarray(off, off + size));
      off += size;
      n++;
    }
    return n;
  }

  #keep(head: Uint8Array, size: number): void {
    // Size unknown until the header is complete: keep up to a header's worth first.
    this.#carry = new Uint8Array(size < 0 ? HEADER_SIZE : size);
    this.#carry.set(head);
    this.#carried = head.length;
  }

  #fill(chunk: Uint8Array): number {
    let carry = this.#carry!;
    let used = Math.min(carry.length - this.#carried, chunk.length);
    carry.set(chunk.subarray(0, used), this.#carried);
    this.#carried += used;
    if (carry.length === HEADER_SIZE && this.#carried === HEADER_SIZE) {
      const size = HEADER_SIZE + readPayloadSize(carry, 0);
      if (size > HEADER_SIZE) {
        const grown = new Uint8Array(size);
        grown.set(carry);
        this.#carry = carry = grown;
        const more = Math.min(size - this.#carried, chunk.length - used);
        carry.set(chunk.subarray(used, used + more), this.#carried);
        this.#carried += more;
        used += more;
      }
    }
    return used;
  }
}

/** Options of a {@linkcode NatsFrameConn}. */
export interface NatsFrameConnOptions {
  /** Handles each written chunk (whole frames, possibly cut at the end); resolves when done. */
  write?: (chunk: Uint8Array) => Promise<void> | void;
  /** Called once when the connection closes (by either side). */
  onClose?: () => void;
  /** Frames to yield before anything received (e.g. a hello). */
  preamble?: readonly Uint8Array[];
  /** Most bytes queued for reading; `push()` refuses more (default 64 MiB). */
  maxQueuedBytes?: number;
}

/**
 * A byte stream over NATS messages: `read()` returns the bytes of frames
 * {@linkcode push}ed (received from NATS), several frames per read when they
 * fit; `write()` hands chunks to the publisher given in the options.
 *
 * A frame's `onHanded` callback runs once the reader came back for more after
 * the read that returned its last byte: a relay processes everything a read
 * returned (validation, journal, fan-out) before it reads again, so this is
 * when a JetStream message may be acknowledged.
 *
 * @example
 * ```ts
 * import type { NatsConnection } from "@nats-io/transport-node";
 * import type { StreamConn } from "../transport/mod.ts";
 * declare const nc: NatsConnection;
 * declare const publisher: CorePublisher;
 * declare const relay: { attachConnection(conn: StreamConn, label: string): number };
 *
 * const conn = new NatsFrameConn({ write: (chunk) => publisher.publish(chunk) });
 * nc.subscribe("torq.signals", { callback: (_e, m) => void conn.push(m.data) });
 * relay.attachConnection(conn, "bridge:nats");
 * ```
 */
export class NatsFrameConn implements StreamConn {
  #frames: (Uint8Array | undefined)[] = [];
  #acks: ((() => void) | null)[] = [];
  #head = 0;
  #offset = 0;
  #queuedBytes = 0;
  #handed: (() => void)[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  readonly #write: ((chunk: Uint8Array) => Promise<void> | void) | null;
  readonly #onClose: (() => void) | null;
  readonly #maxQueued: number;

  /**
   * Makes a connection; `preamble` frames are queued for reading at once.
   *
   * @param options publisher, close callback, preamble, inbound bound
   */
  constructor(options: NatsFrameConnOptions = {}) {
    this.#write = options.write ?? null;
    this.#onClose = options.onClose ?? null;
    this.#maxQueued = options.maxQueuedBytes ?? 67_108_864;
    for (const f of options.preamble ?? []) this.push(f);
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Frames received and not yet read (the inbound lag). */
  get queuedFrames(): number {
    return this.#frames.length - this.#head;
  }

  /** Bytes received and not yet read. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Queues one received frame for reading.
   *
   * @param frame the message data (kept, not copied, until read)
   * @param onHanded runs once the frame was handed to the reader and processed
   * @returns false when closed or over `maxQueuedBytes` (the frame is not queued)
   */
  push(frame: Uint8Array, onHanded: (() => void) | null = null): boolean {
    if (this.#closed || this.#queuedBytes + frame.length > this.#maxQueued) return false;
    this.#frames.push(frame);
    this.#acks.push(onHanded);
    this.#queuedBytes += frame.length;
    const wake = this.#wake;
    if (wake !== null) {
      this.#wake = null;
      wake();
    }
    return true;
  }

  /**
   * Copies queued frames into `p` (whole frames while they fit, then the head
   * of the next); waits while none is queued.
   *
   * @param p the buffer
   * @returns bytes copied, or null once closed
   */
  async read(p: Uint8Array): Promise<number | null> {
    this.#settle();
    while (this.#head === this.#frames.length) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#closed) return null;
    let n = 0;
    while (n < p.length && this.#head < this.#frames.length) {
      const f = this.#frames[this.#head]!;
      const take = Math.min(f.length - this.#offset, p.length - n);
      p.set(
        this.#offset === 0 && take === f.length ? f : f.subarray(this.#offset, this.#offset + take),
        n,
      );
      n += take;
      this.#offset += take;
      this.#queuedBytes -= take;
      if (this.#offset === f.length) {
        const ack = this.#acks[this.#head];
        if (ack) this.#handed.push(ack);
        this.#frames[this.#head] = undefined;
        this.#acks[this.#head] = null;
        this.#head++;
        this.#offset = 0;
      }
    }
    if (this.#head === this.#frames.length) {
      this.#frames.length = 0;
      this.#acks.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#acks = this.#acks.slice(this.#head);
      this.#head = 0;
    }
    return n;
  }

  /**
   * Hands `p` to the publisher (nothing is published without one).
   *
   * @param p whole frames (a frame cut at the end is completed by the next write)
   * @returns `p.length` once the publisher is done with it
   * @throws {Error} once closed
   */
  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new Error("Cannot write: the NATS connection is closed");
    if (this.#write !== null) await this.#write(p);
    return p.length;
  }

  /**
   * Removes and returns the frames not yet read completely (a frame read in
   * part is returned whole), with their `onHanded` callbacks; e.g. to queue
   * them on a new connection after this one was closed.
   *
   * @returns the frames and callbacks, oldest first
   */
  takeUnread(): [Uint8Array, (() => void) | null][] {
    const out: [Uint8Array, (() => void) | null][] = [];
    for (let i = this.#head; i < this.#frames.length; i++) {
      out.push([this.#frames[i]!, this.#acks[i] ?? null]);
    }
    this.#frames = [];
    this.#acks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#queuedBytes = 0;
    return out;
  }

  /**
   * Closes: a pending read returns null, frames read so far are settled, and
   * unread frames stay available to {@linkcode takeUnread}.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settle();
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    this.#onClose?.();
  }

  #settle(): void {
    if (this.#handed.length === 0) return;
    const handed = this.#handed;
    this.#handed = [];
    for (const ack of handed) ack();
  }
}

/** Counters of a {@linkcode CorePublisher}. */
export interface CorePublisherCounters {
  /** Frames published and confirmed by a flush round trip. */
  published: number;
  /** Bytes of those frames. */
  publishedBytes: number;
  /** Frames not handed to NATS (disconnected, publish refused). */
  dropped: number;
  /** Frames handed to NATS whose flush failed (the connection dropped): maybe lost. */
  unconfirmed: number;
  /** Frames handed to NATS, flush not yet answered. */
  pending: number;
}

/** Options of a {@linkcode CorePublisher}. */
export interface CorePublisherOptions {
  /** The subject. */
  subject: string;
  /** Value of the `Torq-Origin` header. */
  origin: string;
  /** Whether the connection is up (frames written while down are dropped and counted). */
  connected?: () => boolean;
  /** Frames to keep back instead of publishing (e.g. the client's hello); return true to skip. */
  intercept?: (frame: Uint8Array) => boolean;
  /** Called when a publish is refused (e.g. larger than the server's max_payload). */
  onError?: (error: Error, frames: number) => void;
  /** Throw from `publish()` when the flush fails (client mode) instead of counting. */
  throwOnFailure?: boolean;
  /** The subject of each frame, when it depends on the frame (e.g. `<subject>.<topic>`). */
  subjectOf?: (frame: Uint8Array) => string;
}

/**
 * Core NATS publishing of written chunks: each frame becomes one message with
 * the `Torq-Origin` header, published without awaiting it; then one flush round
 * trip confirms the chunk (the server has processed every message before it
 * answers). Core NATS is at most once: what it can lose is counted here
 * (`dropped`: never handed over; `unconfirmed`: handed over, flush failed) and
 * at the receiver as sequence gaps.
 *
 * @example
 * ```ts
 * import type { NatsConnection } from "@nats-io/transport-node";
 * declare const nc: NatsConnection;
 * declare const chunk: Uint8Array;
 *
 * const pub = new CorePublisher(nc, { subject: "torq.signals", origin: newOriginId() });
 * await pub.publish(chunk);
 * pub.counters.published;
 * ```
 */
export class CorePublisher {
  /** The counters. */
  readonly counters: CorePublisherCounters = {
    published: 0,
    publishedBytes: 0,
    dropped: 0,
    unconfirmed: 0,
    pending: 0,
  };
  readonly #nc: NatsConnection;
  readonly #subject: string;
  readonly #headers: MsgHdrs;
  readonly #splitter = new FrameSplitter();
  readonly #connected: () => boolean;
  readonly #intercept: ((frame: Uint8Array) => boolean) | null;
  readonly #onError: ((error: Error, frames: number) => void) | null;
  readonly #throw: boolean;
  readonly #subjectOf: ((frame: Uint8Array) => string) | null;

  /**
   * Makes a publisher on an open NATS connection.
   *
   * @param nc the NATS connection
   * @param options subject, origin and hooks
   */
  constructor(nc: NatsConnection, options: CorePublisherOptions) {
    this.#nc = nc;
    this.#subject = options.subject;
    this.#headers = originHeaders(options.origin);
    this.#connected = options.connected ?? (() => !nc.isClosed());
    this.#intercept = options.intercept ?? null;
    this.#onError = options.onError ?? null;
    this.#throw = options.throwOnFailure ?? false;
    this.#subjectOf = options.subjectOf ?? null;
  }

  /**
   * Publishes every whole frame of `chunk` and waits for one flush round trip.
   *
   * @param chunk whole frames
   * @throws {Error} with `throwOnFailure`, when frames could not be confirmed
   */
  async publish(chunk: Uint8Array): Promise<void> {
    const c = this.counters;
    const up = this.#connected();
    let handed = 0;
    let bytes = 0;
    let refused = 0;
    let error: Error | null = null;
    const nc = this.#nc;
    const subject = this.#subject;
    const subjectOf = this.#subjectOf;
    const opts = { headers: this.#headers };
    const intercept = this.#intercept;
    this.#splitter.split(chunk, (frame) => {
      if (intercept !== null && intercept(frame)) return;
      if (!up || error !== null) {
        refused++;
        return;
      }
      try {
        nc.publish(subjectOf === null ? subject : subjectOf(frame), frame, opts);
        handed++;
        bytes += frame.length;
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
        refused++;
      }
    });
    if (refused > 0) {
      c.dropped += refused;
      if (error !== null) this.#onError?.(error, refused);
      if (this.#throw) {
        throw error ?? new Error("Cannot publish: the NATS connection is down");
      }
    }
    if (handed === 0) return;
    c.pending += handed;
    try {
      await nc.flush();
      c.published += handed;
      c.publishedBytes += bytes;
    } catch (e) {
      c.unconfirmed += handed;
      if (this.#throw) throw e;
    } finally {
      c.pending -= handed;
    }
  }
}

/**
 * Whether `[s, e)` is a Subscribe request: first TLV 113.
 *
 * @param b buffer
 * @param s frame start
 * @param e frame end
 * @returns true for a Subscribe frame
 */
function isSubscribeFrame(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < HEADER_SIZE + 2) return false;
  const t = b[s + HEADER_SIZE]!;
  return t === SUBSCRIBE_TLV ||
    (t === 255 && e - s >= HEADER_SIZE + 3 && b[s + HEADER_SIZE + 2] === SUBSCRIBE_TLV);
}

/** A compiled pattern filter over frames `[s, e)` of a buffer. */
export type FrameMatcher = (b: Uint8Array, s: number, e: number) => boolean;

/** Options of a {@linkcode NatsTransport}. */
export interface NatsTransportOptions {
  /** Server URLs (`nats://host:port`). */
  servers: string[];
  /** Canonical domain 1–4 (the subject and the answers' header). */
  domain: number;
  /** Wire value of the domain in frames (differs under legacy numbering; default `domain`). */
  wireDomain?: number;
  /** Subject prefix (default `torq`). */
  subjectPrefix?: string;
  /** Compiles Subscribe patterns into a matcher (default: `*`, `tlv.N`, `source.N` and prefixes). */
  compileFilter?: (patterns: readonly string[]) => FrameMatcher;
  /** Authentication token. */
  token?: string;
  /** User name (with `password`). */
  user?: string;
  /** Password. */
  password?: string;
  /** Connection name shown by the server. */
  name?: string;
  /** Connect timeout in ms (default 5,000). */
  timeoutMs?: number;
}

/**
 * The client side of NATS: `connect()` opens a NATS connection, subscribes to
 * the domain's subject and returns a byte stream that behaves like a relay
 * connection. Subscribe requests are answered locally and their patterns are
 * applied to received frames on this side; hello frames are not published.
 * The connection does not reconnect by itself: when it drops, reads end and
 * RelayClient's own reconnect (if enabled) dials again.
 *
 * @example
 * ```ts
 * const t = new NatsTransport({ servers: ["nats://127.0.0.1:4222"], domain: 2 });
 * const conn = await t.connect();
 * ```
 */
export class NatsTransport implements Transport {
  /** Always `nats`. */
  readonly kind = "nats";
  /** The server URLs, comma-separated. */
  readonly address: string;
  /** The subject. */
  readonly subject: string;
  readonly #options: NatsTransportOptions;

  /**
   * Describes where to connect; nothing happens until {@linkcode connect}.
   *
   * @param options servers, domain, subject prefix, filter compiler, credentials
   */
  constructor(options: NatsTransportOptions) {
    this.#options = options;
    this.address = options.servers.join(",");
    this.subject = natsSubject(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX, options.domain);
  }

  /** A relay cannot listen on NATS: it is bridged (`relays.<name>.bridge.nats`). */
  listen(): Promise<never> {
    return Promise.reject(
      new TransportError(
        "other",
        `a relay does not listen on NATS (${this.address}): configure relays.<name>.bridge.nats`,
      ),
    );
  }

  /**
   * Connects, subscribes and waits until the server registered the subscription.
   *
   * @returns the byte stream
   * @throws {TransportError} `refused` when no server answers
   */
  async connect(): Promise<StreamConn> {
    const o = this.#options;
    let nc: NatsConnection;
    try {
      nc = await connectNats({
        servers: o.servers,
        reconnect: false,
        noEcho: true,
        timeout: o.timeoutMs ?? 5_000,
        name: o.name ?? "torq-client",
        ...(o.token === undefined ? {} : { token: o.token }),
        ...(o.user === undefined ? {} : { user: o.user, pass: o.password ?? "" }),
      });
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      const refused = /refused|ECONNREFUSED/i.test(text) ||
        (e instanceof Error && /refused/i.test(String((e as { cause?: unknown }).cause)));
      throw new TransportError(
        refused ? "refused" : "other",
        `Cannot connect to NATS at ${this.address}: ${text}`,
        { cause: e },
      );
    }
    const origin = newOriginId();
    const wire = o.wireDomain ?? o.domain;
    const compile = o.compileFilter ?? basicMatcher;
    let matcher: FrameMatcher | null = null; // null: everything (never subscribed)
    let patterns: string[] = ["*"];
    let sub: Subscription | null = null;
    const answers = new MessageBuilder({ domain: 4, source: RELAY_SOURCE[o.domain] ?? 80 });
    const conn: NatsFrameConn = new NatsFrameConn({
      write: (chunk) => publisher.publish(chunk),
      onClose: () => {
        sub?.unsubscribe();
        void nc.close().catch(() => {});
      },
    });
    const control = (frame: Uint8Array): boolean => {
      if (frame.length === HEADER_SIZE) {
        // A hello: publish-only from now on, unless a Subscribe follows.
        if (patterns.length === 1 && patterns[0] === "*" && matcher === null) {
          patterns = [];
          matcher = compile([]);
        }
        return true;
      }
      const d = frame[4]!;
      if ((d !== wire && d !== 4) || !isSubscribeFrame(frame, 0, frame.length)) return false;
      const cur = new TlvCursor();
      let next = patterns;
      if (readTlvAt(frame, HEADER_SIZE, frame.length, cur) >= 0) {
        try {
          const req = parseSubscribe(
            frame.subarray(cur.valueStart, cur.valueStart + cur.length),
          );
          if (req.mode === SubscribeMode.replace) next = [...new Set(req.patterns)];
          else if (req.mode === SubscribeMode.add) {
            next = [...new Set([...patterns, ...req.patterns])];
          } else next = patterns.filter((p) => !req.patterns.includes(p));
        } catch {
          next = patterns;
        }
      }
      patterns = next;
      matcher = compile(patterns);
      conn.push(
        answers.begin().addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: 0, patterns })).build(),
      );
      return true;
    };
    const publisher = new CorePublisher(nc, {
      subject: this.subject,
      origin,
      intercept: control,
      throwOnFailure: true,
    });
    const own = originLine(origin);
    sub = nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        if (hasOrigin(msg, own, origin)) return;
        const data = msg.data;
        // Only whole frames enter the stream: a bad message must not merge with the next.
        if (natsMessageProblem(data) !== null) return;
        if (matcher !== null && !matcher(data, 0, data.length)) return;
        conn.push(data);
      },
    });
    void nc.closed().then(() => conn.close());
    try {
      await nc.flush();
    } catch (e) {
      conn.close();
      throw new TransportError("other", `Cannot subscribe on NATS at ${this.address}: ${e}`, {
        cause: e,
      });
    }
    return conn;
  }

  /** Nothing to remove. */
  cleanup(): void {}
}

/**
 * A matcher for `*`, `tlv.<n>` and `source.<n>` patterns (with trailing-`*`
 * prefixes); exact topic names never match. RelayClient passes a matcher that
 * also knows the relay's extracted topics.
 */
function basicMatcher(patterns: readonly string[]): FrameMatcher {
  if (patterns.includes("*")) return () => true;
  const tlv = new Uint8Array(256);
  const source = new Uint8Array(256);
  const match = (p: string, t: string) => p.endsWith("*") ? t.startsWith(p.slice(0, -1)) : p === t;
  for (const p of patterns) {
    for (let n = 0; n < 256; n++) {
      if (match(p, `tlv.${n}`)) tlv[n] = 1;
      if (match(p, `source.${n}`)) source[n] = 1;
    }
  }
  const cur = new TlvCursor();
  return (b, s, e) => {
    if (source[b[s + 6]!] === 1) return true;
    let off = s + HEADER_SIZE;
    while (off < e) {
      const next = readTlvAt(b, off, e, cur);
      if (next < 0) break;
      if (tlv[cur.type] === 1) return true;
      off = next;
    }
    return false;
  };
}
