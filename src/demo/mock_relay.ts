/**
 * `torq mock-relay` (PROTOCOL.md 8.3): a fake market-data relay for testing
 * consumers. It listens on a Unix socket (directory created, a live socket
 * refused, a stale one removed), accepts any number of clients, parses and
 * counts what they send (by TLV name), and emits synthetic Trades and Quotes
 * to every connected client: a seeded random walk per symbol, at a rate, for a
 * count or until stopped.
 *
 * Like a relay it honours a client's first hello (publish-only: nothing is
 * sent to it) and answers each Subscribe (TLV 113) with the filter in effect;
 * the mock's filters understand `*`, `tlv.<n>`, `source.<n>` and trailing-`*`
 * prefixes of those (it extracts no named topics, so other patterns match
 * nothing).
 *
 * {@linkcode MockMarketData} is the pure, seeded generator;
 * {@linkcode MockRelay} the server.
 *
 * @module
 */

import {
  coin,
  encodeSubscribe,
  FrameReader,
  HEADER_SIZE,
  type InstrumentId,
  MessageBuilder,
  nowNs,
  parseSubscribe,
  patternMatches,
  RELAY_SOURCE,
  SourceType,
  SUBSCRIBE_TLV,
  symbolOf,
  tlvType,
  VenueId,
  walkTlvs,
} from "../protocol/mod.ts";
import { type StreamConn, type TransportListener, UnixTransport } from "../transport/mod.ts";
import { abortableDelay } from "./arbitrage.ts";
import { Prng } from "./prng.ts";

/** TLV types the mock emits. */
const TRADE = 1;
const QUOTE = 2;

/** Start prices (USD) of well-known symbols; others start at 100. */
export const DEFAULT_MOCK_PRICES: Readonly<Record<string, number>> = {
  "BTC-USD": 45_000,
  "BTC-USDT": 45_000,
  "BTCUSDT": 45_000,
  "ETH-USD": 2_500,
  "ETH-USDT": 2_500,
  "ETHUSDT": 2_500,
  "SOL-USD": 100,
  "MATIC-USD": 0.8,
  "LINK-USD": 15,
};

/** Start price of a symbol not in {@linkcode DEFAULT_MOCK_PRICES}. */
export const FALLBACK_MOCK_PRICE = 100;

/** Options of {@linkcode MockMarketData}. */
export interface MockMarketOptions {
  /** Coin symbols (at most 8 ASCII bytes each), e.g. `BTC-USD`. */
  symbols: readonly string[];
  /** VenueId of the instruments (default Kraken). */
  venue?: number | undefined;
  /** Start price per symbol in USD (default {@linkcode DEFAULT_MOCK_PRICES}). */
  prices?: Readonly<Record<string, number>> | undefined;
  /** PRNG seed. */
  seed: number;
}

/** One synthetic message: a Trade (1) or Quote (2) payload. */
export interface MockMessage {
  /** TLV type. */
  type: 1 | 2;
  /** The symbol. */
  symbol: string;
  /** Payload fields for `MessageBuilder.addPayload`. */
  fields: Record<string, unknown>;
}

interface SymbolState {
  readonly id: InstrumentId;
  priceQ8: number;
  emitted: number;
}

/**
 * Seeded synthetic market data: symbols in turn, each alternating Trade and
 * Quote; the price walks by up to ±10 bps per message; quotes straddle it by
 * 1–5 bps. The same seed gives the same messages (timestamps aside).
 *
 * @example
 * ```ts
 * import { nowNs } from "../protocol/mod.ts";
 *
 * const gen = new MockMarketData({ symbols: ["BTC-USD", "ETH-USD"], seed: 7 });
 * const m = gen.next(nowNs()); // { type: 1, symbol: "BTC-USD", fields: { price: ... } }
 * ```
 */
export class MockMarketData {
  readonly #rng: Prng;
  readonly #states: SymbolState[];
  #i = 0;

