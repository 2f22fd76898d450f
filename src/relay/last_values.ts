/**
 * The market-data relay's last values (PROTOCOL.md 7.9, D-37): the last
 * accepted frame per (InstrumentId of the frame's first TLV that carries one,
 * TLV type), bounded, the least recently updated evicted first, so that a
 * consumer that starts late gets the current state of every instrument
 * (`RecoveryRequest` snapshot) like a compacted topic.
 *
 * Which types carry an InstrumentId, and where its fields are, is read from
 * the registry: a packed `InstrumentId` field, or `asset_id` with a venue
 * (`venue_id`/`venue`) and `asset_type` split over the layout (Trade, Quote,
 * OrderBook, QuoteUpdate).
 *
 * Updating is per frame and allocation-free: an open-addressing hash table in
 * typed arrays (linear probing, backward-shift deletion), a least-recently-
 * updated list in typed arrays, and frames copied into fixed cells of a
 * chunked arena (frames larger than a cell get a buffer of their own).
 *
 * @module
 */

import { HEADER_SIZE, readU32, TLV_TYPES } from "../protocol/mod.ts";

/** Bytes of an arena cell: a Trade (74 B), a Quote (90 B) and most market-data frames fit. */
const CELL = 256;
/** Cells per arena chunk (1 MiB). */
const CHUNK = 4096;
/** TLVs looked at for an InstrumentId before a frame is taken to carry none. */
const MAX_WALK = 8;

/**
 * Where the InstrumentId fields sit in each TLV type's value: asset_id, venue,
 * asset_type offsets (-1: the type carries none).
 */
const ID_AT: Int16Array = instrumentOffsets();

function instrumentOffsets(): Int16Array {
  const at = new Int16Array(256 * 3).fill(-1);
  for (const t of TLV_TYPES) {
    const fields = t.fields ?? [];
    const packed = fields.find((f) => f.type === "InstrumentId");
    const asset = fields.find((f) => f.name === "asset_id");
    const venue = fields.find((f) => f.name === "venue_id" || f.name === "venue");
    const kind = fields.find((f) => f.name === "asset_type");
    if (packed !== undefined) {
      at.set([packed.offset, packed.offset + 8, packed.offset + 10], t.type * 3);
    } else if (asset !== undefined && venue !== undefined && kind !== undefined) {
      at.set([asset.offset, venue.offset, kind.offset], t.type * 3);
    }
  }
  return at;
}

/**
 * Last values keyed by (instrument, TLV type).
 *
 * @example
 * ```ts
 * declare const bytes: Uint8Array; // a read buffer
 * declare const frameStart: number;
 * declare const frameEnd: number;
 *
 * const last = new LastValues(100_000);
 * last.update(bytes, frameStart, frameEnd); // each accepted market-data frame
 * const { bytes: snapshot, frames } = last.snapshot(() => true);
 * ```
 */
export class LastValues {
  readonly limit: number;
  // Hash table: key words and the entry (index + 1; 0 = empty) per slot.
  readonly #mask: number;
  readonly #kLo: Int32Array;
  readonly #kHi: Int32Array;
  readonly #kRest: Int32Array;
  readonly #slot: Int32Array;
  // Entries: their slot, frame length, and the least-recently-updated list.
  readonly #at: Int32Array;
  readonly #len: Int32Array;
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  #head = -1;
  #tail = -1;
  #count = 0;
  #chunks: Uint8Array[] = [];
  #chunkViews: DataView[] = [];
  // A view of the buffer frames were last copied from: a relay's read buffer, used for
  // a whole read (holds on to that one buffer until frames come from another).
  #from: Uint8Array = new Uint8Array(0);
  #fromView: DataView = new DataView(this.#from.buffer);
  #big: (Uint8Array | undefined)[] = [];
  /** Entries evicted to stay within the limit. */
  evicted = 0;

  /** @param limit most (instrument, type) pairs kept */
  constructor(limit: number) {
    this.limit = limit;
    let size = 16;
    while (size < limit * 2) size *= 2;
    this.#mask = size - 1;
    this.#kLo = new Int32Array(size);
    this.#kHi = new Int32Array(size);
    this.#kRest = new Int32Array(size);
    this.#slot = new Int32Array(size);
    this.#at = new Int32Array(limit);
    this.#len = new Int32Array(limit);
    this.#prev = new Int32Array(limit);
    this.#next = new Int32Array(limit);
  }

