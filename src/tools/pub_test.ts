import assert from "node:assert/strict";
import { pubFrames, pubSummary, repeatAtRate, splitFrames, wrongDomain } from "./pub.ts";
import { FrameError } from "../protocol/errors.ts";
import { toHex } from "../format/hex.ts";
import { messageToJson } from "../format/decode_format.ts";
import { decodeMessage } from "../protocol/message.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

const TRADE = vectorBytes("trade_kraken_btc_usd");
const QUOTE = vectorBytes("quote_coinbase_eth_usd");
const SIGNAL = vectorBytes("arbitrage_signal_flash_arb");

Deno.test("splitFrames() cuts back-to-back frames and rejects incomplete ones", () => {
  const both = new Uint8Array([...TRADE, ...QUOTE]);
  assert.deepEqual(splitFrames(both), [TRADE, QUOTE]);
  assert.throws(() => splitFrames(both.subarray(0, both.length - 1)), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.code, "IncompleteFrame");
    assert.equal(e.offset, TRADE.length);
    return true;
  });
  assert.throws(() => splitFrames(new Uint8Array()), /input is empty/);
});

Deno.test("pubFrames() reads hex, JSON, vectors and stdin bytes", () => {
  assert.deepEqual(pubFrames({ kind: "hex", text: `0x${toHex(TRADE)} ${toHex(QUOTE)}` }), [
    TRADE,
    QUOTE,
  ]);
  assert.deepEqual(pubFrames({ kind: "vector", name: "arbitrage_signal_flash_arb" }), [SIGNAL]);
  const json = JSON.parse(
    JSON.stringify([messageToJson(decodeMessage(TRADE)), messageToJson(decodeMessage(SIGNAL))]),
  );
  assert.deepEqual(pubFrames({ kind: "json", value: json }), [TRADE, SIGNAL]);
  assert.deepEqual(pubFrames({ kind: "bytes", bytes: new Uint8Array([...QUOTE, ...TRADE]) }), [
    QUOTE,
    TRADE,
  ]);
  assert.deepEqual(
    pubFrames({ kind: "bytes", bytes: new TextEncoder().encode(toHex(QUOTE) + "\n") }),
    [QUOTE],
  );
  assert.throws(
    () => pubFrames({ kind: "vector", name: "nope" }),
    /^RangeError: Cannot find vector "nope": known vectors are trade_kraken_btc_usd, /,
  );
});

Deno.test("wrongDomain() names the first frame of another domain", () => {
  assert.equal(wrongDomain([SIGNAL, SIGNAL], 2, "signal"), null);
  assert.equal(
    wrongDomain([SIGNAL, TRADE], 2, "signal"),
    "frame 2 has relay_domain 1 (market_data), the signal relay takes domain 2 (signal) only; --force sends it anyway",
  );
});

Deno.test("repeatAtRate() repeats the frames and spaces them at the rate", () => {
  assert.deepEqual([...repeatAtRate([TRADE, QUOTE], 2)].map((s) => [s.frame, s.atMs]), [
    [TRADE, undefined],
    [QUOTE, undefined],
    [TRADE, undefined],
    [QUOTE, undefined],
  ]);
  assert.deepEqual([...repeatAtRate([TRADE], 3, 4)].map((s) => s.atMs), [0, 250, 500]);
  assert.deepEqual([...repeatAtRate([TRADE], 0)], []);
});

Deno.test("pubSummary() reads as documented", () => {
  assert.equal(
    pubSummary(
      { frames: 3, bytes: 612, elapsedMs: 1, interrupted: false },
      "signal",
      "/tmp/s.sock",
    ),
    "published 3 frames (612 bytes) to signal relay at /tmp/s.sock",
  );
});
