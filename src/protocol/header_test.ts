import assert from "node:assert/strict";
import {
  checkFrameStart,
  checksumStatus,
  decodeHeader,
  encodeHeader,
  frameStartError,
  MAX_PAYLOAD_SIZE,
  readChecksum,
  readMagic,
  readPayloadSize,
  readRelayDomain,
  readSequence,
  readSequenceHigh,
  readSequenceLow,
  readSource,
  readTimestamp,
  readTimestampApprox,
  sealChecksum,
} from "./header.ts";
import { FrameError, Status } from "./errors.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

const TRADE = vectorBytes("trade_kraken_btc_usd");

Deno.test("decodeHeader() reads every field of 9.1 losslessly", () => {
  const h = decodeHeader(TRADE);
  assert.deepEqual(h, {
    magic: 0xdeadbeef,
    relayDomain: 1,
    version: 1,
    source: 2,
    flags: 0,
    sequence: 1n,
    timestamp: 1700000000123456789n,
    payloadSize: 42,
    checksum: 0x3b68de0f,
  });
});

Deno.test("zero-copy readers agree with decodeHeader()", () => {
  assert.equal(readMagic(TRADE, 0), 0xdeadbeef);
  assert.equal(readRelayDomain(TRADE, 0), 1);
  assert.equal(readSource(TRADE, 0), 2);
  assert.equal(readPayloadSize(TRADE, 0), 42);
  assert.equal(readChecksum(TRADE, 0), 0x3b68de0f);
  assert.equal(readSequence(TRADE, 0), 1n);
  assert.equal(readSequenceLow(TRADE, 0), 1);
  assert.equal(readSequenceHigh(TRADE, 0), 0);
  assert.equal(readTimestamp(TRADE, 0), 1700000000123456789n);
  assert.ok(Math.abs(readTimestampApprox(TRADE, 0) - 1700000000123456789) < 512);
});

Deno.test("encodeHeader() writes the bytes decodeHeader() reads", () => {
  const b = new Uint8Array(32);
  encodeHeader({
    relayDomain: 1,
    source: 2,
    sequence: 1n,
    timestamp: 1700000000123456789n,
    payloadSize: 42,
    checksum: 0x3b68de0f,
  }, b);
  assert.deepEqual(b, TRADE.subarray(0, 32));
  const big = new Uint8Array(32);
  encodeHeader({ relayDomain: 3, source: 40, sequence: 0xffffffffffffffffn }, big);
  assert.equal(decodeHeader(big).sequence, 0xffffffffffffffffn);
});

Deno.test("decodeHeader() rejects a big-endian magic with the byte-order diagnosis", () => {
  assert.throws(() => decodeHeader(vectorBytes("bad_magic_big_endian")), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.code, "InvalidMagic");
    assert.equal(e.offset, 0);
    assert.equal(e.details.diagnosis, "byte order");
    assert.equal(
      e.message,
      "Cannot decode header: magic at offset 0 is 0xefbeadde, expected 0xdeadbeef (byte order)",
    );
    return true;
  });
});

Deno.test("decodeHeader() names every magic diagnosis", async (t) => {
  const cases: [number, string][] = [
    [0, "uninitialised buffer"],
    [0xffffffff, "corrupted"],
    [0x12345678, "not a Protocol V2 frame"],
  ];
  for (const [magic, diagnosis] of cases) {
    await t.step(diagnosis, () => {
      const b = TRADE.slice();
      new DataView(b.buffer).setUint32(0, magic, true);
      assert.throws(() => decodeHeader(b), (e: unknown) => {
        return e instanceof FrameError && e.code === "InvalidMagic" &&
          e.details.diagnosis === diagnosis;
      });
    });
  }
});

Deno.test("decodeHeader() rejects short input and other versions", () => {
  assert.throws(
    () => decodeHeader(TRADE.subarray(0, 31)),
    (e: unknown) => e instanceof FrameError && e.code === "HeaderTooShort" && e.details.got === 31,
  );
  const v2 = TRADE.slice();
  v2[5] = 2;
  assert.throws(
    () => decodeHeader(v2),
    (e: unknown) => e instanceof FrameError && e.code === "UnsupportedVersion" && e.offset === 5,
  );
});

Deno.test("checkFrameStart() follows the order of 2.4 and frameStartError() explains it", () => {
  assert.equal(checkFrameStart(TRADE, 0, TRADE.length, MAX_PAYLOAD_SIZE), Status.OK);
  assert.equal(checkFrameStart(TRADE, 0, 20, MAX_PAYLOAD_SIZE), Status.HeaderTooShort);
  assert.equal(checkFrameStart(TRADE, 0, 50, MAX_PAYLOAD_SIZE), Status.IncompleteFrame);
  assert.equal(checkFrameStart(TRADE, 0, TRADE.length, 41), Status.PayloadTooLarge);
  const e = frameStartError(Status.PayloadTooLarge, TRADE, 0, TRADE.length, 41);
  assert.equal(e.code, "PayloadTooLarge");
  assert.equal(e.offset, 24);
  assert.equal(e.details.limit, 41);
  const inc = frameStartError(Status.IncompleteFrame, TRADE, 0, 50);
  assert.deepEqual([inc.details.need, inc.details.got], [74, 50]);
});

Deno.test("checksumStatus() reports ok, mismatch and absent", () => {
  assert.equal(checksumStatus(TRADE), "ok");
  assert.equal(checksumStatus(vectorBytes("bad_checksum")), "mismatch");
  assert.equal(checksumStatus(vectorBytes("gas_price_hot_path_no_checksum")), "absent");
  const sealed = vectorBytes("gas_price_hot_path_no_checksum").slice();
  assert.equal(sealChecksum(sealed), 0x7e3583c6);
  assert.equal(checksumStatus(sealed), "ok");
});
