import assert from "node:assert/strict";
import { SlabPool } from "./slab.ts";

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Copies `src[s, e)` and returns a view of the copy with its slab. */
function copyOf(pool: SlabPool, src: Uint8Array, s: number, e: number) {
  const at = pool.copy(src, s, e);
  return { view: pool.lastBuffer.subarray(at, at + e - s), slab: pool.last };
}

Deno.test("SlabPool copies survive the source buffer being overwritten", () => {
  const pool = new SlabPool();
  const src = bytes(1000, 1);
  const a = copyOf(pool, src, 10, 110);
  const b = copyOf(pool, src, 500, 564);
  const wantA = src.slice(10, 110);
  const wantB = src.slice(500, 564);
  src.fill(0);
  assert.deepEqual(a.view, wantA);
  assert.deepEqual(b.view, wantB);
  // Small runs share one slab, side by side.
  assert.equal(a.slab, b.slab);
  assert.equal(b.view.byteOffset, a.view.byteOffset + a.view.length);
  assert.equal(pool.allocated, 1);
});

Deno.test("SlabPool never reuses a slab while a holder has not released it", () => {
  const pool = new SlabPool();
  const src = bytes(15_000, 7);
  // Fill five slabs (four 15,000-byte runs each); every copy is held.
  const held = [];
  for (let i = 0; i < 20; i++) {
    const c = copyOf(pool, src, 0, 15_000);
    c.slab!.retain();
    held.push(c);
  }
  assert.equal(pool.allocated, 5);
  assert.equal(pool.free, 0);
  // Release the first slab's four holders: it goes back to the pool, the others stay held.
  for (const h of held.slice(0, 4)) h.slab!.release();
  assert.equal(pool.free, 1);
  // The next slab comes from the free list, and overwriting it leaves every held copy intact.
  const other = bytes(15_000, 99);
  for (let i = 0; i < 4; i++) pool.copy(other, 0, 15_000);
  assert.equal(pool.reused, 1);
  for (const h of held.slice(4)) assert.deepEqual(h.view, src);
});

Deno.test("SlabPool keeps the slab being filled even when nobody holds it", () => {
  const pool = new SlabPool();
  const src = bytes(100, 5);
  const a = copyOf(pool, src, 0, 100);
  a.slab!.retain();
  a.slab!.release(); // written at once: refs 0, but the slab is still being filled
  const b = copyOf(pool, src, 0, 50);
  assert.equal(b.view.byteOffset, a.view.byteOffset + 100, "not rewound: a is not overwritten");
  assert.equal(pool.free, 0);
});

Deno.test("SlabPool gives large runs a buffer of their own", () => {
  const pool = new SlabPool();
  const src = bytes(100_000, 3);
  const big = copyOf(pool, src, 0, 80_000);
  assert.equal(big.slab, null);
  assert.equal(big.view.buffer.byteLength, 80_000);
  assert.deepEqual(big.view, src.slice(0, 80_000));
  assert.equal(pool.allocated, 0);
});

Deno.test("SlabPool.reserve takes room beside copies without overlapping them", () => {
  const pool = new SlabPool();
  const src = bytes(300, 9);
  const a = copyOf(pool, src, 0, 300);
  const at = pool.reserve(1000);
  assert.equal(pool.last, a.slab);
  assert.equal(at, a.view.byteOffset + 300);
  pool.lastBuffer.fill(0xee, at, at + 1000);
  assert.deepEqual(a.view, src, "the copy is untouched");
  assert.equal(pool.copy(src, 0, 10), at + 1000, "the next copy follows the reserved room");
});
