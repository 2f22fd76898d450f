import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, FrameError } from "./errors.ts";
import {
  arbitrumToken,
  AssetType,
  assetTypeName,
  bond,
  bscToken,
  cacheKey,
  coin,
  debugInfo,
  decodeInstrumentId,
  encodeInstrumentId,
  equals,
  ethereumToken,
  fromCacheKey,
  fromU64,
  INSTRUMENT_ID_SIZE,
  type InstrumentId,
  instrumentId,
  lpToken,
  lpTokenFromPool,
  option,
  parseVenue,
  polygonToken,
  pool,
  stock,
  symbolOf,
  toU64,
  triangularPool,
  typicalDecimals,
  venueChainId,
  VenueId,
  venueName,
} from "./instrument_id.ts";

const USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
const WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
const DAI = "0x6b175474e89094c44da98b954eedeac495271d0f";

/** A token with a chosen asset id, to build pools with known inputs. */
function tokenWithId(assetId: bigint): InstrumentId {
  return instrumentId({ assetId, venue: VenueId.Ethereum, assetType: AssetType.Token });
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function assertInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.ok(e instanceof RangeError);
    assert.equal(e.code, ErrorCode.InvalidFieldValue);
    assert.equal(e.message, message);
    return true;
  });
}

const arbitraryId = fc.record({
  assetId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  venue: fc.integer({ min: 0, max: 0xffff }),
  assetType: fc.integer({ min: 0, max: 0xff }),
  reserved: fc.integer({ min: 0, max: 0xff }),
}).map((fields) => instrumentId(fields));

// ---------------------------------------------------------------------------
// 6.2 / 6.3 tables

Deno.test("VenueId and AssetType carry the numbers of the spec's tables", () => {
  assert.equal(VenueId.Generic, 0);
  assert.equal(VenueId.NYSE, 1);
  assert.equal(VenueId.NASDAQ, 2);
  assert.equal(VenueId.Binance, 100);
  assert.equal(VenueId.Kraken, 101);
  assert.equal(VenueId.Ethereum, 200);
  assert.equal(VenueId.Polygon, 202);
  assert.equal(VenueId.UniswapV3, 301);
  assert.equal(VenueId.QuickSwap, 400);
  assert.equal(VenueId.SushiSwapPolygon, 401);
  assert.equal(VenueId.Deribit, 700);
  assert.equal(VenueId.ForexCom, 803);
  assert.equal(VenueId.TestVenue, 65000);
  assert.equal(VenueId.MockExchange, 65001);
  assert.equal(Object.keys(VenueId).length, 58);
  assert.equal(AssetType.Stock, 1);
  assert.equal(AssetType.Token, 50);
  assert.equal(AssetType.Coin, 51);
  assert.equal(AssetType.Pool, 100);
  assert.equal(AssetType.LPToken, 101);
  assert.equal(AssetType.Option, 150);
  assert.equal(AssetType.CDS, 154);
  assert.equal(AssetType.MockAsset, 251);
  assert.equal(Object.keys(AssetType).length, 26);
});

Deno.test("venueName() and assetTypeName() name known values only", () => {
  assert.equal(venueName(101), "Kraken");
  assert.equal(venueName(0), "Generic");
  assert.equal(venueName(203), "BinanceSmartChain");
  assert.equal(venueName(9999), undefined);
  assert.equal(assetTypeName(51), "Coin");
  assert.equal(assetTypeName(101), "LPToken");
  assert.equal(assetTypeName(0), undefined);
  assert.equal(assetTypeName(7), undefined);
});

Deno.test("parseVenue() accepts names in any case and venue numbers", async (t) => {
  const cases: readonly [string, number | undefined][] = [
    ["kraken", 101],
    ["Kraken", 101],
    ["KRAKEN", 101],
    [" nasdaq ", 2],
    ["uniswapv3", 301],
    ["uniswap-v3", 301],
    ["binance_smart_chain", 203],
    ["dydx", 310],
    ["101", 101],
    ["65001", 65001],
    ["0", 0],
    ["9999", undefined],
    ["70000", undefined],
    ["-1", undefined],
    ["", undefined],
    ["nowhere", undefined],
  ];
  for (const [text, expected] of cases) {
    await t.step(`${JSON.stringify(text)} → ${expected}`, () => {
      assert.equal(parseVenue(text), expected);
    });
  }
});

