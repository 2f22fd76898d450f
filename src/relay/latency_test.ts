import assert from "node:assert/strict";
import { LatencyHistogram } from "./latency.ts";

Deno.test("LatencyHistogram puts samples in power-of-two µs buckets", () => {
  const h = new LatencyHistogram();
  for (const us of [0.5, 1, 2, 3, 4, 5, 1000, 1025]) h.record(us);
  const at = (le: number) => h.counts[Math.log2(le)];
  assert.equal(at(1), 2, "0.5 and 1 µs");
  assert.equal(at(2), 1);
  assert.equal(at(4), 2, "3 and 4 µs");
  assert.equal(at(8), 1, "5 µs");
  assert.equal(at(1024), 1, "1000 µs");
  assert.equal(at(2048), 1, "1025 µs");
  assert.equal(h.count, 8);
  assert.equal(h.max, 1025);
});

Deno.test("LatencyHistogram percentiles follow the distribution", () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 990; i++) h.record(10);
  for (let i = 0; i < 10; i++) h.record(5000);
  assert.equal(h.percentile(0.5), 16);
  assert.equal(h.percentile(0.99), 16);
  assert.equal(h.percentile(0.999), 5000, "capped by the max");
  const b = h.buckets();
  assert.equal(b.at(-1)![0], "+Inf");
  assert.equal(b.at(-1)![1], 1000);
  assert.deepEqual(b.find(([le]) => le === "0.000016"), ["0.000016", 990]);
});

Deno.test("LatencyHistogram counts timestamps from the future as skew and huge ones in +Inf", () => {
  const h = new LatencyHistogram();
  h.record(-5);
  h.record(1e12);
  assert.equal(h.ahead, 1);
  assert.equal(h.counts.at(-1), 1);
});

Deno.test("LatencyHistogram bucket edges: 2^25 µs is the last finite bucket, anything above is +Inf", () => {
  const h = new LatencyHistogram();
  h.record(2 ** 25);
  h.record(2 ** 25 + 0.5);
  h.record(2 ** 32 + 5); // wraps to 4 if taken through 32-bit arithmetic
  h.record(2 ** 40);
  assert.equal(h.counts[25], 1);
  assert.equal(h.counts.at(-1), 3);
  assert.equal(h.counts.slice(0, 25).reduce((a, b) => a + b, 0), 0);
});
