import assert from "node:assert/strict";
import { sharedPath } from "../../tests/_support/shared.ts";
import { decodeMessage } from "../protocol/message.ts";
import { FrameError } from "../protocol/errors.ts";
import {
  errorToJson,
  formatFixed,
  formatMessageText,
  formatNsTime,
  formatQ64,
  jsonValue,
  messageToJson,
} from "./decode_format.ts";
import { parseHex } from "./hex.ts";

const VECTORS: { name: string; hex: string }[] = JSON.parse(
  await Deno.readTextFile(sharedPath("spec/vectors.json")),
);

function frame(name: string): Uint8Array {
  return parseHex(VECTORS.find((v) => v.name === name)!.hex);
}

Deno.test("formatFixed() formats 8-decimal fixed point exactly", () => {
  assert.equal(formatFixed(4512350000000n), "45123.5");
  assert.equal(formatFixed(12345678n), "0.12345678");
  assert.equal(formatFixed(100000000n), "1");
  assert.equal(formatFixed(0n), "0");
  assert.equal(formatFixed(-1n), "-0.00000001");
  assert.equal(formatFixed(-150000000n), "-1.5");
  assert.equal(formatFixed(9223372036854775807n), "92233720368.54775807");
  assert.equal(formatFixed(150, 2), "1.5");
  assert.equal(formatFixed(42n, 0), "42");
});

Deno.test("formatQ64() divides by 2^64 exactly, rounding beyond 18 digits", () => {
  assert.equal(formatQ64(230584300921369395200n), "12.5");
  assert.equal(formatQ64(18446744073709551616000n), "1000");
  assert.equal(formatQ64(-(1n << 63n)), "-0.5");
  assert.equal(formatQ64(0n), "0");
  assert.equal(formatQ64((1n << 64n) / 3n), "≈0.333333333333333333");
  assert.equal(formatQ64((1n << 64n) - 1n), "≈1");
});

Deno.test("formatNsTime() keeps every nanosecond digit", () => {
  assert.equal(formatNsTime(1700000000123456789n), "2023-11-14T22:13:20.123456789Z");
  assert.equal(formatNsTime(1700000000000000000n), "2023-11-14T22:13:20Z");
  assert.equal(formatNsTime(1700000000950000000n), "2023-11-14T22:13:20.95Z");
  assert.equal(formatNsTime(0n), undefined);
  assert.equal(formatNsTime(1n << 63n), "2262-04-11T23:47:16.854775808Z");
  assert.equal(formatNsTime(10n ** 30n), undefined);
});

Deno.test("jsonValue() turns every bigint into a decimal string", () => {
  assert.deepEqual(jsonValue({ a: 1n, b: [2n, { c: 3n }], d: "0xab", e: 4 }), {
    a: "1",
    b: ["2", { c: "3" }],
    d: "0xab",
    e: 4,
  });
});

Deno.test("messageToJson() has the documented shape", () => {
  const json = messageToJson(decodeMessage(frame("trade_kraken_btc_usd")));
  assert.deepEqual(json.header, {
    magic: 0xdeadbeef,
    relay_domain: 1,
    domain: "market_data",
    version: 1,
    source: 2,
    source_name: "KrakenCollector",
    flags: 0,
    sequence: "1",
    timestamp: "1700000000123456789",
    payload_size: 42,
    checksum: 0x3b68de0f,
    checksum_status: "ok",
  });
  assert.deepEqual(json.tlvs[0], {
    type: 1,
    name: "Trade",
    form: "standard",
    offset: 32,
    length: 40,
    fields: {
      asset_id: "4779518966531048448",
      price: "4512350000000",
      volume: "12345678",
      execution_timestamp_ns: "1700000000000000000",
      venue_id: 101,
      asset_type: 51,
      reserved: 0,
      side: 0,
    },
    payload_hex: "004453552d43544280d3049d1a0400004e61bc000000000000002a36fe9c97176500330000000000",
  });
});

Deno.test("errorToJson() gives code, message and offset", () => {
  const e = new FrameError("TruncatedTlv", "Cannot walk TLVs", { offset: 32 });
  assert.deepEqual(errorToJson(e), {
    code: "TruncatedTlv",
    message: "Cannot walk TLVs",
    offset: 32,
  });
  assert.equal(errorToJson(new FrameError("PayloadSizeMismatch", "x"), 40).offset, 40);
  assert.equal(errorToJson(new FrameError("PayloadSizeMismatch", "x")).offset, null);
});

Deno.test("formatMessageText() renders a trade readably", () => {
  const text = formatMessageText(decodeMessage(frame("trade_kraken_btc_usd")));
  const expected = [
    "header: 74 bytes, 1 TLV",
    "  magic         0xdeadbeef",
    "  relay_domain  1 (market_data)",
    "  version       1",
    "  source        2 (KrakenCollector)",
    "  flags         0x00",
    "  sequence      1",
    "  timestamp     1700000000123456789 (2023-11-14T22:13:20.123456789Z)",
    "  payload_size  42",
    "  checksum      0x3b68de0f (ok)",
    "tlv 1 of 1 at offset 32: Trade (type 1), standard, 40 bytes",
    "  instrument              Kraken Coin: BTC-USD",
    "  asset_id                4779518966531048448 (0x4254432d55534400)",
    "  price                   4512350000000 (45123.5)",
    "  volume                  12345678 (0.12345678)",
    "  execution_timestamp_ns  1700000000000000000 (2023-11-14T22:13:20Z)",
    "  venue_id                101 (Kraken)",
    "  asset_type              51 (Coin)",
    "  reserved                0",
    "  side                    0 (buy)",
  ].join("\n");
  assert.equal(text, expected);
});

Deno.test("formatMessageText() annotates signals, books, pools and orders", async (t) => {
  const text = (name: string) => formatMessageText(decodeMessage(frame(name)));
  await t.step("ArbitrageSignal", () => {
    const s = text("arbitrage_signal_flash_arb");
    assert.match(s, /net_profit_usd_q8\s+1062890123 \(10\.62890123\)/);
    assert.match(s, /source_venue\s+400 \(QuickSwap\)/);
    assert.match(s, /spread_bps\s+150 \(1\.5%\)/);
    assert.match(s, /valid_until\s+1700000301 \(2023-11-14T22:18:21Z\)/);
  });
  await t.step("Economics (Q64.64)", () => {
    assert.match(text("multi_tlv_signal_identity_economics"), /expected_profit_q\s+\S+ \(12\.5\)/);
  });
  await t.step("OrderBook levels", () => {
    const s = text("extended_tlv_order_book");
    assert.match(s, /OrderBook \(type 3\), extended, 2456 bytes/);
    assert.match(s, /\[0\] price 4512300000000 \(45123\)\s+size 150000000 \(1\.5\)\s+orders 3/);
  });
  await t.step("PoolSwap amounts at their decimals", () => {
    assert.match(text("pool_swap_polygon_univ3"), /amount_in\s+2500000000 \(2500 at 6 decimals\)/);
  });
  await t.step("OrderRequest flags and checksum absent", () => {
    assert.match(text("order_request_limit_ioc"), /order_flags\s+18 \(0x12: buy, limit, IOC\)/);
    assert.match(text("gas_price_hot_path_no_checksum"), /checksum\s+0x00000000 \(absent/);
  });
  await t.step("frame line", () => {
    const s = formatMessageText(decodeMessage(frame("fill_partial")), {
      frame: 2,
      frameOffset: 74,
    });
    assert.match(s, /^frame 2 at offset 74\n/);
  });
});