Deno.test("venueChainId() maps DeFi ranges and chain venues to chain ids", async (t) => {
  const cases: readonly [number, number | undefined][] = [
    [VenueId.UniswapV2, 1],
    [VenueId.UniswapV3, 1],
    [VenueId.DYdX, 1],
    [VenueId.QuickSwap, 137],
    [VenueId.BalancerPolygon, 137],
    [VenueId.PancakeSwap, 56],
    [VenueId.VenusProtocol, 56],
    [VenueId.UniswapV3Arbitrum, 42161],
    [VenueId.CurveArbitrum, 42161],
    [VenueId.Ethereum, 1],
    [VenueId.Polygon, 137],
    [VenueId.BinanceSmartChain, 56],
    [VenueId.Arbitrum, 42161],
    [VenueId.Optimism, 10],
    [VenueId.Avalanche, 43114],
    [VenueId.Fantom, 250],
    [VenueId.Bitcoin, undefined],
    [VenueId.Solana, undefined],
    [VenueId.Kraken, undefined],
    [VenueId.NYSE, undefined],
    [VenueId.Deribit, undefined],
    [VenueId.TestVenue, undefined],
  ];
  for (const [venue, chain] of cases) {
    await t.step(`${venueName(venue)} → ${chain}`, () => {
      assert.equal(venueChainId(venue), chain);
    });
  }
});

Deno.test("typicalDecimals() follows the informational table of 6.3", () => {
  assert.equal(typicalDecimals(AssetType.Stock), 2);
  assert.equal(typicalDecimals(AssetType.Bond), 4);
  assert.equal(typicalDecimals(AssetType.Currency), 4);
  assert.equal(typicalDecimals(AssetType.Token), 18);
  assert.equal(typicalDecimals(AssetType.WrappedToken), 18);
  assert.equal(typicalDecimals(AssetType.StableCoin), 6);
  assert.equal(typicalDecimals(AssetType.Coin), 8);
  assert.equal(typicalDecimals(AssetType.Pool), 18);
  assert.equal(typicalDecimals(AssetType.LPToken), 18);
  assert.equal(typicalDecimals(AssetType.Option), 8);
  assert.equal(typicalDecimals(AssetType.NFT), 8);
});

// ---------------------------------------------------------------------------
// 6.4 constructors

Deno.test("ethereumToken() takes the first 8 address bytes big-endian", () => {
  const usdc = ethereumToken(USDC);
  assert.equal(usdc.assetId, 0xa0b86991c6218b36n);
  assert.equal(usdc.assetId, 11581122516598491958n);
  assert.deepEqual(usdc, {
    assetId: 11581122516598491958n,
    venue: 200,
    assetType: 50,
    reserved: 0,
  });
});

Deno.test("token constructors accept addresses with or without 0x, in any case", () => {
  const expected = ethereumToken(USDC);
  assert.ok(equals(ethereumToken(USDC.slice(2)), expected));
  assert.ok(equals(ethereumToken(USDC.toUpperCase().replace("0X", "0x")), expected));
  assert.ok(equals(ethereumToken("0X" + USDC.slice(2)), expected));
});

Deno.test("token constructors set the chain venue and type Token", async (t) => {
  const cases = [
    [ethereumToken, 200],
    [polygonToken, 202],
    [bscToken, 203],
    [arbitrumToken, 206],
  ] as const;
  for (const [make, venue] of cases) {
    await t.step(`${make.name}() → venue ${venue}`, () => {
      const id = make(USDC);
      assert.equal(id.venue, venue);
      assert.equal(id.assetType, AssetType.Token);
      assert.equal(id.reserved, 0);
      assert.equal(id.assetId, 0xa0b86991c6218b36n);
    });
  }
});

