/**
 * FrameReader: a resumable state machine that re-frames a byte stream into
 * complete Protocol V2 frames (PROTOCOL.md 2.5, 7.4, 7.7).
 *
 * Bytes are read straight into the reader's own buffer ({@linkcode FrameReader.writable}
 * then {@linkcode FrameReader.commit}) or copied in with {@linkcode FrameReader.push}.
 * {@linkcode FrameReader.next} then advances over complete frames, leaving the
 * current one at `[frameStart, frameEnd)` of `buffer`. A stream that loses sync
 * (bad magic, bad version, payload_size above the limit) is resynchronised on
 * the next `EF BE AD DE` and the skipped bytes are counted.
 *
 * Allocation-free per frame: no objects, views, closures or BigInt are made by
 * `next()`; frames are offsets into one reused buffer.
 *
 * @module
 */

import { HEADER_SIZE, MAGIC, MAX_PAYLOAD_SIZE, PROTOCOL_VERSION, readU32 } from "./header.ts";
import { Status } from "./errors.ts";

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest accepted payload_size; a larger one is lost sync (default 1,048,544). */
  maxPayload?: number;
  /** Initial buffer size in bytes (default 256 KiB); grows to fit one maximal frame. */
  capacity?: number;
}

const MAGIC_BYTES = [0xef, 0xbe, 0xad, 0xde] as const;

/**
 * Re-frames a byte stream into whole frames.
 *
 * @example
 * ```ts
 * declare const chunk: Uint8Array;
 *
 * const reader = new FrameReader();
 * reader.push(chunk);
 * while (reader.next()) {
 *   const frame = reader.buffer.subarray(reader.frameStart, reader.frameEnd);
 * }
 * ```
 */
export class FrameReader {
  /** Start of the current frame (after `next()` returned true). */
  frameStart = 0;
  /** One past the end of the current frame. */
  frameEnd = 0;
  /** Total bytes discarded while resynchronising. */
  garbageBytes = 0;
  /** Bytes discarded since the last complete frame (for `max_garbage_bytes`). */
  garbageSinceFrame = 0;
  /** Number of times sync was lost. */
  resyncs = 0;
  /** Why sync was last lost: `Status.InvalidMagic`, `UnsupportedVersion` or `PayloadTooLarge`. */
  lastLoss: Status = Status.OK;
  /** Total complete frames returned. */
  frames = 0;
  /** Times sync was lost, indexed by the {@linkcode Status} that lost it. */
  readonly losses: Uint32Array = new Uint32Array(32);

  #maxPayload: number;
  // Set by #use(), from the constructor on.
  #buffer!: Uint8Array;
  #view!: DataView;
  #start = 0;
  #end = 0;
  /** A view of the whole buffer, handed out by `writable()` while nothing is buffered. */
  #whole: Uint8Array | null = null;

  /** @param options limits and sizes */
  constructor(options: FrameReaderOptions = {}) {
    this.#maxPayload = options.maxPayload ?? MAX_PAYLOAD_SIZE;
    this.#use(new Uint8Array(options.capacity ?? 262_144));
  }

