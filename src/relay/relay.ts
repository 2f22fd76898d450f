/**
 * The generic relay engine: accepts connections on a transport, re-frames every
 * connection's stream, validates frames by the domain's policy and fans accepted
 * frames out to every other connection (PROTOCOL.md 7.3–7.8). One engine runs
 * every domain; a {@linkcode RelayLogic} says how they differ.
 *
 * The forwarding path is allocation-free per message: each read lands in the
 * connection's reused buffer, frames are scanned by offset with zero-copy header
 * reads, and each run of consecutive accepted frames is copied ONCE and that copy
 * is queued to every consumer (one write per consumer per run; sub-runs of
 * matching frames for filtered consumers). No per-message objects, closures or
 * BigInt.
 *
 * @module
 */

import {
  encodeErrorText,
  encodePayload,
  encodeSubscribe,
  ERROR_TLV,
  Filter,
  FrameError,
  FrameTopics,
  HEADER_SIZE,
  MessageBuilder,
  parseSubscribe,
  readTlvAt,
  readU32,
  RELAY_SOURCE,
  sourceName,
  Status,
  statusCode,
  SUBSCRIBE_TLV,
  TlvCursor,
  tlvType,
  TopicRegistry,
  viewSequenceHigh,
  viewSequenceLow,
  viewTimestampApprox,
} from "../protocol/mod.ts";
import {
  acceptEach,
  AcceptHealth,
  type StreamConn,
  type Transport,
  type TransportListener,
  UnixTransport,
} from "../transport/mod.ts";
import { LogBudget, Logger, RateLimit } from "../log/mod.ts";
import { Connection } from "./connection.ts";
import { type GateLimits, ProducerGate } from "./flow.ts";
import { MAX_WRITE, type OutboundReport } from "./outbound.ts";
import { type Validator, validatorForLogic } from "./policy.ts";
import { AuditJournal } from "./journal.ts";
import { lastAccepted } from "./journal_file.ts";
import type { RelayLogic } from "./logic.ts";
import { RELOADABLE } from "./reloadable.ts";
import { explainReject, type RejectRecord } from "./rejects.ts";
import type { BridgeStats, ConnectionStats, RelayStats, SourceStats } from "./stats.ts";
import { LatencyHistogram } from "./latency.ts";
import { OWN_BUFFER_ABOVE, PoolInvariantError, type Slab, SlabPool } from "./slab.ts";
import { ReplayWindow } from "./replay_window.ts";
import { LastValues } from "./last_values.ts";

/** Verdicts beyond `Status` used inside the scan loop. */
const HELLO = 100;
/** A Subscribe (113), or a RecoveryRequest (110) when recovery is on: consumed, answered. */
const CONTROL = 101;
/** RecoveryRequest (PROTOCOL.md 7.9). */
const RECOVERY_REQUEST_TLV = 110;
/** RecoveryResponse (PROTOCOL.md 7.9). */
const RECOVERY_RESPONSE_TLV = 111;
/** RecoveryResponse status (7.9). */
const RecoveryStatus = { complete: 0, partial: 1, disabled: 2, malformed: 3 } as const;
/** Rejects kept for inspection. */
const REJECT_RING = 50;
/** Read once; `performance.timeOrigin` is slow to read per call. */
const CLOCK_ORIGIN = performance.timeOrigin;
/** Reads never grow beyond this. */
const MAX_READ = 262_144;
/** Reads are never capped below this by consumers' socket capacities (see `#capacityFound`). */
const MIN_READ_CAP = 65_536;
/** How often the relay gives back memory left over from bursts (`#tidy`). */
const TIDY_EVERY_MS = 1000;
/**
 * Every connection's first reads: most connections are consumers that send a
 * hello or a Subscribe and nothing else, and need no more. A read that fills
 * the buffer grows it to the configured `buffer_size`, then doubles it up to
 * {@linkcode MAX_READ}.
 */
const FIRST_READ = 4_096;
/**
 * Most patterns one connection's filter may hold. Bounds what a Subscribe costs
 * the relay (parsing, compiling, answering) whatever its size.
 */
export const MAX_FILTER_PATTERNS = 1024;
/** Largest encoded pattern list of a filter: its answer must fit one Subscribe TLV (65,535 bytes). */
const MAX_FILTER_BYTES = 65_535 - 4;
/** Subscribe log lines written for each connection before the relay-wide rate limit applies. */
const SUBSCRIBE_LOG_BUDGET = 10;

/** Options of a {@linkcode Relay}. */
export interface RelayOptions {
  /** Where log lines go (default: a text logger at info). */
  logger?: Logger;
  /** Transport (default: a Unix socket at the logic's path). */
  transport?: Transport;
  /** More endpoints to listen on with the same semantics (e.g. TCP on loopback). */
  extraTransports?: Transport[];
  /**
   * Assert the slab pools' ownership invariants on every operation and poison
   * recycled bytes (slab.ts; `TORQ_CHECK_POOLS=1` for `torq relay`/`torq up`).
   * For tests: it costs a fill of every recycled slab.
   */
  checkPools?: boolean;
}

/**
 * A running relay.
 *
 * @example
 * ```ts
 * import { SIGNAL_LOGIC } from "./logic.ts";
 *
 * const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: "/tmp/x/signals.sock" });
 * await relay.start();
 * // ...
 * await relay.stop();
 * ```
 */
export class Relay {
  /** The domain's description. */
  readonly logic: RelayLogic;
  readonly #transport: Transport;
  readonly #transports: Transport[];
  readonly #log: Logger;
  #listeners: TransportListener[] = [];
  readonly #conns = new Map<number, Connection>();
  /** Consumers that take every frame. */
  #plain: Connection[] = [];
  /** Consumers with a pattern filter. */
  #filtered: Connection[] = [];
  #nextId = 0;
  #validator: Validator;
  readonly #registry: TopicRegistry;
  readonly #topics: FrameTopics;
  #journal: AuditJournal | null = null;
  readonly #wireDomain: number;
  readonly #systemWire: number;
  #maxPayload: number;
  readonly #cursor = new TlvCursor();
  #startedAt = 0;
  #stopping = false;
  #acceptDone: Promise<void> = Promise.resolve();
  #readers = new Set<Promise<void>>();
  /** Counters of registered bridges (off the hot path: read by stats() only). */
  readonly #bridges = new Set<() => BridgeStats>();

  /** The replay window (7.9), or null when recovery is off. */
  readonly #window: ReplayWindow | null = null;
  /** Last values per (instrument, TLV type) on market data, or null. */
  readonly #last: LastValues | null = null;
  readonly #recovery = { requests: 0, replayed: 0, partial: 0, malformed: 0, refilled: 0 };
  /** Frames put into the window from the journal, by header source (see `#recover`). */
  readonly #refilled = new Float64Array(256);
  /** Flow control: pauses every read loop (D-36 stalls, execution backpressure). */
  readonly #gate: ProducerGate<Connection>;
  #tidyTimer: ReturnType<typeof setInterval> | undefined;
  /** Largest read: what one write can pass on to a consumer (see `#capacityFound`). */
  #readCap = MAX_READ;
  /** Consumers with fan-out frames waiting behind their write in flight (see `#paced`). */
  readonly #backlogged = new Set<Connection>();
  #pacedWait: Promise<void> | null = null;
  #pacedWake: (() => void) | null = null;
  /** Reads that waited for consumers' writers to take what earlier reads brought. */
  #pacedReads = 0;
  /** Closed connections whose write in flight has not settled yet (still counted in stats). */
  readonly #closing = new Set<Connection>();
  /** Settles of closing connections (awaited by stop()). */
  readonly #settling = new Set<Promise<void>>();