Deno.test("token constructors reject addresses that are not 40 hex digits", async (t) => {
  const cases: readonly [string, string][] = [
    ["0x12", 'address "0x12" has 2 hex digits, expected 40'],
    ["", 'address "" has 0 hex digits, expected 40'],
    ["0x", 'address "0x" has 0 hex digits, expected 40'],
    [USDC + "00", `address "${USDC}00" has 42 hex digits, expected 40`],
    [USDC.slice(0, -1), `address "${USDC.slice(0, -1)}" has 39 hex digits, expected 40`],
    [
      "0xg0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
      'address "0xg0b86991c6218b36c1d19d4a2e9eb0ce3606eb48" contains the non-hex character "g"',
    ],
    [
      " " + USDC,
      `address " ${USDC}" contains the non-hex character " "`,
    ],
  ];
  for (const [address, detail] of cases) {
    await t.step(JSON.stringify(address), () => {
      for (const make of [ethereumToken, polygonToken, bscToken, arbitrumToken]) {
        assertInvalid(() => make(address), `Cannot build token id: ${detail}`);
      }
    });
  }
});

Deno.test("token constructors report the bad address in the error's fields", () => {
  try {
    ethereumToken("0x12");
    assert.fail("expected a FrameError");
  } catch (e) {
    assert.ok(e instanceof FrameError);
    assert.equal(e.field, "address");
    assert.equal(e.actual, "0x12");
    assert.equal(e.expected, "40 hex digits");
  }
});

Deno.test("coin() packs the symbol big-endian", () => {
  const id = coin(VenueId.Kraken, "BTC-USD");
  assert.equal(id.assetId, 0x4254432d55534400n);
  assert.equal(id.assetId, 4779518966531048448n);
  assert.equal(id.venue, 101);
  assert.equal(id.assetType, AssetType.Coin);
  assert.equal(id.reserved, 0);
});

Deno.test("coin() is stored little-endian on the wire", () => {
  const bytes = new Uint8Array(INSTRUMENT_ID_SIZE);
  encodeInstrumentId(coin(VenueId.Kraken, "BTC-USD"), bytes);
  assert.equal(hex(bytes.subarray(0, 8)), "00 44 53 55 2d 43 54 42");
  assert.equal(hex(bytes), "00 44 53 55 2d 43 54 42 65 00 33 00");
});

Deno.test("stock() and bond() pack symbols like coin() with their own types", () => {
  const aapl = stock(VenueId.NASDAQ, "AAPL");
  assert.equal(aapl.assetId, 0x4141504c00000000n);
  assert.equal(aapl.assetType, AssetType.Stock);
  assert.equal(aapl.venue, VenueId.NASDAQ);
  const note = bond(VenueId.NYSE, "US10Y");
  assert.equal(note.assetId, 0x5553313059000000n);
  assert.equal(note.assetType, AssetType.Bond);
});

Deno.test("symbol constructors truncate to 8 bytes and pad with zeros", () => {
  assert.equal(coin(VenueId.Binance, "BTCUSDT").assetId, 0x4254435553445400n);
  assert.equal(coin(VenueId.Binance, "ABCDEFGH").assetId, 0x4142434445464748n);
  assert.ok(equals(coin(VenueId.Binance, "ABCDEFGHIJ"), coin(VenueId.Binance, "ABCDEFGH")));
  assert.equal(coin(VenueId.Binance, "").assetId, 0n);
  assert.equal(coin(VenueId.Binance, "A").assetId, 0x4100000000000000n);
});

Deno.test("symbol constructors reject non-ASCII symbols and bad venues", () => {
  assertInvalid(
    () => coin(VenueId.Kraken, "BTC-€"),
    'Cannot build coin id: symbol "BTC-€" has the non-ASCII character "€" at index 4',
  );
  assertInvalid(
    () => stock(70000, "AAPL"),
    "Cannot build stock id: venue 70000 is not an integer in 0–65535",
  );
  assertInvalid(
    () => bond(-1, "X"),
    "Cannot build bond id: venue -1 is not an integer in 0–65535",
  );
  assertInvalid(
    () => coin(1.5, "X"),
    "Cannot build coin id: venue 1.5 is not an integer in 0–65535",
  );
});

