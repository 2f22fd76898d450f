import assert from "node:assert/strict";
import { Histogram } from "./histogram.ts";

/** Relative width of a bucket holding `ns` (its width over its lower bound). */
function relWidth(h: Histogram, ns: number): number {
  const i = h.bucketIndex(ns);
  return (h.bucketUpperBound(i) - h.bucketLowerBound(i)) / Math.max(h.bucketLowerBound(i), 1);
}

Deno.test("Histogram buckets are contiguous and every bound maps back to its bucket", () => {
  const h = new Histogram();
  assert.equal(h.bucketLowerBound(0), 0);
  for (let i = 0; i < h.bucketCount; i++) {
    const lo = h.bucketLowerBound(i);
    const hi = h.bucketUpperBound(i);
    assert.ok(hi > lo, `bucket ${i} is empty`);
    assert.equal(h.bucketIndex(lo), i, `lower bound ${lo} of bucket ${i}`);
    if (i < h.bucketCount - 1) {
      assert.equal(h.bucketIndex(hi - 1), i, `last value ${hi - 1} of bucket ${i}`);
      assert.equal(h.bucketLowerBound(i + 1), hi, `bucket ${i + 1} starts where ${i} ends`);
    }
  }
  // The last bucket holds the highest trackable value.
  assert.ok(h.bucketUpperBound(h.bucketCount - 1) > h.highestNs);
  assert.equal(h.bucketIndex(h.highestNs), h.bucketCount - 1);
});

Deno.test("Histogram has 1 µs buckets up to 1,024 µs, then widths doubling per power of two", () => {
  const h = new Histogram();
  assert.equal(h.bucketIndex(0), 0);
  assert.equal(h.bucketIndex(999), 0);
  assert.equal(h.bucketIndex(1000), 1);
  assert.equal(h.bucketIndex(1_023_999), 1023);
  assert.equal(h.bucketIndex(1_024_000), 1024);
  assert.equal(h.bucketUpperBound(1024) - h.bucketLowerBound(1024), 2000);
  assert.equal(h.bucketIndex(1_025_999), 1024);
  assert.equal(h.bucketIndex(1_026_000), 1025);
  assert.equal(h.bucketIndex(2_048_000), 1024 + 512);
  assert.equal(h.bucketUpperBound(1536) - h.bucketLowerBound(1536), 4000);
  // Relative precision stays within 1/512 above the linear range, up to 60 s.
  for (const ns of [1.1e6, 3.3e6, 47e6, 0.9e9, 12e9, 59.9e9]) {
    assert.ok(relWidth(h, ns) <= 1 / 512 + 1e-12, `bucket of ${ns} ns is too wide`);
  }
  assert.ok(h.bucketCount < 10_000, `${h.bucketCount} buckets`);
});

Deno.test("Histogram.percentile() of a uniform 1..10,000 µs distribution", () => {
  const h = new Histogram();
  for (let us = 1; us <= 10_000; us++) h.record(us * 1000);
  assert.equal(h.count, 10_000);
  assert.equal(h.min, 1000);
  assert.equal(h.max, 10_000_000);
  assert.equal(h.mean, 5_000_500);
  for (const [p, exact] of [[50, 5_000_000], [90, 9_000_000], [99, 9_900_000], [99.9, 9_990_000]]) {
    const v = h.percentile(p!);
    // Upper bucket edge: never below the true value, at most one bucket (0.2 %) above.
    assert.ok(v >= exact!, `p${p} ${v} < ${exact}`);
    assert.ok(v <= exact! * (1 + 1 / 512) + 1000, `p${p} ${v} too far above ${exact}`);
  }
  assert.equal(h.percentile(100), 10_000_000);
  assert.equal(h.percentile(0), 2000); // upper edge of the first value's bucket
});

Deno.test("Histogram.percentile() of a bimodal distribution and of a constant", () => {
  const h = new Histogram();
  h.recordMany(5_000, 990); // 99 % at 5 µs
  h.recordMany(2_000_000, 10); // 1 % at 2 ms
  assert.equal(h.percentile(50), 6_000);
  assert.equal(h.percentile(99), 6_000);
  assert.equal(h.percentile(99.9), 2_000_000); // clamped to the exact max
  assert.equal(h.max, 2_000_000);

  const c = new Histogram();
  c.recordMany(123_456, 1000);
  const s = c.summary();
  // Every percentile of a constant is the constant (clamped to min and max).
  assert.deepEqual(
    [s.minNs, s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns, s.maxNs],
    [123_456, 123_456, 123_456, 123_456, 123_456, 123_456],
  );
});

Deno.test("Histogram.summary() is ordered p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max for random data", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const h = new Histogram();
  for (let i = 0; i < 50_000; i++) h.record(Math.floor(-Math.log(1 - rand()) * 300_000));
  const s = h.summary();
  assert.ok(s.minNs <= s.p50Ns && s.p50Ns <= s.p90Ns && s.p90Ns <= s.p99Ns);
  assert.ok(s.p99Ns <= s.p999Ns && s.p999Ns <= s.maxNs);
  // Exponential with mean 300 µs: median 300·ln 2 ≈ 208 µs.
  assert.ok(Math.abs(s.p50Ns - 208_000) < 10_000, `p50 ${s.p50Ns}`);
});

Deno.test("Histogram.merge() equals recording everything into one histogram", () => {
  const a = new Histogram();
  const b = new Histogram();
  const all = new Histogram();
  for (let i = 0; i < 3000; i++) {
    const v = (i * 7919) % 5_000_000;
    (i % 3 === 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  assert.equal(a.count, all.count);
  assert.equal(a.min, all.min);
  assert.equal(a.max, all.max);
  assert.equal(a.mean, all.mean);
  for (let i = 0; i < all.bucketCount; i++) assert.equal(a.countAt(i), all.countAt(i));
  assert.deepEqual(a.summary(), all.summary());
  assert.throws(() => a.merge(new Histogram({ linearBuckets: 512 })), RangeError);
});

Deno.test("Histogram clamps values out of range and counts them", () => {
  const h = new Histogram();
  h.record(-5);
  h.record(120e9);
  h.record(Number.NaN);
  assert.equal(h.underflows, 2);
  assert.equal(h.overflows, 1);
  assert.equal(h.countAt(0), 2);
  assert.equal(h.countAt(h.bucketCount - 1), 1);
  assert.equal(h.max, 120e9); // the exact max is kept
  h.reset();
  assert.equal(h.count, 0);
  assert.deepEqual(h.summary(), {
    count: 0,
    minNs: 0,
    meanNs: 0,
    p50Ns: 0,
    p90Ns: 0,
    p99Ns: 0,
    p999Ns: 0,
    maxNs: 0,
  });
});

Deno.test("Histogram rejects a bad layout", () => {
  assert.throws(() => new Histogram({ linearBuckets: 1000 }), RangeError);
  assert.throws(() => new Histogram({ unitNs: 0 }), RangeError);
  assert.throws(() => new Histogram({ highestNs: 10 }), RangeError);
});
