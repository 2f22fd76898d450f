/**
 * One relay connection: its FrameReader, its bounded outbound queue and the
 * writer that keeps one write in flight, coalescing queued chunks up to 1 MiB.
 *
 * The queue is a FIFO of shared chunks (each one copy of a producer's run of
 * frames, shared by every consumer) with a head index, never `Array.shift()`.
 *
 * @module
 */

import { FrameReader } from "../protocol/frame_reader.ts";
import type { StreamConn } from "../transport/transport.ts";
import { type Filter } from "./topics.ts";
import { SequenceState } from "./policy.ts";

/** Chunks at least this big are written as they are; smaller ones are coalesced. */
const COALESCE_BELOW = 65_536;
/** Largest single write when coalescing. */
const MAX_WRITE = 1_048_576;

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
  /** Read size wanted next (grows when reads fill the buffer). */
  readSize: number;

  // Outbound queue: parallel arrays with a head index.
  #chunks: (Uint8Array | undefined)[] = [];
  #frames: number[] = [];
  #head = 0;
  /** Frames waiting in the queue (not yet handed to a write). */
  queuedFrames = 0;
  /** Bytes waiting in the queue. */
  queuedBytes = 0;
  /** Bytes handed to the write in flight. */
  inflightBytes = 0;
  #writing = false;
  #wbuf: Uint8Array | null = null;
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
   */
  constructor(
    id: number,
    conn: StreamConn,
    owner: ConnectionOwner,
    readSize: number,
    maxPayload: number,
  ) {
    this.id = id;
    this.conn = conn;
    this.#owner = owner;
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
   * Queues a chunk of `frames` whole frames and starts the writer if idle.
   *
   * @param chunk frames (shared, never modified)
   * @param frames how many frames it holds
   */
  enqueue(chunk: Uint8Array, frames: number): void {
    this.#chunks.push(chunk);
    this.#frames.push(frames);
    this.queuedFrames += frames;
    this.queuedBytes += chunk.length;
    const depth = this.queuedBytes + this.inflightBytes;
    if (depth > this.queueHighWater) this.queueHighWater = depth;
    if (!this.#writing) void this.#pump();
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
    const last = this.#chunks.length - 1;
    while (
      this.#head < last && (this.queuedFrames > maxFrames || this.queuedBytes > maxBytes)
    ) {
      const c = this.#chunks[this.#head]!;
      const f = this.#frames[this.#head]!;
      this.#chunks[this.#head] = undefined;
      this.#head++;
      this.queuedFrames -= f;
      this.queuedBytes -= c.length;
      dropped += f;
    }
    this.drops += dropped;
    this.#compact();
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
    this.#chunks = [];
    this.#frames = [];
    this.#head = 0;
    this.queuedFrames = 0;
    this.queuedBytes = 0;
    return n;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The buffer small chunks are coalesced into: sized to what is queued (powers
   * of two from 64 KiB to 1 MiB), so a consumer of a quiet relay does not hold
   * 1 MiB; released when the queue drains (see #pump).
   */
  #coalesceBuffer(): Uint8Array {
    const need = Math.min(this.queuedBytes, MAX_WRITE);
    const have = this.#wbuf?.length ?? 0;
    if (have >= need) return this.#wbuf!;
    let size = COALESCE_BELOW;
    while (size < need) size *= 2;
    this.#wbuf = new Uint8Array(size);
    return this.#wbuf;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#head < this.#chunks.length && !this.closed) {
        let data: Uint8Array;
        let frames = 0;
        const first = this.#chunks[this.#head]!;
        if (first.length >= COALESCE_BELOW || this.#head + 1 === this.#chunks.length) {
          data = first;
          frames = this.#frames[this.#head]!;
          this.#chunks[this.#head] = undefined;
          this.#head++;
        } else {
          const buf = this.#coalesceBuffer();
          let n = 0;
          while (this.#head < this.#chunks.length) {
            const c = this.#chunks[this.#head]!;
            if (n + c.length > buf.length) break;
            buf.set(c, n);
            n += c.length;
            frames += this.#frames[this.#head]!;
            this.#chunks[this.#head] = undefined;
            this.#head++;
          }
          data = buf.subarray(0, n);
        }
        this.queuedFrames -= frames;
        this.queuedBytes -= data.length;
        this.inflightBytes = data.length;
        if (this.#head === this.#chunks.length) {
          this.#chunks.length = 0;
          this.#frames.length = 0;
          this.#head = 0;
        }
        this.#inflight = data;
        this.#inflightWritten = 0;
        let off = 0;
        while (off < data.length) {
          off += await this.conn.write(off === 0 ? data : data.subarray(off));
          this.#inflightWritten = off;
        }
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
      // The in-flight write stays recorded: closing counts its frames (discardQueue).
      this.#writing = false;
      if (!this.closed) this.#owner.writeFailed(this, e);
      return;
    }
    // Drained: an idle consumer keeps no large coalescing buffer.
    if (this.#wbuf !== null && this.#wbuf.length > COALESCE_BELOW) this.#wbuf = null;
    this.#writing = false;
  }
}
