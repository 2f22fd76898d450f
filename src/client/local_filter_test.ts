import assert from "node:assert/strict";
import { LocalFilter } from "./local_filter.ts";
import { ReceivedFrame } from "./received_frame.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

const ARB = vectorBytes("arbitrage_signal_flash_arb"); // source 20, TLV 32
const ECON = vectorBytes("multi_tlv_signal_identity_economics"); // source 23, TLVs 20 and 22
const BOOK = vectorBytes("extended_tlv_order_book"); // source 2, TLV 3 in extended form

Deno.test("LocalFilter.matchesBytes() selects by TLV type and source", async (t) => {
  const cases: [string, ConstructorParameters<typeof LocalFilter>[0], boolean[]][] = [
    ["no criteria", {}, [true, true, true]],
    ["one type", { types: [32] }, [true, false, false]],
    ["second TLV of a message", { types: [22] }, [false, true, false]],
    ["range", { types: [[20, 39]] }, [true, true, false]],
    ["extended form", { types: [3] }, [false, false, true]],
    ["source", { sources: [23, 2] }, [false, true, true]],
    ["type and source", { types: [32], sources: [23] }, [false, false, false]],
  ];
  for (const [name, options, expected] of cases) {
    await t.step(name, () => {
      const f = new LocalFilter(options);
      assert.deepEqual([ARB, ECON, BOOK].map((b) => f.matchesBytes(b, 0, b.length)), expected);
    });
  }
});

Deno.test("LocalFilter.matchesBytes() reads a frame at an offset of a larger buffer", () => {
  const buf = new Uint8Array(7 + ECON.length + 3);
  buf.set(ECON, 7);
  assert.equal(new LocalFilter({ types: [22] }).matchesBytes(buf, 7, 7 + ECON.length), true);
});

Deno.test("LocalFilter.matches() applies the predicate last", () => {
  const seen: bigint[] = [];
  const f = new LocalFilter({
    sources: [20],
    predicate: (frame) => {
      seen.push(frame.sequence);
      return frame.sequence > 5n;
    },
  });
  assert.equal(f.matches(new ReceivedFrame(ARB)), true);
  assert.equal(f.matches(new ReceivedFrame(ECON)), false);
  assert.deepEqual(seen, [7n]);
});

Deno.test("new LocalFilter() rejects values outside 0–255", () => {
  assert.throws(() => new LocalFilter({ types: [256] }), RangeError);
  assert.throws(
    () => new LocalFilter({ types: [[40, 30]] }),
    /entry \[40,30\] is not a value or range/,
  );
  assert.throws(() => new LocalFilter({ sources: [1.5] }), RangeError);
});
