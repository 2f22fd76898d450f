import assert from "node:assert/strict";
import { parseSeed, Prng } from "./prng.ts";

Deno.test("Prng repeats its sequence for a seed", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextU32()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => new Prng(43).nextU32()), xs);
  // Pinned: changing the generator would change every seeded demo stream.
  assert.equal(new Prng(1).nextU32(), 2693262067);
});

Deno.test("Prng.int() stays in range and reaches both ends", () => {
  const r = new Prng(5);
  const seen = new Set<number>();
  for (let i = 0; i < 2_000; i++) {
    const v = r.int(3, 9);
    assert.ok(v >= 3 && v <= 9);
    seen.add(v);
  }
  assert.equal(seen.size, 7);
});

Deno.test("Prng.bytes() gives the asked length", () => {
  assert.equal(new Prng(1).bytes(20).length, 20);
  assert.deepEqual(new Prng(1).bytes(7), new Prng(1).bytes(7));
});

Deno.test("parseSeed() accepts 0–4294967295 only", () => {
  assert.equal(parseSeed("0"), 0);
  assert.equal(parseSeed("4294967295"), 4294967295);
  assert.equal(parseSeed("4294967296"), undefined);
  assert.equal(parseSeed("-1"), undefined);
  assert.equal(parseSeed("1.5"), undefined);
  assert.equal(parseSeed("abc"), undefined);
});
