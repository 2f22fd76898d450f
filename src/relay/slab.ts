/**
 * Copies of forwarded runs of frames, cut from reused slabs, and read buffers
 * handed over to the queues: shared bytes owned by counted references.
 *
 * A relay copies each accepted run once and queues the copy to every consumer.
 * A buffer per run (`slice`) costs one allocation per run, and those buffers
 * outlive the young-generation collections while they wait in queues, so they
 * pile up until a full collection: the allocator's heap grows to that peak and
 * stays there. A {@linkcode SlabPool} instead copies runs side by side into
 * slabs and counts the holders of each slab; a slab nobody holds goes back to
 * the pool and is reused. Memory for queued frames is then a set of slabs that
 * is reused, not garbage.
 *
 * **Reserve.** A pool can be given bytes to reserve ({@linkcode SlabPoolOptions.reserveBytes}):
 * its first slabs are cut from one buffer allocated when the first is needed,
 * and they stay the pool's for its life (never trimmed, never left to the
 * collector). A relay reserves its replay window's bytes. The window keeps
 * runs for seconds to minutes, so while it fills, every slab it keeps is new
 * memory; V8 counts ArrayBuffer memory towards its next full collection
 * (with the 20 % growth `bin/torq` sets, one about every half second at
 * 100 k msg/s of 128 B, each pausing the relay for up to ~10 ms: p99 latency
 * 8–14 ms). Cut from the reserve, filling the window allocates nothing. The
 * reserve costs address space, not memory: its pages become resident as slabs
 * are first written.
 *
 * Runs larger than 16 KiB get a buffer of their own (no slab, left to the
 * garbage collector). The largest runs are not copied at all: a producer's
 * whole read buffer is handed to the queues ({@linkcode SlabPool.adopt}) and the
 * reader continues in a pooled buffer ({@linkcode SlabPool.takeBuffer}); the
 * handed-over buffer returns to that pool when its last holder releases it.
 *
 * **Ownership, by construction.** Every holder of a slab holds one counted
 * reference: {@linkcode Slab.retain} when it starts holding a view,
 * {@linkcode Slab.release} exactly once when it stops. Holders are: each queue
 * entry, a write in flight, the pool itself for the slab it is filling, and
 * whoever {@linkcode SlabPool.adopt}s a buffer (for the time it hands it out). A
 * slab returns to the pool only when the count falls to zero, so a slab can
 * never be reused while anything holds a view of it, whatever order holders
 * come and go in (a consumer closed in the middle of a fan-out included).
 *
 * **Checking mode** (`check: true`; `TORQ_CHECK_POOLS=1` for `torq relay` and
 * `torq up`): every retain, release, recycle and take asserts the invariants —
 * never released more often than retained, never retained or handed out while
 * in the pool, never in the pool twice — and recycled bytes are overwritten
 * with 0xEE, so a use after recycling corrupts frames visibly instead of
 * silently. A broken invariant throws {@linkcode PoolInvariantError}.
 *
 * @module
 */

/** Bytes of a run slab. */
export const SLAB_BYTES = 65_536;
/** Runs larger than this get their own buffer, or are not copied at all (see {@linkcode SlabPool.adopt}). */
export const OWN_BUFFER_ABOVE = 16_384;
/**
 * Free slabs kept for reuse (4 MiB of 64 KiB slabs); more are left to the
 * garbage collector, and so are the ones that stay unused for a while
 * ({@linkcode SlabPool.trim}).
 */
const MAX_FREE_BYTES = 4 * 1_048_576;
/** Free read buffers kept for reuse, per size. */
const MAX_FREE_BUFFERS = 4;
/** What recycled bytes are overwritten with in checking mode. */
const POISON = 0xee;

/** A slab's holders were miscounted (checking mode). */
export class PoolInvariantError extends Error {
  /** @param message what was violated */
  constructor(message: string) {
    super(message);
    this.name = "PoolInvariantError";
  }
}

