/**
 * The `torq bench` engine: a load generator in the manner of `nats bench`.
 * Producers publish fixed-size frames as fast as allowed (or at a set rate),
 * consumers receive them, and the run reports per-consumer and total msgs/s
 * and MB/s, latency percentiles from a {@linkcode Histogram}, drops (sent −
 * received) and per-source sequence gaps.
 *
 * How it measures:
 * - Producers and consumers share this process's event loop; a relay started
 *   by the bench ({@linkcode RelayProcess}) is a separate process, so it has a
 *   core of its own.
 * - Each producer owns a chunk of pre-built frames (its own source byte,
 *   sequences 1, 2, 3, …). Per chunk it writes the sequences, reads the clock
 *   once, writes that same time into every frame's header timestamp, seals
 *   checksums where the domain wants them, and hands the chunk to the socket.
 * - Consumers re-frame what they read with a {@linkcode FrameReader} (no copy),
 *   read the clock once per read, and record receive time − header timestamp
 *   of every frame into their histogram. Latency therefore runs from "chunk
 *   handed to the socket" (after stamping and sealing it) to "frame read by
 *   the consumer", including time waiting for this process's event loop.
 * - Lossless window: a producer keeps at most `window` frames ahead of its
 *   slowest consumer (by the last sequence each consumer has seen from it).
 *   With `window = 0` producers never wait, and a market-data relay drops the
 *   oldest frames of consumers that fall behind.
 *
 * Every wait is bounded: a run whose frames stop moving for `stallMs` is
 * stopped and reported as stalled; draining after the producers finish stops
 * after `drainIdleMs` without progress.
 *
 * @module
 */

import {
  encodeHeader,
  encodeSubscribe,
  FrameReader,
  HEADER_SIZE,
  MessageBuilder,
  readU32,
  sealChecksum,
  SUBSCRIBE_TLV,
  SubscribeMode,
  writeTlvHeader,
  writeU32,
} from "../protocol/mod.ts";
import { Histogram, type HistogramSummary } from "./histogram.ts";
import { transportForPath } from "../client/mod.ts";
import type { StreamConn } from "../transport/mod.ts";
import { sleep, writeAll } from "../io/mod.ts";
import { message, round, settle } from "./_util.ts";
import type { RelayLogLine } from "./relay_process.ts";

const TWO32 = 4294967296;
/** Bytes of pre-built frames per producer chunk (at most). */
const CHUNK_BYTES = 262_144;
/** Size of an execution bench frame: header + one OrderRequest (TLV 40, 32 bytes). */
export const ORDER_REQUEST_FRAME_SIZE = HEADER_SIZE + 2 + 32;
/** Smallest frame the bench builds: header + one empty TLV (a header-only frame is a hello). */
export const MIN_BENCH_SIZE = HEADER_SIZE + 2;
/** Most producers in one run (their source bytes must stay distinct and, for audit, ≤ 100). */
export const MAX_PRODUCERS = 60;

/** How each domain's bench frames are built. */
export interface BenchDomainInfo {
  /** Wire relay_domain. */
  wire: 1 | 2 | 3;
  /** Relay name in configuration and logs. */
  relay: "market_data" | "signal" | "execution";
  /** Source byte of producer 1; producer i uses `sourceBase + i − 1`. */
  sourceBase: number;
  /** TLV type of the payload (ProprietaryData 202, or OrderRequest 40). */
  tlvType: number;
  /** Whether frames carry a CRC-32 (the signal relay verifies it, the execution relay requires it). */
  checksum: boolean;
  /** Fixed frame size, or null when `--size` applies. */
  fixedSize: number | null;
}

/** The three relay domains the bench drives. */
export const BENCH_DOMAINS: Readonly<Record<BenchDomain, BenchDomainInfo>> = {
  "market-data": {
    wire: 1,
    relay: "market_data",
    sourceBase: 1,
    tlvType: 202,
    checksum: false,
    fixedSize: null,
  },
  signal: {
    wire: 2,
    relay: "signal",
    sourceBase: 20,
    tlvType: 202,
    checksum: true,
    fixedSize: null,
  },
  execution: {
    wire: 3,
    relay: "execution",
    sourceBase: 40,
    tlvType: 40,
    checksum: true,
    fixedSize: ORDER_REQUEST_FRAME_SIZE,
  },
};

/** A domain as `torq relay` and `torq bench --domain` spell it. */
export type BenchDomain = "market-data" | "signal" | "execution";

