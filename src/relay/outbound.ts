/**
 * A consumer's side of a relay connection: its bounded queue of frames to
 * write and the writer that keeps one write in flight (PROTOCOL.md 7.6).
 *
 * The queue is a {@linkcode RangeQueue} of ranges of shared bytes (each run of
 * a producer's frames is copied once, or handed over whole, and shared by
 * every consumer; see slab.ts): queuing and dropping allocate nothing per
 * entry. An idle writer starts in a microtask, so the runs that every read of
 * one turn of the event loop queued leave in one write. A range of at least
 * 64 KiB is written as it is; smaller ones are coalesced, up to 256 KiB (the
 * largest read), into room taken in the relay's write slabs for the time of
 * the write: one turn can write all of a read to each consumer.
 *
 * Every frame queued is accounted for exactly once: delivered (the kernel took
 * all its bytes), dropped (slow-consumer policy), undelivered (still queued or
 * only partly written when the connection closed), or still queued:
 * `framesQueued = framesOut + dropped + undelivered + queuedFrames + inFlightFrames`.
 * When the connection closes with a write in flight, the final count waits for
 * that write to settle, so bytes the kernel took are never counted as lost.
 *
 * @module
 */

import type { StreamConn } from "../transport/mod.ts";
import type { Slab, SlabPool } from "./slab.ts";
import { RangeQueue } from "./range_queue.ts";

/** Ranges at least this big are written as they are; smaller ones are coalesced. */
const COALESCE_BELOW = 65_536;
/** Most bytes one coalesced write holds (the largest read). */
export const MAX_WRITE = 262_144;
/** Longest wait for a write in flight to settle after its connection closed. */
const SETTLE_TIMEOUT_MS = 2_000;

/** What an {@linkcode Outbound} tells its owner (the relay, about this connection). */
export interface OutboundOwner {
  /** A write completed: the queue shrank (flow control, slow-consumer state). */
  progressed(): void;
  /** A write failed; the owner stops delivering to this connection. */
  writeFailed(error: unknown): void;
  /** The largest write the socket took in one call grew ({@linkcode Outbound.capacity}). */
  capacityFound(): void;
  /**
   * Fan-out frames started (true) or stopped (false) waiting behind the write in
   * flight: the relay paces producers by it (a read is passed on before the next).
   */
  backlog(waiting: boolean): void;
}

/** The final count of an {@linkcode Outbound} once closed and settled. */
export interface OutboundReport {
  /** Frames ever queued. */
  queued: number;
  /** Frames the kernel took whole. */
  delivered: number;
  /** Frames dropped by the slow-consumer policy. */
  dropped: number;
  /** Frames queued or partly written when it closed. */
  undelivered: number;
}

/**
 * One consumer's queue and writer.
 *
 * @example
 * ```ts
 * import type { StreamConn } from "../transport/mod.ts";
 * import { SlabPool } from "./slab.ts";
 *
 * declare const conn: StreamConn;
 * declare const owner: OutboundOwner;
 * declare const bytes: Uint8Array; // one whole frame
 *
 * const writeSlabs = new SlabPool({ slabBytes: MAX_WRITE });
 * const out = new Outbound(conn, owner, writeSlabs);
 * out.enqueue(bytes, 0, bytes.length, 1, null);
 * const report = await out.close(); // { queued: 1, delivered: 1, dropped: 0, undelivered: 0 }
 * ```
 */
export class Outbound {
  readonly #conn: StreamConn;
  readonly #owner: OutboundOwner;
  readonly #slabs: SlabPool;
  /** Frames of the fan-out: limited by the queue limits, dropped by the slow-consumer policy. */
  readonly #live = new RangeQueue();
  /**
   * Answers to the connection's own requests and replayed frames: never dropped
   * and not counted against the limits. Entries of both queues are tagged with
   * their place in the order of everything queued, and written in that order.
   */
  readonly #protected = new RangeQueue();
  #order = 0;
  #queuedFrames = 0;
  #queuedBytes = 0;
  #protectedFrames = 0;
  #protectedBytes = 0;
  /** Order numbers of the answers among the protected entries, oldest first. */
  #answerTags: number[] = [];
  #framesQueued = 0;
  #framesOut = 0;
  #bytesOut = 0;
  #writes = 0;
  #drops = 0;
  #undelivered = 0;
  #highWater = 0;
  /** The most bytes one write call took when it could not take all (0: never short). */
  #capacity = 0;
  /** When a write last completed (performance.now() ms), or the writer went idle to busy. */
  #lastProgress = performance.now();
  #writing = false;
  /** The writer is scheduled (a microtask) and has not taken anything yet. */
  #scheduled = false;
  /** Starts the writer: made once, so queuing never creates a closure. */
  readonly #startPump = (): void => void this.#pump();
  // The write in flight: its bytes, frames, how many bytes the kernel took.
  #inflight: Uint8Array | null = null;
  #inflightFrames = 0;
  #inflightWritten = 0;
  #closed = false;
  #settled = false;
  #report: Promise<OutboundReport> | null = null;
  #settle: (() => void) | null = null;