  /**
   * Creates a generator.
   *
   * @param options symbols, venue, start prices and seed
   * @throws {FrameError} for a symbol that is not ASCII or a venue outside u16
   * @throws {RangeError} for no symbols or a start price that is not positive
   */
  constructor(options: MockMarketOptions) {
    if (options.symbols.length === 0) {
      throw new RangeError("Cannot generate market data: no symbols");
    }
    this.#rng = new Prng(options.seed);
    const venue = options.venue ?? VenueId.Kraken;
    this.#states = options.symbols.map((symbol) => {
      const usd = options.prices?.[symbol] ?? DEFAULT_MOCK_PRICES[symbol] ?? FALLBACK_MOCK_PRICE;
      if (!(usd > 0) || !Number.isFinite(usd)) {
        throw new RangeError(`Cannot generate market data: start price of ${symbol} is ${usd}`);
      }
      return { id: coin(venue, symbol), priceQ8: Math.round(usd * 1e8), emitted: 0 };
    });
  }

  /**
   * The next message.
   *
   * @param timestampNs venue time to put in it
   * @returns the message
   */
  next(timestampNs: bigint): MockMessage {
    const r = this.#rng;
    const st = this.#states[this.#i++ % this.#states.length]!;
    st.priceQ8 = Math.max(1, Math.round(st.priceQ8 * (1 + (r.float() - 0.5) * 0.002)));
    const symbol = symbolOf(st.id);
    const base = { asset_id: st.id.assetId, venue_id: st.id.venue, asset_type: st.id.assetType };
    if (st.emitted++ % 2 === 0) {
      return {
        type: TRADE,
        symbol,
        fields: {
          ...base,
          price: BigInt(st.priceQ8),
          volume: BigInt(r.int(10_000, 100_000_000)),
          execution_timestamp_ns: timestampNs,
          reserved: 0,
          side: r.int(0, 1),
        },
      };
    }
    const half = Math.max(1, Math.round(st.priceQ8 * r.int(1, 5) / 10_000));
    return {
      type: QUOTE,
      symbol,
      fields: {
        ...base,
        bid_price: BigInt(Math.max(1, st.priceQ8 - half)),
        bid_size: BigInt(r.int(1_000_000, 500_000_000)),
        ask_price: BigInt(st.priceQ8 + half),
        ask_size: BigInt(r.int(1_000_000, 500_000_000)),
        quote_timestamp_ns: timestampNs,
        reserved: 0,
      },
    };
  }
}

/**
 * Names the TLVs of the complete frames in `buffer[start, end)` ranges: a
 * header-only frame is `hello`, an unassigned type `TLV <n>`, a TLV area that
 * does not walk `malformed`.
 *
 * @param buffer bytes holding the frames
 * @param start first byte of one frame
 * @param end one past its last byte
 * @returns the names in wire order
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * tlvNames(frame, 0, frame.length); // ["Trade"]
 * ```
 */
export function tlvNames(buffer: Uint8Array, start: number, end: number): string[] {
  if (end - start <= HEADER_SIZE) return ["hello"];
  try {
    return walkTlvs(buffer, start + HEADER_SIZE, end).map((r) =>
      tlvType(r.type)?.name ?? `TLV ${r.type}`
    );
  } catch {
    return ["malformed"];
  }
}

/**
 * The 8.3 line for one read: `📨 Received <n> bytes (<k> frames: Trade×2, Quote×1)`.
 *
 * @param bytes bytes read
 * @param frames complete frames they finished
 * @param names TLV names of those frames, in wire order
 * @returns the line
 * @example
 * ```ts
 * receivedLine(90, 1, ["Quote"]); // "📨 Received 90 bytes (1 frame: Quote×1)"
 * ```
 */
export function receivedLine(bytes: number, frames: number, names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const list = [...counts].map(([n, c]) => `${n}×${c}`).join(", ");
  return `📨 Received ${bytes} bytes (${frames} frame${frames === 1 ? "" : "s"}${
    list === "" ? "" : ": " + list
  })`;
}

/** Options of {@linkcode MockRelay.start}. */
export interface MockRelayOptions extends MockMarketOptions {
  /** Socket path to listen on. */
  path: string;
  /** Header source of emitted messages (default 99 TestClient). */
  source?: number | undefined;
  /** Messages per second (default 10). */
  rate?: number | undefined;
  /** Stop after emitting this many (default: until stopped). */
  count?: number | undefined;
  /** Console lines (connected, received, disconnected). */
  log?: ((line: string) => void) | undefined;
}

/** Counters of a mock relay. */
export interface MockRelayStats {
  /** Messages emitted (each to every client connected at the time). */
  sent: number;
  /** Frames received from clients. */
  receivedFrames: number;
  /** Bytes received from clients. */
  receivedBytes: number;
  /** Clients that ever connected. */
  clients: number;
  /** Messages not queued to a client whose backlog was full. */
  dropped: number;
}

/**
 * One line summarising a run.
 *
 * @param s the counters
 * @returns e.g. `Sent 20 messages to 1 client, received 2 frames (180 bytes)`
 */