  /** Continues in `buffer`, keeping the view and the whole-buffer view in step with it. */
  #use(buffer: Uint8Array): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.#whole = null;
  }

  /** The reader's buffer; frames are views of it until the next write. */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  /** A DataView of all of {@linkcode buffer}, for word reads on hot paths (one load, not four). */
  get view(): DataView {
    return this.#view;
  }

  /** Bytes held that do not yet form a complete frame (after `next()` returned false). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Offset of the first byte not yet consumed. */
  get position(): number {
    return this.#start;
  }

  /** The largest payload_size accepted (may change between reads, e.g. on a config reload). */
  get maxPayload(): number {
    return this.#maxPayload;
  }

  set maxPayload(value: number) {
    this.#maxPayload = value;
  }

  /**
   * Free space at the end of the buffer to read into, at least `minFree` bytes
   * (the buffer is compacted, or grown up to one maximal frame, to make room).
   * Views of earlier frames are invalid afterwards.
   *
   * @param minFree bytes wanted (default 64 KiB)
   * @returns a view of the free space
   */
  writable(minFree = 65_536): Uint8Array {
    if (this.#start === this.#end) {
      // Nothing buffered: read from the start again, through the same view.
      this.#start = 0;
      this.#end = 0;
    }
    if (this.#buffer.length - this.#end < minFree) this.#makeRoom(minFree);
    if (this.#end !== 0) return this.#buffer.subarray(this.#end);
    // A reader that receives whole frames per read allocates no view per read.
    return this.#whole ??= this.#buffer.subarray(0);
  }

  /**
   * Hands the buffer over and continues in `fresh`: the bytes not yet consumed
   * (a partial frame) move to the start of `fresh`; everything before
   * {@linkcode position} stays where it is in the returned buffer, so frames
   * already read can be passed on without copying them.
   *
   * @param fresh the new buffer; at least as long as the bytes still buffered
   * @returns the previous buffer (the reader never touches it again)
   * @throws {RangeError} when `fresh` cannot hold the buffered bytes
   */
  swapBuffer(fresh: Uint8Array): Uint8Array {
    const old = this.#buffer;
    const live = this.#end - this.#start;
    if (fresh.length < live || fresh.buffer === old.buffer) {
      throw new RangeError(
        `swapBuffer: need a separate buffer of at least ${live} bytes, got ${fresh.length}`,
      );
    }
    if (live > 0) fresh.set(old.subarray(this.#start, this.#end), 0);
    this.#use(fresh);
    this.#start = 0;
    this.#end = live;
    return old;
  }

  /**
   * Continues in a smaller buffer of `capacity` bytes, when nothing is
   * buffered and the buffer is larger: a reader grown by a burst of data gives
   * the memory back. Views from {@linkcode writable} are invalid afterwards,
   * so call it only between reads.
   *
   * @param capacity the new buffer size in bytes
   * @returns whether the buffer was replaced
   */
  shrink(capacity: number): boolean {
    if (this.#start !== this.#end || this.#buffer.length <= capacity) return false;
    this.#use(new Uint8Array(capacity));
    this.#start = 0;
    this.#end = 0;
    return true;
  }

  /**
   * Records that `n` bytes were written into the view from {@linkcode writable}.
   *
   * @param n bytes written
   */
  commit(n: number): void {
    this.#end += n;
  }

  /**
   * Copies a chunk in (for callers that do not read into {@linkcode writable}).
   *
   * @param chunk bytes of the stream
   */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const room = this.writable(Math.min(chunk.length - off, 65_536));
      const n = Math.min(room.length, chunk.length - off);
      room.set(chunk.subarray(off, off + n));
      this.commit(n);
      off += n;
    }
  }

  /** Forgets every buffered byte (e.g. after the peer disconnected mid-frame). */
  reset(): void {
    this.#start = 0;
    this.#end = 0;
  }

  /**
   * Advances to the next complete frame, skipping garbage.
   *
   * @returns true with the frame at `[frameStart, frameEnd)`, false when more bytes are needed
   */
  next(): boolean {
    // Fast path, small enough for the caller's loop to inline: a whole good
    // header is buffered at the read position.
    const v = this.#view;
    const off = this.#start;
    const avail = this.#end - off;
    if (
      avail >= HEADER_SIZE && v.getUint32(off, true) === MAGIC &&
      v.getUint8(off + 5) === PROTOCOL_VERSION
    ) {
      const payload = v.getUint32(off + 24, true);
      if (payload <= this.#maxPayload) {
        const size = HEADER_SIZE + payload;
        if (avail < size) return false;
        this.#take(off, size);
        return true;
      }
    }
    return this.#nextChecked();
  }

  /** The general case of `next()`: a partial header, or one that loses sync. */
  #nextChecked(): boolean {
    const b = this.#buffer;
    for (;;) {
      const off = this.#start;
      const avail = this.#end - off;
      if (avail <= 0) return false;
      // Check as much of the header as is present; any definite failure resyncs.
      const prefix = avail < 4 ? avail : 4;
      let bad: Status = Status.OK;
      for (let i = 0; i < prefix; i++) {
        if (b[off + i] !== MAGIC_BYTES[i]) {
          bad = Status.InvalidMagic;
          break;
        }
      }
      if (bad === Status.OK && avail > 5 && b[off + 5] !== PROTOCOL_VERSION) {
        bad = Status.UnsupportedVersion;
      }
      if (bad === Status.OK && avail >= 28 && readU32(b, off + 24) > this.#maxPayload) {
        bad = Status.PayloadTooLarge;
      }
      if (bad !== Status.OK) {
        this.#resync(bad);
        continue;
      }
      if (avail < HEADER_SIZE) return false;
      const size = HEADER_SIZE + readU32(b, off + 24);
      if (avail < size) return false;
      this.#take(off, size);
      return true;
    }
  }

  /** Makes the frame of `size` bytes at `off` the current one. */
  #take(off: number, size: number): void {
    this.frameStart = off;
    this.frameEnd = off + size;
    this.#start = off + size;
    this.garbageSinceFrame = 0;
    this.frames++;
  }

  /**
   * The current frame as a view (allocates one view: for clients, not the relay).
   *
   * @returns the frame after `next()` returned true, else `undefined`
   */
  nextFrame(): Uint8Array | undefined {
    return this.next() ? this.#buffer.subarray(this.frameStart, this.frameEnd) : undefined;
  }

  #resync(reason: Status): void {
    const b = this.#buffer;
    this.resyncs++;
    this.lastLoss = reason;
    this.losses[reason]!++;
    const end = this.#end;
    let found = -1;
    // Scans [start + 1, end) only. (`indexOf` would run on past `end` through the
    // stale rest of the buffer, up to a whole maximal frame per resync.)
    for (let i = this.#start + 1; i < end; i++) {
      if (b[i] !== MAGIC_BYTES[0]) continue;
      // A candidate that runs off the end is kept: it may complete later.
      if (
        (i + 1 >= end || b[i + 1] === MAGIC_BYTES[1]) &&
        (i + 2 >= end || b[i + 2] === MAGIC_BYTES[2]) &&
        (i + 3 >= end || b[i + 3] === MAGIC_BYTES[3])
      ) {
        found = i;
        break;
      }
    }
    const next = found < 0 ? this.#end : found;
    const skipped = next - this.#start;
    this.garbageBytes += skipped;
    this.garbageSinceFrame += skipped;
    this.#start = next;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }

  #makeRoom(minFree: number): void {
    const live = this.#end - this.#start;
    let size = this.#buffer.length;
    // A partial frame may need room for a whole maximal frame: only one whose
    // payload_size is within the limit (push() may call this before next() has
    // judged the header; an unchecked size would allocate up to 4 GiB).
    if (live >= 28 && readU32(this.#buffer, this.#start) === MAGIC) {
      const payload = readU32(this.#buffer, this.#start + 24);
      if (payload <= this.#maxPayload && HEADER_SIZE + payload + minFree > size) {
        size = HEADER_SIZE + payload + minFree;
      }
    }
    if (live + minFree > size) size = live + minFree;
    if (size > this.#buffer.length) {
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#use(grown);
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#start = 0;
    this.#end = live;
  }
}
