import assert from "node:assert/strict";
import { plural } from "./plural.ts";

Deno.test("plural() is singular for one only", () => {
  assert.equal(plural(0, "frame"), "0 frames");
  assert.equal(plural(1, "frame"), "1 frame");
  assert.equal(plural(2, "frame"), "2 frames");
  assert.equal(plural(2, "entry", "entries"), "2 entries");
});
