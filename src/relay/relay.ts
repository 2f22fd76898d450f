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

import { Status, statusCode } from "../protocol/errors.ts";
import {
  HEADER_SIZE,
  readSequenceHigh,
  readSequenceLow,
  readU32,
  viewSequenceHigh,
  viewSequenceLow,
  viewTimestampApprox,
} from "../protocol/header.ts";
import { readTlvAt, TlvCursor } from "../protocol/tlv.ts";
import { RELAY_SOURCE } from "../protocol/domains.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import {
  encodeErrorText,
  encodeSubscribe,
  ERROR_TLV,
  parseSubscribe,
  SUBSCRIBE_TLV,
} from "../protocol/subscribe.ts";
import { FrameError } from "../protocol/errors.ts";
import type { StreamConn, Transport, TransportListener } from "../transport/transport.ts";
import { UnixTransport } from "../transport/unix.ts";
import { Logger, RateLimit } from "../log/logger.ts";
import { Connection, type ConnectionOwner } from "./connection.ts";
import { auditTlvRanges, Validator } from "./policy.ts";
import { Filter, FrameTopics, TopicRegistry } from "./topics.ts";
import { AuditJournal } from "./journal.ts";
import type { RelayLogic } from "./logic.ts";
import { explainReject, type RejectRecord } from "./rejects.ts";
import type { BridgeStats, ConnectionStats, RelayStats, SourceStats } from "./stats.ts";
import { LatencyHistogram } from "./latency.ts";
import { tlvType } from "../protocol/registry.ts";
import { sourceName } from "../protocol/domains.ts";
import { OWN_BUFFER_ABOVE, type Slab, SlabPool } from "./slab.ts";
import { acceptEach, AcceptHealth } from "../transport/accept.ts";

/** Verdicts beyond `Status` used inside the scan loop. */
const HELLO = 100;
const SUBSCRIBE = 101;
/** Rejects kept for inspection. */
const REJECT_RING = 50;
/** Read once; `performance.timeOrigin` is slow to read per call. */
const CLOCK_ORIGIN = performance.timeOrigin;
/** Reads never grow beyond this. */
const MAX_READ = 262_144;
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
}

/**
 * A running relay.
 *
 * @example
 * ```ts
 * const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: "/tmp/x/signals.sock" });
 * await relay.start();
 * // ...
 * await relay.stop();
 * ```
 */
export class Relay implements ConnectionOwner {
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

  // Backpressure gate (execution `backpressure` policy).
  #gate: Promise<void> | null = null;
  #openGate: (() => void) | null = null;
  #blockedBy: Connection | null = null;
  #gateTimer: ReturnType<typeof setTimeout> | undefined;
  #tidyTimer: ReturnType<typeof setInterval> | undefined;

