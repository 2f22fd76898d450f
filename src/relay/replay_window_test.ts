import assert from "node:assert/strict";
import { ReplayWindow } from "./replay_window.ts";
import { SlabPool } from "./slab.ts";

/** A 40-byte frame of `source` with `sequence`. */
function frame(source: number, sequence: number): Uint8Array {
  const f = new Uint8Array(40);
  const v = new DataView(f.buffer);
  v.setUint32(0, 0xdeadbeef, true);
  f[4] = 1;
  f[5] = 1;
  f[6] = source;
  v.setBigUint64(8, BigInt(sequence), true);
  v.setUint32(24, 8, true);
  return f;
}

function run(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.length * 40);
  frames.forEach((f, i) => out.set(f, i * 40));
  return out;
}

/** Frames put into the window per source (the relay's count). */
const added = new Float64Array(256);

function collect(w: ReplayWindow, source: number, after: bigint, upTo = 0n) {
  const got: number[] = [];
  const sel = w.select({ source, after, upTo, added }, () => true, (b, s, e) => {
    for (let off = s; off < e; off += 40) got.push(b[off + 8]!);
  });
  return { got, ...sel };
}

Deno.test("ReplayWindow hands out a source's frames after a sequence, and knows what it evicted", () => {
  const w = new ReplayWindow({ frames: 6, bytes: 1 << 20 });
  for (let i = 1; i <= 5; i++) {
    const r = run([frame(40, i), frame(41, i)]);
    w.push(r, 0, r.length, 2, null, 1000 + i);
    added[40]!++;
    added[41]!++;
  }
  // 10 frames pushed, at most 6 kept, whole runs: runs 3, 4 and 5 remain.
  assert.equal(w.frames, 6);
  assert.equal(w.oldest, 1003);
  const a = collect(w, 40, 3n);
  assert.deepEqual(a.got, [4, 5]);
  assert.equal(a.first, 4n);
  assert.equal(a.last, 5n);
  assert.equal(a.windowStart, 3n);
  assert.equal(a.partial, false);
  const b = collect(w, 41, 1n, 4n);
  assert.deepEqual(b.got, [3, 4]);
  assert.equal(b.partial, true, "2 was asked for and evicted");
  const all = collect(w, 0, 0n);
  assert.equal(all.frames, 6);
});

Deno.test("ReplayWindow holds slabs by reference and lets them go on eviction", () => {
  const pool = new SlabPool({ check: true });
  const w = new ReplayWindow({ frames: 2, bytes: 1 << 20 });
  const src = run([frame(1, 1)]);
  const at = pool.copy(src, 0, 40);
  const slab = pool.last!;
  w.push(pool.lastBuffer, at, at + 40, 1, slab, 0);
  assert.equal(slab.refs, 2, "the pool's and the window's");
  const other = run([frame(1, 2), frame(1, 3)]);
  w.push(other, 0, 80, 2, null, 0);
  assert.equal(slab.refs, 1, "evicted: the window let it go");
  w.clear();
  assert.equal(w.frames, 0);
});
