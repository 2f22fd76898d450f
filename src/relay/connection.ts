/**
 * One relay connection: its FrameReader, its bounded outbound queue and the
 * writer that keeps one write in flight, coalescing small queued chunks into
 * writes of up to 64 KiB.
 *
 * An idle writer starts in a microtask, not at once: the runs that every read
 * completed in the same turn of the event loop queues (from any producer) go
 * out in one write. With many producers that is one write per consumer per
 * turn instead of one per producer's read.
 *
 * The queue is a {@linkcode RangeQueue} of ranges of shared copies (each run
 * of a producer's frames is copied once, into a slab, and shared by every
 * consumer): queuing, coalescing and dropping allocate nothing per entry.
 *
 * @module
 */

import { FrameReader } from "../protocol/frame_reader.ts";
import type { StreamConn } from "../transport/transport.ts";
import { type Filter } from "./topics.ts";
import { SequenceState } from "./policy.ts";
import type { Slab, SlabPool } from "./slab.ts";
import { RangeQueue } from "./range_queue.ts";

/**
 * Chunks at least this big are written as they are; smaller ones are coalesced,
 * up to this many bytes per write, into room taken in the relay's slabs for
 * the time of the write (so no consumer owns a coalescing buffer, and a small
 * write holds only its own bytes).
 */
const COALESCE_BELOW = 65_536;

/** What the relay needs from a connection's owner when its writer finishes or fails. */
export interface ConnectionOwner {
  /** The writer drained the queue (or made room). */
  drained(c: Connection): void;
  /** A write failed: the connection must be dropped. */
  writeFailed(c: Connection, error: unknown): void;
}

/** A connection to the relay and its counters. */
export class Connection {
  /** Connection id (from 0). */
  readonly id: number;
  /** The transport connection. */
  readonly conn: StreamConn;
  /** When it connected (ms since epoch). */
  readonly connectedAt: number;
  /** Re-framer of what it sends. */
  readonly reader: FrameReader;
  /** Audit sequence memory per source. */
  readonly sequences: SequenceState = new SequenceState();
  /** Its filter: null = every frame (never subscribed). */
  filter: Filter | null = null;
  /** How it came: `accepted` by a listener, or a bridge's label. */
  label = "accepted";
  /** Whether a hello made it publish-only before any Subscribe. */
  hello = false;
  /** Closed or closing. */
  closed = false;
  /** Why it was closed. */
  closeReason = "";

  /** Frames received. */
  framesIn = 0;
  /** Bytes received (valid frames). */
  bytesIn = 0;
  /** Frames written to it. */
  framesOut = 0;
  /** Bytes written to it. */
  bytesOut = 0;
  /** Writes (transport write calls) made to it. */
  writes = 0;
  /** Frames it sent that were rejected. */
  rejected = 0;
  /** Frames dropped from its queue (slow consumer). */
  drops = 0;
  /** Hello frames received. */
  hellos = 0;
  /** Subscribe log lines written for it (the first few are never rate-limited). */
  subscribeLogs = 0;
  /** Last read or write (ms since epoch). */
  lastActivity: number;
  /** Since when its queue keeps overflowing (0 = not overflowing). */
  overflowSince = 0;
  /** Highest queued byte count seen. */
  queueHighWater = 0;
  /** Read size wanted next (grows when reads fill the buffer, shrinks when they stay small). */
  readSize: number;
  /** Bytes of the largest read since the relay last looked (once a second). */
  largestRead = 0;

  // Outbound queue: ranges of shared buffers (no view object per entry). An entry
  // cut from a slab holds it (retained on enqueue) until the entry is written,
  // copied out or dropped.
  readonly #queue = new RangeQueue();
  /** Frames waiting in the queue (not yet handed to a write). */
  queuedFrames = 0;
  /** Bytes waiting in the queue. */
  queuedBytes = 0;
  /** Bytes handed to the write in flight. */
  inflightBytes = 0;
  #writing = false;
  /** The writer is scheduled (a microtask) and has not taken anything yet. */
  #scheduled = false;
  /** Starts the writer: made once, so queuing never creates a closure. */
  readonly #startPump = (): void => void this.#pump();
  readonly #slabs: SlabPool;
  /** The write in flight (frames from offset 0) and how many of its bytes the kernel took. */
  #inflight: Uint8Array | null = null;
  #inflightWritten = 0;
  readonly #owner: ConnectionOwner;

