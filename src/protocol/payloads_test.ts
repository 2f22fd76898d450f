import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameError } from "./errors.ts";
import {
  decodePayload,
  encodePayload,
  encodePayloadInto,
  type FieldValue,
  hasLayout,
  type PayloadFields,
  payloadLength,
} from "./payloads.ts";
import { type FieldSpec, TLV_TYPES, type TlvTypeInfo } from "./registry.ts";

// ---------------------------------------------------------------------------
// Test-side model of the layouts, written from the spec (not from the codec)

const SUBSCRIBE = 113;
const LAYOUT_TYPES: readonly TlvTypeInfo[] = TLV_TYPES.filter((t) =>
  t.layout === "reference" || t.layout === "provisional"
);

/** Arrays trimmed by a count field (PROTOCOL.md 5.3, 5.6). */
const COUNTED: Readonly<Record<string, string>> = {
  bids: "bid_count",
  asks: "ask_count",
  reserves: "reserve_count",
  instruments: "instrument_count",
};

const STRUCTS: Readonly<Record<string, readonly [string, string][]>> = {
  InstrumentId: [["asset_id", "u64"], ["venue", "u16"], ["asset_type", "u8"], [
    "reserved",
    "u8",
  ]],
  OrderLevel: [["price", "i64"], ["size", "i64"], ["order_count", "u32"], ["reserved", "u32"]],
};

const BITS: Readonly<Record<string, number>> = {
  u8: 8,
  u16: 16,
  u32: 32,
  u64: 64,
  u128: 128,
  u256le: 256,
  i32: 32,
  i64: 64,
  i128: 128,
};

function isPad(f: FieldSpec): boolean {
  return f.name.startsWith("_") || f.type.startsWith("pad");
}

function hex(bytes: Uint8Array): string {
  return "0x" + Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  const t = s.replace(/^0x/, "");
  return Uint8Array.from(t.match(/../g) ?? [], (x) => parseInt(x, 16));
}

/** A deterministic value of a wire type, varied by `seed`. */
function sampleOf(type: string, seed: number): FieldValue {
  const bits = BITS[type];
  if (bits !== undefined) {
    const signed = type.startsWith("i");
    const big = signed ? -(1n << BigInt(bits - 1)) + BigInt(seed) : (1n << BigInt(bits)) - 1n -
      BigInt(seed);
    return bits <= 32 ? Number(big) : big;
  }
  const bytes = /^(?:addr|bytes)(\d+)$/.exec(type);
  if (bytes !== null) {
    const n = Number(bytes[1]);
    return hex(Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 11 + 1) & 0xff));
  }
  const struct = STRUCTS[type];
  if (struct !== undefined) {
    return Object.fromEntries(struct.map(([name, t], i) => [name, sampleOf(t, seed + i)]));
  }
  throw new Error(`no sample for ${type}`);
}

/** A full sample object of a layout type, as decodePayload must return it. */
function sampleFields(info: TlvTypeInfo, seed = 1): PayloadFields {
  const out: PayloadFields = {};
  for (const f of info.fields!) {
    if (isPad(f)) continue;
    const array = /^(.+)\[(\d+)\]$/.exec(f.type);
    if (array === null) {
      out[f.name] = sampleOf(f.type, seed + f.offset);
      continue;
    }
    const capacity = Number(array[2]);
    const n = COUNTED[f.name] === undefined ? capacity : Math.min(capacity, 2 + (seed % 3));
    out[f.name] = Array.from({ length: n }, (_, i) => sampleOf(array[1]!, seed + i));
  }
  for (const [name, counter] of Object.entries(COUNTED)) {
    const arr = out[name];
    if (Array.isArray(arr)) out[counter] = arr.length;
  }
  if (info.type === SUBSCRIBE) out.patterns = ["tlv.1", "arbitrage_*", "ünï-€-😀"];
  return out;
}

/**
 * What decoding `bytes` encoded from `fields` gives: the fields, plus `tail`
 * (the bytes after the header) for a Subscribe with patterns (5.1, D-38).
 */
function decodedOf(type: number, fields: PayloadFields, bytes: Uint8Array): PayloadFields {
  if (type !== SUBSCRIBE || bytes.length === 4) return fields;
  return { ...fields, tail: hex(bytes.subarray(4)) };
}

function info(type: number): TlvTypeInfo {
  const found = TLV_TYPES.find((t) => t.type === type);
  assert.ok(found);
  return found;
}