export function formatMockRelayStats(s: MockRelayStats): string {
  return `Sent ${s.sent} messages to ${s.clients} client${
    s.clients === 1 ? "" : "s"
  }, received ${s.receivedFrames} frame${
    s.receivedFrames === 1 ? "" : "s"
  } (${s.receivedBytes} bytes)${s.dropped > 0 ? `, ${s.dropped} dropped for slow clients` : ""}`;
}

const MAX_CLIENT_BACKLOG = 4 * 1024 * 1024;

function wants(c: MockClient, topics: readonly string[]): boolean {
  if (c.publishOnly) return false;
  if (c.patterns === null) return true;
  return c.patterns.some((p) => topics.some((t) => patternMatches(p, t)));
}

class MockClient {
  readonly conn: StreamConn;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing: Promise<void> | null = null;
  closed = false;
  /** Frames received so far (the first one may be a hello). */
  frames = 0;
  /** Sent nothing: the client's first frame was a hello. */
  publishOnly = false;
  /** Patterns of the last Subscribe (`null`: never subscribed, everything is sent). */
  patterns: string[] | null = null;

  constructor(conn: StreamConn) {
    this.conn = conn;
  }

  /** Queues a frame; false when the backlog is full. */
  enqueue(frame: Uint8Array): boolean {
    if (this.closed) return true;
    if (this.#queued + frame.length > MAX_CLIENT_BACKLOG) return false;
    this.#queue.push(frame);
    this.#queued += frame.length;
    this.#writing ??= this.#pump();
    return true;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const parts = this.#queue;
        this.#queue = [];
        const bytes = new Uint8Array(this.#queued);
        this.#queued = 0;
        let off = 0;
        for (const p of parts) {
          bytes.set(p, off);
          off += p.length;
        }
        for (let done = 0; done < bytes.length;) {
          done += await this.conn.write(done === 0 ? bytes : bytes.subarray(done));
        }
      }
    } catch {
      this.closed = true; // the read loop reports the disconnect
    } finally {
      this.#writing = null;
    }
  }

  /** Resolves when everything queued is written (or the client is gone). */
  async flush(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
  }

  close(): void {
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * A running mock relay.
 *
 * @example
 * ```ts
 * const relay = await MockRelay.start({ path: "/tmp/torq/market_data.sock", symbols: ["BTC-USD"], seed: 1, count: 20 });
 * const stats = await relay.finished; // after 20 messages
 * ```
 */
export class MockRelay {
  readonly #o: MockRelayOptions;
  readonly #transport: UnixTransport;
  readonly #listener: TransportListener;
  readonly #gen: MockMarketData;
  readonly #builder: MessageBuilder;
  readonly #answers = new MessageBuilder({ domain: 4, source: RELAY_SOURCE[1]! });
  readonly #clients = new Set<MockClient>();
  readonly #stop = new AbortController();
  readonly #stats: MockRelayStats = {
    sent: 0,
    receivedFrames: 0,
    receivedBytes: 0,
    clients: 0,
    dropped: 0,
  };
  readonly #readLoops = new Set<Promise<void>>();
  #clientArrived: (() => void) | null = null;
  #finished!: Promise<MockRelayStats>;

  private constructor(o: MockRelayOptions, transport: UnixTransport, listener: TransportListener) {
    this.#o = o;
    this.#transport = transport;
    this.#listener = listener;
    this.#gen = new MockMarketData(o);
    this.#builder = new MessageBuilder({ domain: 1, source: o.source ?? SourceType.TestClient });
  }

  /**
   * Validates the options, listens, and starts accepting and emitting.
   *
   * @param options socket, instruments, pace and limits
   * @returns the running relay
   * @throws {TransportError} when a live relay owns the socket or the path cannot be bound
   * @throws {RangeError} / {FrameError} for bad symbols, prices or rate
   */
  static async start(options: MockRelayOptions): Promise<MockRelay> {
    const rate = options.rate ?? 10;
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw new RangeError(`Cannot start mock relay: rate ${rate} is not a positive number`);
    }
    new MockMarketData(options); // validate before touching the socket
    const transport = new UnixTransport(options.path);
    const listener = await transport.listen();
    const relay = new MockRelay(options, transport, listener);
    const log = options.log ?? (() => {});
    log(`🚀 Mock MarketDataRelay started on ${options.path}`);
    log("📡 Waiting for connections...");
    const accepting = relay.#accept();
    relay.#finished = relay.#run(accepting);
    relay.#finished.catch(() => {});
    return relay;
  }

  /** The socket path. */
  get path(): string {
    return this.#o.path;
  }

  /** Resolves with the counters after `count` messages were emitted and flushed, or after `stop()`. */
  get finished(): Promise<MockRelayStats> {
    return this.#finished;
  }

