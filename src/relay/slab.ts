/**
 * Copies of forwarded runs of frames, cut from reused slabs.
 *
 * A relay copies each accepted run once and queues the copy to every consumer.
 * A buffer per run (`slice`) costs one allocation per run, and those buffers
 * outlive the young-generation collections while they wait in queues, so they
 * pile up until a full collection: the allocator's heap grows to that peak and
 * stays there. A {@linkcode SlabPool} instead copies runs side by side into
 * 64 KiB slabs and counts the queue entries that hold each slab; a slab that
 * is full and no longer held goes back to the pool and is reused. Memory for
 * queued frames is then a set of slabs that is reused, not garbage.
 *
 * Runs larger than 16 KiB get a buffer of their own (no slab): one allocation
 * per 16 KiB or more is cheap, and a slab never pins much more than it holds.
 * The largest runs are not copied at all: a producer's whole read buffer is
 * handed to the queues ({@linkcode SlabPool.adopt}) and the reader continues in
 * a pooled buffer of the same size ({@linkcode SlabPool.takeBuffer}); the
 * handed-over buffer returns to that pool when its last holder releases it.
 *
 * The rule for holders: {@linkcode Slab.retain} once per queue entry that holds
 * a view of the slab, {@linkcode Slab.release} once when that entry is written
 * (and the write has finished), copied elsewhere, or dropped.
 *
 * @module
 */

/** Slab size. */
const SLAB_BYTES = 65_536;
/** Runs larger than this get their own buffer, or are not copied at all (see {@linkcode SlabPool.adopt}). */
export const OWN_BUFFER_ABOVE = 16_384;
/**
 * Free slabs kept for reuse (4 MiB); more are left to the garbage collector,
 * and so are the ones that stay unused for a while ({@linkcode SlabPool.trim}).
 */
const MAX_FREE = 64;
/** Free read buffers kept for reuse, per size. */
const MAX_FREE_BUFFERS = 4;

/** A slab of copied runs and the number of queue entries holding a view of it. */
export class Slab {
  /** The slab's bytes. */
  readonly bytes: Uint8Array;
  /** A reader's buffer handed over whole (see {@linkcode SlabPool.adopt}), not a packed slab. */
  readonly adopted: boolean;
  /** Bytes handed out. */
  used = 0;
  /** Queue entries holding a view. */
  refs = 0;
  readonly #pool: SlabPool;

  /**
   * @param pool the pool it returns to
   * @param adopted a reader's buffer handed over (else a fresh 64 KiB slab)
   */
  constructor(pool: SlabPool, adopted: Uint8Array | null = null) {
    this.#pool = pool;
    this.bytes = adopted ?? new Uint8Array(SLAB_BYTES);
    this.adopted = adopted !== null;
  }

  /** A queue entry now holds a view of this slab. */
  retain(): void {
    this.refs++;
  }

  /** A queue entry no longer needs its view; the last one returns a full slab to the pool. */
  release(): void {
    if (--this.refs === 0) this.#pool.recycle(this);
  }
}

/**
 * Hands out copies of byte ranges, packed into reused slabs.
 *
 * @example
 * ```ts
 * const pool = new SlabPool();
 * const at = pool.copy(readBuffer, runStart, runEnd); // stays valid after readBuffer changes
 * const bytes = pool.lastBuffer; // the copy is bytes[at, at + runEnd - runStart)
 * const slab = pool.last; // null when the run got its own buffer
 * slab?.retain(); // once per queue entry holding the range
 * // ... written or dropped:
 * slab?.release();
 * ```
 */
export class SlabPool {
  #current: Slab | null = null;
  #free: Slab[] = [];
  /** Free read buffers by size. */
  #buffers = new Map<number, Uint8Array[]>();
  /** The slab of the last {@linkcode copy}, or null when it got its own buffer. */
  last: Slab | null = null;
  /** The buffer holding the last {@linkcode copy}: its slab's bytes, or its own buffer. */
  lastBuffer: Uint8Array = new Uint8Array(0);
  /** Slabs allocated so far. */
  allocated = 0;
  /** The fewest free slabs since the last {@linkcode trim}: that many were not needed. */
  #idleFree = 0;
  /** Sizes of read buffers taken since the last {@linkcode trim}. */
  #buffersTaken = new Set<number>();
  /** Slabs taken from the free list so far. */
  reused = 0;

