import assert from "node:assert/strict";
import { PoolInvariantError, SlabPool } from "./slab.ts";

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Copies `src[s, e)` and returns a view of the copy with its slab. */
function copyOf(pool: SlabPool, src: Uint8Array, s: number, e: number) {
  const at = pool.copy(src, s, e);
  return { view: pool.lastBuffer.subarray(at, at + e - s), slab: pool.last };
}

/** `n` copies of `src[0, len)`, each holding a reference to its slab (as a queue entry does). */
function heldCopies(pool: SlabPool, src: Uint8Array, len: number, n: number) {
  return Array.from({ length: n }, () => {
    const c = copyOf(pool, src, 0, len);
    c.slab!.retain();
    return c;
  });
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
  const held = heldCopies(pool, src, 15_000, 20);
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

Deno.test("SlabPool.trim() lets go of the slabs and buffers a burst left behind, and only those", () => {
  const pool = new SlabPool();
  const src = bytes(15_000, 3);
  // A burst: 10 slabs filled and held, then all released.
  const burst = heldCopies(pool, src, 15_000, 40);
  for (const c of burst) c.slab!.release();
  assert.equal(pool.allocated, 10);
  assert.equal(pool.free, 9, "all but the slab being filled");
  pool.trim(); // starts the first period: nothing was measured before it
  // A quiet period that holds two slabs at a time, one of them the slab being filled:
  // the free list never falls below eight.
  for (let round = 0; round < 3; round++) {
    const held = heldCopies(pool, src, 15_000, 8);
    for (const c of held) c.slab!.release();
  }
  assert.equal(pool.allocated, 10, "the quiet period reused slabs");
  assert.equal(pool.trim(), 8);
  assert.equal(pool.free, 1);
  assert.equal(pool.trim(), 1, "a period that took nothing lets every free slab go");
  assert.equal(pool.free, 0);
  // Read buffers: a size nobody took for a period is dropped.
  const buffer = pool.takeBuffer(1024);
  pool.adopt(buffer).release();
  pool.trim();
  const reused = pool.reused;
  pool.trim();
  assert.notEqual(pool.takeBuffer(1024), buffer, "dropped after a period unused");
  assert.equal(pool.reused, reused);
});

Deno.test("SlabPool: an adopted buffer stays out of the pool until its last holder, whatever the order", () => {
  const pool = new SlabPool({ check: true });
  const buffer = pool.takeBuffer(4096);
  buffer.fill(7);
  const slab = pool.adopt(buffer); // the adopter's reference
  slab.retain(); // consumer A queues it
  slab.release(); // A is closed in the middle of the fan-out: its entry is released
  slab.retain(); // consumer B queues it after A was closed
  slab.release(); // the adopter is done handing it out
  assert.notEqual(pool.takeBuffer(4096), buffer, "B still holds it: not handed out again");
  assert.ok(buffer.every((x) => x === 7), "B's bytes are intact");
  slab.release(); // B wrote it
  assert.equal(pool.takeBuffer(4096), buffer, "back in the pool after its last holder");
});

Deno.test("SlabPool checking mode: miscounted holders throw PoolInvariantError and recycled bytes are poisoned", async (t) => {
  await t.step("released more often than retained", () => {
    const pool = new SlabPool({ check: true });
    const slab = pool.adopt(pool.takeBuffer(64));
    slab.release();
    assert.throws(() => slab.release(), PoolInvariantError);
  });
  await t.step("retained while in the pool", () => {
    const pool = new SlabPool({ check: true });
    const src = bytes(100, 3);
    pool.copy(src, 0, 100);
    const first = pool.last!;
    pool.reserve(65_500); // moves to a new slab: the first has no holder and is recycled
    assert.equal(pool.free, 1);
    assert.ok(first.bytes.every((x) => x === 0xee), "poisoned");
    assert.throws(() => first.retain(), PoolInvariantError);
  });
  await t.step("recycled bytes are not poisoned without the checking mode", () => {
    const pool = new SlabPool();
    const b = pool.takeBuffer(64);
    b.fill(1);
    pool.adopt(b).release();
    assert.ok(b.every((x) => x === 1));
  });
});

Deno.test("SlabPool cuts its first slabs from the reserve and keeps them for its life", () => {
  const pool = new SlabPool({ slabBytes: 1024, reserveBytes: 3000, check: true });
  assert.deepEqual(pool.reserved, { bytes: 3072, cut: 0 }, "rounded up to whole slabs, cut lazily");
  const src = bytes(1024, 3);
  const held = heldCopies(pool, src, 1024, 4);
  // Three slabs from the reserve (side by side in one buffer), the fourth allocated.
  assert.equal(pool.allocated, 4);
  assert.deepEqual(pool.reserved, { bytes: 3072, cut: 3072 });
  const [r0, r1, r2, own] = held.map((h) => h.slab!);
  assert.ok(r0!.reserved && r1!.reserved && r2!.reserved && !own!.reserved);
  assert.equal(r1!.bytes.buffer, r0!.bytes.buffer);
  assert.equal(r1!.bytes.byteOffset, r0!.bytes.byteOffset + 1024);
  assert.notEqual(own!.bytes.buffer, r0!.bytes.buffer);
  for (const h of held) assert.deepEqual(h.view, src);
  // Released, all four are free; a trim after an idle second keeps the reserved ones.
  copyOf(pool, src, 0, 1024); // moves the pool off the fourth slab
  for (const h of held) h.slab!.release();
  pool.trim();
  pool.trim();
  assert.equal(pool.free, 3, "the reserved slabs stay, the allocated one is let go");
  // Reused before anything is allocated again, and never handed out twice.
  const again = [];
  for (let i = 0; i < 3; i++) {
    const c = copyOf(pool, bytes(1024, 50 + i), 0, 1024);
    c.slab!.retain();
    again.push(c.slab!);
  }
  assert.equal(pool.allocated, 5, "the slab in use before plus none new");
  assert.equal(new Set(again).size, 3);
  for (const s of again) assert.ok(s.reserved);
});
