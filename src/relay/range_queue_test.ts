import assert from "node:assert/strict";
import { RangeQueue } from "./range_queue.ts";

Deno.test("RangeQueue is FIFO across wrap-around and growth", () => {
  const q = new RangeQueue();
  const bufs = Array.from({ length: 5 }, () => new Uint8Array(1));
  let pushed = 0;
  let shifted = 0;
  // Interleave pushes and shifts so the head moves around the ring while it grows.
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 3; k++, pushed++) {
      q.push(bufs[pushed % 5]!, pushed, pushed + 10, pushed % 7, null);
    }
    for (let k = 0; k < 2; k++, shifted++) {
      assert.equal(q.headBuf, bufs[shifted % 5]);
      assert.equal(q.headStart, shifted);
      assert.equal(q.headEnd, shifted + 10);
      assert.equal(q.headFrames, shifted % 7);
      q.shift();
    }
  }
  assert.equal(q.length, 200);
  assert.ok(q.capacity >= 200);
  while (q.length > 0) {
    assert.equal(q.headStart, shifted++);
    q.shift();
  }
  assert.equal(shifted, pushed);
});

Deno.test("RangeQueue shrinks back once a backlog has drained", () => {
  const q = new RangeQueue();
  const b = new Uint8Array(1);
  for (let i = 0; i < 10_000; i++) q.push(b, i, i + 1, 1, null);
  assert.ok(q.capacity >= 10_000);
  for (let i = 0; i < 10_000; i++) q.shift();
  assert.equal(q.length, 0);
  assert.equal(q.capacity, 16);
  q.push(b, 7, 8, 1, null);
  assert.equal(q.headStart, 7);
});