  /** Free slabs waiting for reuse. */
  get free(): number {
    return this.#free.length;
  }

  /**
   * Copies `b[s, e)` into {@linkcode lastBuffer} (allocating no view). The copy
   * is never written again while a holder has not released it.
   *
   * @param b source bytes
   * @param s start offset
   * @param e end offset
   * @returns where the copy starts in {@linkcode lastBuffer}
   */
  copy(b: Uint8Array, s: number, e: number): number {
    const n = e - s;
    if (n > OWN_BUFFER_ABOVE) {
      this.last = null;
      this.lastBuffer = b.slice(s, e);
      return 0;
    }
    const at = this.reserve(n);
    this.lastBuffer.set(b.subarray(s, e), at);
    return at;
  }

  /**
   * Reserves `n` bytes (at most 64 KiB) in the slab being filled, for the
   * caller to write into {@linkcode lastBuffer} at the returned offset: a
   * writer coalescing small chunks takes only the room its write needs.
   * Hold {@linkcode last} ({@linkcode Slab.retain}) while the bytes are in use.
   *
   * @param n bytes
   * @returns where they start in {@linkcode lastBuffer}
   */
  reserve(n: number): number {
    let slab = this.#current;
    if (slab === null || slab.used + n > SLAB_BYTES) {
      const full = slab;
      slab = this.#take();
      this.#current = slab;
      // A full slab nobody holds is free at once; otherwise its last release frees it.
      if (full !== null && full.refs === 0) this.recycle(full);
    }
    const at = slab.used;
    slab.used = at + n;
    this.last = slab;
    this.lastBuffer = slab.bytes;
    return at;
  }

  /**
   * A buffer of `size` bytes for a reader to continue in (reused when one is free).
   *
   * @param size bytes
   * @returns the buffer (its contents are stale)
   */
  takeBuffer(size: number): Uint8Array {
    this.#buffersTaken.add(size);
    const b = this.#buffers.get(size)?.pop();
    if (b !== undefined) {
      this.reused++;
      return b;
    }
    return new Uint8Array(size);
  }

  /**
   * Wraps a read buffer handed over by a reader, so queue entries can hold it
   * like a slab. Call {@linkcode settle} once the entries are queued.
   *
   * @param bytes the buffer (never written again until it comes back)
   * @returns its slab
   */
  adopt(bytes: Uint8Array): Slab {
    return new Slab(this, bytes);
  }

  /**
   * Frees an adopted buffer at once when no queue entry took it.
   *
   * @param slab a slab from {@linkcode adopt}
   */
  settle(slab: Slab): void {
    if (slab.refs === 0) this.recycle(slab);
  }

  /**
   * Takes back a slab nobody holds (called by {@linkcode Slab.release}); the
   * slab being filled stays where it is.
   *
   * @param slab the slab
   */
  recycle(slab: Slab): void {
    if (slab === this.#current) return;
    if (slab.adopted) {
      // An adopted read buffer: back to the readers' pool.
      let list = this.#buffers.get(slab.bytes.length);
      if (list === undefined) this.#buffers.set(slab.bytes.length, list = []);
      if (list.length < MAX_FREE_BUFFERS) list.push(slab.bytes);
      return;
    }
    slab.used = 0;
    if (this.#free.length < MAX_FREE) this.#free.push(slab);
  }

  /**
   * Lets go of what a burst left behind: the free slabs that stayed free since
   * the last call, and the free read buffers of sizes nobody took since then.
   * The garbage collector frees them; a later burst allocates again. Call it
   * periodically (the relay does, every second).
   *
   * @returns slabs let go
   */
  trim(): number {
    const idle = Math.min(this.#idleFree, this.#free.length);
    this.#free.length -= idle;
    this.#idleFree = this.#free.length;
    for (const size of this.#buffers.keys()) {
      if (!this.#buffersTaken.has(size)) this.#buffers.delete(size);
    }
    this.#buffersTaken.clear();
    return idle;
  }

  #take(): Slab {
    const s = this.#free.pop();
    if (s !== undefined) {
      this.reused++;
      if (this.#free.length < this.#idleFree) this.#idleFree = this.#free.length;
      return s;
    }
    this.allocated++;
    return new Slab(this);
  }
}