Deno.test("pool() matches the USDC/WETH UniswapV3 example", () => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  assert.equal(weth.assetId, 0xc02aaa39b223fe8dn);
  const id = pool(VenueId.UniswapV3, usdc, weth);
  assert.deepEqual(id, {
    assetId: 3926983709444790807n,
    venue: 301,
    assetType: 100,
    reserved: 0,
  });
  assert.equal(id.assetId, BigInt.asUintN(64, usdc.assetId * 31n + weth.assetId));
});

Deno.test("pool() does not depend on token order", () => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  assert.ok(equals(pool(VenueId.UniswapV3, usdc, weth), pool(VenueId.UniswapV3, weth, usdc)));
  fc.assert(fc.property(arbitraryId, arbitraryId, (a, b) => {
    return equals(pool(VenueId.SushiSwap, a, b), pool(VenueId.SushiSwap, b, a));
  }));
});

Deno.test("pool() wraps modulo 2^64 without losing precision", () => {
  const max = (1n << 64n) - 1n;
  const id = pool(VenueId.Curve, tokenWithId(max), tokenWithId(max));
  assert.equal(id.assetId, (max * 32n) % (1n << 64n));
  assert.equal(id.assetId, 0xffffffffffffffe0n);
});

Deno.test("triangularPool() sorts the ids, weights them 31/17/1 and sets reserved 1", () => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  const dai = ethereumToken(DAI);
  const [s0, s1, s2] = [dai.assetId, usdc.assetId, weth.assetId];
  assert.ok(s0 < s1 && s1 < s2);
  const expected = BigInt.asUintN(64, s0 * 31n + s1 * 17n + s2);
  const orders = [
    [usdc, weth, dai],
    [usdc, dai, weth],
    [weth, usdc, dai],
    [weth, dai, usdc],
    [dai, usdc, weth],
    [dai, weth, usdc],
  ] as const;
  for (const [a, b, c] of orders) {
    const id = triangularPool(VenueId.Balancer, a, b, c);
    assert.deepEqual(id, { assetId: expected, venue: 304, assetType: 100, reserved: 1 });
  }
  assert.equal(expected, 7222901958365954271n);
});

Deno.test("lpToken() and lpTokenFromPool() reuse the pool's asset id with type LPToken", () => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  const p = pool(VenueId.UniswapV3, usdc, weth);
  const lp = lpToken(VenueId.UniswapV3, weth, usdc);
  assert.deepEqual(lp, {
    assetId: 3926983709444790807n,
    venue: 301,
    assetType: 101,
    reserved: 0,
  });
  assert.ok(equals(lpTokenFromPool(p), lp));
  const tri = triangularPool(VenueId.Balancer, usdc, weth, ethereumToken(DAI));
  assert.equal(lpTokenFromPool(tri).reserved, 1);
  assertInvalid(
    () => lpTokenFromPool(usdc),
    "Cannot build LP token id: asset type 50 is not Pool (100)",
  );
});

Deno.test("option() packs strike, expiry, side and symbol bits", () => {
  const id = option(VenueId.Deribit, "BTC", 50000, 20241225, true);
  assert.equal(id.assetType, AssetType.Option);
  assert.equal(id.venue, 700);
  assert.equal(id.reserved, 0);
  assert.equal(id.assetId, (50000n << 32n) | (318281n << 12n) | (1n << 11n));
  const put = option(VenueId.Deribit, "BTC", 50000n, 20241225n, false);
  assert.equal(put.assetId, (50000n << 32n) | (318281n << 12n));
  const longUnderlying = option(VenueId.Deribit, "ABCDEFGH", 1, 2, false);
  assert.equal(longUnderlying.assetId & 0x7ffn, 0x4748n & 0x7ffn);
  const wrapped = option(VenueId.Deribit, "BTC", (1n << 32n) + 7n, (1n << 20n) + 3n, true);
  assert.equal(wrapped.assetId, (7n << 32n) | (3n << 12n) | (1n << 11n));
});