/** What one run sends. */
export interface BenchWorkload {
  /** Relay domain of the frames. */
  domain: BenchDomain;
  /** Producers (1–{@linkcode MAX_PRODUCERS}). */
  producers: number;
  /** Consumers (≥ 1). */
  consumers: number;
  /** Whole frame size in bytes (execution: {@linkcode ORDER_REQUEST_FRAME_SIZE}). */
  size: number;
  /** Messages to publish in total (split over producers), or null to run for `durationMs`. */
  msgs: number | null;
  /** How long producers publish when `msgs` is null, in ms. */
  durationMs: number;
  /** Messages per second per producer; 0 = as fast as possible. */
  rate: number;
  /** Frames a producer may have in flight ahead of its slowest consumer; 0 = unbounded. */
  window: number;
}

/** Where a run sends its frames. */
export type BenchTarget =
  | {
    /** Through a relay listening on `path`. */
    system: "relay";
    /** Socket path. */
    path: string;
    /** Whether the bench started this relay. */
    started: boolean;
  }
  | {
    /** Over direct Unix socket connections from each producer to each consumer. */
    system: "direct";
    /** Directory for the listening socket. */
    dir: string;
  };

/** A live progress sample (see {@linkcode RunOptions.onProgress}). */
export interface BenchProgress {
  /** Which system is being measured. */
  system: "relay" | "direct";
  /** Time since producers started, ms. */
  elapsedMs: number;
  /** Frames sent by all producers. */
  sent: number;
  /** Frames received, summed over consumers. */
  received: number;
  /** Frames received per second per consumer over the last interval. */
  msgsPerSec: number;
}

/** Hooks and bounds of a run. */
export interface RunOptions {
  /** Called every `progressIntervalMs` while producers run and consumers drain. */
  onProgress?: (p: BenchProgress) => void;
  /** Progress interval (default 250 ms). */
  progressIntervalMs?: number;
  /** Stops producers early (the run still drains and reports). */
  signal?: AbortSignal;
  /** Stop a run whose frames stop moving for this long (default 5,000 ms). */
  stallMs?: number;
  /** Stop draining after this long without a frame arriving (default 1,000 ms). */
  drainIdleMs?: number;
  /** Longest drain (default 15,000 ms). */
  drainMaxMs?: number;
}

/** One producer's figures. */
export interface ProducerResult {
  /** 1-based. */
  id: number;
  /** Its source byte. */
  source: number;
  /** Frames sent. */
  msgs: number;
  /** Bytes sent. */
  bytes: number;
  /** From the start of the run to its last write, s. */
  seconds: number;
  /** msgs / seconds. */
  msgsPerSec: number;
  /** bytes / seconds / 10^6. */
  mbPerSec: number;
  /** Why it stopped early, if it did. */
  error?: string;
}

/** One consumer's figures. */
export interface ConsumerResult {
  /** 1-based. */
  id: number;
  /** Bench frames received. */
  msgs: number;
  /** Their bytes. */
  bytes: number;
  /** From the start of the run to its last frame, s. */
  seconds: number;
  /** msgs / seconds. */
  msgsPerSec: number;
  /** bytes / seconds / 10^6. */
  mbPerSec: number;
  /** Frames sent but not received. */
  drops: number;
  /** Per-source sequence jumps forward (one per jump, whatever its length). */
  gaps: number;
  /** Frames whose sequence was not above the last one seen from their source. */
  outOfOrder: number;
  /** Frames of another domain or source (other traffic on a shared relay), ignored. */
  foreign: number;
  /** Whether its connection ended before the run did (e.g. the relay disconnected it). */
  disconnected: boolean;
  /** Latency of its frames. */
  latency: HistogramSummary;
  /** Read error, if any. */
  error?: string;
}

/** Totals over consumers. */
export interface TotalResult {
  /** Frames received, summed over consumers. */
  msgs: number;
  /** Their bytes. */
  bytes: number;
  /** Longest consumer time, s. */
  seconds: number;
  /** msgs / seconds (aggregate delivery rate). */
  msgsPerSec: number;
  /** bytes / seconds / 10^6. */
  mbPerSec: number;
  /** Summed drops. */
  drops: number;
  /** Summed gaps. */
  gaps: number;
}

/**
 * Why a run failed, or null when it did not: frames stopped moving, a
 * producer or consumer failed or lost its connection (e.g. the relay died),
 * no frame came back, or a relay the bench started exited with an error. A run
 * stopped with Ctrl-C did not fail.
 *
 * @param r the result
 * @returns one line, or null
 * @example
 * ```ts
 * declare const report: BenchReport;
 *
 * const failed = report.runs.map(benchFailure).find((f) => f !== null);
 * if (failed) Deno.exit(1);
 * ```
 */
