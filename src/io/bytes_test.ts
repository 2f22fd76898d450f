import assert from "node:assert/strict";
import { concat } from "./bytes.ts";

Deno.test("concat() lays the chunks back to back in a new buffer", () => {
  const a = new Uint8Array([1, 2]);
  const out = concat([a, new Uint8Array(0), new Uint8Array([3])]);
  assert.deepEqual(out, new Uint8Array([1, 2, 3]));
  out[0] = 9;
  assert.equal(a[0], 1, "a copy, not a view");
  assert.deepEqual(concat([]), new Uint8Array(0));
});