  // Counters of the relay (closed connections' counts are folded in here).
  #connectionsTotal = 0;
  #connectionsRefused = 0;
  #framesIn = 0;
  #bytesIn = 0;
  #framesOut = 0;
  /** Where forwarded runs are copied: reused slabs, not one buffer per run. */
  readonly #slabs: SlabPool;
  /**
   * Where consumers coalesce small chunks for a write: apart from the runs, so
   * a slow consumer's queued runs never pin slabs that writes fill quickly.
   */
  readonly #writeSlabs: SlabPool;
  #writes = 0;
  #framesQueuedClosed = 0;
  #dropsClosed = 0;
  #undelivered = 0;
  #stallsClosed = 0;
  #stalledMsClosed = 0;
  #bytesOut = 0;
  #framesForwarded = 0;
  #hello = 0;
  #subscribes = 0;
  #garbageBytes = 0;
  #slowDrops = 0;
  #slowDisconnects = 0;
  #journalRejects = 0;
  /** The journal is failing: one error line when it starts, one info line when it ends. */
  #journalDown = false;
  #journalRefusedSinceDown = 0;
  readonly #rejects = new Float64Array(32);
  readonly #warnings = new Float64Array(32);
  readonly #lossesClosed = new Float64Array(32);
  readonly #recent: RejectRecord[] = [];
  readonly #rejectLog = new RateLimit(1000);
  readonly #dropLog = new RateLimit(1000);
  readonly #refuseLog = new RateLimit(1000);
  /** Warnings about closed connections: a burst of closes must not flood the log. */
  readonly #closeWarnings = new LogBudget(20, 1000);
  readonly #subscribeLog = new RateLimit(1000);
  readonly #builder: MessageBuilder;
  #sampler: ((frame: Uint8Array, relay: string) => void) | null = null;
  #sampleEveryMs = 50;
  #lastSample = 0;
  /** Arrival time minus header timestamp of accepted frames. */
  readonly #latency = new LatencyHistogram();
  // Sequence health per header source (all connections), typed arrays: no allocation per frame.
  readonly #srcFrames = new Float64Array(256);
  /** Accepted frames by the type of their first TLV. */
  readonly #tlvMix = new Float64Array(256);
  readonly #srcHi = new Float64Array(256).fill(-1);
  readonly #srcLo = new Float64Array(256);
  readonly #srcGaps = new Float64Array(256);
  readonly #srcMissing = new Float64Array(256);
  readonly #srcBack = new Float64Array(256);

