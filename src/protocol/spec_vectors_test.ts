import assert from "node:assert/strict";
import { findVector, SPEC_VECTORS } from "./spec_vectors.ts";
import { VECTORS } from "../../tests/_support/vectors.ts";

Deno.test("SPEC_VECTORS equals ../shared/spec/vectors.json entry by entry", async (t) => {
  assert.deepEqual(
    SPEC_VECTORS.map((v) => v.name),
    VECTORS.map((v) => v.name),
    "names and order (regenerate src/tools/vectors_data.ts from vectors.json)",
  );
  assert.equal(SPEC_VECTORS.length, 17);
  for (const v of VECTORS) {
    await t.step(v.name, () => {
      const embedded = findVector(v.name);
      assert.ok(embedded !== undefined);
      assert.equal(embedded.hex, v.hex.toLowerCase());
      assert.equal(embedded.hex.length, v.length * 2);
      assert.equal(embedded.description, v.description);
      assert.equal(embedded.expect, v.expect === "valid" ? "valid" : v.expect.error);
    });
  }
});

Deno.test("findVector() returns undefined for an unknown name", () => {
  assert.equal(findVector("no_such_vector"), undefined);
});