Deno.test("option() rejects negative, fractional and unsafe numbers", () => {
  assertInvalid(
    () => option(VenueId.Deribit, "BTC", -1, 20241225, true),
    "Cannot build option id: strike -1 is not a non-negative safe integer or bigint",
  );
  assertInvalid(
    () => option(VenueId.Deribit, "BTC", 1, 1.5, true),
    "Cannot build option id: expiry 1.5 is not a non-negative safe integer or bigint",
  );
  assertInvalid(
    () => option(VenueId.Deribit, "BTC", 2 ** 60, 1, true),
    `Cannot build option id: strike ${2 ** 60} is not a non-negative safe integer or bigint`,
  );
  assertInvalid(
    () => option(VenueId.Deribit, "BTC", -1n, 1, true),
    "Cannot build option id: strike -1 is not a non-negative safe integer or bigint",
  );
});

Deno.test("instrumentId() checks field widths", () => {
  assert.deepEqual(instrumentId({ assetId: 1n, venue: 9999, assetType: 7 }), {
    assetId: 1n,
    venue: 9999,
    assetType: 7,
    reserved: 0,
  });
  assertInvalid(
    () => instrumentId({ assetId: 1n << 64n, venue: 1, assetType: 1 }),
    "Cannot build instrument id: assetId 18446744073709551616 is not a u64",
  );
  assertInvalid(
    () => instrumentId({ assetId: -1n, venue: 1, assetType: 1 }),
    "Cannot build instrument id: assetId -1 is not a u64",
  );
  assertInvalid(
    () => instrumentId({ assetId: 0n, venue: 65536, assetType: 1 }),
    "Cannot build instrument id: venue 65536 is not an integer in 0–65535",
  );
  assertInvalid(
    () => instrumentId({ assetId: 0n, venue: 1, assetType: 256 }),
    "Cannot build instrument id: assetType 256 is not an integer in 0–255",
  );
  assertInvalid(
    () => instrumentId({ assetId: 0n, venue: 1, assetType: 1, reserved: 300 }),
    "Cannot build instrument id: reserved 300 is not an integer in 0–255",
  );
});

// ---------------------------------------------------------------------------
// 6.5 integer keys

Deno.test("toU64() packs venue, type and the low 40 bits of asset_id", () => {
  const id = coin(VenueId.Kraken, "BTC-USD");
  assert.equal(toU64(id), 0x0065332d55534400n);
});

Deno.test("fromU64() inverts the three fields and loses the symbol", () => {
  const back = fromU64(0x0065332d55534400n);
  assert.deepEqual(back, { assetId: 0x2d55534400n, venue: 101, assetType: 51, reserved: 0 });
  assert.equal(symbolOf(back), "");
  assert.ok(!equals(back, coin(VenueId.Kraken, "BTC-USD")));
  assertInvalid(
    () => fromU64(1n << 64n),
    "Cannot read u64 instrument key: key 18446744073709551616 is not a u64",
  );
});

Deno.test("cacheKey() packs every field and fromCacheKey() inverts it", () => {
  const id = coin(VenueId.Kraken, "BTC-USD");
  assert.equal(cacheKey(id), (101n << 80n) | (51n << 72n) | 0x4254432d55534400n);
  const tri = triangularPool(
    VenueId.Balancer,
    ethereumToken(USDC),
    ethereumToken(WETH),
    ethereumToken(DAI),
  );
  assert.equal(cacheKey(tri) >> 64n & 0xffn, 1n);
  assert.deepEqual(fromCacheKey(cacheKey(tri)), tri);
  assertInvalid(
    () => fromCacheKey(1n << 96n),
    `Cannot read cache key: key ${1n << 96n} is not in 0–2^96-1`,
  );
  assertInvalid(() => fromCacheKey(-1n), "Cannot read cache key: key -1 is not in 0–2^96-1");
});

Deno.test("fromCacheKey() inverts cacheKey() for arbitrary fields", () => {
  fc.assert(fc.property(arbitraryId, (id) => {
    const back = fromCacheKey(cacheKey(id));
    assert.deepEqual(back, id);
    return equals(back, id);
  }));
});

Deno.test("equals() agrees with cacheKey() equality", () => {
  fc.assert(fc.property(arbitraryId, arbitraryId, (a, b) => {
    return equals(a, b) === (cacheKey(a) === cacheKey(b)) && equals(a, a);
  }));
  const a = instrumentId({ assetId: 5n, venue: 1, assetType: 1 });
  assert.ok(!equals(a, { ...a, reserved: 1 }));
  assert.ok(!equals(a, { ...a, venue: 2 }));
  assert.ok(!equals(a, { ...a, assetType: 2 }));
  assert.ok(!equals(a, { ...a, assetId: 6n }));
});