  /**
   * A snapshot of the counters.
   *
   * @returns the counters
   */
  stats(): MockRelayStats {
    return { ...this.#stats };
  }

  /**
   * Stops emitting and accepting, closes every client and removes the socket.
   *
   * @returns the final counters
   */
  stop(): Promise<MockRelayStats> {
    this.#stop.abort();
    this.#clientArrived?.();
    return this.#finished;
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#stop.signal.aborted) {
          conn.close();
          break;
        }
        const client = new MockClient(conn);
        this.#clients.add(client);
        this.#stats.clients++;
        this.#log("✅ Client connected");
        const loop = this.#read(client);
        this.#readLoops.add(loop);
        loop.finally(() => this.#readLoops.delete(loop));
        this.#wake();
      }
    } catch {
      // listener closed
    }
  }

  async #read(client: MockClient): Promise<void> {
    const reader = new FrameReader();
    try {
      for (;;) {
        const n = await client.conn.read(reader.writable(1024));
        if (n === null) break;
        if (n === 0) continue;
        reader.commit(n);
        this.#stats.receivedBytes += n;
        let frames = 0;
        const names: string[] = [];
        while (reader.next()) {
          frames++;
          names.push(...tlvNames(reader.buffer, reader.frameStart, reader.frameEnd));
          this.#control(client, reader.buffer.subarray(reader.frameStart, reader.frameEnd));
          client.frames++;
        }
        this.#stats.receivedFrames += frames;
        this.#log(receivedLine(n, frames, names));
      }
    } catch {
      // reset or closed by us
    }
    this.#clients.delete(client);
    if (!this.#stop.signal.aborted) this.#log("👋 Client disconnected");
    client.close();
  }

  #wake(): void {
    const arrived = this.#clientArrived;
    this.#clientArrived = null;
    arrived?.();
  }

  /** Hello and Subscribe handling, as a relay does (7.8). */
  #control(client: MockClient, frame: Uint8Array): void {
    if (frame.length === HEADER_SIZE) {
      if (client.frames === 0) client.publishOnly = true;
      return;
    }
    let records;
    try {
      records = walkTlvs(frame, HEADER_SIZE, frame.length);
    } catch {
      return;
    }
    const first = records[0];
    if (first === undefined || first.type !== SUBSCRIBE_TLV) return;
    const before = client.patterns ?? [];
    try {
      const req = parseSubscribe(first.value);
      const patterns = req.mode === 0
        ? req.patterns
        : req.mode === 1
        ? [...before, ...req.patterns.filter((p) => !before.includes(p))]
        : before.filter((p) => !req.patterns.includes(p));
      client.patterns = [...new Set(patterns)];
      client.publishOnly = false;
      this.#wake();
    } catch {
      // malformed: the filter stays as it was
    }
    const answer = this.#answers.begin().addTlv(
      SUBSCRIBE_TLV,
      encodeSubscribe({ mode: 0, patterns: client.patterns ?? [] }),
    ).build();
    client.enqueue(answer);
  }

  async #run(accepting: Promise<void>): Promise<MockRelayStats> {
    const o = this.#o;
    const count = o.count ?? Infinity;
    const interval = 1000 / (o.rate ?? 10);
    const stop = this.#stop.signal;
    let due = performance.now();
    while (this.#stats.sent < count && !stop.aborted) {
      if (![...this.#clients].some((c) => !c.publishOnly)) {
        await new Promise<void>((resolve) => (this.#clientArrived = resolve));
        // One interval's grace, so a new client's hello or Subscribe is seen first.
        due = performance.now() + interval;
        await abortableDelay(interval, stop);
        continue;
      }
      const ts = nowNs();
      const m = this.#gen.next(ts);
      const frame = this.#builder.begin({ timestamp: ts }).addPayload(m.type, m.fields).build();
      const topics = [`tlv.${m.type}`, `source.${frame[6]}`];
      for (const c of this.#clients) {
        if (!wants(c, topics)) continue;
        if (!c.enqueue(frame)) this.#stats.dropped++;
      }
      this.#stats.sent++;
      if (this.#stats.sent >= count) break;
      due += interval;
      await abortableDelay(due - performance.now(), stop);
    }
    // Let what was emitted reach the clients (bounded), then shut down.
    await Promise.race([
      Promise.all([...this.#clients].map((c) => c.flush())),
      abortableDelay(1_000, stop),
    ]);
    this.#stop.abort();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#clients) c.close();
    await accepting;
    await Promise.all([...this.#readLoops]);
    this.#transport.cleanup();
    return { ...this.#stats };
  }
}
