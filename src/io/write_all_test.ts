import assert from "node:assert/strict";
import { writeAll, writeAllSync } from "./write_all.ts";

/** A writer that takes at most `step` bytes per call, like a busy socket. */
function trickle(step: number) {
  const got: number[] = [];
  const take = (p: Uint8Array) => {
    const n = Math.min(step, p.length);
    got.push(...p.subarray(0, n));
    return n;
  };
  return { got, write: (p: Uint8Array) => Promise.resolve(take(p)), writeSync: take };
}

Deno.test("writeAll() calls write() until every byte is taken", async () => {
  const w = trickle(3);
  const bytes = Uint8Array.from({ length: 10 }, (_, i) => i);
  await writeAll(w, bytes);
  assert.deepEqual(w.got, [...bytes]);
  await writeAll(w, new Uint8Array(0));
  assert.equal(w.got.length, 10);
});

Deno.test("writeAllSync() calls writeSync() until every byte is taken", () => {
  const w = trickle(4);
  writeAllSync(w, new Uint8Array([5, 6, 7, 8, 9, 10, 11]));
  assert.deepEqual(w.got, [5, 6, 7, 8, 9, 10, 11]);
});

Deno.test("writeAll() passes the writer's error on", async () => {
  const broken = { write: () => Promise.reject(new Error("Broken pipe")) };
  await assert.rejects(writeAll(broken, new Uint8Array(1)), /Broken pipe/);
});