/** Asserts `fn` throws a FrameError with `code` and a message containing every fragment. */
function assertFrameError(fn: () => unknown, code: string, ...fragments: string[]): FrameError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FrameError, `expected a FrameError, got ${caught}`);
  assert.ok(caught instanceof RangeError);
  assert.equal(caught.code, code, caught.message);
  for (const f of fragments) {
    assert.ok(caught.message.includes(f), `message ${JSON.stringify(caught.message)} lacks ${f}`);
  }
  assert.ok(!caught.message.endsWith("."), "no trailing period");
  assert.match(caught.message, /^Cannot /);
  return caught;
}

const TRADE: Readonly<Record<string, unknown>> = {
  asset_id: 4779518966531048448n,
  price: 4512350000000n,
  volume: 12345678n,
  execution_timestamp_ns: 1700000000000000000n,
  venue_id: 101,
  asset_type: 51,
  reserved: 0,
  side: 0,
};
const TRADE_HEX =
  "004453552d43544280d3049d1a0400004e61bc000000000000002a36fe9c97176500330000000000";

// ---------------------------------------------------------------------------
// Round trips

Deno.test("hasLayout() is true exactly for reference and provisional layouts", () => {
  // PROTOCOL.md 5.1 says "the 36 types with a defined layout"; tlv-types.yaml has 38 since
  // RecoveryResponse (111) gained its 32-byte layout (7.9; the 5.1 table still says opaque).
  assert.equal(LAYOUT_TYPES.length, 38);
  for (const t of TLV_TYPES) {
    assert.equal(hasLayout(t.type), t.layout === "reference" || t.layout === "provisional");
  }
  assert.equal(hasLayout(0), false);
  assert.equal(hasLayout(34), false);
  assert.equal(hasLayout(255), false);
});

Deno.test("decodePayload() and encodePayload() round-trip every layout type", async (t) => {
  for (const entry of LAYOUT_TYPES) {
    await t.step(`${entry.type} ${entry.name}`, () => {
      for (const seed of [1, 2, 3]) {
        const sample = sampleFields(entry, seed);
        const bytes = encodePayload(entry.type, sample);
        assert.equal(bytes.length, payloadLength(entry.type, sample));
        if (entry.type !== SUBSCRIBE) assert.equal(bytes.length, entry.layoutSize);
        const decoded = decodePayload(entry.type, bytes);
        assert.deepEqual(decoded, decodedOf(entry.type, sample, bytes));
        assert.deepEqual(encodePayload(entry.type, decoded), bytes);
        // Pads are zero on the wire.
        for (const f of entry.fields!) {
          if (!isPad(f)) continue;
          assert.ok(
            bytes.subarray(f.offset, f.offset + f.size).every((x) => x === 0),
            `pad ${f.name} is zero`,
          );
        }
      }
    });
  }
});

Deno.test("decodePayload() decodes a Trade field by field", () => {
  const trade = decodePayload(1, fromHex(TRADE_HEX));
  assert.deepEqual(trade, TRADE);
  assert.deepEqual(Object.keys(trade), Object.keys(TRADE), "layout order, pad left out");
});

Deno.test("decodePayload() reads the value's own window of a larger buffer", () => {
  const big = new Uint8Array(100).fill(0xee);
  big.set(fromHex(TRADE_HEX), 7);
  assert.deepEqual(decodePayload(1, big.subarray(7, 47)), TRADE);
});

Deno.test("decodePayload() decodes composite and wide types", () => {
  const ac = new Uint8Array(24);
  const dv = new DataView(ac.buffer);
  dv.setBigUint64(0, 0xa0b86991c6218b36n, true);
  dv.setUint16(8, 200, true);
  ac[10] = 50;
  dv.setBigUint64(12, 3926983709444790807n, true);
  dv.setUint16(20, 301, true);
  ac[22] = 100;
  ac[23] = 1;
  assert.deepEqual(decodePayload(21, ac), {
    base_instrument: { asset_id: 0xa0b86991c6218b36n, venue: 200, asset_type: 50, reserved: 0 },
    quote_instrument: { asset_id: 3926983709444790807n, venue: 301, asset_type: 100, reserved: 1 },
  });
  const econ = new Uint8Array(32).fill(0xff);
  econ[31] = 0x7f; // required_capital_q = 2^127 - 1; expected_profit_q = -1
  assert.deepEqual(decodePayload(22, econ), {
    expected_profit_q: -1n,
    required_capital_q: (1n << 127n) - 1n,
  });
  const swap = decodePayload(11, new Uint8Array(208).fill(0xff));
  assert.equal(swap.sqrt_price_x96_after, (1n << 256n) - 1n);
  assert.equal(swap.tick_after, -1);
  assert.equal(swap.pool_address, "0x" + "ff".repeat(20));
  assert.equal(
    decodePayload(201, new Uint8Array(64).fill(0x50, 60)).magic,
    "0x50505050",
    "bytesN → hex",
  );
});