  /** (instrument, type) pairs held. */
  get size(): number {
    return this.#count;
  }

  /** Bytes the arena holds (allocated cells and own buffers). */
  get memoryBytes(): number {
    let n = this.#chunks.length * CHUNK * CELL;
    for (const b of this.#big) if (b !== undefined) n += b.length;
    return n;
  }

  /**
   * Records the frame `[s, e)` of `b` as the last value of its key, when one of
   * its TLVs carries an InstrumentId (the first that does).
   *
   * @param b bytes
   * @param s frame start
   * @param e frame end
   */
  update(b: Uint8Array, s: number, e: number): void {
    // The first TLV that carries an InstrumentId (within the first few: a frame's instrument
    // comes first in every market-data layout; type 0 is no TLV, so the walk ends there).
    let off = s + 32;
    let type = -1;
    let value = 0;
    for (let n = 0; n < MAX_WALK && off + 2 <= e; n++) {
      let t = b[off]!;
      if (t === 0) return;
      let len: number;
      if (t === 255) {
        if (off + 5 > e) return;
        t = b[off + 2]!;
        len = b[off + 3]! | (b[off + 4]! << 8);
        value = off + 5;
      } else {
        len = b[off + 1]!;
        value = off + 2;
      }
      if (t !== 0 && ID_AT[t * 3]! >= 0 && value + len <= e) {
        type = t;
        break;
      }
      off = value + len;
    }
    if (type >= 0) this.#record(type, value, b, s, e);
  }

  /** Stores the frame `[s, e)` under the key of its TLV of `type` whose value starts at `value`. */
  #record(type: number, value: number, b: Uint8Array, s: number, e: number): void {
    const a = value + ID_AT[type * 3]!;
    const v = value + ID_AT[type * 3 + 1]!;
    const k = value + ID_AT[type * 3 + 2]!;
    const lo = b[a]! | (b[a + 1]! << 8) | (b[a + 2]! << 16) | (b[a + 3]! << 24);
    const hi = b[a + 4]! | (b[a + 5]! << 8) | (b[a + 6]! << 16) | (b[a + 7]! << 24);
    const rest = b[v]! | (b[v + 1]! << 8) | (b[k]! << 16) | (type << 24);
    let i = hashOf(lo, hi, rest) & this.#mask;
    let entry: number;
    for (;;) {
      const found = this.#slot[i]!;
      if (found === 0) {
        entry = this.#insert(i, lo, hi, rest);
        break;
      }
      if (this.#kLo[i] === lo && this.#kHi[i] === hi && this.#kRest[i] === rest) {
        entry = found - 1;
        this.#touch(entry);
        break;
      }
      i = (i + 1) & this.#mask;
    }
    this.#store(entry, b, s, e);
  }

  /**
   * {@linkcode update} for each frame of the run `[s, e)` of `b` (whole frames
   * back to back): one call per run keeps the per-frame walk in one loop.
   *
   * @param b bytes
   * @param s start of the first frame
   * @param e end of the last frame
   */
  updateRun(b: Uint8Array, s: number, e: number): void {
    for (let off = s; off < e;) {
      const next = off + HEADER_SIZE + readU32(b, off + 24);
      this.update(b, off, next);
      off = next;
    }
  }

  /**
   * The last values the filter takes, oldest update first, copied into one
   * buffer (a consumer's queue owns it).
   *
   * @param accept the connection's filter, per frame
   * @returns the frames back to back and their count
   */
  snapshot(accept: (b: Uint8Array, s: number, e: number) => boolean): {
    bytes: Uint8Array;
    frames: number;
  } {
    const picked: [Uint8Array, number, number][] = [];
    let size = 0;
    for (let x = this.#head; x >= 0; x = this.#next[x]!) {
      const [buf, at] = this.#where(x);
      const len = this.#len[x]!;
      if (!accept(buf, at, at + len)) continue;
      picked.push([buf, at, len]);
      size += len;
    }
    const bytes = new Uint8Array(size);
    let n = 0;
    for (const [buf, at, len] of picked) {
      bytes.set(buf.subarray(at, at + len), n);
      n += len;
    }
    return { bytes, frames: picked.length };
  }