export function benchFailure(r: BenchResult): string | null {
  const why: string[] = [];
  if (r.stalled) why.push("frames stopped moving");
  for (const p of r.producerStats) if (p.error) why.push(`producer ${p.id}: ${p.error}`);
  for (const c of r.consumerStats) {
    if (c.error) why.push(`consumer ${c.id}: ${c.error}`);
    else if (c.disconnected && !r.aborted) {
      why.push(`consumer ${c.id}: its connection ended before the run did`);
    }
  }
  if (r.system === "relay" && r.sent > 0 && r.total.msgs === 0) {
    why.push("no frame came back through the relay");
  }
  const exit = r.relayLog.find((l) => l.msg.startsWith("relay exited with"));
  if (exit !== undefined) why.push(exit.msg);
  if (why.length === 0) return null;
  return `the ${r.system === "relay" ? "relay" : "direct"} run failed: ${
    why.slice(0, 3).join("; ")
  }${why.length > 3 ? `; … ${why.length - 3} more` : ""}`;
}

/** The figures of one run. */
export interface BenchResult {
  /** Through a relay or direct. */
  system: "relay" | "direct";
  /** Domain of the frames. */
  domain: BenchDomain;
  /** Socket used (the relay's, or the direct listener's). */
  socket: string;
  /** Whether the bench started the relay. */
  relayStarted: boolean;
  /** Producer count. */
  producers: number;
  /** Consumer count. */
  consumers: number;
  /** Frame size, bytes. */
  size: number;
  /** Messages asked for, or null for a timed run. */
  msgs: number | null;
  /** Publishing time asked for (timed run), s; null for a counted run. */
  durationSeconds: number | null;
  /** Rate per producer (0 = max). */
  rate: number;
  /** Lossless window (0 = unbounded). */
  window: number;
  /** Whether producers wait for consumers (window > 0). */
  lossless: boolean;
  /** Frames sent by all producers. */
  sent: number;
  /** Wall time of the run from the first write to the end of draining, s. */
  seconds: number;
  /** Whether the run stopped because frames stopped moving. */
  stalled: boolean;
  /** Whether it was stopped early (Ctrl-C). */
  aborted: boolean;
  /** Per producer. */
  producerStats: ProducerResult[];
  /** Per consumer. */
  consumerStats: ConsumerResult[];
  /** Over consumers. */
  total: TotalResult;
  /** Latency over every consumer's frames. */
  latency: HistogramSummary;
  /** Warnings and errors the relay logged (a relay started by the bench only). */
  relayLog: RelayLogLine[];
}

/** Relay-vs-direct ratios of a `--direct` run. */
export interface BenchRatio {
  /** Relay msgs/s per consumer ÷ direct msgs/s per consumer. */
  throughput: number;
  /** Relay p50 ÷ direct p50. */
  p50: number;
  /** Relay p99 ÷ direct p99. */
  p99: number;
}

/** Everything `torq bench` reports: one run, or a direct run and a relay run. */
export interface BenchReport {
  /** The runs, direct first. */
  runs: BenchResult[];
  /** Ratios when there is a direct and a relay run. */
  ratio: BenchRatio | null;
}

// ---------------------------------------------------------------------------------------------
// Clock: header timestamps are epoch nanoseconds; latency arithmetic is done on
// small numbers relative to a base, so no precision is lost to 2^53.

/**
 * The bench's clock: one epoch anchor, then `performance.now()`. Writes and
 * reads header timestamps as exact u64 nanoseconds without BigInt.
 */
class BenchClock {
  readonly #perfBase: number;
  readonly #baseHi: number;
  readonly #baseLo: number;

  constructor() {
    const p = performance.now();
    const epochMs = performance.timeOrigin + p;
    const whole = Math.floor(epochMs);
    this.#perfBase = p - (epochMs - whole);
    const msLo = whole % TWO32;
    const msHi = (whole - msLo) / TWO32;
    const t = msLo * 1e6; // < 2^53
    this.#baseLo = t % TWO32;
    this.#baseHi = msHi * 1e6 + (t - this.#baseLo) / TWO32;
  }