Deno.test("encodePayload() accepts numbers, bigints, decimal and hex strings", () => {
  const fromText = encodePayload(1, {
    ...TRADE,
    asset_id: "0x4254432D55534400",
    price: "4512350000000",
    volume: 12345678,
    execution_timestamp_ns: "1700000000000000000",
    venue_id: 101n,
    side: "0",
  });
  assert.equal(hex(fromText).slice(2), TRADE_HEX);
  const signed = decodePayload(
    42,
    encodePayload(42, {
      fill_price: "-5",
      fill_quantity: -1,
      fee: -23399740n,
      order_id: 0xffffffff,
      fill_seq: 1,
      liquidity: 1,
      side: 0,
    }),
  );
  assert.equal(signed.fill_price, -5n);
  assert.equal(signed.fill_quantity, -1n);
  assert.equal(signed.fee, -23399740n);
  assert.equal(signed.order_id, 0xffffffff);
});

Deno.test("encodePayload() accepts byte fields with or without 0x, in any case", () => {
  const addrs = {
    base_token: "0x2791BCA1F2DE4661ED88A30C99A7A9449AA84174",
    quote_token: "7ceb23fd6bc0add59e62ac25578270cff1b9f619",
    venue_a_router: "0x" + "00".repeat(20),
    venue_b_router: new Uint8Array(20).fill(1),
  };
  const decoded = decodePayload(23, encodePayload(23, addrs));
  assert.deepEqual(decoded, {
    base_token: "0x2791bca1f2de4661ed88a30c99a7a9449aa84174",
    quote_token: "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619",
    venue_a_router: "0x" + "00".repeat(20),
    venue_b_router: "0x" + "01".repeat(20),
  });
});

Deno.test("encodePayload() accepts pad fields that are zero", () => {
  const sample = sampleFields(info(32));
  const plain = encodePayload(32, sample);
  assert.deepEqual(encodePayload(32, { ...sample, reserved: 0 }), plain);
  assert.deepEqual(encodePayload(1, { ...TRADE, _pad: "0x000000" }), fromHex(TRADE_HEX));
});

Deno.test("encodePayloadInto() writes at an offset, zeroes pads and returns the length", () => {
  const target = new Uint8Array(50).fill(0xaa);
  assert.equal(encodePayloadInto(1, TRADE, target, 5), 40);
  assert.equal(hex(target.subarray(5, 45)).slice(2), TRADE_HEX);
  assert.ok(target.subarray(0, 5).every((x) => x === 0xaa), "bytes before untouched");
  assert.ok(target.subarray(45).every((x) => x === 0xaa), "bytes after untouched");
  const sub = new Uint8Array(60).fill(0xaa).subarray(10, 60);
  assert.equal(encodePayloadInto(1, TRADE, sub, 10), 40);
  assert.deepEqual(decodePayload(1, sub.subarray(10)), TRADE);
});

Deno.test("encodePayloadInto() rejects a target that is too small", () => {
  assert.throws(() => encodePayloadInto(1, TRADE, new Uint8Array(45), 6), RangeError);
  assert.throws(() => encodePayloadInto(1, TRADE, new Uint8Array(45), -1), RangeError);
});

// ---------------------------------------------------------------------------
// Count-trimmed arrays

Deno.test("OrderBook bids/asks are trimmed to bid_count/ask_count", () => {
  const level = (p: bigint, n: number) => ({ price: p, size: 100n, order_count: n, reserved: 0 });
  const book = {
    snapshot_timestamp_ns: 1n,
    sequence: 2n,
    precision_factor: 100000000n,
    asset_id: 3n,
    venue_id: 101,
    asset_type: 51,
    reserved: 0,
    bids: [level(30n, 1), level(20n, 2), level(10n, 3)],
    asks: [],
  };
  const bytes = encodePayload(3, book);
  assert.equal(bytes.length, 2456);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint16(40, true), 3, "bid_count defaults to bids.length");
  assert.equal(dv.getUint16(1248, true), 0, "ask_count defaults to asks.length");
  assert.ok(bytes.subarray(48 + 3 * 24, 1248).every((x) => x === 0), "unused bid slots zero");
  assert.ok(bytes.subarray(1256).every((x) => x === 0), "unused ask slots zero");
  const decoded = decodePayload(3, bytes);
  assert.deepEqual(decoded, { ...book, bid_count: 3, ask_count: 0 });
  assert.deepEqual(encodePayload(3, decoded), bytes);
});

Deno.test("decodePayload() ignores data in slots beyond the count", () => {
  const bytes = encodePayload(10, sampleFields(info(10)));
  const dv = new DataView(bytes.buffer);
  dv.setUint16(16, 1, true);
  const decoded = decodePayload(10, bytes);
  assert.equal(decoded.reserve_count, 1);
  assert.equal((decoded.reserves as readonly FieldValue[]).length, 1);
});

