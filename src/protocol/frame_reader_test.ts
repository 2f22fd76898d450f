import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameReader } from "./frame_reader.ts";
import { Status } from "./errors.ts";
import { fromHex, VECTORS } from "../../tests/_support/vectors.ts";
import { concat } from "../io/mod.ts";

const FRAMES = VECTORS.filter((v) => v.expect === "valid").map((v) => fromHex(v.hex));
const STREAM = concat(FRAMES);

/** Feeds `stream` cut at `cuts` and returns every frame as a copy. */
function reframe(stream: Uint8Array, cuts: number[], reader = new FrameReader({ capacity: 64 })) {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const cut of [...cuts, stream.length]) {
    reader.push(stream.subarray(prev, cut));
    prev = cut;
    while (reader.next()) out.push(reader.buffer.slice(reader.frameStart, reader.frameEnd));
  }
  return out;
}

Deno.test("FrameReader yields the same frames when fed one byte at a time", () => {
  const cuts = Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(reframe(STREAM, cuts), FRAMES);
});

Deno.test("FrameReader yields the same frames for a split at every byte boundary", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    assert.deepEqual(reframe(STREAM, [cut]), FRAMES, `split at ${cut}`);
  }
});

Deno.test("FrameReader yields the same frames for random splits (property)", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 40 }),
      (cuts) => {
        cuts.sort((a, b) => a - b);
        assert.deepEqual(reframe(STREAM, cuts), FRAMES);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("FrameReader resynchronises after garbage and counts the skipped bytes", () => {
  const garbage = Uint8Array.from([1, 2, 3, 0xef, 0xbe, 9, 0xef, 4, 5, 6, 7]);
  const frame = FRAMES[0]!;
  const reader = new FrameReader();
  const got = reframe(concat([garbage, frame, garbage, frame]), [5, 40, 90], reader);
  assert.deepEqual(got, [frame, frame]);
  assert.equal(reader.garbageBytes, 2 * garbage.length);
  assert.equal(reader.lastLoss, Status.InvalidMagic);
  assert.equal(reader.frames, 2);
});

Deno.test("FrameReader treats an oversized payload_size as lost sync", () => {
  const frame = FRAMES[0]!;
  const lie = frame.slice();
  new DataView(lie.buffer).setUint32(24, 1_000_000, true);
  const reader = new FrameReader({ maxPayload: 65_504 });
  const got = reframe(concat([lie, frame]), [], reader);
  assert.deepEqual(got, [frame]);
  assert.equal(reader.lastLoss, Status.PayloadTooLarge);
  assert.equal(reader.garbageBytes, lie.length);
});

Deno.test("FrameReader resyncs on a wrong version and keeps a partial frame across reads", () => {
  const frame = FRAMES[0]!;
  const v9 = frame.slice();
  v9[5] = 9;
  const reader = new FrameReader();
  reader.push(concat([v9, frame.subarray(0, 10)]));
  assert.equal(reader.next(), false);
  assert.equal(reader.lastLoss, Status.UnsupportedVersion);
  assert.equal(reader.buffered, 10, "the partial good frame is kept");
  reader.push(frame.subarray(10));
  assert.equal(reader.next(), true);
  assert.deepEqual(reader.buffer.slice(reader.frameStart, reader.frameEnd), frame);
});

Deno.test("FrameReader grows for a frame larger than its buffer", () => {
  const big = FRAMES.find((f) => f.length > 2000)!;
  assert.deepEqual(reframe(big, [100, 1000], new FrameReader({ capacity: 128 })), [big]);
});

Deno.test("FrameReader never throws and frames stay in bounds on random bytes (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), (bytes, cut) => {
      const reader = new FrameReader({ capacity: 64, maxPayload: 4096 });
      const c = Math.min(cut, bytes.length);
      const data = concat([bytes, FRAMES[0]!]);
      reader.push(data.subarray(0, c));
      let frames = 0;
      while (reader.next()) frames++;
      reader.push(data.subarray(c));
      while (reader.next()) {
        frames++;
        assert.ok(reader.frameEnd <= reader.buffer.length);
      }
      assert.ok(frames >= 1, "the valid frame after the noise is found");
    }),
    { numRuns: 500 },
  );
});

Deno.test("FrameReader.swapBuffer keeps read frames in the old buffer and the partial frame in the new", () => {
  const r = new FrameReader({ capacity: 4096 });
  const cut = STREAM.length - 7; // the last frame is partial
  r.push(STREAM.subarray(0, cut));
  const read: [number, number][] = [];
  while (r.next()) read.push([r.frameStart, r.frameEnd]);
  assert.equal(read.length, FRAMES.length - 1);
  const fresh = new Uint8Array(4096);
  const old = r.swapBuffer(fresh);
  assert.equal(r.buffer, fresh);
  // Frames already read are intact where they were.
  read.forEach(([s, e], i) => assert.deepEqual(old.subarray(s, e), FRAMES[i]));
  // The rest of the stream completes the partial frame in the new buffer.
  r.push(STREAM.subarray(cut));
  assert.ok(r.next());
  assert.deepEqual(r.buffer.subarray(r.frameStart, r.frameEnd), FRAMES.at(-1));
  assert.equal(r.next(), false);
  assert.throws(() => r.swapBuffer(r.buffer), RangeError);
});

Deno.test("FrameReader.view follows the buffer through growth and a swap into a subarray", () => {
  const sameBytes = (r: FrameReader) => {
    assert.equal(r.view.buffer, r.buffer.buffer);
    assert.deepEqual([r.view.byteOffset, r.view.byteLength], [
      r.buffer.byteOffset,
      r.buffer.byteLength,
    ]);
  };
  const r = new FrameReader({ capacity: 64 });
  sameBytes(r);
  const big = FRAMES.find((f) => f.length > 2000)!;
  r.push(big); // grows
  sameBytes(r);
  assert.ok(r.next());
  // A pooled buffer may be a window of a larger one: frames must be read at its offsets.
  r.swapBuffer(new Uint8Array(16_384).subarray(100, 8292));
  sameBytes(r);
  assert.deepEqual(reframe(STREAM, [5, 300], r), FRAMES);
});

Deno.test("FrameReader.shrink() gives a grown buffer back only when nothing is buffered", () => {
  const r = new FrameReader({ capacity: 64 });
  const big = FRAMES.find((f) => f.length > 2000)!;
  r.push(big.subarray(0, 1500)); // grows; a partial frame is buffered
  assert.ok(r.buffer.length >= 1500);
  assert.equal(r.shrink(256), false, "a partial frame keeps the buffer");
  r.push(big.subarray(1500));
  assert.deepEqual(r.nextFrame(), big);
  assert.equal(r.shrink(256), true);
  assert.equal(r.buffer.length, 256);
  assert.equal(r.view.byteLength, 256);
  assert.equal(r.shrink(256), false, "already that small");
  assert.deepEqual(reframe(STREAM, [5, 300], r), FRAMES, "frames still come out whole");
});