// ---------------------------------------------------------------------------
// 6.1 packed form

Deno.test("encodeInstrumentId() writes the packed little-endian layout at an offset", () => {
  const target = new Uint8Array(16).fill(0xaa);
  const id = instrumentId({
    assetId: 0x0102030405060708n,
    venue: 0x0a0b,
    assetType: 0x0c,
    reserved: 0x0d,
  });
  assert.equal(encodeInstrumentId(id, target, 2), 14);
  assert.equal(hex(target), "aa aa 08 07 06 05 04 03 02 01 0b 0a 0c 0d aa aa");
});

Deno.test("decodeInstrumentId() reads through the view's own window", () => {
  const backing = new Uint8Array(32).fill(0xee);
  const window = backing.subarray(5, 25);
  encodeInstrumentId(coin(VenueId.Kraken, "BTC-USD"), window, 3);
  assert.equal(hex(backing.subarray(8, 20)), "00 44 53 55 2d 43 54 42 65 00 33 00");
  assert.deepEqual(decodeInstrumentId(window, 3), coin(VenueId.Kraken, "BTC-USD"));
  assert.deepEqual(decodeInstrumentId(backing.subarray(8)), coin(VenueId.Kraken, "BTC-USD"));
});

Deno.test("decodeInstrumentId() and encodeInstrumentId() reject short buffers", () => {
  assertInvalid(
    () => decodeInstrumentId(new Uint8Array(20).subarray(0, 11)),
    "Cannot decode instrument id: 12 bytes needed at offset 0, 11 available",
  );
  assertInvalid(
    () => decodeInstrumentId(new Uint8Array(14), 4),
    "Cannot decode instrument id: 12 bytes needed at offset 4, 10 available",
  );
  assertInvalid(
    () => encodeInstrumentId(coin(VenueId.Kraken, "BTC-USD"), new Uint8Array(12), 1),
    "Cannot encode instrument id: 12 bytes needed at offset 1, 11 available",
  );
  assertInvalid(
    () =>
      encodeInstrumentId(
        { assetId: 0n, venue: 70000, assetType: 1, reserved: 0 },
        new Uint8Array(12),
      ),
    "Cannot encode instrument id: venue 70000 is not an integer in 0–65535",
  );
});

Deno.test("decodeInstrumentId() inverts encodeInstrumentId()", () => {
  fc.assert(fc.property(arbitraryId, fc.integer({ min: 0, max: 8 }), (id, offset) => {
    const target = new Uint8Array(offset + INSTRUMENT_ID_SIZE + 3);
    encodeInstrumentId(id, target, offset);
    const back = decodeInstrumentId(target, offset);
    assert.deepEqual(back, id);
    return equals(back, id);
  }));
});

// ---------------------------------------------------------------------------
// 6.6 debug format

Deno.test("debugInfo() formats every case of 6.6", async (t) => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  const cases: readonly [string, InstrumentId, string][] = [
    ["token", usdc, "Ethereum Token 0xa0b86991c6218b36"],
    ["token with leading zero", tokenWithId(0xabn), "Ethereum Token 0x00000000000000ab"],
    ["stock", stock(VenueId.NASDAQ, "AAPL"), "NASDAQ Stock: AAPL"],
    ["coin", coin(VenueId.Kraken, "BTC-USD"), "Kraken Coin: BTC-USD"],
    ["pool", pool(VenueId.UniswapV3, usdc, weth), "UniswapV3 Pool #3926983709444790807"],
    [
      "triangular pool",
      triangularPool(VenueId.Balancer, usdc, weth, ethereumToken(DAI)),
      "Balancer TriPool #7222901958365954271",
    ],
    [
      "call option",
      option(VenueId.Deribit, "BTC", 50000, 20241225, true),
      "Deribit Call Option strike=50000 exp=318281 sym=0x0",
    ],
    [
      "put option",
      option(VenueId.Deribit, "ABCDEFGH", 7, 9, false),
      "Deribit Put Option strike=7 exp=9 sym=0x748",
    ],
    [
      "other valid",
      instrumentId({ assetId: 123n, venue: VenueId.Ethereum, assetType: AssetType.LPToken }),
      "Ethereum LPToken #123",
    ],
    ["bond is other valid", bond(VenueId.NYSE, "A"), `NYSE Bond #${0x41n << 56n}`],
    [
      "unknown venue",
      instrumentId({ assetId: 1n, venue: 9999, assetType: 7 }),
      "Invalid 9999/7 #1",
    ],
    [
      "unknown type on a known venue",
      instrumentId({ assetId: 2n, venue: VenueId.Kraken, assetType: 7 }),
      "Invalid 101/7 #2",
    ],
    [
      "unknown venue with a known type",
      instrumentId({ assetId: 3n, venue: 9999, assetType: AssetType.Coin }),
      "Invalid 9999/51 #3",
    ],
  ];
  for (const [name, id, expected] of cases) {
    await t.step(name, () => assert.equal(debugInfo(id), expected));
  }
});

