import assert from "node:assert/strict";
import { SequenceTracker, SequenceVerdict } from "./sequence_tracker.ts";
import { encodeHeader } from "../protocol/header.ts";

function header(source: number, sequence: bigint): Uint8Array {
  const b = new Uint8Array(32);
  encodeHeader({ relayDomain: 2, source, sequence }, b);
  return b;
}

Deno.test("SequenceTracker.check() classifies sequences per source", async (t) => {
  const cases: [string, [number, bigint][], SequenceVerdict[]][] = [
    ["in order", [[20, 1n], [20, 2n], [20, 3n]], [2, 0, 0]],
    ["gap", [[20, 1n], [20, 5n], [20, 6n]], [2, 3, 0]],
    ["duplicate and regression", [[20, 4n], [20, 4n], [20, 2n], [20, 5n]], [2, 4, 4, 0]],
    ["unsequenced never checked", [[20, 3n], [20, 0n], [20, 4n]], [2, 1, 0]],
    ["sources are independent", [[20, 1n], [23, 9n], [20, 2n], [23, 10n]], [2, 2, 0, 0]],
    ["restart at 1", [[20, 7n], [20, 1n], [20, 2n]], [2, 5, 0]],
    ["1 after 1 is a duplicate", [[20, 1n], [20, 1n]], [2, 4]],
    ["within the restart window: duplicates", [[20, 1500n], [20, 500n], [20, 501n]], [2, 4, 4]],
    ["far below the last: one restart, then in order", [[20, 18500n], [20, 500n], [20, 501n], [
      20,
      502n,
    ]], [2, 5, 0, 0]],
    ["far below across the 32-bit boundary", [[20, 0x100000005n], [20, 7n], [20, 8n]], [2, 5, 0]],
    ["across the 32-bit boundary", [[20, 0xffffffffn], [20, 0x100000000n], [20, 0x100000002n]], [
      2,
      0,
      3,
    ]],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => {
      const s = new SequenceTracker();
      assert.deepEqual(input.map(([src, seq]) => s.check(header(src, seq), 0)), expected);
    });
  }
});

Deno.test("SequenceTracker.previous() and last() report the numbers of a gap", () => {
  const s = new SequenceTracker();
  s.check(header(20, 3n), 0);
  assert.equal(s.check(header(20, 7n), 0), SequenceVerdict.gap);
  assert.equal(s.previous(), 3n);
  assert.equal(s.last(20), 7n);
  assert.equal(s.last(21), undefined);
  s.reset();
  assert.equal(s.last(20), undefined);
});

Deno.test("SequenceTracker takes its restart window from the constructor", () => {
  const s = new SequenceTracker(10);
  s.check(header(20, 100n), 0);
  assert.equal(s.check(header(20, 95n), 0), SequenceVerdict.duplicate);
  assert.equal(s.check(header(20, 89n), 0), SequenceVerdict.restart);
  assert.equal(s.previous(), 100n);
  assert.equal(s.last(20), 89n);
});

Deno.test("SequenceTracker.resume(): a step back after a reconnect is one restart; a step forward a gap", () => {
  const s = new SequenceTracker();
  for (const n of [1n, 2n, 3n]) s.check(header(20, n), 0);
  s.check(header(21, 500n), 0);
  s.resume();
  // Source 20 numbers anew from 2 (within the window): a restart, not a duplicate...
  assert.equal(s.check(header(20, 2n), 0), SequenceVerdict.restart);
  assert.equal(s.check(header(20, 3n), 0), SequenceVerdict.ok);
  // ...and only for the first frame after resume().
  assert.equal(s.check(header(20, 3n), 0), SequenceVerdict.duplicate);
  // Source 21 went on: what was lost while away is a gap.
  assert.equal(s.check(header(21, 600n), 0), SequenceVerdict.gap);
  assert.equal(s.previous(), 500n);
});

Deno.test("SequenceTracker.first(), extendFirst(), undo() and sources()", () => {
  const t = new SequenceTracker();
  assert.equal(t.first(20), undefined);
  t.check(header(20, 10n), 0);
  t.check(header(20, 11n), 0);
  assert.equal(t.check(header(20, 15n), 0), SequenceVerdict.gap);
  t.undo(); // the gap is taken back: 15 can be checked again after 12–14
  assert.equal(t.last(20), 11n);
  t.undo(); // only once
  assert.equal(t.last(20), 11n);
  assert.equal(t.check(header(20, 12n), 0), SequenceVerdict.ok);
  assert.equal(t.first(20), 10n);
  t.extendFirst(20, 4n);
  t.extendFirst(20, 8n); // never up
  assert.equal(t.first(20), 4n);
  t.check(header(23, 3n), 0);
  assert.deepEqual(t.sources(), [20, 23]);
  t.check(header(20, 1n), 0); // restart: the first sequence starts anew
  assert.equal(t.first(20), 1n);
  t.check(header(20, 1n), 0);
  t.undo(); // after a duplicate: nothing to take back
  assert.equal(t.last(20), 1n);
});