  // Pending sub-runs of matched frames (filtered consumers), offsets in the producer's read buffer.
  /** Pending run starts. */
  pendStart: Int32Array = new Int32Array(16);
  /** Pending run ends. */
  pendEnd: Int32Array = new Int32Array(16);
  /** Frames per pending run. */
  pendFrames: Int32Array = new Int32Array(16);
  /** Number of pending runs. */
  pendCount = 0;

  /**
   * @param id connection id
   * @param conn transport connection
   * @param owner the relay
   * @param readSize initial read buffer size
   * @param maxPayload largest accepted payload_size
   * @param slabs the relay's slab pool for coalesced writes
   */
  constructor(
    id: number,
    conn: StreamConn,
    owner: ConnectionOwner,
    readSize: number,
    maxPayload: number,
    slabs: SlabPool,
  ) {
    this.id = id;
    this.conn = conn;
    this.#owner = owner;
    this.#slabs = slabs;
    this.connectedAt = Date.now();
    this.lastActivity = this.connectedAt;
    this.readSize = readSize;
    this.reader = new FrameReader({ maxPayload, capacity: readSize });
  }

  /** Whether nothing is delivered to it. */
  get publishOnly(): boolean {
    return this.filter === null ? this.hello : this.filter.publishOnly;
  }

  /** Whether a write is in flight. */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Adds a pending matched run `[s, e)` of `frames` frames, merging with the last
   * when contiguous. Allocation-free unless the arrays grow.
   *
   * @param s run start in the producer's buffer
   * @param e run end
   */
  addPending(s: number, e: number): void {
    const n = this.pendCount;
    if (n > 0 && this.pendEnd[n - 1] === s) {
      this.pendEnd[n - 1] = e;
      this.pendFrames[n - 1]!++;
      return;
    }
    if (n === this.pendStart.length) {
      const grow = (a: Int32Array) => {
        const g = new Int32Array(a.length * 2);
        g.set(a);
        return g;
      };
      this.pendStart = grow(this.pendStart);
      this.pendEnd = grow(this.pendEnd);
      this.pendFrames = grow(this.pendFrames);
    }
    this.pendStart[n] = s;
    this.pendEnd[n] = e;
    this.pendFrames[n] = 1;
    this.pendCount = n + 1;
  }