Deno.test("decodePayload() rejects a count above its array's capacity", async (t) => {
  const cases = [
    { type: 3, field: "bid_count", offset: 40, capacity: 50 },
    { type: 3, field: "ask_count", offset: 1248, capacity: 50 },
    { type: 10, field: "reserve_count", offset: 16, capacity: 8 },
    { type: 106, field: "instrument_count", offset: 16, capacity: 16 },
  ];
  for (const c of cases) {
    await t.step(`${c.type} ${c.field}`, () => {
      const bytes = new Uint8Array(info(c.type).layoutSize!);
      new DataView(bytes.buffer).setUint16(c.offset, c.capacity + 1, true);
      const e = assertFrameError(
        () => decodePayload(c.type, bytes),
        "InvalidFieldValue",
        `"${c.field}"`,
        `offset ${c.offset}`,
        `is ${c.capacity + 1}, expected 0–${c.capacity}`,
      );
      assert.equal(e.field, c.field);
      assert.equal(e.offset, c.offset);
      assert.equal(e.actual, c.capacity + 1);
      assert.equal(e.details.tlv_type, c.type);
      assert.equal(e.details.got, c.capacity + 1);
      // With capacity exactly it decodes.
      new DataView(bytes.buffer).setUint16(c.offset, c.capacity, true);
      decodePayload(c.type, bytes);
    });
  }
});

Deno.test("encodePayload() rejects counts and arrays that do not fit", () => {
  const book = sampleFields(info(3));
  assertFrameError(
    () => encodePayload(3, { ...book, bid_count: 51, bids: [] }),
    "InvalidFieldValue",
    `field "bid_count" is 51, expected 0–50`,
  );
  assertFrameError(
    () => encodePayload(3, { ...book, bid_count: 1 }),
    "InvalidFieldValue",
    `field "bid_count" is 1 but "bids" has`,
  );
  const level = (book.bids as readonly FieldValue[])[0];
  assertFrameError(
    () => encodePayload(3, { ...book, bid_count: undefined, bids: new Array(51).fill(level) }),
    "InvalidFieldValue",
    `field "bids" has 51 entries, expected at most 50`,
  );
  assertFrameError(
    () => encodePayload(3, { ...book, bids: "none" }),
    "InvalidFieldValue",
    `field "bids" is "none", expected an array`,
  );
});

// ---------------------------------------------------------------------------
// Errors

Deno.test("decodePayload() needs exactly layoutSize bytes", async (t) => {
  for (
    const [type, name, got, expected] of [
      [1, "Trade", 39, 40],
      [1, "Trade", 41, 40],
      [11, "PoolSwap", 200, 208], // within the registry bounds, still not decodable
      [107, "SystemHealth", 64, 48],
      [3, "OrderBook", 0, 2456],
    ] as const
  ) {
    await t.step(`${name} ${got}`, () => {
      const e = assertFrameError(
        () => decodePayload(type, new Uint8Array(got)),
        "PayloadSizeMismatch",
        `Cannot decode ${name}: payload is ${got} bytes, expected ${expected}`,
      );
      assert.equal(e.expected, expected);
      assert.equal(e.actual, got);
      assert.equal(e.details.tlv_type, type);
      assert.equal(e.details.name, name);
      assert.equal(e.details.got, got);
    });
  }
});

Deno.test("decodePayload() and encodePayload() reject types without layout", () => {
  for (const type of [4, 28, 202, 34, 0, 255]) {
    assert.equal(hasLayout(type), false);
    assertFrameError(
      () => decodePayload(type, new Uint8Array(8)),
      "InvalidFieldValue",
      "no layout",
    );
    assertFrameError(() => encodePayload(type, {}), "InvalidFieldValue", "no layout");
    assertFrameError(() => payloadLength(type, {}), "InvalidFieldValue", "no layout");
  }
  assertFrameError(
    () => decodePayload(4, new Uint8Array(1)),
    "InvalidFieldValue",
    "Cannot decode InstrumentMeta: type 4 has no layout (layout is opaque)",
  );
});