  /** Nanoseconds since the anchor. */
  nowNs(): number {
    return Math.round((performance.now() - this.#perfBase) * 1e6);
  }

  /** Writes anchor + `rel` ns as a u64 LE at `off`. */
  write(b: Uint8Array, off: number, rel: number): void {
    const sum = this.#baseLo + rel;
    const lo = sum % TWO32;
    writeU32(b, off, lo);
    writeU32(b, off + 4, this.#baseHi + (sum - lo) / TWO32);
  }

  /** Reads the u64 LE at `off` as ns since the anchor. */
  read(b: Uint8Array, off: number): number {
    return (readU32(b, off + 4) - this.#baseHi) * TWO32 + (readU32(b, off) - this.#baseLo);
  }
}

/** Wakes waiters when consumers make progress; every wait is bounded by a timeout. */
class Notifier {
  #waiters: Array<() => void> = [];

  notify(): void {
    if (this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.push(done);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Frames.

/** A producer's chunk of pre-built frames. */
interface Template {
  chunk: Uint8Array;
  frames: number;
  size: number;
}

/**
 * Builds `frames` frames of `size` bytes back to back: header (domain, source,
 * payload_size), one TLV filling the payload (ProprietaryData, or an
 * OrderRequest for execution). Sequences, timestamps and checksums are
 * stamped per chunk by the producer.
 */
function buildTemplate(
  info: BenchDomainInfo,
  source: number,
  size: number,
  frames: number,
): Template {
  const chunk = new Uint8Array(frames * size);
  const payload = size - HEADER_SIZE;
  for (let i = 0; i < frames; i++) {
    const off = i * size;
    encodeHeader({ relayDomain: info.wire, source, payloadSize: payload }, chunk, off);
    let at: number;
    let len: number;
    if (payload - 2 <= 255) {
      len = payload - 2;
      at = writeTlvHeader(chunk, off + HEADER_SIZE, info.tlvType, len);
    } else {
      // Extended form (5-byte header), written directly: a value of 253–255
      // bytes would otherwise get the standard form and not fill the payload.
      len = payload - 5;
      const t = off + HEADER_SIZE;
      chunk[t] = 255;
      chunk[t + 1] = 0;
      chunk[t + 2] = info.tlvType;
      chunk[t + 3] = len & 0xff;
      chunk[t + 4] = len >>> 8;
      at = t + 5;
    }
    if (info.tlvType === 40) {
      // OrderRequest: asset_id, quantity 1.0, limit price 45,000.0 (q8), order id, Kraken, Coin, flags 0.
      const dv = new DataView(chunk.buffer, at, 32);
      dv.setBigUint64(0, 0x4254432d55534400n, true);
      dv.setBigInt64(8, 100_000_000n, true);
      dv.setBigInt64(16, 4_500_000_000_000n, true);
      dv.setUint32(24, i + 1, true);
      dv.setUint16(28, 101, true);
      chunk[at + 30] = 51;
    } else {
      for (let j = 0; j < len; j++) chunk[at + j] = (i + j) & 0xff;
    }
  }
  return { chunk, frames, size };
}

/**
 * The hello a producer sends first: header only, so the relay marks the
 * connection publish-only and does not fan frames out to it (PROTOCOL.md 7.3).
 */
function helloFrame(domain: number, source: number): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  encodeHeader({ relayDomain: domain, source }, h);
  return h;
}

/** A Subscribe `*` (TLV 113): its answer tells a consumer the relay has registered it. */
function subscribeAllFrame(): Uint8Array {
  return new MessageBuilder({ domain: 4, source: 99 })
    .begin({ sequence: 0 })
    .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: SubscribeMode.replace, patterns: ["*"] }))
    .build();
}

// ---------------------------------------------------------------------------------------------
// One run.

class ProducerState {
  sent = 0;
  bytes = 0;
  endNs = 0;
  error: string | undefined = undefined;
  readonly target: number;
  constructor(
    readonly index: number,
    readonly source: number,
    readonly conns: StreamConn[],
    target: number,
  ) {
    this.target = target;
  }
}

class ConsumerState {
  received = 0;
  bytes = 0;
  gaps = 0;
  outOfOrder = 0;
  foreign = 0;
  answers = 0;
  lastNs = 0;
  openConns: number;
  closed = false;
  /** Every connection ended before the bench closed it. */
  endedEarly = false;
  error: string | undefined = undefined;
  readonly lastSeq: Float64Array;
  readonly hist = new Histogram();
  constructor(readonly index: number, readonly conns: StreamConn[], producers: number) {
    this.openConns = conns.length;
    this.lastSeq = new Float64Array(producers);
  }
}

interface Shared {
  readonly w: BenchWorkload;
  readonly info: BenchDomainInfo;
  readonly clock: BenchClock;
  readonly notifier: Notifier;
  readonly producers: ProducerState[];
  readonly consumers: ConsumerState[];
  startNs: number;
  deadlineNs: number;
  stopProducers: boolean;
  closing: boolean;
}

/**
 * Reads one connection of a consumer until it ends. Per frame: domain and
 * source check, sequence gap check, latency into the histogram. No object is
 * made per frame.
 */
async function consumeConn(conn: StreamConn, c: ConsumerState, ctx: Shared): Promise<void> {
  const reader = new FrameReader({ capacity: 1 << 20 });
  const dom = ctx.info.wire;
  const base = ctx.info.sourceBase;
  const producers = ctx.producers.length;
  const clock = ctx.clock;
  const last = c.lastSeq;
  const hist = c.hist;
  try {
    for (;;) {
      const view = reader.writable(262_144);
      const n = await conn.read(view);
      if (n === null) break;
      reader.commit(n);
      const now = clock.nowNs();
      const b = reader.buffer;
      let got = 0;
      let bytes = 0;
      while (reader.next()) {
        const s = reader.frameStart;
        const src = b[s + 6]! - base;
        if (b[s + 4] !== dom || src < 0 || src >= producers) {
          if (b[s + 4] === 4) c.answers++;
          else c.foreign++;
          continue;
        }
        const seq = readU32(b, s + 12) * TWO32 + readU32(b, s + 8);
        const prev = last[src]!;
        if (seq !== prev + 1) {
          if (seq > prev) c.gaps++;
          else c.outOfOrder++;
        }
        if (seq > prev) last[src] = seq;
        got++;
        bytes += reader.frameEnd - s;
        hist.record(now - clock.read(b, s + 16));
      }
      if (got > 0) {
        c.received += got;
        c.bytes += bytes;
        c.lastNs = now;
      }
      ctx.notifier.notify();
    }
  } catch (e) {
    if (!ctx.closing) c.error = message(e);
  } finally {
    if (--c.openConns === 0) {
      c.closed = true;
      c.endedEarly = !ctx.closing;
    }
    ctx.notifier.notify();
  }
}

/** Reads and discards (a relay that does not honour hello would otherwise queue frames here). */
async function discard(conn: StreamConn): Promise<void> {
  const buf = new Uint8Array(65_536);
  try {
    while ((await conn.read(buf)) !== null) {
      // nothing
    }
  } catch {
    // closed
  }
}

/** The last sequence every open consumer has seen from producer `i` (its progress mark). */
function ackedBy(ctx: Shared, i: number, fallback: number): number {
  let min = Infinity;
  for (const c of ctx.consumers) {
    if (c.closed) continue;
    const v = c.lastSeq[i]!;
    if (v < min) min = v;
  }
  return min === Infinity ? fallback : min;
}

async function produce(p: ProducerState, t: Template, ctx: Shared): Promise<void> {
  const { w, info, clock, notifier } = ctx;
  const { chunk, size } = t;
  const full = chunk.subarray(0, t.frames * size);
  const rateNsPerMsg = w.rate > 0 ? 1e9 / w.rate : 0;
  try {
    while (!ctx.stopProducers && p.sent < p.target) {
      const now = clock.nowNs();
      if (now >= ctx.deadlineNs) break;
      let n = Math.min(t.frames, p.target - p.sent);
      if (rateNsPerMsg > 0) {
        const due = Math.floor((now - ctx.startNs) / rateNsPerMsg) + 1 - p.sent;
        if (due <= 0) {
          const nextNs = ctx.startNs + p.sent * rateNsPerMsg;
          await sleep(Math.min(nextNs - now, ctx.deadlineNs - now) / 1e6);
          continue;
        }
        if (due < n) n = due;
      }
      if (w.window > 0 && p.sent + n - ackedBy(ctx, p.index, p.sent) > w.window) {
        await notifier.wait(Math.min(50, (ctx.deadlineNs - now) / 1e6));
        continue;
      }
      // Stamp: sequences, then one clock read for the whole chunk, then checksums.
      const first = p.sent + 1;
      for (let j = 0; j < n; j++) {
        const seq = first + j;
        const lo = seq % TWO32;
        writeU32(chunk, j * size + 8, lo);
        writeU32(chunk, j * size + 12, (seq - lo) / TWO32);
      }
      const ts = clock.nowNs();
      for (let j = 0; j < n; j++) clock.write(chunk, j * size + 16, ts);
      if (info.checksum) { for (let j = 0; j < n; j++) sealChecksum(chunk, j * size); }
      const view = n === t.frames ? full : chunk.subarray(0, n * size);
      if (p.conns.length === 1) await writeAll(p.conns[0]!, view);
      else await Promise.all(p.conns.map((c) => writeAll(c, view)));
      p.sent += n;
      p.bytes += n * size;
      p.endNs = clock.nowNs();
    }
  } catch (e) {
    if (!ctx.closing) p.error = `write failed: ${message(e)}`;
  }
  if (p.endNs === 0) p.endNs = clock.nowNs();
}

function closeAll(conns: Iterable<StreamConn>): void {
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
}

/** Frames per producer chunk: fits {@linkcode CHUNK_BYTES}, at most half the window. */
function chunkFrames(w: BenchWorkload): number {
  let n = Math.max(1, Math.floor(CHUNK_BYTES / w.size));
  if (w.window > 0) n = Math.min(n, Math.max(1, Math.floor(w.window / 2)));
  if (w.rate > 0) n = Math.min(n, Math.max(1, Math.ceil(w.rate / 1000))); // about 1 ms of frames
  return n;
}

/**
 * Opens the connections of a run: relay mode connects every consumer (and
 * waits for the answer to its Subscribe) and every producer (which sends a
 * hello); direct mode listens on `<dir>/direct.sock` and pairs one connection
 * per producer and consumer.
 */
async function connectRun(
  w: BenchWorkload,
  target: BenchTarget,
): Promise<{ producerConns: StreamConn[][]; consumerConns: StreamConn[][]; socket: string }> {
  const producerConns: StreamConn[][] = Array.from({ length: w.producers }, () => []);
  const consumerConns: StreamConn[][] = Array.from({ length: w.consumers }, () => []);
  const all = () => [...producerConns.flat(), ...consumerConns.flat()];
  try {
    if (target.system === "direct") {
      const path = `${target.dir}/direct.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      try {
        for (let i = 0; i < w.producers; i++) {
          for (let j = 0; j < w.consumers; j++) {
            const accepting = listener.accept();
            producerConns[i]!.push(await Deno.connect({ transport: "unix", path }));
            consumerConns[j]!.push(await accepting);
          }
        }
      } finally {
        listener.close();
        await Deno.remove(path).catch(() => {});
      }
      return { producerConns, consumerConns, socket: path };
    }
    const path = target.path;
    const info = BENCH_DOMAINS[w.domain];
    for (let j = 0; j < w.consumers; j++) {
      consumerConns[j]!.push(await connectRelay(path, info.wire));
    }
    for (let i = 0; i < w.producers; i++) {
      const c = await connectRelay(path, info.wire);
      producerConns[i]!.push(c);
      await writeAll(c, helloFrame(info.wire, info.sourceBase + i));
    }
    return { producerConns, consumerConns, socket: path };
  } catch (e) {
    closeAll(all());
    throw e;
  }
}

/**
 * Connects to a relay the way every client does: a Unix socket path,
 * `tcp://HOST:PORT`, or `nats://HOST:PORT` (the domain's subject; no relay on
 * the other side, Subscribes are answered locally).
 */
/**
 * Connects to a relay's socket, `tcp://` or `nats://` address.
 *
 * @param path the address
 * @param domain the wire domain (a `nats://` path's subject)
 * @returns the connection
 * @throws {Error} `Cannot connect to a relay at …` with the reason
 */
export async function connectRelay(path: string, domain: number): Promise<StreamConn> {
  try {
    return await transportForPath(path, domain).connect();
  } catch (e) {
    throw new Error(`Cannot connect to a relay at ${path}: ${message(e)}`, { cause: e });
  }
}

/**
 * Runs one workload against one target and returns its figures. The caller
 * owns the target (starts and stops a relay, creates and removes `dir`).
 *
 * @param w what to send
 * @param target through a relay at a path, or direct in a directory
 * @param options progress callback, abort signal and bounds
 * @returns the figures
 * @throws {Error} when the connections cannot be made, or a relay does not
 *   answer its consumers' Subscribe within `stallMs`
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const r = await runBench(
 *   { domain: "market-data", producers: 1, consumers: 1, size: 64, msgs: 10_000, durationMs: 0, rate: 0, window: 5000 },
 *   { system: "direct", dir },
 * );
 * r.consumerStats[0]!.msgs; // 10000
 * ```
 */
export async function runBench(
  w: BenchWorkload,
  target: BenchTarget,
  options: RunOptions = {},
): Promise<BenchResult> {
  const info = BENCH_DOMAINS[w.domain];
  const stallMs = options.stallMs ?? 5_000;
  // A slow paced producer is not a stall: allow two frame intervals at least.
  const stallNs = Math.max(stallMs, w.rate > 0 ? 2000 / w.rate : 0) * 1e6;
  const { producerConns, consumerConns, socket } = await connectRun(w, target);
  const clock = new BenchClock();
  const perProducer = w.msgs === null ? Infinity : Math.floor(w.msgs / w.producers);
  const extra = w.msgs === null ? 0 : w.msgs % w.producers;
  const ctx: Shared = {
    w,
    info,
    clock,
    notifier: new Notifier(),
    producers: producerConns.map((conns, i) =>
      new ProducerState(i, info.sourceBase + i, conns, perProducer + (i < extra ? 1 : 0))
    ),
    consumers: consumerConns.map((conns, j) => new ConsumerState(j, conns, w.producers)),
    startNs: 0,
    deadlineNs: Infinity,
    stopProducers: false,
    closing: false,
  };
  const readers = ctx.consumers.flatMap((c) => c.conns.map((conn) => consumeConn(conn, c, ctx)));
  const discards = target.system === "relay" ? producerConns.flat().map((c) => discard(c)) : [];
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  let aborted = false;
  let stalled = false;
  const onAbort = () => {
    aborted = true;
    ctx.stopProducers = true;
    ctx.notifier.notify();
  };
  try {
    if (target.system === "relay") {
      // Readiness: every consumer's Subscribe answered means the relay has registered it.
      const sub = subscribeAllFrame();
      for (const c of ctx.consumers) await writeAll(c.conns[0]!, sub);
      const until = performance.now() + stallMs;
      while (ctx.consumers.some((c) => c.answers === 0 && !c.closed)) {
        if (performance.now() >= until) {
          throw new Error(
            `the relay at ${socket} did not answer a Subscribe within ${stallMs} ms`,
          );
        }
        await ctx.notifier.wait(50);
      }
      const gone = ctx.consumers.find((c) => c.closed);
      if (gone !== undefined) {
        throw new Error(
          `the relay at ${socket} closed consumer ${gone.index + 1}'s connection${
            gone.error ? `: ${gone.error}` : ""
          }`,
        );
      }
    }
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort);

    const template = (i: number) =>
      buildTemplate(info, info.sourceBase + i, w.size, chunkFrames(w));
    const templates = ctx.producers.map((p) => template(p.index));
    ctx.startNs = clock.nowNs();
    ctx.deadlineNs = w.msgs === null ? ctx.startNs + w.durationMs * 1e6 : Infinity;

    // Progress and the stall watchdog.
    const sums = () => {
      let sent = 0;
      let received = 0;
      for (const p of ctx.producers) sent += p.sent;
      for (const c of ctx.consumers) received += c.received;
      return { sent, received };
    };
    let lastProgress = { ...sums(), ns: ctx.startNs };
    if (options.onProgress !== undefined) {
      const cb = options.onProgress;
      progressTimer = setInterval(() => {
        const now = clock.nowNs();
        const s = sums();
        const dt = (now - lastProgress.ns) / 1e9;
        cb({
          system: target.system,
          elapsedMs: (now - ctx.startNs) / 1e6,
          sent: s.sent,
          received: s.received,
          msgsPerSec: dt > 0 ? (s.received - lastProgress.received) / dt / w.consumers : 0,
        });
        lastProgress = { ...s, ns: now };
      }, options.progressIntervalMs ?? 250);
    }
    let moved = { ...sums(), ns: ctx.startNs };
    watchdog = setInterval(() => {
      const s = sums();
      const now = clock.nowNs();
      if (s.sent !== moved.sent || s.received !== moved.received) {
        moved = { ...s, ns: now };
      } else if (now - moved.ns > stallNs && !ctx.stopProducers) {
        // Nothing moved: stop producers, and close their sockets in case a write is stuck.
        stalled = true;
        ctx.stopProducers = true;
        closeAll(producerConns.flat());
        ctx.notifier.notify();
      }
    }, 100);

    await Promise.all(ctx.producers.map((p, i) => produce(p, templates[i]!, ctx)));

    // Drain: until every open consumer has seen each producer's last sequence,
    // or nothing arrives for drainIdleMs, or drainMaxMs passes.
    const drainIdleNs = (options.drainIdleMs ?? 1_000) * 1e6;
    const drainEnd = clock.nowNs() + (options.drainMaxMs ?? 15_000) * 1e6;
    let lastCount = -1;
    let lastChange = clock.nowNs();
    for (;;) {
      const complete = ctx.consumers.every((c) =>
        c.closed || ctx.producers.every((p) => c.lastSeq[p.index]! >= p.sent)
      );
      if (complete) break;
      const now = clock.nowNs();
      const count = sums().received;
      if (count !== lastCount) {
        lastCount = count;
        lastChange = now;
      } else if (now - lastChange > drainIdleNs) break;
      if (now > drainEnd) break;
      await ctx.notifier.wait(50);
    }
  } finally {
    clearInterval(progressTimer);
    clearInterval(watchdog);
    options.signal?.removeEventListener("abort", onAbort);
    ctx.closing = true;
    closeAll(producerConns.flat());
    closeAll(consumerConns.flat());
    await settle([...readers, ...discards], 2_000);
  }
  const endNs = clock.nowNs();
  return summarize(ctx, target, socket, {
    seconds: (endNs - ctx.startNs) / 1e9,
    stalled,
    aborted,
  });
}

function rate(n: number, seconds: number): number {
  return seconds > 0 ? n / seconds : 0;
}

function roundSummary(s: HistogramSummary): HistogramSummary {
  return {
    count: s.count,
    minNs: Math.round(s.minNs),
    meanNs: Math.round(s.meanNs),
    p50Ns: Math.round(s.p50Ns),
    p90Ns: Math.round(s.p90Ns),
    p99Ns: Math.round(s.p99Ns),
    p999Ns: Math.round(s.p999Ns),
    maxNs: Math.round(s.maxNs),
  };
}

function summarize(
  ctx: Shared,
  target: BenchTarget,
  socket: string,
  run: { seconds: number; stalled: boolean; aborted: boolean },
): BenchResult {
  const { w } = ctx;
  const sent = ctx.producers.reduce((a, p) => a + p.sent, 0);
  const producerStats: ProducerResult[] = ctx.producers.map((p) => {
    const seconds = Math.max(0, (p.endNs - ctx.startNs) / 1e9);
    return {
      id: p.index + 1,
      source: p.source,
      msgs: p.sent,
      bytes: p.bytes,
      seconds: round(seconds, 3),
      msgsPerSec: Math.round(rate(p.sent, seconds)),
      mbPerSec: round(rate(p.bytes, seconds) / 1e6, 2),
      ...(p.error === undefined ? {} : { error: p.error }),
    };
  });
  const merged = new Histogram();
  const consumerStats: ConsumerResult[] = ctx.consumers.map((c) => {
    merged.merge(c.hist);
    const seconds = c.received > 0 ? Math.max(0, (c.lastNs - ctx.startNs) / 1e9) : 0;
    return {
      id: c.index + 1,
      msgs: c.received,
      bytes: c.bytes,
      seconds: round(seconds, 3),
      msgsPerSec: Math.round(rate(c.received, seconds)),
      mbPerSec: round(rate(c.bytes, seconds) / 1e6, 2),
      drops: Math.max(0, sent - c.received),
      gaps: c.gaps,
      outOfOrder: c.outOfOrder,
      foreign: c.foreign,
      disconnected: c.endedEarly,
      latency: roundSummary(c.hist.summary()),
      ...(c.error === undefined ? {} : { error: c.error }),
    };
  });
  const msgs = consumerStats.reduce((a, c) => a + c.msgs, 0);
  const bytes = consumerStats.reduce((a, c) => a + c.bytes, 0);
  const seconds = Math.max(
    0,
    ...ctx.consumers.map((c) => c.received > 0 ? (c.lastNs - ctx.startNs) / 1e9 : 0),
  );
  return {
    system: target.system,
    domain: w.domain,
    socket,
    relayStarted: target.system === "relay" && target.started,
    producers: w.producers,
    consumers: w.consumers,
    size: w.size,
    msgs: w.msgs,
    durationSeconds: w.msgs === null ? w.durationMs / 1000 : null,
    rate: w.rate,
    window: w.window,
    lossless: w.window > 0,
    sent,
    seconds: round(run.seconds, 3),
    stalled: run.stalled,
    aborted: run.aborted,
    producerStats,
    consumerStats,
    total: {
      msgs,
      bytes,
      seconds: round(seconds, 3),
      msgsPerSec: Math.round(rate(msgs, seconds)),
      mbPerSec: round(rate(bytes, seconds) / 1e6, 2),
      drops: consumerStats.reduce((a, c) => a + c.drops, 0),
      gaps: consumerStats.reduce((a, c) => a + c.gaps, 0),
    },
    latency: roundSummary(merged.summary()),
    relayLog: [],
  };
}