// ---------------------------------------------------------------------------
// 6.7 reversibility, row by row

Deno.test("reversibility: token keeps chain, type and the 64-bit prefix, not the rest", () => {
  const id = ethereumToken(USDC);
  assert.equal(venueName(id.venue), "Ethereum");
  assert.equal(venueChainId(id.venue), 1);
  assert.equal(venueChainId(polygonToken(USDC).venue), 137);
  assert.equal(venueChainId(bscToken(USDC).venue), 56);
  assert.equal(venueChainId(arbitrumToken(USDC).venue), 42161);
  assert.equal(id.assetType, AssetType.Token);
  assert.equal(id.assetId.toString(16).padStart(16, "0"), USDC.slice(2, 18));
  // The other 12 bytes are not recoverable: addresses sharing the prefix collide.
  const sibling = USDC.slice(0, 18) + "0".repeat(24);
  assert.notEqual(sibling, USDC);
  assert.ok(equals(ethereumToken(sibling), id));
});

Deno.test("reversibility: stock, bond and coin keep symbols of up to 8 ASCII bytes", () => {
  assert.equal(symbolOf(stock(VenueId.NASDAQ, "AAPL")), "AAPL");
  assert.equal(symbolOf(bond(VenueId.NYSE, "US10Y")), "US10Y");
  assert.equal(symbolOf(coin(VenueId.Kraken, "BTC-USD")), "BTC-USD");
  assert.equal(symbolOf(coin(VenueId.Binance, "ABCDEFGH")), "ABCDEFGH");
  assert.equal(symbolOf(coin(VenueId.Binance, "")), "");
  // Longer symbols are truncated, and a NUL ends the symbol.
  assert.equal(symbolOf(coin(VenueId.Binance, "VERYLONGSYMBOL")), "VERYLONG");
  assert.equal(symbolOf(stock(VenueId.NYSE, "VERYLONGSYMBOL")), "VERYLONG");
  assert.equal(symbolOf(coin(VenueId.Binance, "AB\0CD")), "AB");
});

Deno.test("symbolOf() round-trips coin symbols of up to 8 non-NUL ASCII characters", () => {
  const symbol = fc.string({
    unit: fc.integer({ min: 1, max: 0x7f }).map((c) => String.fromCharCode(c)),
    maxLength: 8,
  });
  fc.assert(fc.property(symbol, fc.integer({ min: 0, max: 0xffff }), (s, venue) => {
    return symbolOf(coin(venue, s)) === s;
  }));
});