  /**
   * Queues `buf[start, end)`, `frames` whole frames, and starts the writer if idle.
   *
   * @param buf shared bytes, never modified while queued
   * @param start first byte
   * @param end end of the range
   * @param frames how many frames it holds
   * @param slab the slab `buf` belongs to (retained here), or null
   */
  enqueue(buf: Uint8Array, start: number, end: number, frames: number, slab: Slab | null): void {
    slab?.retain();
    this.#queue.push(buf, start, end, frames, slab);
    this.queuedFrames += frames;
    this.queuedBytes += end - start;
    const depth = this.queuedBytes + this.inflightBytes;
    if (depth > this.queueHighWater) this.queueHighWater = depth;
    if (!this.#writing) {
      // Marked now, started after this turn's other reads have queued their runs.
      this.#writing = true;
      this.#scheduled = true;
      queueMicrotask(this.#startPump);
    }
  }

  /**
   * Whether the queue is over its limits. Like the write in flight, the oldest
   * entry does not count while the writer is about to start (it takes that
   * entry first): a single run larger than the byte limit does not make an
   * idle consumer slow.
   *
   * @param maxFrames frame limit
   * @param maxBytes byte limit
   * @returns true when over either limit
   */
  overLimit(maxFrames: number, maxBytes: number): boolean {
    let frames = this.queuedFrames;
    let bytes = this.queuedBytes;
    const q = this.#queue;
    if (this.#scheduled && q.length > 0) {
      frames -= q.headFrames;
      bytes -= q.headEnd - q.headStart;
    }
    return frames > maxFrames || bytes > maxBytes;
  }

  /**
   * Drops the oldest queued chunks (not the one being written) until the queue
   * holds at most `maxFrames` frames and `maxBytes` bytes, keeping the newest.
   *
   * @param maxFrames frame limit
   * @param maxBytes byte limit
   * @returns frames dropped
   */
  dropOldest(maxFrames: number, maxBytes: number): number {
    let dropped = 0;
    const q = this.#queue;
    while (q.length > 1 && (this.queuedFrames > maxFrames || this.queuedBytes > maxBytes)) {
      const f = q.headFrames;
      this.queuedFrames -= f;
      this.queuedBytes -= q.headEnd - q.headStart;
      q.headSlab?.release();
      q.shift();
      dropped += f;
    }
    this.drops += dropped;
    return dropped;
  }

  /**
   * Frees the queue (on close). Frames of the write in flight count as delivered
   * (added to `framesOut`) when the kernel took all their bytes, else as undelivered:
   * every frame queued to the connection is one or the other, never neither.
   *
   * @returns frames that were never (wholly) delivered
   */
  discardQueue(): number {
    let n = this.queuedFrames;
    const w = this.#inflight;
    if (w !== null) {
      // Runs once per close, not per frame: walk the in-flight frames' headers.
      let off = 0;
      while (off + 32 <= w.length) {
        const end = off + 32 + (w[off + 24]! | (w[off + 25]! << 8) | (w[off + 26]! << 16)) +
          w[off + 27]! * 16777216;
        if (end <= this.#inflightWritten) {
          this.framesOut++;
          this.bytesOut += end - off;
        } else n++;
        off = end;
      }
      this.#inflight = null;
      this.inflightBytes = 0;
    }
    // The write in flight keeps its slab until it settles (see #pump): the kernel may still read it.
    const q = this.#queue;
    while (q.length > 0) {
      q.headSlab?.release();
      q.shift();
    }
    this.queuedFrames = 0;
    this.queuedBytes = 0;
    return n;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    this.#scheduled = false;
    // The slab of the write in flight (a queued chunk's, or the one it was coalesced
    // into): held until the write settles.
    let held: Slab | null = null;
    try {
      const q = this.#queue;
      while (q.length > 0 && !this.closed) {
        let data: Uint8Array;
        let frames = 0;
        if (q.headEnd - q.headStart >= COALESCE_BELOW || q.length === 1) {
          data = q.headBuf.subarray(q.headStart, q.headEnd);
          frames = q.headFrames;
          held = q.headSlab;
          q.shift();
        } else {
          // Size the write first, then take just that room in the relay's slab.
          let size = 0;
          let count = 0;
          while (count < q.length && size + q.lengthAt(count) <= COALESCE_BELOW) {
            size += q.lengthAt(count++);
          }
          const pool = this.#slabs;
          const at = pool.reserve(size);
          const buf = pool.lastBuffer;
          held = pool.last!;
          held.retain();
          let n = at;
          for (let k = 0; k < count; k++) {
            const from = q.headStart;
            const len = q.headEnd - from;
            copyInto(buf, n, q.headBuf, from, len);
            n += len;
            frames += q.headFrames;
            q.headSlab?.release(); // copied out
            q.shift();
          }
          data = buf.subarray(at, n);
        }
        this.queuedFrames -= frames;
        this.queuedBytes -= data.length;
        this.inflightBytes = data.length;
        this.#inflight = data;
        this.#inflightWritten = 0;
        let off = 0;
        while (off < data.length) {
          this.writes++;
          off += await this.conn.write(off === 0 ? data : data.subarray(off));
          this.#inflightWritten = off;
        }
        held?.release();
        held = null;
        // Closed meanwhile: discardQueue() has accounted for this write.
        if (this.#inflight === null) break;
        this.#inflight = null;
        this.inflightBytes = 0;
        this.framesOut += frames;
        this.bytesOut += data.length;
        this.lastActivity = Date.now();
        this.#owner.drained(this);
      }
    } catch (e) {
      // The write settled (failed): its slab is free. The in-flight write stays
      // recorded: closing counts its frames (discardQueue).
      held?.release();
      this.#writing = false;
      if (!this.closed) this.#owner.writeFailed(this, e);
      return;
    }
    this.#writing = false;
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