Deno.test("encodePayload() rejects out-of-range values with field and range", async (t) => {
  const cases: [number, string, unknown, string][] = [
    [1, "side", 300, `Cannot encode Trade: field "side" is 300, expected 0–255`],
    [1, "side", -1, `field "side" is -1, expected 0–255`],
    [1, "venue_id", 65536, `field "venue_id" is 65536, expected 0–65535`],
    [1, "price", 1n << 63n, `field "price" is 9223372036854775808, expected -9223372036854775808–`],
    [1, "asset_id", -1n, `field "asset_id" is -1, expected 0–18446744073709551615`],
    [1, "asset_id", "18446744073709551616", `field "asset_id" is "18446744073709551616"`],
    [
      11,
      "tick_after",
      2 ** 31,
      `field "tick_after" is 2147483648, expected -2147483648–2147483647`,
    ],
    [11, "amount_in", 1n << 128n, `field "amount_in" is 340282366920938463463374607431768211456`],
    [1, "side", 1.5, `field "side" is 1.5, expected an integer 0–255`],
    [1, "side", "abc", `field "side" is "abc", expected an integer`],
    [1, "side", null, `field "side" is null, expected an integer`],
    [1, "price", 2 ** 60, "not a safe integer"],
    [11, "pool_address", "0x1234", `field "pool_address" is "0x1234", expected 20 bytes as hex`],
    [11, "pool_address", "zz".repeat(20), "expected 20 bytes as hex"],
    [11, "pool_address", 5, "expected 20 bytes as hex"],
  ];
  for (const [type, field, value, fragment] of cases) {
    await t.step(
      `${field} = ${typeof value === "bigint" ? `${value}n` : JSON.stringify(value)}`,
      () => {
        const fields = { ...sampleFields(info(type)), [field]: value };
        const e = assertFrameError(
          () => encodePayload(type, fields),
          "InvalidFieldValue",
          fragment,
        );
        assert.equal(e.field, field);
        assert.equal(e.offset, info(type).fields!.find((f) => f.name === field)!.offset);
        assert.equal(e.details.tlv_type, type);
      },
    );
  }
});

Deno.test("encodePayload() rejects missing fields, naming them", () => {
  const { side: _side, ...noSide } = TRADE;
  const e = assertFrameError(
    () => encodePayload(1, noSide),
    "InvalidFieldValue",
    `Cannot encode Trade: field "side" is missing`,
  );
  assert.equal(e.field, "side");
  assert.equal(e.offset, 36);
  const ac = sampleFields(info(21));
  assertFrameError(
    () => encodePayload(21, { ...ac, quote_instrument: { asset_id: 1n, venue: 2, asset_type: 3 } }),
    "InvalidFieldValue",
    `field "quote_instrument.reserved" is missing`,
  );
  assertFrameError(
    () => encodePayload(21, { ...ac, quote_instrument: 7 }),
    "InvalidFieldValue",
    `field "quote_instrument" is 7, expected an object (InstrumentId)`,
  );
});

Deno.test("encodePayload() rejects unknown keys and nonzero pads", () => {
  const e = assertFrameError(
    () => encodePayload(1, { ...TRADE, sid: 1 }),
    "InvalidFieldValue",
    `Cannot encode Trade: unknown field "sid"`,
  );
  assert.equal(e.field, "sid");
  const book = sampleFields(info(3));
  const bids = book.bids as readonly Record<string, FieldValue>[];
  assertFrameError(
    () => encodePayload(3, { ...book, bids: [{ ...bids[0], extra: 1 }, ...bids.slice(1)] }),
    "InvalidFieldValue",
    `unknown field "bids[0].extra"`,
  );
  assertFrameError(
    () => encodePayload(1, { ...TRADE, _pad: 1 }),
    "InvalidFieldValue",
    `pad field "_pad" is 1, expected zero`,
  );
  assertFrameError(
    () => encodePayload(1, { ...TRADE, patterns: [] }),
    "InvalidFieldValue",
    `unknown field "patterns"`,
  );
  assertFrameError(
    () => encodePayload(1, null as unknown as Record<string, unknown>),
    "InvalidFieldValue",
    "expected an object",
  );
});

// ---------------------------------------------------------------------------
// Subscribe (113)

Deno.test("Subscribe patterns round-trip", () => {
  const bytes = encodePayload(SUBSCRIBE, { mode: 1, patterns: ["tlv.1", "source.2", "é😀"] });
  assert.equal(
    hex(bytes),
    "0x01010000" + "05746c762e31" + "08736f757263652e32" + "06c3a9f09f9880",
  );
  assert.equal(payloadLength(SUBSCRIBE, { mode: 1, patterns: ["tlv.1", "source.2", "é😀"] }), 26);
  assert.deepEqual(decodePayload(SUBSCRIBE, bytes), {
    version: 1,
    mode: 1,
    reserved: 0,
    patterns: ["tlv.1", "source.2", "é😀"],
    tail: "0x" + "05746c762e31" + "08736f757263652e32" + "06c3a9f09f9880",
  });
  const empty = encodePayload(SUBSCRIBE, { version: 1, mode: 0, reserved: 0, patterns: [] });
  assert.equal(hex(empty), "0x01000000");
  assert.deepEqual(decodePayload(SUBSCRIBE, empty).patterns, []);
  const long = "x".repeat(255);
  assert.deepEqual(
    decodePayload(SUBSCRIBE, encodePayload(SUBSCRIBE, { mode: 0, patterns: [long] })).patterns,
    [long],
  );
});