Deno.test("reversibility: pools keep venue, type and the triangular flag, not the tokens", () => {
  const usdc = ethereumToken(USDC);
  const weth = ethereumToken(WETH);
  const dai = ethereumToken(DAI);
  const pair = pool(VenueId.UniswapV3, usdc, weth);
  const tri = triangularPool(VenueId.Balancer, usdc, weth, dai);
  const lp = lpToken(VenueId.SushiSwap, usdc, weth);
  assert.equal(pair.venue, VenueId.UniswapV3);
  assert.equal(pair.assetType, AssetType.Pool);
  assert.equal(pair.reserved, 0);
  assert.equal(tri.venue, VenueId.Balancer);
  assert.equal(tri.assetType, AssetType.Pool);
  assert.equal(tri.reserved, 1);
  assert.equal(lp.venue, VenueId.SushiSwap);
  assert.equal(lp.assetType, AssetType.LPToken);
  // The constituent tokens are a one-way hash: different token sets collide.
  // 1·31 + 62 = 2·31 + 31 = 93
  assert.ok(equals(
    pool(VenueId.UniswapV3, tokenWithId(1n), tokenWithId(62n)),
    pool(VenueId.UniswapV3, tokenWithId(2n), tokenWithId(31n)),
  ));
  // 0·31 + 0·17 + 48 = 0·31 + 1·17 + 31 = 48
  assert.ok(equals(
    triangularPool(VenueId.Balancer, tokenWithId(0n), tokenWithId(0n), tokenWithId(48n)),
    triangularPool(VenueId.Balancer, tokenWithId(0n), tokenWithId(1n), tokenWithId(31n)),
  ));
  assert.ok(equals(
    lpToken(VenueId.SushiSwap, tokenWithId(1n), tokenWithId(62n)),
    lpToken(VenueId.SushiSwap, tokenWithId(2n), tokenWithId(31n)),
  ));
});

Deno.test("reversibility: option keeps strike below 2^32 and the side, not expiry or underlying", () => {
  const call = option(VenueId.Deribit, "BTC", 50000, 20241225, true);
  const put = option(VenueId.Deribit, "BTC", 50000, 20241225, false);
  assert.equal(call.assetId >> 32n, 50000n);
  assert.equal((call.assetId >> 11n) & 1n, 1n);
  assert.equal((put.assetId >> 11n) & 1n, 0n);
  // A strike of 2^32 or more wraps.
  assert.equal(option(VenueId.Deribit, "BTC", 2 ** 32 + 5, 1, true).assetId >> 32n, 5n);
  // A YYYYMMDD expiry exceeds 20 bits: only its low 20 bits survive.
  assert.equal((call.assetId >> 12n) & 0xfffffn, 318281n);
  assert.notEqual(318281, 20241225);
  assert.ok(equals(call, option(VenueId.Deribit, "BTC", 50000, 20241225 - (1 << 20), true)));
  // Underlyings of up to 6 characters leave no trace: BTC and ETH options collide.
  assert.ok(equals(call, option(VenueId.Deribit, "ETH", 50000, 20241225, true)));
  assert.ok(equals(call, option(VenueId.Deribit, "", 50000, 20241225, true)));
});

Deno.test("reversibility: toU64() keeps venue, type and 40 bits, not reserved or the high 24", () => {
  const tri = triangularPool(
    VenueId.Balancer,
    ethereumToken(USDC),
    ethereumToken(WETH),
    ethereumToken(DAI),
  );
  const back = fromU64(toU64(tri));
  assert.equal(back.venue, tri.venue);
  assert.equal(back.assetType, tri.assetType);
  assert.equal(back.assetId, tri.assetId & 0xff_ffff_ffffn);
  assert.equal(back.reserved, 0);
  assert.notEqual(tri.reserved, 0);
  assert.notEqual(back.assetId, tri.assetId);
  fc.assert(fc.property(arbitraryId, (id) => {
    const b = fromU64(toU64(id));
    return b.venue === id.venue && b.assetType === id.assetType &&
      b.assetId === (id.assetId & 0xff_ffff_ffffn) && b.reserved === 0;
  }));
});

Deno.test("reversibility: cacheKey() keeps everything", () => {
  const ids = [
    ethereumToken(USDC),
    coin(VenueId.Kraken, "BTC-USD"),
    triangularPool(VenueId.Balancer, ethereumToken(USDC), ethereumToken(WETH), ethereumToken(DAI)),
    option(VenueId.Deribit, "BTC", 50000, 20241225, true),
    instrumentId({ assetId: (1n << 64n) - 1n, venue: 0xffff, assetType: 0xff, reserved: 0xff }),
  ];
  for (const id of ids) assert.deepEqual(fromCacheKey(cacheKey(id)), id);
});