  /**
   * @param conn where to write
   * @param owner told about progress and failures
   * @param slabs the relay's pool of write slabs ({@linkcode MAX_WRITE} bytes each)
   */
  constructor(conn: StreamConn, owner: OutboundOwner, slabs: SlabPool) {
    this.#conn = conn;
    this.#owner = owner;
    this.#slabs = slabs;
  }

  /** Fan-out frames waiting (not yet handed to a write): what the queue limits apply to. */
  get queuedFrames(): number {
    return this.#queuedFrames;
  }

  /** Fan-out bytes waiting. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Answers to the connection's requests not yet handed to a write. */
  get answersQueued(): number {
    return this.#answerTags.length;
  }

  /** Bytes of answers and replayed frames waiting. */
  get requestedBytes(): number {
    return this.#protectedBytes;
  }

  /** Every frame waiting: fan-out, answers and replayed frames. */
  get pendingFrames(): number {
    return this.#queuedFrames + this.#protectedFrames;
  }

  /** Every byte waiting, the write in flight included. */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#protectedBytes + this.inflightBytes;
  }

  /** Bytes of the write in flight. */
  get inflightBytes(): number {
    return this.#inflight === null ? 0 : this.#inflight.length;
  }

  /** Frames ever queued. */
  get framesQueued(): number {
    return this.#framesQueued;
  }

  /** Frames delivered (the kernel took all their bytes). */
  get framesOut(): number {
    return this.#framesOut;
  }

  /** Bytes delivered. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  /** Write calls made. */
  get writes(): number {
    return this.#writes;
  }

  /** Frames dropped from the queue (slow consumer). */
  get drops(): number {
    return this.#drops;
  }

  /** Highest queued plus in-flight byte count seen. */
  get highWater(): number {
    return this.#highWater;
  }

  /**
   * The most bytes the socket took in one write call that could not take all it
   * was given (0 until a write is short): about its send buffer. A relay that
   * reads more than this per turn reads faster than one write per turn can pass on.
   */
  get capacity(): number {
    return this.#capacity;
  }

  /** Whether a write is in flight or scheduled. */
  get writing(): boolean {
    return this.#writing;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `buf[start, end)`, `frames` whole frames of the fan-out, and starts
   * the writer if idle.
   *
   * @param buf shared bytes, never modified while queued
   * @param start first byte
   * @param end end of the range
   * @param frames how many frames it holds
   * @param slab the slab `buf` belongs to (retained here), or null
   */
  enqueue(buf: Uint8Array, start: number, end: number, frames: number, slab: Slab | null): void {
    if (this.#closed) return;
    slab?.retain();
    const idle = this.#live.length === 0;
    this.#live.push(buf, start, end, frames, slab, this.#order++);
    this.#queuedFrames += frames;
    this.#queuedBytes += end - start;
    // Behind a write in flight (a scheduled writer takes it at once): a backlog.
    if (idle && this.#writing && !this.#scheduled) this.#owner.backlog(true);
    this.#queued(frames);
  }

  /**
   * Queues frames the connection asked for (a replay from the relay's window,
   * an answer to a request): in order with the fan-out, but never dropped and
   * not counted against the queue limits.
   *
   * @param buf the bytes (shared when `slab` is given, else owned by the queue)
   * @param start first byte
   * @param end end of the range
   * @param frames how many frames it holds
   * @param slab the slab `buf` belongs to (retained here), or null
   */
  enqueueRequested(
    buf: Uint8Array,
    start: number,
    end: number,
    frames: number,
    slab: Slab | null = null,
  ): void {
    if (this.#closed) return;
    slab?.retain();
    this.#protected.push(buf, start, end, frames, slab, this.#order++);
    this.#protectedFrames += frames;
    this.#protectedBytes += end - start;
    this.#queued(frames);
  }

  /**
   * Queues one answer frame to the connection's own request (Subscribe, recovery).
   *
   * @param frame the whole frame (not shared)
   */
  enqueueAnswer(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#answerTags.push(this.#order);
    this.enqueueRequested(frame, 0, frame.length, 1);
  }

  /** Forgets answers the writer has taken (tags up to `tag`). */
  #answered(tag: number): void {
    const a = this.#answerTags;
    while (a.length > 0 && a[0]! <= tag) a.shift();
  }

  #queued(frames: number): void {
    this.#framesQueued += frames;
    const depth = this.pendingBytes;
    if (depth > this.#highWater) this.#highWater = depth;
    if (!this.#writing) {
      // Idle until now: it has kept up. Started after this turn's other reads have queued.
      this.#writing = true;
      this.#scheduled = true;
      this.#lastProgress = performance.now();
      queueMicrotask(this.#startPump);
    }
  }

  /**
   * Whether the fan-out queue is over its limits. Like the write in flight, the
   * oldest entry does not count while the writer is about to start (it takes
   * that entry first): a single run larger than the byte limit does not make an
   * idle consumer slow.
   *
   * @param maxFrames frame limit
   * @param maxBytes byte limit
   * @returns true when over either limit
   */
  overLimit(maxFrames: number, maxBytes: number): boolean {
    let frames = this.#queuedFrames;
    let bytes = this.#queuedBytes;
    const q = this.#live;
    if (this.#scheduled && q.length > 0) {
      frames -= q.headFrames;
      bytes -= q.headEnd - q.headStart;
    }
    return frames > maxFrames || bytes > maxBytes;
  }

  /**
   * Whether the fan-out queue holds more than half of either limit (flow control, D-36).
   *
   * @param maxFrames frame limit
   * @param maxBytes byte limit
   * @returns true when over half of either
   */
  overHalf(maxFrames: number, maxBytes: number): boolean {
    return this.#queuedFrames * 2 > maxFrames || this.#queuedBytes * 2 > maxBytes;
  }

  /**
   * Whether the consumer keeps reading: a write to it completed (or it was
   * idle) within the last `stallMs` (PROTOCOL.md 7.6, `slow_consumer_stall_ms`).
   *
   * @param now performance.now()
   * @param stallMs the window
   * @returns true when draining
   */
  draining(now: number, stallMs: number): boolean {
    return now - this.#lastProgress <= stallMs;
  }

  /**
   * Drops the oldest fan-out chunks (not the one being written, nor what the
   * connection asked for) until the queue holds at most `maxFrames` frames and
   * `maxBytes` bytes, keeping the newest.
   *
   * @param maxFrames frame limit
   * @param maxBytes byte limit
   * @returns frames dropped
   */
  dropOldest(maxFrames: number, maxBytes: number): number {
    let dropped = 0;
    const q = this.#live;
    while (q.length > 1 && (this.#queuedFrames > maxFrames || this.#queuedBytes > maxBytes)) {
      const f = q.headFrames;
      this.#queuedFrames -= f;
      this.#queuedBytes -= q.headEnd - q.headStart;
      q.headSlab?.release();
      q.shift();
      dropped += f;
    }
    this.#drops += dropped;
    return dropped;
  }

  /**
   * Stops writing and frees the queues. Frames still queued are undelivered; a
   * write in flight is counted once it settles (the kernel may have taken
   * some of it). Idempotent.
   *
   * @returns the final count, once the write in flight (if any) settled
   */
  close(): Promise<OutboundReport> {
    if (this.#report !== null) return this.#report;
    this.#closed = true;
    this.#undelivered += this.#queuedFrames + this.#protectedFrames;
    for (const q of [this.#live, this.#protected]) {
      while (q.length > 0) {
        q.headSlab?.release();
        q.shift();
      }
    }
    this.#queuedFrames = 0;
    this.#queuedBytes = 0;
    this.#protectedFrames = 0;
    this.#protectedBytes = 0;
    this.#answerTags = [];
    this.#owner.backlog(false);
    this.#report = new Promise<void>((resolve) => {
      if (this.#inflight === null) {
        this.#settled = true;
        resolve();
        return;
      }
      const timer = setTimeout(() => this.#finish(), SETTLE_TIMEOUT_MS);
      this.#settle = () => {
        clearTimeout(timer);
        resolve();
      };
    }).then(() => ({
      queued: this.#framesQueued,
      delivered: this.#framesOut,
      dropped: this.#drops,
      undelivered: this.#undelivered,
    }));
    return this.#report;
  }

  /**
   * Accounts the write in flight after close: frames the kernel took whole are
   * delivered, the rest undelivered. Runs once, when the write settles (or the
   * settle timeout passes).
   */
  #finish(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#countInflight();
    this.#settle?.();
  }

  /** Counts the settled write in flight: frames the kernel took whole are delivered, the rest undelivered. */
  #countInflight(): void {
    const w = this.#inflight;
    if (w !== null) {
      // Once per close, not per frame: walk the in-flight frames' headers.
      let off = 0;
      let whole = 0;
      let bytes = 0;
      while (off + 32 <= w.length) {
        const end = off + 32 + (w[off + 24]! | (w[off + 25]! << 8) | (w[off + 26]! << 16)) +
          w[off + 27]! * 16777216;
        if (end > this.#inflightWritten) break;
        whole++;
        bytes = end;
        off = end;
      }
      this.#framesOut += whole;
      this.#bytesOut += bytes;
      this.#undelivered += this.#inflightFrames - whole;
      this.#inflight = null;
      this.#inflightFrames = 0;
    }
  }

  /**
   * Takes the next write: from whichever queue holds the entry queued first,
   * one big range as it is, or small ones coalesced while they stay in order.
   */
  // What #take() took besides its bytes (fields, not an object per write).
  #takenFrames = 0;
  #takenHeld: Slab | null = null;
  #takenLive = false;

  #take(): Uint8Array {
    const l = this.#live;
    const p = this.#protected;
    const live = p.length === 0 || (l.length > 0 && l.headTag < p.headTag);
    const q = live ? l : p;
    const other = live ? p : l;
    const until = other.length > 0 ? other.headTag : Infinity;
    if (q.headEnd - q.headStart >= COALESCE_BELOW || q.length === 1 || q.tagAt(1) > until) {
      const data = q.headBuf.subarray(q.headStart, q.headEnd);
      this.#takenFrames = q.headFrames;
      this.#takenHeld = q.headSlab; // the entry's reference passes to the write
      this.#takenLive = live;
      if (!live) this.#answered(q.headTag);
      q.shift();
      return data;
    }
    // Size the write first, then take just that room in a write slab.
    let size = 0;
    let count = 0;
    while (count < q.length && q.tagAt(count) < until) {
      const n = q.lengthAt(count);
      if (n >= COALESCE_BELOW || size + n > MAX_WRITE) break;
      size += n;
      count++;
    }
    const pool = this.#slabs;
    const at = pool.reserve(size);
    const buf = pool.lastBuffer;
    const held = pool.last!;
    held.retain();
    let n = at;
    let frames = 0;
    for (let k = 0; k < count; k++) {
      const from = q.headStart;
      const len = q.headEnd - from;
      copyInto(buf, n, q.headBuf, from, len);
      n += len;
      frames += q.headFrames;
      if (!live) this.#answered(q.headTag);
      q.headSlab?.release(); // copied out
      q.shift();
    }
    this.#takenFrames = frames;
    this.#takenHeld = held;
    this.#takenLive = live;
    return buf.subarray(at, n);
  }

  async #pump(): Promise<void> {
    this.#scheduled = false;
    let held: Slab | null = null;
    try {
      while (!this.#closed && (this.#live.length > 0 || this.#protected.length > 0)) {
        const data = this.#take();
        const frames = this.#takenFrames;
        held = this.#takenHeld;
        if (this.#takenLive) {
          this.#queuedFrames -= frames;
          this.#queuedBytes -= data.length;
          if (this.#live.length === 0) this.#owner.backlog(false);
        } else {
          this.#protectedFrames -= frames;
          this.#protectedBytes -= data.length;
        }
        this.#inflight = data;
        this.#inflightFrames = frames;
        this.#inflightWritten = 0;
        while (this.#inflightWritten < data.length && !this.#closed) {
          const off = this.#inflightWritten;
          this.#writes++;
          const asked = data.length - off;
          const n = await this.#conn.write(off === 0 ? data : data.subarray(off));
          this.#inflightWritten = off + n;
          this.#lastProgress = performance.now();
          if (n < asked && n > this.#capacity) {
            this.#capacity = n;
            this.#owner.capacityFound();
          }
        }
        if (this.#closed) break; // #finish() counts this write, then its slab is released
        held?.release();
        held = null;
        this.#inflight = null;
        this.#framesOut += frames;
        this.#bytesOut += data.length;
        this.#owner.progressed();
      }
    } catch (e) {
      // The write settled (failed): what the kernel took before counts, now, while
      // its bytes are held; a close after this has no write to wait for.
      if (!this.#closed) {
        this.#countInflight();
        this.#owner.writeFailed(e);
      }
    }
    this.#writing = false;
    // Count the write in flight while its bytes are still held, then let them go.
    if (this.#closed) this.#finish();
    held?.release();
  }
}

/** Ranges up to this size are copied byte by byte (no view object); larger ones with `set`. */
const COPY_LOOP_MAX = 256;

/** Copies `src[from, from + len)` to `dst` at `at`, allocating nothing for small ranges. */
function copyInto(dst: Uint8Array, at: number, src: Uint8Array, from: number, len: number): void {
  if (len > COPY_LOOP_MAX) {
    dst.set(src.subarray(from, from + len), at);
    return;
  }
  for (let k = 0; k < len; k++) dst[at + k] = src[from + k]!;
}
