import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, crc32Finish, crc32Update, frameChecksum } from "./crc32.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

Deno.test("crc32() gives the CRC-32/ISO-HDLC check value for '123456789'", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("crc32() agrees with node:zlib on every length 0-600", () => {
  const data = new Uint8Array(600);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let n = 0; n <= data.length; n++) {
    assert.equal(crc32(data, 0, n), zlibCrc32(data.subarray(0, n)), `length ${n}`);
    assert.equal(crc32Finish(crc32Update(0xffffffff, data, 0, n)), zlibCrc32(data.subarray(0, n)));
  }
});

Deno.test("frameChecksum() is the same on both sides of the native-CRC threshold", () => {
  for (const size of [34, 200, 255, 256, 300, 2000]) {
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i++) b[i] = (i * 7) & 0xff;
    let c = crc32Update(0xffffffff, b, 0, 28);
    c = crc32Update(c, b, 32, size);
    assert.equal(frameChecksum(b, 0, size - 32), crc32Finish(c), `size ${size}`);
  }
});

Deno.test("frameChecksum() covers bytes 0-27 and the payload, skipping 28-31 (9.1)", () => {
  const frame = vectorBytes("trade_kraken_btc_usd");
  assert.equal(frameChecksum(frame, 0, 42), 0x3b68de0f);
  const zeroed = frame.slice();
  zeroed.fill(0, 28, 32);
  assert.equal(
    crc32(zeroed),
    0x9fbb68f4,
    "whole message with checksum zeroed is a different value",
  );
  assert.equal(crc32(frame, 0, frame.length - 4), 0x5ac16eb0, "design-doc formula differs");
});