/** A slab of copied runs (or an adopted read buffer) and the number of holders of a view of it. */
export class Slab {
  /** The slab's bytes. */
  readonly bytes: Uint8Array;
  /** A reader's buffer handed over whole (see {@linkcode SlabPool.adopt}), not a packed slab. */
  readonly adopted: boolean;
  /** Bytes handed out. */
  used = 0;
  /** Holders of a view. */
  refs = 0;
  /** In the pool's free list (checking mode keeps it exact). */
  free = false;
  /** Cut from the pool's reserve: it never leaves the pool. */
  readonly reserved: boolean;
  readonly #pool: SlabPool;

  /**
   * @param pool the pool it returns to
   * @param bytes its bytes
   * @param adopted a reader's buffer handed over (else a packed slab)
   * @param reserved cut from the pool's reserve
   */
  constructor(pool: SlabPool, bytes: Uint8Array, adopted: boolean, reserved = false) {
    this.#pool = pool;
    this.bytes = bytes;
    this.adopted = adopted;
    this.reserved = reserved;
  }

  /** One more holder of a view of this slab. */
  retain(): void {
    if (this.free) this.#pool.violation("retained while in the pool");
    this.refs++;
  }

  /** A holder no longer needs its view; the last one returns the slab to the pool. */
  release(): void {
    if (this.refs <= 0) this.#pool.violation("released more often than retained");
    if (--this.refs === 0) this.#pool.recycle(this);
  }
}

/** Options of a {@linkcode SlabPool}. */
export interface SlabPoolOptions {
  /** Bytes of each packed slab (default 64 KiB): the largest {@linkcode SlabPool.reserve}. */
  slabBytes?: number;
  /** Assert the ownership invariants on every operation (see the module doc). */
  check?: boolean;
  /**
   * Bytes of slabs cut from one buffer, allocated with the first slab, that stay
   * the pool's for its life (default 0; see "Reserve" in the module doc).
   */
  reserveBytes?: number;
}

/**
 * Hands out copies of byte ranges, packed into reused slabs.
 *
 * @example
 * ```ts
 * declare const readBuffer: Uint8Array;
 * declare const runStart: number;
 * declare const runEnd: number;
 *
 * const pool = new SlabPool();
 * const at = pool.copy(readBuffer, runStart, runEnd); // stays valid after readBuffer changes
 * const bytes = pool.lastBuffer; // the copy is bytes[at, at + runEnd - runStart)
 * const slab = pool.last; // null when the run got its own buffer
 * slab?.retain(); // once per holder of the range
 * // ... written or dropped:
 * slab?.release();
 * ```
 */
export class SlabPool {
  /** Bytes of each packed slab. */
  readonly slabBytes: number;
  /** Whether invariants are asserted. */
  readonly check: boolean;
  /** The slab being filled; the pool holds one reference to it. */
  #current: Slab | null = null;
  #free: Slab[] = [];
  readonly #maxFree: number;
  /** Free slabs cut from the reserve: kept whatever their number, taken first. */
  #freeReserved: Slab[] = [];
  /** The reserve's bytes (allocated with the first slab), and how much of it is cut. */
  #reserve: Uint8Array | null = null;
  #reserveBytes: number;
  #reserveCut = 0;
  /** Free read buffers by size. */
  #buffers = new Map<number, Uint8Array[]>();
  /** Checking mode: the free read buffers (a buffer is never in the pool twice). */
  #freeBuffers = new Set<Uint8Array>();
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
  /** Slabs and buffers taken from the free lists so far. */
  reused = 0;

  /** @param options slab size and checking mode */
  constructor(options: SlabPoolOptions = {}) {
    this.slabBytes = options.slabBytes ?? SLAB_BYTES;
    this.check = options.check ?? false;
    this.#maxFree = Math.max(1, Math.floor(MAX_FREE_BYTES / this.slabBytes));
    const reserve = options.reserveBytes ?? 0;
    this.#reserveBytes = Math.ceil(reserve / this.slabBytes) * this.slabBytes;
  }

