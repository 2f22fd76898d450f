import assert from "node:assert/strict";
import { HexParseError, looksLikeHex, parseHex, toHex } from "./hex.ts";

Deno.test("parseHex() accepts whitespace and 0x prefixes", () => {
  assert.deepEqual(parseHex("efbeadde"), new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
  assert.deepEqual(parseHex(" 0xEF be\n\tAD 0Xde\r\n"), new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
  assert.deepEqual(parseHex(""), new Uint8Array(0));
});

Deno.test("parseHex() names the position of a bad character", () => {
  assert.throws(() => parseHex("efbeaxde"), (e: unknown) => {
    assert.ok(e instanceof HexParseError);
    assert.equal(e.position, 6);
    assert.equal(e.message, 'Cannot parse hex: character "x" at position 6 is not a hex digit');
    return true;
  });
  assert.throws(
    () => parseHex("ef 0xg0"),
    (e: unknown) => e instanceof HexParseError && e.position === 6,
  );
  assert.throws(
    () => parseHex("ef0xbe"),
    (e: unknown) => e instanceof HexParseError && e.position === 4,
  );
});

Deno.test("parseHex() rejects an odd number of digits", () => {
  assert.throws(() => parseHex("efb"), (e: unknown) => {
    assert.ok(e instanceof HexParseError);
    assert.equal(e.position, 3);
    assert.match(e.message, /odd number of hex digits/);
    return true;
  });
});

Deno.test("looksLikeHex() tells hex text from frame bytes", () => {
  assert.equal(looksLikeHex(new TextEncoder().encode("0xefbe adde\n")), true);
  assert.equal(looksLikeHex(new Uint8Array([0xef, 0xbe, 0xad, 0xde])), false);
});

Deno.test("toHex() writes lowercase pairs", () => {
  assert.equal(toHex(new Uint8Array([0, 0x0f, 0xab, 0xff])), "000fabff");
  assert.equal(toHex(new Uint8Array(0)), "");
});
