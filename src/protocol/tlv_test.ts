import assert from "node:assert/strict";
import {
  checkTlvArea,
  encodeTlv,
  findTlv,
  readTlvAt,
  TlvCursor,
  tlvEncodedSize,
  tlvError,
  walkTlvs,
} from "./tlv.ts";
import { FrameError, Status } from "./errors.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

Deno.test("walkTlvs() finds both records of 9.6 with no padding between them", () => {
  const msg = vectorBytes("multi_tlv_trade_and_quote");
  const records = walkTlvs(msg, 32, msg.length);
  assert.deepEqual(records.map((r) => [r.type, r.form, r.offset, r.length]), [
    [1, "standard", 32, 40],
    [2, "standard", 74, 56],
  ]);
  assert.equal(records[1]!.value.byteOffset - msg.byteOffset, 76, "value is a view, not a copy");
});

Deno.test("walkTlvs() reads the extended form of 9.8", () => {
  const msg = vectorBytes("extended_tlv_order_book");
  const [book] = walkTlvs(msg, 32, msg.length);
  assert.deepEqual([book!.type, book!.form, book!.length], [3, "extended", 2456]);
});

Deno.test("walkTlvs() reports TruncatedTlv of 9.13 at payload offset 0 (need 42, have 22)", () => {
  const msg = vectorBytes("truncated_tlv");
  assert.throws(() => walkTlvs(msg, 32, msg.length), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.code, "TruncatedTlv");
    assert.equal(e.offset, 32);
    assert.deepEqual([e.details.payload_offset, e.details.need, e.details.available], [0, 42, 22]);
    assert.equal(e.details.tlv_type, 1);
    assert.match(e.message, /payload offset 0 \(message offset 32\) needs 42 bytes, 22 available/);
    return true;
  });
});

Deno.test("readTlvAt() rejects every malformed extended header", async (t) => {
  const c = new TlvCursor();
  const cases: [string, number[], Status][] = [
    ["one byte left", [7], Status.TruncatedTlv],
    ["extended with 4 bytes", [255, 0, 3, 1], Status.TruncatedTlv],
    ["reserved byte set", [255, 1, 3, 0, 0], Status.InvalidExtendedTlv],
    ["type 255 inside", [255, 0, 255, 0, 0], Status.InvalidExtendedTlv],
    ["type 0 inside", [255, 0, 0, 0, 0], Status.InvalidExtendedTlv],
    ["extended value runs past the end", [255, 0, 3, 10, 0, 1, 2], Status.TruncatedTlv],
  ];
  for (const [name, bytes, status] of cases) {
    await t.step(name, () => {
      const b = Uint8Array.from(bytes);
      assert.equal(checkTlvArea(b, 0, b.length, c), status);
      const err = tlvError(status, c, 0);
      assert.equal(
        err.code,
        status === Status.TruncatedTlv ? "TruncatedTlv" : "InvalidExtendedTlv",
      );
    });
  }
  const ok = Uint8Array.from([255, 0, 9, 2, 0, 1, 2]);
  assert.equal(readTlvAt(ok, 0, ok.length, c), 7, "extended form is accepted for short values");
  assert.deepEqual([c.type, c.length, c.valueStart], [9, 2, 5]);
});

Deno.test("encodeTlv() picks the standard form up to 255 bytes and extended above", () => {
  for (const n of [0, 1, 255, 256, 2456, 65535]) {
    const value = new Uint8Array(n).fill(7);
    const out = new Uint8Array(tlvEncodedSize(n));
    assert.equal(encodeTlv(out, 0, 3, value), out.length);
    const [r] = walkTlvs(out);
    assert.deepEqual([r!.type, r!.form, r!.length], [3, n <= 255 ? "standard" : "extended", n]);
  }
  assert.deepEqual(
    Array.from(encodeTlvHeaderOf(2456)),
    [0xff, 0x00, 0x03, 0x98, 0x09],
    "9.8's extended header",
  );
});

function encodeTlvHeaderOf(n: number): Uint8Array {
  const out = new Uint8Array(tlvEncodedSize(n));
  encodeTlv(out, 0, 3, new Uint8Array(n));
  return out.subarray(0, 5);
}

Deno.test("encodeTlv() refuses type 0, 255 and values over 65,535 bytes", () => {
  const out = new Uint8Array(70000);
  for (const type of [0, 255, 256]) {
    assert.throws(() => encodeTlv(out, 0, type, new Uint8Array(1)), (e: unknown) => {
      return e instanceof FrameError && e.code === "InvalidTlvType";
    });
  }
  assert.throws(() => encodeTlv(out, 0, 3, new Uint8Array(65536)), (e: unknown) => {
    return e instanceof FrameError && e.code === "PayloadTooLarge";
  });
});

Deno.test("findTlv() returns the first record of a type and surfaces walk errors", () => {
  const msg = vectorBytes("multi_tlv_trade_and_quote");
  assert.equal(findTlv(msg, 2, 32, msg.length)?.offset, 74);
  assert.equal(findTlv(msg, 9, 32, msg.length), undefined);
  const bad = vectorBytes("truncated_tlv");
  assert.throws(() => findTlv(bad, 2, 32, bad.length), FrameError);
});

Deno.test("walkTlvs() keeps unknown and vendor types as raw records", () => {
  const b = Uint8Array.from([150, 2, 1, 2, 220, 1, 9]);
  assert.deepEqual(walkTlvs(b).map((r) => [r.type, r.length]), [[150, 2], [220, 1]]);
});