  /**
   * @param logic the domain's description
   * @param options logger and transport
   */
  constructor(logic: RelayLogic, options: RelayOptions = {}) {
    this.logic = logic;
    this.#log = (options.logger ?? new Logger()).with({ relay: logic.name });
    this.#transport = options.transport ??
      new UnixTransport(logic.socketPath, {
        socketMode: logic.socketMode,
        allowForeignDir: logic.allowForeignDir ?? false,
      });
    this.#transports = [this.#transport, ...(options.extraTransports ?? [])];
    this.#wireDomain = logic.legacyDomainNumbering ? logic.domain - 1 : logic.domain;
    this.#systemWire = logic.legacyDomainNumbering ? 3 : 4;
    this.#maxPayload = logic.maxMessageSize - HEADER_SIZE;
    this.#validator = validatorForLogic(logic);
    this.#registry = new TopicRegistry(
      logic.defaultTopic,
      logic.availableTopics,
      logic.autoDiscover,
    );
    this.#topics = new FrameTopics(this.#registry, logic.extraction);
    this.#builder = new MessageBuilder({
      domain: 4,
      source: RELAY_SOURCE[logic.domain] ?? 80,
      legacyNumbering: logic.legacyDomainNumbering,
    });
    const check = options.checkPools ?? false;
    const r = logic.recovery;
    // The replay window's slabs are reserved: filling the window allocates nothing (see slab.ts).
    this.#slabs = new SlabPool({ check, reserveBytes: r?.enabled ? r.windowBytes : 0 });
    this.#writeSlabs = new SlabPool({ slabBytes: MAX_WRITE, check });
    this.#gate = new ProducerGate(gateLimits(logic));
    if (r?.enabled) {
      this.#window = new ReplayWindow({ frames: r.windowFrames, bytes: r.windowBytes });
      if (r.lastValues > 0) this.#last = new LastValues(r.lastValues);
    }
  }

  /** Where the relay listens (its first transport). */
  get address(): string {
    return this.#transport.address;
  }

  /** Every endpoint the relay listens on. */
  get addresses(): string[] {
    return this.#transports.map((t) => t.address);
  }

  /**
   * Opens the journal (audit), binds the transport and starts accepting.
   *
   * @throws TransportError when the socket cannot be bound (e.g. a live relay owns it)
   */
  async start(): Promise<void> {
    if (this.logic.policy === "audit" && this.logic.journalPath !== null) {
      try {
        this.#journal = AuditJournal.open(this.logic.journalPath, {
          ...this.logic.journal,
          relay: this.logic.name,
          domain: this.logic.domain,
          logger: this.#log,
        });
      } catch (e) {
        throw new Error(
          `cannot open audit journal ${this.logic.journalPath}: ${(e as Error).message}`,
        );
      }
      if (this.#window !== null) this.#refill(this.logic.journalPath);
    }
    try {
      for (const t of this.#transports) this.#listeners.push(await t.listen());
    } catch (e) {
      for (const l of this.#listeners) l.close();
      for (const t of this.#transports) t.cleanup();
      this.#listeners = [];
      this.#journal?.close();
      throw e;
    }
    this.#startedAt = Date.now();
    this.#tidyTimer = setInterval(() => this.#tidy(), TIDY_EVERY_MS);
    Deno.unrefTimer(this.#tidyTimer);
    this.#acceptDone = Promise.all(this.#listeners.map((l) => this.#acceptLoop(l))).then(() => {});
    this.#log.info("listening", {
      address: this.#transports.map((t) => t.address).join(" "),
      domain: this.logic.domain,
      policy: this.logic.policy,
      journal: this.#journal?.path,
    });
  }

  /**
   * Refills the replay window from the journal after a restart (7.9): the
   * newest accepted frames within the window's bounds, copied into slabs, so a
   * consumer's RecoveryRequest after a crash gets the frames from before it.
   */
  #refill(path: string): void {
    const r = this.logic.recovery!;
    const records = lastAccepted(path, {
      frames: r.windowFrames,
      bytes: r.windowBytes,
    }, {
      onCorrupt: (damage) =>
        this.#log.warn("recovery: skipped a damaged journal region", {
          file: damage.file,
          offset: damage.offset,
        }),
    });
    const pool = this.#slabs;
    for (const rec of records) {
      const f = rec.frame;
      this.#refilled[f[6]!]!++;
      const at = pool.copy(f, 0, f.length);
      this.#window!.push(
        pool.lastBuffer,
        at,
        at + f.length,
        1,
        pool.last,
        Number(rec.receivedNs / 1_000_000n),
      );
    }
    this.#recovery.refilled = records.length;
    if (records.length > 0) {
      this.#log.info("recovery: window refilled from the journal", {
        frames: records.length,
        bytes: this.#window!.bytes,
      });
    }
  }

  /**
   * Graceful stop: stop accepting, let queues drain for up to `flushMs`, close
   * every connection, remove the socket file.
   *
   * @param flushMs longest wait for queues to drain (default 1000)
   */
  async stop(flushMs = 1000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#tidyTimer);
    for (const l of this.#listeners) l.close();
    for (const t of this.#transports) t.cleanup();
    await this.#acceptDone;
    const deadline = Date.now() + flushMs;
    while (
      Date.now() < deadline &&
      [...this.#conns.values()].some((c) => c.out.pendingBytes > 0)
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of [...this.#conns.values()]) this.#close(c, "relay shutting down");
    this.#gate.open();
    await Promise.allSettled([...this.#readers]);
    await Promise.allSettled([...this.#settling]);
    this.#journal?.close();
    let rejected = 0;
    for (let st = 1; st < 32; st++) rejected += this.#rejects[st]!;
    // frames_in = frames_forwarded + frames_rejected + control + journal_refused
    this.#log.info("stopped", {
      frames_in: this.#framesIn,
      frames_forwarded: this.#framesForwarded,
      frames_rejected: rejected,
      control: this.#hello + this.#subscribes,
      journal_refused: this.#journal === null ? undefined : this.#journalRejects,
      frames_out: this.#framesOut,
      writes: this.#writes,
      read_cap: this.#readCap,
      paced_reads: this.#pacedReads,
      dropped: this.#slowDrops,
      undelivered: this.#undelivered,
      stalls: this.#gate.stalls,
      stalled_ms: Math.round(this.#gate.stalledMs),
      recovery_requests: this.#window === null ? undefined : this.#recovery.requests,
      recovery_malformed: this.#window === null ? undefined : this.#recovery.malformed,
      recovery_replayed: this.#window === null ? undefined : this.#recovery.replayed,
    });
  }

  /** Whether the listeners accept, and their failures (accept.ts). */
  readonly #accept = new AcceptHealth();

  /** Accepts until the listener closes; a failed accept is retried, never the end (accept.ts). */
  async #acceptLoop(listener: TransportListener): Promise<void> {
    await acceptEach(listener, {
      health: this.#accept,
      log: this.#log,
      stopping: () => this.#stopping,
      onConnection: (conn) => {
        if (this.#stopping) {
          conn.close();
          return;
        }
        if (this.#conns.size >= this.logic.maxConnections) {
          this.#connectionsRefused++;
          const suppressed = this.#refuseLog.take(Date.now());
          if (suppressed >= 0) {
            this.#log.warn("refusing connection: max_connections reached", {
              max_connections: this.logic.maxConnections,
              suppressed_lines: suppressed,
            });
          }
          conn.close();
          return;
        }
        this.#adopt(conn, "accepted");
      },
    });
  }

  /**
   * Applies new limits and policy switches to the running relay without dropping
   * connections (SIGHUP reload). Identity (name, domain, socket, policy,
   * extraction, topics) cannot change at run time and is ignored.
   *
   * @param changes the new values
   * @returns `key: old → new` for every value that changed
   */
  reload(changes: Partial<RelayLogic>): string[] {
    const logic = this.logic as unknown as Record<string, unknown>;
    const changed: string[] = [];
    for (const key of RELOADABLE) {
      const next = changes[key];
      if (next === undefined || next === logic[key]) continue;
      changed.push(`${key}: ${logic[key]} → ${next}`);
      logic[key] = next;
    }
    if (changed.length > 0) {
      this.#maxPayload = this.logic.maxMessageSize - HEADER_SIZE;
      for (const c of this.#conns.values()) c.reader.maxPayload = this.#maxPayload;
      this.#validator = validatorForLogic(this.logic);
      this.#gate.limits = gateLimits(this.logic);
      this.#log.info("reloaded", { changes: changed.join(", ") });
    }
    return changed;
  }

  /**
   * Serves a connection made outside the relay's listeners, e.g. a bridge to a
   * message bus: its frames are validated like any producer's and it receives the
   * fan-out (never its own frames back). Not subject to `max_connections`.
   *
   * @param conn the byte stream
   * @param label how logs and stats name it (e.g. `bridge:nats`)
   * @returns the connection id
   */
  attachConnection(conn: StreamConn, label: string): number {
    if (this.#stopping) throw new Error(`Cannot attach ${label}: the relay is stopping`);
    return this.#adopt(conn, label).id;
  }

  /**
   * Registers a bridge's counters, reported by {@linkcode stats} under `bridges`.
   *
   * @param provider returns the bridge's current counters
   * @returns a function that unregisters it
   * @example
   * ```ts
   * import type { BridgeStats } from "./stats.ts";
   *
   * declare const relay: Relay;
   * declare const bridge: { stats(): BridgeStats };
   *
   * const off = relay.addBridge(() => bridge.stats());
   * off();
   * ```
   */
  addBridge(provider: () => BridgeStats): () => void {
    this.#bridges.add(provider);
    return () => void this.#bridges.delete(provider);
  }

  #adopt(conn: StreamConn, label: string): Connection {
    const c: Connection = new Connection(this.#nextId++, conn, {
      label,
      readSize: Math.min(FIRST_READ, this.logic.readBufferSize),
      maxPayload: this.#maxPayload,
      writeSlabs: this.#writeSlabs,
      owner: {
        progressed: () => this.#progressed(c),
        writeFailed: (e) => this.#writeFailed(c, e),
        capacityFound: () => this.#capacityFound(),
        backlog: (waiting) => this.#backlog(c, waiting),
      },
    });
    this.#conns.set(c.id, c);
    this.#connectionsTotal++;
    this.#refreshConsumers();
    this.#log.debug("connection " + label, { conn: c.id });
    const reading = this.#readLoop(c);
    this.#readers.add(reading);
    void reading.finally(() => this.#readers.delete(reading));
    return c;
  }

  async #readLoop(c: Connection): Promise<void> {
    const r = c.reader;
    try {
      while (c.state !== "closing") {
        const wait = this.#gate.wait;
        if (wait !== null) {
          const t0 = performance.now();
          await wait;
          c.stalls++;
          c.stalledMs += performance.now() - t0;
          continue;
        }
        // Pacing: what the last reads brought is passed on to the consumers that keep
        // reading before more is read (their writers took it), so the relay never reads
        // faster than its own writes go; a consumer that stopped reading paces nothing.
        if (this.#backlogged.size > 0 && this.logic.producerStall) {
          const paced = this.#paced();
          if (paced !== null) {
            this.#pacedReads++;
            await paced;
            continue;
          }
        }
        // Between reads: a buffer grown by a burst shrinks back (see #tidy).
        if (r.buffer.length >= 2 * c.readSize) r.shrink(c.readSize);
        const cap = this.#readCap;
        let view = r.writable(c.readSize < cap ? c.readSize : cap);
        if (view.length > cap) view = view.subarray(0, cap);
        const n = await c.conn.read(view);
        if (n === null) break;
        if (n === 0) continue;
        r.commit(n);
        const now = Date.now();
        c.lastActivity = now;
        if (n > c.largestRead) c.largestRead = n;
        if (n === view.length && c.readSize < cap) {
          // Grown only up to the cap, so a buffer is the size of the reads it takes.
          c.readSize = Math.min(Math.max(c.readSize * 2, this.logic.readBufferSize), cap);
        }
        const before = c.framesIn;
        this.#onData(c);
        // Since when the frame being received has been incomplete (see #tidy).
        if (r.buffered === 0) c.partialSince = 0;
        else if (c.framesIn !== before || c.partialSince === 0) c.partialSince = now;
        // The writers this read started are microtasks queued behind the other reads this
        // turn completed: let them write before the next read is issued, not after.
        if (c.framesIn !== before) await undefined;
      }
    } catch (e) {
      if (e instanceof PoolInvariantError) this.#log.error(e.message, { conn: c.id });
      if (c.state !== "closing") {
        // A reset is the peer leaving with data unread, not a fault of the relay's.
        this.#close(
          c,
          e instanceof Deno.errors.ConnectionReset
            ? "disconnected (reset by peer)"
            : `read error: ${(e as Error).message}`,
        );
      }
    }
    if (c.state !== "closing") {
      this.#close(c, r.buffered > 0 ? "disconnected mid-frame" : "disconnected");
    }
  }

  /**
   * The hot path: scan the connection's buffer, validate, forward runs.
   *
   * Keep the per-frame path small. V8 inlines callees into this loop only up to
   * a budget (920 bytecodes); FrameReader.next, the latency record, the
   * sequence tracker and LastValues.update use about 870 of it. What is rare (hellos, Subscribes,
   * rejects, journaling) goes through methods that are called, not inlined.
   * Word reads go through the reader's DataView: one load where `readU32`
   * makes four, and a tenth of its bytecode. Check a change with
   * `--v8-flags=--trace-turbo-inlining` and `deno bench bench/relay_path_bench.ts`.
   */
  #onData(src: Connection): void {
    const r = src.reader;
    const b = r.buffer;
    const dv = r.view;
    const own = this.#wireDomain;
    const v = this.#validator;
    // Under the performance policy every framed own-domain frame passes (7.5).
    const validating = v.policy !== "performance";
    const journal = this.#journal;
    const now = journal !== null || v.policy === "audit" ? Date.now() : 0;
    const nowUs = (CLOCK_ORIGIN + performance.now()) * 1000;
    let runStart = -1;
    let runEnd = -1;
    let runFrames = 0;
    let filtering = this.#filtered.length > 0;
    // Last values are taken while the frame is at hand; with a journal, #forward
    // may refuse a run, so it takes them itself.
    const last = journal === null ? this.#last : null;
    while (r.next()) {
      const s = r.frameStart;
      const e = r.frameEnd;
      src.framesIn++;
      src.bytesIn += e - s;
      let verdict: number = Status.OK;
      const d = b[s + 4]!;
      if (e - s === HEADER_SIZE) {
        verdict = HELLO;
      } else if ((d === own || d === this.#systemWire) && this.#isControl(b, s, e)) {
        verdict = CONTROL;
      } else if (d !== own) {
        verdict = d === 0 || d > 4 ? Status.InvalidRelayDomain : Status.WrongDomain;
      } else if (validating) {
        verdict = v.check(b, s, e, src.sequences, now);
        if (v.soft !== 0) verdict = this.#softFailures(src, verdict, b, s, e);
        // A source's sequence moves only with a frame that is forwarded.
        if (verdict === Status.OK) v.commit(src.sequences);
      }
      if (journal !== null && verdict < HELLO) {
        this.#journalRecord(journal, src, verdict, b, s, e);
      }
      if (verdict === Status.OK) {
        // × 0.001, not / 1000: a division costs more than the rest of the bucket arithmetic.
        this.#latency.record(nowUs - viewTimestampApprox(dv, s) * 0.001);
        this.#trackSequence(b, dv, s);
        if (last !== null) last.update(b, s, e);
        if (runStart >= 0 && s === runEnd) {
          runEnd = e;
          runFrames++;
        } else {
          if (runStart >= 0) this.#forward(src, b, runStart, runEnd, runFrames, false);
          runStart = s;
          runEnd = e;
          runFrames = 1;
        }
        if (filtering) this.#match(src, b, s, e);
        continue;
      }
      if (runStart >= 0) {
        this.#forward(src, b, runStart, runEnd, runFrames, false);
        runStart = -1;
      }
      this.#control(src, verdict, b, s, e);
      filtering = this.#filtered.length > 0;
    }
    if (runStart >= 0) this.#forward(src, b, runStart, runEnd, runFrames, true);
    if (journal !== null && journal.pending > 0) {
      if (!journal.flush()) this.#journalFailed(0);
      else if (this.#journalDown) this.#journalRecovered();
    }
    if (r.garbageSinceFrame > this.logic.maxGarbageBytes) {
      this.#close(src, `garbage: ${r.garbageSinceFrame} bytes without a valid frame`);
    }
  }

  /**
   * A frame that is not forwarded: a hello, a Subscribe or a reject. Kept out of
   * `#onData` so the forwarding loop stays small enough to be compiled whole.
   */
  #control(src: Connection, verdict: number, b: Uint8Array, s: number, e: number): void {
    if (verdict === HELLO) {
      this.#journal?.control(src.id, "hello", b, s, e);
      this.#hello++;
      src.hellos++;
      if (src.framesIn === 1 && src.filter === null && this.logic.helloMarksPublisher) {
        src.hello = true;
        this.#refreshConsumers();
      }
    } else if (verdict === CONTROL) {
      if (firstTlvType(b, s, e) === RECOVERY_REQUEST_TLV) {
        this.#journal?.control(src.id, "recovery", b, s, e);
        this.#recover(src, b, s, e);
      } else {
        this.#journal?.control(src.id, "subscribe", b, s, e);
        this.#subscribe(src, b, s, e);
      }
    } else {
      this.#reject(src, verdict as Status, b, s, e);
    }
  }

  /** Journals the frame `[s, e)` byte for byte with its verdict (audit; the journal takes its own receive time). */
  #journalRecord(
    journal: AuditJournal,
    src: Connection,
    verdict: number,
    b: Uint8Array,
    s: number,
    e: number,
  ): void {
    journal.record(src.id, verdict, b, s, e);
  }

  /**
   * Once a second: gives back memory a burst left behind. Slabs that stayed
   * free go to the garbage collector, and a connection whose reads all stayed
   * under a quarter of its read size halves it (down to the first read size);
   * its buffer shrinks at its next read. Without this, every stall of a
   * consumer or hiccup of the host ratchets memory up for good.
   */
  #tidy(): void {
    this.#slabs.trim();
    this.#writeSlabs.trim();
    const now = Date.now();
    const l = this.logic;
    for (const c of [...this.#conns.values()]) {
      if (c.readSize > FIRST_READ && c.largestRead * 4 <= c.readSize) {
        c.readSize = Math.max(FIRST_READ, c.readSize >> 1);
      }
      c.largestRead = 0;
      this.#timeouts(c, now, l);
    }
  }

  /**
   * Closes a connection that holds a slot without using it (15.6): a frame
   * started and not finished within `partial_frame_timeout_ms` (a client
   * trickling bytes), frames waiting for a consumer that completed no write for
   * `write_stall_timeout_ms`, or, when `idle_timeout_ms` is set, nothing read
   * from or written to it for that long. A consumer that is merely quiet
   * (nothing queued for it) is never closed unless `idle_timeout_ms` is set.
   */
  #timeouts(c: Connection, now: number, l: RelayLogic): void {
    if (l.partialFrameTimeoutMs > 0 && c.partialSince > 0) {
      const held = now - c.partialSince;
      if (held > l.partialFrameTimeoutMs) {
        this.#close(c, `partial frame held for ${held} ms (${c.reader.buffered} bytes)`);
        return;
      }
    }
    const out = c.out;
    const clock = performance.now();
    if (
      l.writeStallTimeoutMs > 0 && out.pendingBytes > 0 &&
      !out.draining(clock, l.writeStallTimeoutMs)
    ) {
      this.#slowDisconnects++;
      this.#close(c, `slow consumer: no write completed for ${l.writeStallTimeoutMs} ms`);
      return;
    }
    if (
      l.idleTimeoutMs > 0 && now - c.lastActivity > l.idleTimeoutMs &&
      !out.draining(clock, l.idleTimeoutMs)
    ) {
      this.#close(c, `idle: nothing read or written for ${l.idleTimeoutMs} ms`);
    }
  }

  /**
   * Counts the frame by its first TLV's type and its header source, and the
   * source's sequence gaps and regressions (informational; audit rejects on its
   * own). A frame that follows its source's last by one takes the short path.
   */
  #trackSequence(b: Uint8Array, dv: DataView, s: number): void {
    const first = b[s + HEADER_SIZE]!;
    this.#tlvMix[first === 255 ? b[s + HEADER_SIZE + 2]! : first]!++;
    const src = b[s + 6]!;
    this.#srcFrames[src]!++;
    const lo = viewSequenceLow(dv, s);
    const hi = viewSequenceHigh(dv, s);
    if (lo === this.#srcLo[src]! + 1 && hi === this.#srcHi[src]!) this.#srcLo[src] = lo;
    else this.#sequenceStep(src, hi, lo);
  }

  /** A sequence that is not its source's last + 1 (first seen, unsequenced, gap, regression, carry). */
  #sequenceStep(src: number, hi: number, lo: number): void {
    if (hi === 0 && lo === 0) return;
    const lastHi = this.#srcHi[src]!;
    if (lastHi >= 0) {
      const step = (hi - lastHi) * 4294967296 + (lo - this.#srcLo[src]!);
      if (step > 1) {
        this.#srcGaps[src]!++;
        this.#srcMissing[src]! += step - 1;
      } else if (step < 1) {
        this.#srcBack[src]!++;
      }
    }
    this.#srcHi[src] = hi;
    this.#srcLo[src] = lo;
  }

  /** Whether the frame is consumed by the relay: a Subscribe, or a RecoveryRequest when recovery is on. */
  #isControl(b: Uint8Array, s: number, e: number): boolean {
    const t = b[s + HEADER_SIZE]!;
    if (t === SUBSCRIBE_TLV || (t === RECOVERY_REQUEST_TLV && this.#window !== null)) return true;
    if (t !== 255 || e - s < HEADER_SIZE + 3) return false;
    const x = b[s + HEADER_SIZE + 2];
    return x === SUBSCRIBE_TLV || (x === RECOVERY_REQUEST_TLV && this.#window !== null);
  }

  /** Counts soft failures; under `strict` the first one becomes the verdict. */
  #softFailures(src: Connection, verdict: number, b: Uint8Array, s: number, e: number): number {
    const soft = this.#validator.soft;
    let first = 0;
    for (let st = 1; st < 32; st++) {
      if ((soft & (1 << st)) === 0) continue;
      this.#warnings[st]!++;
      if (first === 0) first = st;
    }
    if (verdict !== Status.OK) return verdict;
    if (this.logic.strict) return first;
    if (this.#rejectLog.take(Date.now()) >= 0) {
      const err = explainReject(first as Status, b.subarray(s, e), this.#validator, this.logic);
      this.#log.warn("forwarding frame with warning", {
        conn: src.id,
        code: err.code,
        error: err.message,
      });
    }
    return Status.OK;
  }

  /** Records which filtered consumers want the frame `[s, e)` (topic data computed once). */
  #match(src: Connection, b: Uint8Array, s: number, e: number): void {
    const t = this.#topics;
    t.compute(b, s, e);
    const echo = this.logic.echo;
    for (const c of this.#filtered) {
      if (c === src && !echo) continue;
      if (c.filter!.matches(t)) c.addPending(s, e);
    }
  }

  /**
   * Copies the run `[s, e)` once and queues it (or its matching sub-runs) to
   * every consumer. The last run of a read, when large, is not copied: the
   * reader hands its buffer to the queues and continues in a pooled one.
   *
   * Ownership: the run's slab is held here (the pool holds the slab it fills;
   * an adopted buffer starts with this call's reference) until every consumer
   * has queued it, so a consumer closed in the middle of the fan-out cannot
   * free bytes the next consumer is about to queue.
   */
  #forward(
    src: Connection,
    b: Uint8Array,
    s: number,
    e: number,
    frames: number,
    last: boolean,
  ): void {
    if (this.#journal !== null) {
      if (!this.#journal.flush()) {
        this.#journalFailed(frames);
        for (const c of this.#filtered) c.pendCount = 0;
        return;
      }
      if (this.#journalDown) this.#journalRecovered();
    }
    const pool = this.#slabs;
    let at = s;
    let bytes = b;
    let slab: Slab | null;
    let adopted = false;
    if (last && e - s > OWN_BUFFER_ABOVE) {
      // b is src.reader.buffer: [s, e) stays valid in it after the swap.
      src.reader.swapBuffer(pool.takeBuffer(b.length));
      slab = pool.adopt(b);
      adopted = true;
    } else {
      at = pool.copy(b, s, e);
      bytes = pool.lastBuffer;
      slab = pool.last;
    }
    const end = at + e - s;
    this.#framesForwarded += frames;
    if (this.#sampler !== null) this.#sample(bytes, at);
    const echo = this.logic.echo;
    const l = this.logic;
    const stall = l.producerStall;
    const now = stall ? performance.now() : 0;
    for (const c of this.#plain) {
      if ((c === src && !echo) || c.state !== "open") continue;
      c.out.enqueue(bytes, at, end, frames, slab);
      if (c.out.overLimit(l.maxQueueFrames, l.maxQueueBytes)) this.#overflow(c);
      else if (stall) this.#flow(c, now);
    }
    for (const c of this.#filtered) {
      const n = c.pendCount;
      if (n === 0) continue;
      c.pendCount = 0;
      if (c.state !== "open") continue;
      // Sub-runs: offsets in the read buffer, moved to the copy.
      const shift = at - s;
      for (let i = 0; i < n; i++) {
        c.out.enqueue(
          bytes,
          c.pendStart[i]! + shift,
          c.pendEnd[i]! + shift,
          c.pendFrames[i]!,
          slab,
        );
      }
      if (c.out.overLimit(l.maxQueueFrames, l.maxQueueBytes)) this.#overflow(c);
      else if (stall) this.#flow(c, now);
    }
    // The replay window keeps the run as forwarded (sharing its bytes); last values per instrument.
    if (this.#window !== null) {
      if (adopted && (end - at) * 2 < bytes.length) {
        // A read buffer handed over whole but mostly empty: the window, which keeps runs
        // long, keeps a copy of the run, so what it pins is what window_bytes counts.
        const copyAt = pool.copy(bytes, at, end);
        this.#window.push(
          pool.lastBuffer,
          copyAt,
          copyAt + end - at,
          frames,
          pool.last,
          Date.now(),
        );
      } else {
        this.#window.push(bytes, at, end, frames, slab, Date.now());
      }
      if (this.#journal !== null) this.#last?.updateRun(bytes, at, end);
    }
    if (adopted) slab!.release();
  }

  /**
   * Flow control (D-36): a consumer that keeps reading but has more than half
   * of its queue limit queued pauses the producers until it drains.
   */
  #flow(c: Connection, now: number): void {
    const l = this.logic;
    if (
      c.out.overHalf(l.maxQueueFrames, l.maxQueueBytes) &&
      c.out.draining(now, l.slowConsumerStallMs)
    ) {
      this.#gate.stall(c, now);
    }
  }

  /**
   * Receives a copy of at most `perSecond` forwarded frames a second (the first
   * frame of a forwarded run), for decoded live views. Pass null to stop.
   *
   * @param fn called with a copy of the frame and the relay's name
   * @param perSecond upper bound of samples per second (default 20)
   */
  setSampler(fn: ((frame: Uint8Array, relay: string) => void) | null, perSecond = 20): void {
    this.#sampler = fn;
    this.#sampleEveryMs = 1000 / perSecond;
  }

  #sample(bytes: Uint8Array, at: number): void {
    const now = Date.now();
    if (now - this.#lastSample < this.#sampleEveryMs) return;
    this.#lastSample = now;
    const size = HEADER_SIZE + readU32(bytes, at + 24);
    try {
      this.#sampler!(bytes.slice(at, at + size), this.logic.name);
    } catch (e) {
      this.#log.warn("sampler failed", { error: (e as Error).message });
    }
  }

  /** Frames refused because the journal failed: one error line per outage. */
  #journalFailed(frames: number): void {
    this.#journalRejects += frames;
    this.#journalRefusedSinceDown += frames;
    if (this.#journalDown) return;
    this.#journalDown = true;
    this.#log.error("refusing frames: audit journal write failed", {
      frames,
      journal: this.#journal?.path,
      error: this.#journal?.lastError ?? undefined,
    });
  }

  #journalRecovered(): void {
    this.#journalDown = false;
    this.#log.info("audit journal writable again", {
      journal: this.#journal?.path,
      refused_frames: this.#journalRefusedSinceDown,
    });
    this.#journalRefusedSinceDown = 0;
  }

  #overflow(c: Connection): void {
    const l = this.logic;
    if (c.state !== "open") return;
    const out = c.out;
    if (l.slowConsumer === "drop") {
      const n = out.dropOldest(l.maxQueueFrames, l.maxQueueBytes);
      this.#slowDrops += n;
      const now = Date.now();
      if (c.overflowSince === 0) c.overflowSince = now;
      else if (now - c.overflowSince >= l.slowConsumerTimeoutMs) {
        this.#slowDisconnects++;
        this.#close(c, `slow consumer: overflowing for ${now - c.overflowSince} ms`);
        return;
      }
      const suppressed = this.#dropLog.take(now);
      if (suppressed >= 0) {
        this.#log.warn("slow consumer: dropped oldest frames", {
          conn: c.id,
          dropped: n,
          total_dropped: out.drops,
          queued_frames: out.queuedFrames,
          suppressed_lines: suppressed,
        });
      }
      return;
    }
    if (l.slowConsumer === "backpressure") {
      if (!this.#gate.holds(c)) {
        this.#log.warn("backpressure: pausing producers", {
          conn: c.id,
          queued_frames: out.queuedFrames,
        });
        this.#gate.block(c, l.maxBlockMs, (blocker) => {
          if (blocker.state === "open" && this.#overLimit(blocker)) {
            this.#slowDisconnects++;
            this.#close(
              blocker,
              `slow consumer: still full after blocking producers for ${l.maxBlockMs} ms`,
            );
          }
        });
      }
      return;
    }
    this.#slowDisconnects++;
    this.#close(
      c,
      `slow consumer: queue over its limit (${out.queuedFrames} frames, ${out.queuedBytes} bytes)`,
    );
  }

  #overLimit(c: Connection): boolean {
    return c.out.overLimit(this.logic.maxQueueFrames, this.logic.maxQueueBytes);
  }

  /** A consumer's fan-out frames started or stopped waiting behind its write in flight. */
  #backlog(c: Connection, waiting: boolean): void {
    if (waiting) {
      this.#backlogged.add(c);
      return;
    }
    if (!this.#backlogged.delete(c)) return;
    const wake = this.#pacedWake;
    if (wake !== null) {
      this.#pacedWake = null;
      this.#pacedWait = null;
      wake();
    }
  }

  /**
   * A promise to await before the next read while a consumer that keeps reading
   * has frames waiting behind its write in flight (resolved when one of them is
   * taken, or after `slow_consumer_stall_ms`); null when none waits.
   */
  #paced(): Promise<void> | null {
    const now = performance.now();
    const stallMs = this.logic.slowConsumerStallMs;
    let draining = false;
    for (const c of this.#backlogged) {
      if (c.state === "open" && c.out.draining(now, stallMs)) {
        draining = true;
        break;
      }
    }
    if (!draining) return null;
    if (this.#pacedWait === null) {
      this.#pacedWait = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          if (this.#pacedWake === wake) {
            this.#pacedWake = null;
            this.#pacedWait = null;
          }
          resolve();
        }, Math.max(1, stallMs));
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#pacedWake = wake;
      });
    }
    return this.#pacedWait;
  }

  /**
   * A consumer's socket took less than a whole write: reads are capped at the
   * smallest such capacity among consumers (never under {@linkcode MIN_READ_CAP}),
   * so that one turn of the event loop can pass a whole read on to each consumer
   * in one write. Reading more per turn than a write can carry makes the queues
   * of consumers that keep up grow until producers must be paused.
   */
  #capacityFound(): void {
    let cap = MAX_READ;
    for (const c of this.#conns.values()) {
      const n = c.out.capacity;
      if (n > 0 && n < cap) cap = n;
    }
    this.#readCap = Math.max(MIN_READ_CAP, cap);
  }

  /** A consumer's writer completed a write. */
  #progressed(c: Connection): void {
    const l = this.logic;
    const out = c.out;
    const underHalf = !out.overHalf(l.maxQueueFrames, l.maxQueueBytes);
    if (c.overflowSince !== 0 && underHalf) c.overflowSince = 0;
    if (
      this.#gate.holds(c) && (underHalf || !this.#overLimit(c) && l.slowConsumer === "backpressure")
    ) {
      this.#gate.release(c);
    }
  }

  /**
   * A consumer's write failed (it went away or shut its read side): stop
   * delivering to it, but read what it sent to the end before closing: a
   * short-lived producer's last frames are still in its socket (15.5).
   */
  #writeFailed(c: Connection, error: unknown): void {
    if (c.state !== "open") return;
    c.state = "reading";
    c.closeReason = `write failed: ${(error as Error).message ?? String(error)}`;
    this.#gate.release(c);
    this.#refreshConsumers();
    void c.out.close();
    this.#log.info("delivery stopped", { conn: c.id, reason: c.closeReason });
  }

  /**
   * Answers a RecoveryRequest (PROTOCOL.md 7.9, D-37): the retained frames the
   * request asks for (retransmit by source and sequence range, or a snapshot:
   * last values on market data, else the whole window) that pass the
   * connection's filter, byte for byte, then one RecoveryResponse, to this
   * connection only. Every frame the relay accepts after the request follows
   * them, so replay + live has no gap and no duplicate. The replayed frames
   * share the window's bytes and are never dropped nor counted against the
   * queue limits.
   */
  #recover(src: Connection, b: Uint8Array, s: number, e: number): void {
    const r = this.#recovery;
    r.requests++;
    const window = this.#window!;
    const cur = this.#cursor;
    const next = readTlvAt(b, s + HEADER_SIZE, e, cur);
    let reason: string | null = null;
    let status: number = RecoveryStatus.complete;
    let sent = { frames: 0, first: 0n, last: 0n, windowStart: 0n, partial: false };
    if (next < 0) reason = `${statusCode(-next)} in the RecoveryRequest record`;
    else if (cur.length !== 24) reason = `its length is ${cur.length}, expected 24`;
    const v = cur.valueStart;
    const u64 = (at: number) => (BigInt(readU32(b, at + 4)) << 32n) | BigInt(readU32(b, at));
    const after = reason === null ? u64(v) : 0n;
    const upTo = reason === null ? u64(v + 8) : 0n;
    const source = reason === null ? readU32(b, v + 16) : 0;
    const type = reason === null ? readU32(b, v + 20) : 0;
    if (reason === null) {
      if (type > 1) reason = `request_type is ${type}, expected 0 (retransmit) or 1 (snapshot)`;
      else if (source > 255) reason = `consumer_id is ${source}, a source (0–255; 0 = any)`;
      else if (upTo !== 0n && upTo < after) {
        reason = `current_sequence ${upTo} is below last_sequence ${after}`;
      }
    }
    if (reason !== null) {
      r.malformed++;
      this.#rejects[Status.MalformedRecovery]!++;
      status = RecoveryStatus.malformed;
    } else {
      const accept = (fb: Uint8Array, fs: number, fe: number): boolean => {
        if (source !== 0 && fb[fs + 6] !== source) return false;
        const f = src.filter;
        if (f === null) return !src.hello;
        if (f.all) return true;
        this.#topics.compute(fb, fs, fe);
        return f.matches(this.#topics);
      };
      const out = src.out;
      if (type === 1 && this.#last !== null) {
        const snap = this.#last.snapshot(accept);
        if (snap.frames > 0) out.enqueueRequested(snap.bytes, 0, snap.bytes.length, snap.frames);
        sent = { ...sent, frames: snap.frames, ...firstAndLast(snap.bytes) };
      } else {
        const added = new Float64Array(256);
        for (let x = 0; x < 256; x++) added[x] = this.#srcFrames[x]! + this.#refilled[x]!;
        const lastOf = (x: number) => {
          const hi = this.#srcHi[x]!;
          return hi < 0 ? 0n : (BigInt(hi) << 32n) | BigInt(this.#srcLo[x]!);
        };
        const range = type === 1 ? { after: 0n, upTo: 0n } : { after, upTo };
        sent = window.select({ source, ...range, added, lastOf }, accept, (fb, fs, fe, n, slab) => {
          out.enqueueRequested(fb, fs, fe, n, slab);
        });
        if (sent.partial && type === 0) {
          status = RecoveryStatus.partial;
          r.partial++;
        }
      }
      r.replayed += sent.frames;
    }
    const answer = this.#builder.begin().addTlv(
      RECOVERY_RESPONSE_TLV,
      encodePayload(RECOVERY_RESPONSE_TLV, {
        status,
        frames: sent.frames,
        first_sequence: sent.first,
        last_sequence: sent.last,
        window_start_sequence: sent.windowStart,
      }),
    );
    if (reason !== null) answer.addTlv(ERROR_TLV, encodeErrorText(`MalformedRecovery: ${reason}`));
    src.out.enqueueAnswer(answer.build());
    this.#requestsRead(src);
    const suppressed = this.#subscribeLogAllowed(src);
    if (suppressed >= 0) {
      const fields = {
        conn: src.id,
        request: type === 1 ? "snapshot" : "retransmit",
        source: source === 0 ? "any" : source,
        after: String(after),
        up_to: upTo === 0n ? undefined : String(upTo),
        status: ["complete", "partial", "disabled", "malformed"][status],
        frames: sent.frames,
        reason: reason ?? undefined,
        suppressed_lines: suppressed || undefined,
      };
      if (reason === null) this.#log.info("recovery", fields);
      else this.#log.warn("recovery refused", fields);
    }
  }

  /**
   * A client that sends requests and never reads the answers is a slow consumer
   * too: answers are never dropped, so more than `max_queue_frames` of them
   * unread (or more replayed bytes than a queue and a whole window) close it.
   */
  #requestsRead(c: Connection): void {
    const l = this.logic;
    const out = c.out;
    const replayRoom = l.maxQueueBytes + (l.recovery?.windowBytes ?? 0);
    if (out.answersQueued > l.maxQueueFrames || out.requestedBytes > replayRoom) {
      this.#slowDisconnects++;
      this.#close(
        c,
        `slow consumer: queue over its limit (${out.answersQueued} answers, ${out.requestedBytes} bytes of answers and replayed frames unread)`,
      );
    }
  }

  #subscribe(src: Connection, b: Uint8Array, s: number, e: number): void {
    this.#subscribes++;
    const cur = this.#cursor;
    const next = readTlvAt(b, s + HEADER_SIZE, e, cur);
    const before = src.filter?.patterns ?? (src.hello ? [] : ["*"]);
    let reason: string | null = null;
    let patterns: readonly string[] = before;
    if (next < 0) {
      reason = `MalformedSubscribe: ${statusCode(-next)} in the Subscribe record`;
    } else {
      try {
        const req = parseSubscribe(b.subarray(cur.valueStart, cur.valueStart + cur.length));
        // Sets, not Array.includes: a Subscribe of thousands of patterns must stay linear.
        if (req.mode === 0) patterns = dedupe(req.patterns);
        else if (req.mode === 1) patterns = dedupe([...before, ...req.patterns]);
        else {
          const gone = new Set(req.patterns);
          patterns = before.filter((p) => !gone.has(p));
        }
        const had = new Set(before);
        const bytes = patternListBytes(patterns);
        const unknown = patterns.find((p) => !had.has(p) && !this.#knownTopic(p));
        if (patterns.length > MAX_FILTER_PATTERNS || bytes > MAX_FILTER_BYTES) {
          reason =
            `MalformedSubscribe: the filter would hold ${patterns.length} patterns in ${bytes} bytes, limit ${MAX_FILTER_PATTERNS} patterns in ${MAX_FILTER_BYTES} bytes`;
          patterns = before;
        } else if (unknown !== undefined) {
          reason =
            `TopicNotFound: "${unknown}" is not a topic of the ${this.logic.name} relay and auto_discover is off`;
          patterns = before;
        }
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        reason = `${err.code}: ${err.message}`;
      }
    }
    if (reason === null) {
      // A Subscribe that changes nothing (a client's round trip, `confirm()`) is not news.
      const same = src.filter !== null && patterns.length === before.length &&
        patterns.every((p, i) => p === before[i]);
      src.filter = new Filter(patterns, this.#registry);
      for (const p of patterns) if (isExactTopic(p)) this.#registry.intern(p);
      this.#refreshConsumers();
      const suppressed = same ? -1 : this.#subscribeLogAllowed(src);
      if (suppressed >= 0) {
        const text = patterns.join(",");
        this.#log.info("subscribed", {
          conn: src.id,
          patterns: text === "" ? "(publish-only)" : clip(text),
          suppressed_lines: suppressed || undefined,
        });
      } else if (same) {
        this.#log.debug("subscribed", { conn: src.id, patterns: "(unchanged)" });
      }
    } else {
      this.#rejects[Status.MalformedSubscribe]!++;
      const suppressed = this.#subscribeLogAllowed(src);
      if (suppressed >= 0) {
        this.#log.warn("subscribe refused", {
          conn: src.id,
          reason: clip(reason),
          suppressed_lines: suppressed || undefined,
        });
      }
    }
    const answer = this.#builder.begin().addTlv(
      SUBSCRIBE_TLV,
      encodeSubscribe({ mode: 0, patterns }),
    );
    if (reason !== null) answer.addTlv(ERROR_TLV, encodeErrorText(reason));
    const reply = answer.build();
    src.out.enqueueAnswer(reply);
    this.#requestsRead(src);
  }

  /**
   * Subscribe log lines: a connection's first ten, then at most one a second
   * for the whole relay (a client sending Subscribes in a loop must not flood the log).
   *
   * @returns -1 to stay silent, else the lines suppressed since the last one
   */
  #subscribeLogAllowed(src: Connection): number {
    if (src.subscribeLogs < SUBSCRIBE_LOG_BUDGET) {
      src.subscribeLogs++;
      return 0;
    }
    return this.#subscribeLog.take(Date.now());
  }

  #knownTopic(p: string): boolean {
    if (!isExactTopic(p)) return true;
    return this.#registry.autoDiscover || this.#registry.has(p);
  }

  #reject(src: Connection, status: Status, b: Uint8Array, s: number, e: number): void {
    this.#rejects[status]!++;
    src.rejected++;
    const frame = b.subarray(s, e);
    const err = explainReject(status, frame, this.#validator, this.logic);
    const rec: RejectRecord = {
      time: Date.now(),
      conn: src.id,
      code: err.code,
      message: err.message,
      offset: err.offset ?? null,
      expected: err.expected === undefined ? null : String(err.expected),
      actual: err.actual === undefined ? null : String(err.actual),
      head: hex(frame.subarray(0, 64)),
    };
    if (this.#recent.length >= REJECT_RING) this.#recent.shift();
    this.#recent.push(rec);
    const suppressed = this.#rejectLog.take(rec.time);
    if (suppressed >= 0) {
      this.#log.warn("rejected frame", {
        conn: src.id,
        code: err.code,
        error: err.message,
        suppressed_lines: suppressed,
      });
    }
  }

  #refreshConsumers(): void {
    const plain: Connection[] = [];
    const filtered: Connection[] = [];
    for (const c of this.#conns.values()) {
      if (c.state !== "open" || c.publishOnly) continue;
      if (c.filter === null || c.filter.all) plain.push(c);
      else filtered.push(c);
    }
    this.#plain = plain;
    this.#filtered = filtered;
  }

  /**
   * Closes a connection: it is no longer read or written; its queue is freed.
   * Its final counts (a write in flight included) are logged and folded into
   * the relay's once that write settled ({@linkcode #settled}).
   */
  #close(c: Connection, reason: string): void {
    if (c.state === "closing") return;
    c.closeReason = c.state === "reading" ? `${c.closeReason}, then ${reason}` : reason;
    c.state = "closing";
    try {
      c.conn.close();
    } catch {
      // already closed by the peer
    }
    this.#conns.delete(c.id);
    this.#closing.add(c);
    this.#refreshConsumers();
    this.#gate.release(c);
    this.#backlog(c, false);
    const partial = c.reader.buffered;
    const settled = c.out.close().then((report) => this.#settled(c, report, partial));
    this.#settling.add(settled);
    void settled.finally(() => this.#settling.delete(settled));
  }

  /** A closed connection's final counts: logged and folded into the relay's. */
  #settled(c: Connection, report: OutboundReport, partial: number): void {
    this.#closing.delete(c);
    const out = c.out;
    this.#framesIn += c.framesIn;
    this.#bytesIn += c.bytesIn;
    this.#framesOut += out.framesOut;
    this.#bytesOut += out.bytesOut;
    this.#writes += out.writes;
    this.#framesQueuedClosed += report.queued;
    this.#dropsClosed += report.dropped;
    this.#undelivered += report.undelivered;
    this.#stallsClosed += c.stalls;
    this.#stalledMsClosed += c.stalledMs;
    this.#garbageBytes += c.reader.garbageBytes;
    for (let i = 0; i < 32; i++) this.#lossesClosed[i]! += c.reader.losses[i]!;
    c.reader.reset();
    const reason = c.closeReason;
    // frames_queued = frames_out + dropped + undelivered_frames
    const fields = {
      conn: c.id,
      reason,
      frames_in: c.framesIn,
      frames_queued: report.queued,
      frames_out: report.delivered,
      undelivered_frames: report.undelivered,
      dropped: report.dropped,
      partial_bytes: partial,
      suppressed_lines: undefined as number | undefined,
    };
    // A warning when the relay cut the connection or dropped frames for it; a consumer
    // that left (even abruptly, failing a write) with frames still queued is churn, not a
    // fault: its undelivered frames are in the line either way.
    const warn = report.dropped > 0 || reason.startsWith("slow") ||
      reason.startsWith("garbage") || reason.startsWith("read error");
    if (!warn) {
      this.#log.info("connection closed", fields);
      return;
    }
    const suppressed = this.#closeWarnings.take(Date.now());
    if (suppressed < 0) {
      this.#log.debug("connection closed", fields);
      return;
    }
    if (suppressed > 0) fields.suppressed_lines = suppressed;
    this.#log.warn("connection closed", fields);
  }

  /**
   * Recent rejected frames with their evidence (newest last).
   *
   * @returns up to 50 records
   */
  recentRejects(): readonly RejectRecord[] {
    return this.#recent;
  }

  /**
   * A snapshot of every counter (7.7), per relay and per connection.
   *
   * @returns the snapshot
   */
  stats(): RelayStats {
    const conns: ConnectionStats[] = [];
    let framesIn = this.#framesIn;
    let bytesIn = this.#bytesIn;
    let framesOut = this.#framesOut;
    let bytesOut = this.#bytesOut;
    let writes = this.#writes;
    let garbage = this.#garbageBytes;
    let stalls = this.#stallsClosed;
    let stalledMs = this.#stalledMsClosed;
    const losses = Float64Array.from(this.#lossesClosed);
    const l = this.logic;
    for (const c of [...this.#conns.values(), ...this.#closing]) {
      const out = c.out;
      framesIn += c.framesIn;
      bytesIn += c.bytesIn;
      framesOut += out.framesOut;
      bytesOut += out.bytesOut;
      writes += out.writes;
      stalls += c.stalls;
      stalledMs += c.stalledMs;
      garbage += c.reader.garbageBytes;
      for (let i = 0; i < 32; i++) losses[i]! += c.reader.losses[i]!;
      if (c.state === "closing") continue;
      const pending = out.pendingBytes;
      conns.push({
        id: c.id,
        kind: c.label,
        connectedAt: c.connectedAt,
        lastActivity: c.lastActivity,
        role: c.publishOnly ? "publisher" : "subscriber",
        patterns: c.filter === null ? (c.hello ? [] : ["*"]) : [...c.filter.patterns],
        framesIn: c.framesIn,
        bytesIn: c.bytesIn,
        framesQueued: out.framesQueued,
        framesOut: out.framesOut,
        bytesOut: out.bytesOut,
        writes: out.writes,
        rejected: c.rejected,
        dropped: out.drops,
        hellos: c.hellos,
        stalls: c.stalls,
        stalledMs: Math.round(c.stalledMs),
        delivering: c.delivering,
        queueFrames: out.pendingFrames,
        queueBytes: pending,
        queueHighWater: out.highWater,
        queuePercent: Math.max(out.queuedFrames / l.maxQueueFrames, pending / l.maxQueueBytes) *
          100,
        garbageBytes: c.reader.garbageBytes,
        readBufferBytes: c.reader.buffer.length,
      });
    }
    const rejects: Record<string, number> = {};
    for (let st = 1; st < 32; st++) {
      const n = this.#rejects[st]! + losses[st]!;
      if (n > 0) rejects[statusCode(st)] = n;
    }
    if (this.#journalRejects > 0) rejects.JournalUnavailable = this.#journalRejects;
    const warnings: Record<string, number> = {};
    for (let st = 1; st < 32; st++) {
      if (this.#warnings[st]! > 0) warnings[statusCode(st)] = this.#warnings[st]!;
    }
    const sources: SourceStats[] = [];
    for (let src = 0; src < 256; src++) {
      if (this.#srcFrames[src] === 0) continue;
      const hi = this.#srcHi[src]!;
      sources.push({
        source: src,
        name: sourceName(src) ?? null,
        frames: this.#srcFrames[src]!,
        lastSequence: hi < 0
          ? "0"
          : hi < 2097152
          ? String(hi * 4294967296 + this.#srcLo[src]!)
          : ((BigInt(hi) << 32n) | BigInt(this.#srcLo[src]!)).toString(),
        gaps: this.#srcGaps[src]!,
        missing: this.#srcMissing[src]!,
        regressions: this.#srcBack[src]!,
      });
    }
    const tlvMix: Record<string, number> = {};
    for (let t = 0; t < 256; t++) {
      if (this.#tlvMix[t]! > 0) tlvMix[tlvType(t)?.name ?? `type ${t}`] = this.#tlvMix[t]!;
    }
    const lat = this.#latency;
    return {
      name: l.name,
      domain: l.domain,
      address: this.#transport.address,
      addresses: this.addresses,
      policy: l.policy,
      strict: l.strict,
      startedAt: this.#startedAt,
      uptimeMs: this.#startedAt === 0 ? 0 : Date.now() - this.#startedAt,
      connections: {
        current: this.#conns.size,
        total: this.#connectionsTotal,
        refused: this.#connectionsRefused,
      },
      framesIn,
      bytesIn,
      framesOut,
      bytesOut,
      writes,
      framesForwarded: this.#framesForwarded,
      hello: this.#hello,
      subscribes: this.#subscribes,
      garbageBytes: garbage,
      rejects,
      warnings,
      drops: { slow_consumer: this.#slowDrops, ...rejects, hello: this.#hello },
      slowConsumerDisconnects: this.#slowDisconnects,
      undelivered: this.#undelivered,
      stalls: this.#gate.stalls,
      stalledMs: Math.round(this.#gate.stalledMs),
      producerStalls: stalls,
      producerStalledMs: Math.round(stalledMs),
      journal: this.#journal?.stats() ?? null,
      recovery: this.#window === null ? null : {
        windowFrames: this.#window.frames,
        windowBytes: this.#window.bytes,
        windowOldest: this.#window.oldest || null,
        windowEvicted: this.#window.evicted,
        lastValues: this.#last?.size ?? null,
        requests: this.#recovery.requests,
        replayedFrames: this.#recovery.replayed,
        partial: this.#recovery.partial,
        malformed: this.#recovery.malformed,
        refilled: this.#recovery.refilled,
      },
      latency: {
        count: lat.count,
        sumUs: lat.sum,
        maxUs: lat.max,
        p50Us: lat.percentile(0.5),
        p99Us: lat.percentile(0.99),
        p999Us: lat.percentile(0.999),
        clockSkew: lat.ahead,
        buckets: lat.buckets(),
      },
      sources,
      tlvMix,
      connectionsDetail: conns,
      ...(this.#bridges.size === 0 ? {} : { bridges: [...this.#bridges].map((f) => f()) }),
      accepting: this.#accept.accepting && !this.#stopping && this.#listeners.length > 0,
      acceptErrors: this.#accept.errors,
      lastAcceptError: this.#accept.lastError,
    };
  }
}

function gateLimits(logic: RelayLogic): GateLimits {
  return { maxStallMs: logic.maxProducerStallMs, maxStallPerSecondMs: logic.maxStallTotalMs };
}

/** Encoded size of a pattern list (`[len u8][UTF-8]` each), as the answer would carry it. */
function patternListBytes(patterns: readonly string[]): number {
  let n = 0;
  for (const p of patterns) {
    n += 1;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) {
        n += 4; // a surrogate pair: one 4-byte sequence
        i++;
      } else n += 3;
    }
  }
  return n;
}

/** A log field cut to 300 characters (a filter may list a thousand patterns). */
function clip(text: string): string {
  return text.length <= 300 ? text : `${text.slice(0, 300)}… (${text.length} characters)`;
}

function dedupe(patterns: readonly string[]): string[] {
  return [...new Set(patterns)];
}

function isExactTopic(p: string): boolean {
  return !p.endsWith("*") && !p.startsWith("tlv.") && !p.startsWith("source.");
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const x of bytes) s += x.toString(16).padStart(2, "0");
  return s;
}

/** The type of the frame's first TLV (extended form resolved), or -1. */
function firstTlvType(b: Uint8Array, s: number, e: number): number {
  if (e - s < HEADER_SIZE + 2) return -1;
  const t = b[s + HEADER_SIZE]!;
  return t === 255 ? (e - s >= HEADER_SIZE + 3 ? b[s + HEADER_SIZE + 2]! : -1) : t;
}

/** The sequences of the first and last frame of back-to-back frames. */
function firstAndLast(bytes: Uint8Array): { first: bigint; last: bigint } {
  if (bytes.length < HEADER_SIZE) return { first: 0n, last: 0n };
  const seqAt = (at: number) =>
    (BigInt(readU32(bytes, at + 12)) << 32n) | BigInt(readU32(bytes, at + 8));
  let off = 0;
  let lastAt = 0;
  while (off < bytes.length) {
    lastAt = off;
    off += HEADER_SIZE + readU32(bytes, off + 24);
  }
  return { first: seqAt(0), last: seqAt(lastAt) };
}