Deno.test("decodePayload() rejects a malformed Subscribe pattern list", async (t) => {
  const cases: [string, string, string, number][] = [
    ["length past the end", "0100000005746c76", "pattern at offset 4 needs 5 bytes, 3 left", 4],
    ["second length past the end", "0100000001610361", "pattern at offset 6 needs 3 bytes", 6],
    ["empty pattern", "010000000161" + "00", "pattern at offset 6 is empty", 6],
    ["invalid UTF-8", "0100000002c328", "pattern at offset 4 is not valid UTF-8", 4],
  ];
  for (const [name, payload, fragment, offset] of cases) {
    await t.step(name, () => {
      const e = assertFrameError(
        () => decodePayload(SUBSCRIBE, fromHex(payload)),
        "MalformedSubscribe",
        `Cannot decode Subscribe: ${fragment}`,
      );
      assert.equal(e.offset, offset);
    });
  }
  assertFrameError(
    () => decodePayload(SUBSCRIBE, fromHex("0100")),
    "PayloadSizeMismatch",
    "payload is 2 bytes, expected at least 4",
  );
});

Deno.test("encodePayload() rejects bad Subscribe patterns", () => {
  assertFrameError(
    () => encodePayload(SUBSCRIBE, { mode: 0 }),
    "InvalidFieldValue",
    `field "patterns" is missing`,
  );
  assertFrameError(
    () => encodePayload(SUBSCRIBE, { mode: 0, patterns: "tlv.1" }),
    "InvalidFieldValue",
    "expected an array of strings",
  );
  for (const bad of ["", "x".repeat(256), "é".repeat(128), "\ud800", 7]) {
    assertFrameError(
      () => encodePayload(SUBSCRIBE, { mode: 0, patterns: ["ok", bad] }),
      "InvalidFieldValue",
      `field "patterns[1]"`,
      "expected a string of 1–255 UTF-8 bytes",
    );
  }
  assertFrameError(
    () => encodePayload(SUBSCRIBE, { patterns: [] }),
    "InvalidFieldValue",
    `field "mode" is missing`,
  );
  assertFrameError(
    () => payloadLength(SUBSCRIBE, { mode: 0, patterns: new Array(300).fill("x".repeat(255)) }),
    "InvalidFieldValue",
    "expected at most 65535",
  );
});

// ---------------------------------------------------------------------------
// Property: encode → decode → encode is byte-exact

function intArb(type: string): fc.Arbitrary<FieldValue> {
  const bits = BITS[type]!;
  const signed = type.startsWith("i");
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (bits <= 32) return fc.integer({ min: Number(min), max: Number(max) });
  return fc.bigInt({ min, max });
}

function valueArb(type: string): fc.Arbitrary<FieldValue> {
  if (BITS[type] !== undefined) return intArb(type);
  const bytes = /^(?:addr|bytes)(\d+)$/.exec(type);
  if (bytes !== null) {
    const n = Number(bytes[1]);
    return fc.uint8Array({ minLength: n, maxLength: n }).map(hex);
  }
  const struct = STRUCTS[type];
  if (struct !== undefined) {
    return fc.record(Object.fromEntries(struct.map(([name, t]) => [name, valueArb(t)])), {
      noNullPrototype: true,
    });
  }
  throw new Error(`no arbitrary for ${type}`);
}

function fieldsArb(entry: TlvTypeInfo): fc.Arbitrary<PayloadFields> {
  const parts: Record<string, fc.Arbitrary<FieldValue>> = {};
  for (const f of entry.fields!) {
    if (isPad(f) || Object.values(COUNTED).includes(f.name)) continue;
    const array = /^(.+)\[(\d+)\]$/.exec(f.type);
    if (array === null) {
      parts[f.name] = valueArb(f.type);
    } else {
      const n = Number(array[2]);
      const min = COUNTED[f.name] === undefined ? n : 0;
      parts[f.name] = fc.array(valueArb(array[1]!), { minLength: min, maxLength: n });
    }
  }
  if (entry.type === SUBSCRIBE) {
    parts.patterns = fc.array(fc.string({ unit: "binary", minLength: 1, maxLength: 40 }), {
      maxLength: 8,
    });
  }
  return fc.record(parts, { noNullPrototype: true }).map((fields) => {
    const out: PayloadFields = { ...fields };
    for (const [name, counter] of Object.entries(COUNTED)) {
      const arr = out[name];
      if (Array.isArray(arr)) out[counter] = arr.length;
    }
    return out;
  });
}