  /** Bytes reserved (see {@linkcode SlabPoolOptions.reserveBytes}), and how many of them are cut into slabs. */
  get reserved(): { bytes: number; cut: number } {
    return { bytes: this.#reserveBytes, cut: this.#reserveCut };
  }

  /** Free slabs waiting for reuse. */
  get free(): number {
    return this.#free.length + this.#freeReserved.length;
  }

  /**
   * Reports a broken ownership invariant.
   *
   * @param what the invariant
   * @throws {PoolInvariantError} always
   */
  violation(what: string): never {
    throw new PoolInvariantError(`Slab pool invariant broken: a slab was ${what}`);
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
   * Reserves `n` bytes (at most {@linkcode slabBytes}) in the slab being filled,
   * for the caller to write into {@linkcode lastBuffer} at the returned offset:
   * a writer coalescing small chunks takes only the room its write needs.
   * Hold {@linkcode last} ({@linkcode Slab.retain}) while the bytes are in use.
   *
   * @param n bytes
   * @returns where they start in {@linkcode lastBuffer}
   */
  reserve(n: number): number {
    if (n > this.slabBytes) {
      throw new RangeError(`Cannot reserve ${n} bytes in a slab of ${this.slabBytes}`);
    }
    let slab = this.#current;
    if (slab === null || slab.used + n > this.slabBytes) {
      const full = slab;
      slab = this.#take();
      slab.retain(); // the pool's own reference while it fills the slab
      this.#current = slab;
      full?.release(); // freed now, or by its last holder
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
    if (b === undefined) return new Uint8Array(size);
    if (this.check && !this.#freeBuffers.delete(b)) this.violation("handed out twice");
    this.reused++;
    return b;
  }

  /**
   * Wraps a read buffer handed over by a reader, so holders can share it like
   * a slab. The caller holds the one reference it starts with and releases it
   * once it has handed the buffer to every holder.
   *
   * @param bytes the buffer (never written again until it comes back)
   * @returns its slab, with one reference (the caller's)
   */
  adopt(bytes: Uint8Array): Slab {
    if (this.check && this.#freeBuffers.has(bytes)) this.violation("adopted while in the pool");
    const slab = new Slab(this, bytes, true);
    slab.refs = 1;
    return slab;
  }

  /**
   * Takes back a slab nobody holds (called by {@linkcode Slab.release}).
   *
   * @param slab the slab
   */
  recycle(slab: Slab): void {
    if (slab.refs !== 0) this.violation(`recycled while ${slab.refs} holder(s) remain`);
    if (this.check) slab.bytes.fill(POISON);
    if (slab.adopted) {
      // An adopted read buffer: back to the readers' pool.
      const b = slab.bytes;
      if (this.check) {
        if (this.#freeBuffers.has(b)) this.violation("recycled twice");
        this.#freeBuffers.add(b);
      }
      let list = this.#buffers.get(b.length);
      if (list === undefined) this.#buffers.set(b.length, list = []);
      if (list.length < MAX_FREE_BUFFERS) list.push(b);
      else this.#freeBuffers.delete(b);
      return;
    }
    if (slab.free) this.violation("recycled twice");
    slab.used = 0;
    if (slab.reserved) {
      slab.free = true;
      this.#freeReserved.push(slab);
    } else if (this.#free.length < this.#maxFree) {
      slab.free = true;
      this.#free.push(slab);
    }
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
    for (let i = this.#free.length - idle; i < this.#free.length; i++) this.#free[i]!.free = false;
    this.#free.length -= idle;
    this.#idleFree = this.#free.length;
    for (const [size, list] of this.#buffers) {
      if (this.#buffersTaken.has(size)) continue;
      for (const b of list) this.#freeBuffers.delete(b);
      this.#buffers.delete(size);
    }
    this.#buffersTaken.clear();
    return idle;
  }

  #take(): Slab {
    const s = this.#freeReserved.pop() ?? this.#free.pop();
    if (s !== undefined) {
      if (!s.free || s.refs !== 0) this.violation("taken from the pool while held");
      s.free = false;
      this.reused++;
      if (this.#free.length < this.#idleFree) this.#idleFree = this.#free.length;
      return s;
    }
    this.allocated++;
    const at = this.#reserveCut;
    if (at < this.#reserveBytes) {
      this.#reserve ??= new Uint8Array(this.#reserveBytes);
      this.#reserveCut = at + this.slabBytes;
      return new Slab(this, this.#reserve.subarray(at, at + this.slabBytes), false, true);
    }
    return new Slab(this, new Uint8Array(this.slabBytes), false);
  }
}