  #insert(i: number, lo: number, hi: number, rest: number): number {
    let entry: number;
    if (this.#count === this.limit) {
      entry = this.#head; // least recently updated
      this.#remove(this.#at[entry]!);
      this.#unlink(entry);
      this.evicted++;
      // The slot may have moved up by the backward shift: find where the key goes now.
      i = hashOf(lo, hi, rest) & this.#mask;
      while (this.#slot[i] !== 0) i = (i + 1) & this.#mask;
    } else {
      entry = this.#count++;
    }
    this.#kLo[i] = lo;
    this.#kHi[i] = hi;
    this.#kRest[i] = rest;
    this.#slot[i] = entry + 1;
    this.#at[entry] = i;
    this.#linkTail(entry);
    return entry;
  }

  /** Empties slot `i`, shifting later slots of its probe run back (no tombstones). */
  #remove(i: number): void {
    const m = this.#mask;
    let hole = i;
    let j = (i + 1) & m;
    while (this.#slot[j] !== 0) {
      const home = hashOf(this.#kLo[j]!, this.#kHi[j]!, this.#kRest[j]!) & m;
      // Move j into the hole when its home is not in (hole, j] (cyclically).
      if (((j - home) & m) >= ((j - hole) & m)) {
        this.#kLo[hole] = this.#kLo[j]!;
        this.#kHi[hole] = this.#kHi[j]!;
        this.#kRest[hole] = this.#kRest[j]!;
        this.#slot[hole] = this.#slot[j]!;
        this.#at[this.#slot[hole]! - 1] = hole;
        hole = j;
      }
      j = (j + 1) & m;
    }
    this.#slot[hole] = 0;
  }

  #touch(entry: number): void {
    if (entry === this.#tail) return;
    this.#unlink(entry);
    this.#linkTail(entry);
  }

  #unlink(x: number): void {
    const p = this.#prev[x]!;
    const n = this.#next[x]!;
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
  }

  #linkTail(x: number): void {
    this.#prev[x] = this.#tail;
    this.#next[x] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = x;
    else this.#head = x;
    this.#tail = x;
  }

  /** Copies the frame into the entry's cell (or its own buffer when larger). */
  #store(entry: number, b: Uint8Array, s: number, e: number): void {
    const len = e - s;
    this.#len[entry] = len;
    let dst: Uint8Array;
    let at: number;
    if (len > CELL) {
      let own = this.#big[entry];
      if (own === undefined || own.length < len) this.#big[entry] = own = new Uint8Array(len);
      dst = own;
      at = 0;
      dst.set(b.subarray(s, e));
      return;
    }
    this.#big[entry] = undefined;
    const chunk = entry / CHUNK | 0;
    while (this.#chunks.length <= chunk) {
      const fresh = new Uint8Array(CHUNK * CELL);
      this.#chunks.push(fresh);
      this.#chunkViews.push(new DataView(fresh.buffer));
    }
    dst = this.#chunks[chunk]!;
    at = (entry % CHUNK) * CELL;
    // Word by word: a frame is a few dozen bytes, too few for set() to pay for its view.
    if (b !== this.#from) {
      this.#from = b;
      this.#fromView = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    const from = this.#fromView;
    const to = this.#chunkViews[chunk]!;
    let i = 0;
    for (; i + 8 <= len; i += 8) {
      to.setInt32(at + i, from.getInt32(s + i));
      to.setInt32(at + i + 4, from.getInt32(s + i + 4));
    }
    if (i + 4 <= len) {
      to.setInt32(at + i, from.getInt32(s + i));
      i += 4;
    }
    for (; i < len; i++) dst[at + i] = b[s + i]!;
  }

  #where(entry: number): [Uint8Array, number] {
    const own = this.#big[entry];
    if (own !== undefined) return [own, 0];
    return [this.#chunks[entry / CHUNK | 0]!, (entry % CHUNK) * CELL];
  }
}

function hashOf(lo: number, hi: number, rest: number): number {
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ hi ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ rest ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}