Deno.test("property: encode → decode → encode is byte-exact for every layout type", () => {
  const arb = fc.constantFrom(...LAYOUT_TYPES).chain((entry) =>
    fieldsArb(entry).map((fields) => [entry.type, fields] as const)
  );
  fc.assert(
    fc.property(arb, ([type, fields]) => {
      const bytes = encodePayload(type, fields);
      const decoded = decodePayload(type, bytes);
      assert.deepEqual(decoded, decodedOf(type, fields, bytes));
      assert.deepEqual(encodePayload(type, decoded), bytes);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: decode → encode reproduces any payload whose pads are zero", () => {
  const fixed = LAYOUT_TYPES.filter((t) =>
    t.type !== SUBSCRIBE && !t.fields!.some((f) => f.name in COUNTED)
  );
  const arb = fc.constantFrom(...fixed).chain((entry) =>
    fc.uint8Array({ minLength: entry.layoutSize!, maxLength: entry.layoutSize! }).map((bytes) => {
      for (const f of entry.fields!) if (isPad(f)) bytes.fill(0, f.offset, f.offset + f.size);
      return [entry.type, bytes] as const;
    })
  );
  fc.assert(
    fc.property(arb, ([type, bytes]) => {
      assert.deepEqual(encodePayload(type, decodePayload(type, bytes)), bytes);
    }),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------------------
// Header-prefixed layouts with a tail (PROTOCOL.md 5.1, D-38)

/** Bytes written from the spec's field tables by hand: value = offset + 1 in each byte. */
function counting(n: number, from = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i + 1) & 0xff);
}

Deno.test("D-38: Snapshot, TraceContext and PoolCacheHeader decode their header and show the rest as tail", async (t) => {
  await t.step("Snapshot (101): 32-byte header + 8 state bytes", () => {
    const value = new Uint8Array(40);
    const dv = new DataView(value.buffer);
    dv.setBigUint64(0, 42n, true); // sequence
    dv.setBigUint64(8, 1_700_000_000_000_000_000n, true); // timestamp
    dv.setUint32(16, 7, true); // snapshot_id
    dv.setUint32(20, 0xdeadbeef, true); // checksum
    dv.setUint32(24, 8, true); // uncompressed_size
    value[28] = 1; // tlv_type
    value[29] = 32; // header_length
    value[30] = 0; // compression
    value.set(fromHex("0x0a0b0c0d0e0f1011"), 32);
    assert.deepEqual(decodePayload(101, value), {
      sequence: 42n,
      timestamp: 1_700_000_000_000_000_000n,
      snapshot_id: 7,
      checksum: 0xdeadbeef,
      uncompressed_size: 8,
      tlv_type: 1,
      header_length: 32,
      compression: 0,
      tail: "0x0a0b0c0d0e0f1011",
    });
  });
  await t.step("TraceContext (108): 32-byte header + 4 bytes", () => {
    const value = new Uint8Array(36);
    const dv = new DataView(value.buffer);
    dv.setBigUint64(0, 1n, true);
    dv.setBigUint64(8, 2n, true);
    value[16] = 3;
    value[17] = 4;
    value[18] = 5;
    value[19] = 6;
    value.set(counting(8), 24); // trace_id
    value.set(fromHex("0xcafef00d"), 32);
    assert.deepEqual(decodePayload(108, value), {
      start_timestamp_ns: 1n,
      current_timestamp_ns: 2n,
      source_service: 3,
      span_depth: 4,
      stage_flags: 5,
      reserved: 6,
      trace_id: "0x0102030405060708",
      tail: "0xcafef00d",
    });
  });
  await t.step("PoolCacheHeader (201): 64-byte header + 3 bytes", () => {
    const value = new Uint8Array(67);
    const dv = new DataView(value.buffer);
    dv.setBigUint64(0, 137n, true);
    dv.setBigUint64(8, 99n, true);
    dv.setUint32(48, 1, true);
    dv.setUint32(52, 2, true);
    dv.setUint32(56, 3, true);
    value.set(new TextEncoder().encode("POOL"), 60);
    value.set([0xff, 0x00, 0x7f], 64);
    assert.deepEqual(decodePayload(201, value), {
      chain_id: 137n,
      last_updated: 99n,
      version: 1,
      pool_count: 2,
      checksum: 3,
      magic: "0x504f4f4c",
      tail: "0xff007f",
    });
  });
  await t.step("exactly the header: no tail", () => {
    assert.equal("tail" in decodePayload(101, new Uint8Array(32)), false);
    assert.equal("tail" in decodePayload(201, new Uint8Array(64)), false);
  });
});

Deno.test("D-38: Subscribe shows its pattern bytes as tail too", () => {
  const value = encodePayload(SUBSCRIBE, { mode: 1, patterns: ["tlv.1", "é"] });
  const decoded = decodePayload(SUBSCRIBE, value);
  assert.deepEqual(decoded.patterns, ["tlv.1", "é"]);
  assert.equal(decoded.tail, "0x05746c762e3102c3a9");
  // The decoded form (patterns and tail) encodes back to the same bytes.
  assert.deepEqual(encodePayload(SUBSCRIBE, decoded), value);
  // A tail alone is written as given.
  assert.deepEqual(encodePayload(SUBSCRIBE, { mode: 1, tail: decoded.tail }), value);
  assertFrameError(
    () => encodePayload(SUBSCRIBE, { mode: 1, patterns: ["tlv.2"], tail: decoded.tail }),
    "InvalidFieldValue",
    `field "tail" (9 bytes) is not the encoding of "patterns"`,
  );
  assertFrameError(
    () =>
      encodePayload(SUBSCRIBE, { mode: 1, patterns: ["tlv.1", "é"], tail: "0x05746c762e3102c3aa" }),
    "InvalidFieldValue",
    `is not the encoding of "patterns"`,
  );
});

Deno.test("D-38: shorter than the header is PayloadSizeMismatch, longer than the size rule is PayloadSizeOutOfBounds", async (t) => {
  for (
    const [type, name, size] of [[101, "Snapshot", 32], [108, "TraceContext", 32], [
      201,
      "PoolCacheHeader",
      64,
    ]] as const
  ) {
    await t.step(`${name} ${size - 1} bytes`, () => {
      const e = assertFrameError(
        () => decodePayload(type, new Uint8Array(size - 1)),
        "PayloadSizeMismatch",
        `Cannot decode ${name}: payload is ${size - 1} bytes, expected at least ${size}`,
      );
      assert.equal(e.expected, `>=${size}`);
    });
  }
  for (const [type, name, max] of [[101, "Snapshot", 1024], [108, "TraceContext", 256]] as const) {
    await t.step(`${name} ${max + 1} bytes`, () => {
      assertFrameError(
        () => decodePayload(type, new Uint8Array(max + 1)),
        "PayloadSizeOutOfBounds",
        `length is ${max + 1}, expected 32–${max}`,
      );
      assert.equal(decodePayload(type, new Uint8Array(max)).tail, hex(new Uint8Array(max - 32)));
    });
  }
});

Deno.test("D-38: encodePayload() writes the tail after the header", () => {
  const value = counting(40).fill(0, 20, 24); // _pad at 20–23 is zero
  const fields = decodePayload(108, value);
  assert.equal(fields.tail, hex(counting(8, 32)));
  assert.deepEqual(encodePayload(108, fields), value);
  assert.equal(payloadLength(108, fields), 40);
  assert.deepEqual(encodePayload(108, { ...fields, tail: counting(8, 32) }), value);
  assert.deepEqual(encodePayload(108, { ...fields, tail: "0A0B" }).subarray(32), fromHex("0x0a0b"));
  assert.equal(encodePayload(108, { ...fields, tail: undefined }).length, 32);
  assertFrameError(
    () => encodePayload(108, { ...fields, tail: "0xabc" }),
    "InvalidFieldValue",
    `field "tail" is "0xabc", expected bytes as hex`,
  );
  assertFrameError(
    () => encodePayload(108, { ...fields, tail: new Uint8Array(225) }),
    "InvalidFieldValue",
    `field "tail" is 225 bytes, expected at most 224`,
  );
  assertFrameError(
    () => encodePayload(1, { ...decodePayload(1, new Uint8Array(40)), tail: "0x00" }),
    "InvalidFieldValue",
    `unknown field "tail"`,
  );
});

Deno.test("property: D-38 types decode → encode any payload within their size rule", () => {
  const types = [101, 108, 201].map((n) => TLV_TYPES.find((t) => t.type === n)!);
  const arb = fc.constantFrom(...types).chain((entry) => {
    const max = entry.size.kind === "bounded" ? entry.size.max : entry.layoutSize! + 300;
    return fc.uint8Array({ minLength: entry.layoutSize!, maxLength: max }).map((bytes) => {
      for (const f of entry.fields!) if (isPad(f)) bytes.fill(0, f.offset, f.offset + f.size);
      return [entry.type, bytes] as const;
    });
  });
  fc.assert(
    fc.property(arb, ([type, bytes]) => {
      assert.deepEqual(encodePayload(type, decodePayload(type, bytes)), bytes);
    }),
    { numRuns: 500 },
  );
});