  // Counters of the relay (closed connections' counts are folded in here).
  #connectionsTotal = 0;
  #connectionsRefused = 0;
  #framesIn = 0;
  #bytesIn = 0;
  #framesOut = 0;
  /** Where forwarded runs are copied: reused slabs, not one buffer per run. */
  readonly #slabs = new SlabPool();
  /**
   * Where consumers coalesce small chunks for a write: apart from the runs, so
   * a slow consumer's queued runs never pin slabs that writes fill quickly.
   */
  readonly #writeSlabs = new SlabPool();
  #writes = 0;
  #bytesOut = 0;
  #framesForwarded = 0;
  #hello = 0;
  #subscribes = 0;
  #garbageBytes = 0;
  #slowDrops = 0;
  #slowDisconnects = 0;
  #stalls = 0;
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
    this.#validator = validatorFor(logic);
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
        this.#journal = AuditJournal.open(this.logic.journalPath, this.logic.name);
      } catch (e) {
        throw new Error(
          `cannot open audit journal ${this.logic.journalPath}: ${(e as Error).message}`,
        );
      }
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
      [...this.#conns.values()].some((c) => c.queuedBytes + c.inflightBytes > 0)
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of [...this.#conns.values()]) this.#close(c, "relay shutting down");
    this.#releaseGate();
    await Promise.allSettled([...this.#readers]);
    this.#journal?.close();
    this.#log.info("stopped", {
      frames_forwarded: this.#framesForwarded,
      journal_refused: this.#journal === null ? undefined : this.#journalRejects,
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
      this.#validator = validatorFor(this.logic);
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
   * const off = relay.addBridge(() => bridge.stats());
   * off();
   * ```
   */
  addBridge(provider: () => BridgeStats): () => void {
    this.#bridges.add(provider);
    return () => void this.#bridges.delete(provider);
  }

  #adopt(conn: StreamConn, label: string): Connection {
    const c = new Connection(
      this.#nextId++,
      conn,
      this,
      Math.min(FIRST_READ, this.logic.readBufferSize),
      this.#maxPayload,
      this.#writeSlabs,
    );
    c.label = label;
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
      while (!c.closed) {
        if (this.#gate !== null) await this.#gate;
        // Between reads: a buffer grown by a burst shrinks back (see #tidy).
        if (r.buffer.length >= 2 * c.readSize) r.shrink(c.readSize);
        const view = r.writable(c.readSize);
        const n = await c.conn.read(view);
        if (n === null) break;
        if (n === 0) continue;
        r.commit(n);
        c.lastActivity = Date.now();
        if (n > c.largestRead) c.largestRead = n;
        if (n === view.length && c.readSize < MAX_READ) {
          c.readSize = Math.min(Math.max(c.readSize * 2, this.logic.readBufferSize), MAX_READ);
        }
        this.#onData(c);
      }
    } catch (e) {
      if (!c.closed) this.#close(c, `read error: ${(e as Error).message}`);
    }
    if (!c.closed) this.#close(c, r.buffered > 0 ? "disconnected mid-frame" : "disconnected");
  }

  /**
   * The hot path: scan the connection's buffer, validate, forward runs.
   *
   * Keep the per-frame path small. V8 inlines callees into this loop only up to
   * a budget (920 bytecodes); FrameReader.next, the latency record and the
   * sequence tracker use about 830 of it. What is rare (hellos, Subscribes,
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
    while (r.next()) {
      const s = r.frameStart;
      const e = r.frameEnd;
      src.framesIn++;
      src.bytesIn += e - s;
      let verdict: number = Status.OK;
      const d = b[s + 4]!;
      if (e - s === HEADER_SIZE) {
        verdict = HELLO;
      } else if ((d === own || d === this.#systemWire) && this.#isSubscribe(b, s, e)) {
        verdict = SUBSCRIBE;
      } else if (d !== own) {
        verdict = d === 0 || d > 4 ? Status.InvalidRelayDomain : Status.WrongDomain;
      } else if (validating) {
        verdict = v.check(b, s, e, src.sequences, now);
        if (v.soft !== 0) verdict = this.#softFailures(src, verdict, b, s, e);
      }
      if (journal !== null && verdict < HELLO) {
        this.#journalRecord(journal, now, src, verdict, b, s, e);
      }
      if (verdict === Status.OK) {
        // × 0.001, not / 1000: a division costs more than the rest of the bucket arithmetic.
        this.#latency.record(nowUs - viewTimestampApprox(dv, s) * 0.001);
        this.#trackSequence(b, dv, s);
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
      this.#hello++;
      src.hellos++;
      if (src.framesIn === 1 && src.filter === null && this.logic.helloMarksPublisher) {
        src.hello = true;
        this.#refreshConsumers();
      }
    } else if (verdict === SUBSCRIBE) {
      this.#subscribe(src, b, s, e);
    } else {
      this.#reject(src, verdict as Status, b, s, e);
    }
  }

  /** Journals the verdict on the frame `[s, e)` (audit). */
  #journalRecord(
    journal: AuditJournal,
    now: number,
    src: Connection,
    verdict: number,
    b: Uint8Array,
    s: number,
    e: number,
  ): void {
    journal.record(
      now,
      src.id,
      b[s + 4]!,
      b[s + 6]!,
      readSequenceHigh(b, s),
      readSequenceLow(b, s),
      e - s,
      verdict === Status.OK ? null : statusCode(verdict),
    );
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
    for (const c of this.#conns.values()) {
      if (c.readSize > FIRST_READ && c.largestRead * 4 <= c.readSize) {
        c.readSize = Math.max(FIRST_READ, c.readSize >> 1);
      }
      c.largestRead = 0;
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

  #isSubscribe(b: Uint8Array, s: number, e: number): boolean {
    const t = b[s + HEADER_SIZE]!;
    return t === SUBSCRIBE_TLV ||
      (t === 255 && e - s >= HEADER_SIZE + 3 && b[s + HEADER_SIZE + 2] === SUBSCRIBE_TLV);
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
    if (last && e - s > OWN_BUFFER_ABOVE) {
      // b is src.reader.buffer: [s, e) stays valid in it after the swap.
      src.reader.swapBuffer(pool.takeBuffer(b.length));
      slab = pool.adopt(b);
    } else {
      at = pool.copy(b, s, e);
      bytes = pool.lastBuffer;
      slab = pool.last;
    }
    const end = at + e - s;
    this.#framesForwarded += frames;
    if (this.#sampler !== null) this.#sample(bytes, at);
    const echo = this.logic.echo;
    for (const c of this.#plain) {
      if (c === src && !echo) continue;
      c.enqueue(bytes, at, end, frames, slab);
      if (this.#overLimit(c)) this.#overflow(c);
    }
    for (const c of this.#filtered) {
      const n = c.pendCount;
      if (n === 0) continue;
      // Sub-runs: offsets in the read buffer, moved to the copy.
      const shift = at - s;
      for (let i = 0; i < n; i++) {
        c.enqueue(bytes, c.pendStart[i]! + shift, c.pendEnd[i]! + shift, c.pendFrames[i]!, slab);
      }
      c.pendCount = 0;
      if (this.#overLimit(c)) this.#overflow(c);
    }
    if (slab?.adopted) pool.settle(slab);
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
    if (c.closed) return;
    if (l.slowConsumer === "drop") {
      const n = c.dropOldest(l.maxQueueFrames, l.maxQueueBytes);
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
          total_dropped: c.drops,
          queued_frames: c.queuedFrames,
          suppressed_lines: suppressed,
        });
      }
      return;
    }
    if (l.slowConsumer === "backpressure") {
      if (this.#gate === null) {
        this.#stalls++;
        this.#blockedBy = c;
        this.#gate = new Promise((resolve) => (this.#openGate = resolve));
        this.#log.warn("backpressure: pausing producers", {
          conn: c.id,
          queued_frames: c.queuedFrames,
        });
        this.#gateTimer = setTimeout(() => {
          const blocker = this.#blockedBy;
          if (blocker !== null && !blocker.closed && this.#overLimit(blocker)) {
            this.#slowDisconnects++;
            this.#close(
              blocker,
              `slow consumer: still full after blocking producers for ${l.maxBlockMs} ms`,
            );
          }
          this.#releaseGate();
        }, l.maxBlockMs);
      }
      return;
    }
    this.#slowDisconnects++;
    this.#close(
      c,
      `slow consumer: queue over its limit (${c.queuedFrames} frames, ${c.queuedBytes} bytes)`,
    );
  }

  #overLimit(c: Connection): boolean {
    return c.overLimit(this.logic.maxQueueFrames, this.logic.maxQueueBytes);
  }

  #releaseGate(): void {
    if (this.#gateTimer !== undefined) clearTimeout(this.#gateTimer);
    this.#gateTimer = undefined;
    const open = this.#openGate;
    this.#gate = null;
    this.#openGate = null;
    this.#blockedBy = null;
    open?.();
  }

  /** @internal A consumer's writer made progress. */
  drained(c: Connection): void {
    const l = this.logic;
    if (
      c.overflowSince !== 0 && c.queuedFrames * 2 <= l.maxQueueFrames &&
      c.queuedBytes * 2 <= l.maxQueueBytes
    ) {
      c.overflowSince = 0;
    }
    if (this.#blockedBy === c && !this.#overLimit(c)) this.#releaseGate();
  }

  /** @internal A consumer's write failed. */
  writeFailed(c: Connection, error: unknown): void {
    this.#close(c, `write failed: ${(error as Error).message ?? String(error)}`);
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
      src.filter = new Filter(patterns, this.#registry);
      for (const p of patterns) if (isExactTopic(p)) this.#registry.intern(p);
      this.#refreshConsumers();
      const suppressed = this.#subscribeLogAllowed(src);
      if (suppressed >= 0) {
        const text = patterns.join(",");
        this.#log.info("subscribed", {
          conn: src.id,
          patterns: text === "" ? "(publish-only)" : clip(text),
          suppressed_lines: suppressed || undefined,
        });
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
    src.enqueue(reply, 0, reply.length, 1, null);
    // A client that sends Subscribes and never reads its answers is a slow consumer too.
    if (this.#overLimit(src)) this.#overflow(src);
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
      if (c.closed || c.publishOnly) continue;
      if (c.filter === null || c.filter.all) plain.push(c);
      else filtered.push(c);
    }
    this.#plain = plain;
    this.#filtered = filtered;
  }

  #close(c: Connection, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    c.closeReason = reason;
    try {
      c.conn.close();
    } catch {
      // already closed by the peer
    }
    const undelivered = c.discardQueue();
    this.#conns.delete(c.id);
    this.#refreshConsumers();
    this.#framesIn += c.framesIn;
    this.#bytesIn += c.bytesIn;
    this.#framesOut += c.framesOut;
    this.#bytesOut += c.bytesOut;
    this.#writes += c.writes;
    this.#garbageBytes += c.reader.garbageBytes;
    for (let i = 0; i < 32; i++) this.#lossesClosed[i]! += c.reader.losses[i]!;
    if (this.#blockedBy === c) this.#releaseGate();
    const fields = {
      conn: c.id,
      reason,
      frames_in: c.framesIn,
      frames_out: c.framesOut,
      undelivered_frames: undelivered,
      dropped: c.drops,
      partial_bytes: c.reader.buffered,
    };
    c.reader.reset();
    if (
      undelivered > 0 || c.drops > 0 || reason.startsWith("slow") || reason.startsWith("garbage")
    ) {
      this.#log.warn("connection closed", fields);
    } else {
      this.#log.info("connection closed", fields);
    }
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
    const losses = Float64Array.from(this.#lossesClosed);
    const l = this.logic;
    for (const c of this.#conns.values()) {
      framesIn += c.framesIn;
      bytesIn += c.bytesIn;
      framesOut += c.framesOut;
      bytesOut += c.bytesOut;
      writes += c.writes;
      garbage += c.reader.garbageBytes;
      for (let i = 0; i < 32; i++) losses[i]! += c.reader.losses[i]!;
      const pending = c.queuedBytes + c.inflightBytes;
      conns.push({
        id: c.id,
        kind: c.label,
        connectedAt: c.connectedAt,
        lastActivity: c.lastActivity,
        role: c.publishOnly ? "publisher" : "subscriber",
        patterns: c.filter === null ? (c.hello ? [] : ["*"]) : [...c.filter.patterns],
        framesIn: c.framesIn,
        bytesIn: c.bytesIn,
        framesOut: c.framesOut,
        bytesOut: c.bytesOut,
        writes: c.writes,
        rejected: c.rejected,
        dropped: c.drops,
        hellos: c.hellos,
        queueFrames: c.queuedFrames,
        queueBytes: pending,
        queueHighWater: c.queueHighWater,
        queuePercent: Math.max(c.queuedFrames / l.maxQueueFrames, pending / l.maxQueueBytes) * 100,
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
      stalls: this.#stalls,
      journal: this.#journal === null ? null : {
        path: this.#journal.path,
        lines: this.#journal.lines,
        failures: this.#journal.failures,
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

/** Logic keys a running relay can take new values for. */
const RELOADABLE = [
  "strict",
  "allowVendor",
  "strictSourceCheck",
  "maxSequenceGap",
  "maxFutureMs",
  "maxAgeMs",
  "maxMessageSize",
  "maxConnections",
  "maxQueueFrames",
  "maxQueueBytes",
  "slowConsumer",
  "slowConsumerTimeoutMs",
  "maxBlockMs",
  "maxGarbageBytes",
  "echo",
  "helloMarksPublisher",
] as const satisfies readonly (keyof RelayLogic)[];

function validatorFor(logic: RelayLogic): Validator {
  return new Validator({
    policy: logic.policy,
    strict: logic.strict,
    allowedTlv: auditTlvRanges(logic.domain, logic.allowVendor),
    strictSourceCheck: logic.strictSourceCheck,
    maxSequenceGap: logic.maxSequenceGap,
    maxFutureMs: logic.maxFutureMs,
    maxAgeMs: logic.maxAgeMs,
  });
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
