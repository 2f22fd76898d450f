import assert from "node:assert/strict";
import { OutboundQueue } from "./_outbound.ts";
import { encodeHeader } from "../protocol/header.ts";

function frame(payload: number, fill: number): Uint8Array {
  const f = new Uint8Array(32 + payload).fill(fill);
  encodeHeader({ relayDomain: 2, source: 20, payloadSize: payload }, f);
  return f;
}

Deno.test("OutboundQueue.take() hands over everything queued and keeps queueing into a second buffer", () => {
  const q = new OutboundQueue();
  const a = frame(10, 1);
  const b = frame(20, 2);
  q.push(a);
  q.push(b);
  assert.equal(q.queuedBytes, a.length + b.length);
  const chunk = q.take()!;
  assert.deepEqual(chunk, new Uint8Array([...a, ...b]));
  q.push(a); // while the chunk is in flight
  assert.deepEqual(chunk, new Uint8Array([...a, ...b]), "the in-flight chunk is untouched");
  assert.equal(q.pendingBytes, chunk.length + a.length);
  assert.throws(() => q.take(), /a write is in flight/);
  assert.equal(q.done(), 2);
  assert.equal(q.committed, chunk.length);
  assert.deepEqual(q.take(), a);
  assert.equal(q.done(), 1);
  assert.equal(q.committed, q.enqueued);
  assert.equal(q.take(), null);
});

Deno.test("OutboundQueue.push() grows past the initial capacity", () => {
  const q = new OutboundQueue();
  const f = frame(1000, 7);
  for (let i = 0; i < 200; i++) q.push(f);
  const chunk = q.take()!;
  assert.equal(chunk.length, 200 * f.length);
  assert.deepEqual(chunk.subarray(199 * f.length), f);
});

Deno.test("OutboundQueue.fail() requeues from the start of the frame that was cut", async (t) => {
  const frames = [frame(10, 1), frame(40, 2), frame(0, 3), frame(25, 4)];
  const total = frames.reduce((n, f) => n + f.length, 0);
  const starts: number[] = [];
  let off = 0;
  for (const f of frames) {
    starts.push(off);
    off += f.length;
  }
  for (const written of [0, 1, 42, 43, 100, 113, 114, total - 1]) {
    await t.step(`after ${written} bytes`, () => {
      const q = new OutboundQueue();
      for (const f of frames) q.push(f);
      const chunk = q.take()!;
      const later = frame(5, 9);
      q.push(later);
      const whole = starts.filter((s, i) => s + frames[i]!.length <= written).length;
      const wholeBytes = whole === frames.length ? total : starts[whole]!;
      assert.deepEqual(q.fail(written), { frames: whole, bytes: wholeBytes });
      const resumeAt = whole === frames.length ? total : starts[whole]!;
      assert.equal(q.committed, resumeAt);
      assert.equal(q.pendingBytes, total - resumeAt + later.length);
      const again = q.take()!;
      assert.deepEqual(again, new Uint8Array([...chunk.subarray(resumeAt), ...later]));
      assert.equal(q.done(), frames.length - whole + 1);
      assert.equal(q.committed, q.enqueued);
    });
  }
});

Deno.test("OutboundQueue.clear() discards what is queued and leaves the write in flight to settle", () => {
  const q = new OutboundQueue();
  const a = frame(10, 1);
  q.push(a);
  q.take();
  q.push(frame(10, 2));
  q.push(frame(20, 3));
  assert.equal(q.pendingFrames, 3);
  assert.deepEqual(q.clear(), { frames: 2, bytes: 2 * 32 + 30 });
  assert.equal(q.pendingBytes, a.length);
  // The write in flight fails after 5 bytes: nothing whole was written, the frame goes back...
  assert.deepEqual(q.fail(5), { frames: 0, bytes: 0 });
  // ...and a second clear() discards it; the totals settle.
  assert.deepEqual(q.clear(), { frames: 1, bytes: a.length });
  assert.equal(q.pendingBytes, 0);
  assert.equal(q.pendingFrames, 0);
  assert.equal(q.committed, q.enqueued);
  assert.equal(q.done(), 0);
});
