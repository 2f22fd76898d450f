/**
 * InstrumentId (PROTOCOL.md 6): the 12-byte, self-describing instrument
 * identifier — a venue-specific 64-bit `assetId`, a {@linkcode VenueId}, an
 * {@linkcode AssetType} and a `reserved` flag byte.
 *
 * An id is a plain readonly value; the functions here build ids (6.4), convert
 * them to integer keys (6.5), read and write the packed wire form (6.1) and
 * format them for humans (6.6). All 64-bit arithmetic is done in `bigint` with
 * `BigInt.asUintN(64, …)`, so no precision is ever lost.
 *
 * @module
 */

import { ErrorCode, FrameError } from "./errors.ts";

/** Size of the packed InstrumentId in bytes (6.1). */
export const INSTRUMENT_ID_SIZE = 12;

/** Venues as numbered on the wire (6.2). */
export const VenueId = {
  Generic: 0,
  NYSE: 1,
  NASDAQ: 2,
  LSE: 3,
  TSE: 4,
  HKEX: 5,
  Binance: 100,
  Kraken: 101,
  Coinbase: 102,
  Huobi: 103,
  OKEx: 104,
  FTX: 105,
  Bybit: 106,
  KuCoin: 107,
  Gemini: 108,
  Ethereum: 200,
  Bitcoin: 201,
  Polygon: 202,
  BinanceSmartChain: 203,
  Avalanche: 204,
  Fantom: 205,
  Arbitrum: 206,
  Optimism: 207,
  Solana: 208,
  Cardano: 209,
  Polkadot: 210,
  Cosmos: 211,
  UniswapV2: 300,
  UniswapV3: 301,
  SushiSwap: 302,
  Curve: 303,
  Balancer: 304,
  Aave: 305,
  Compound: 306,
  MakerDAO: 307,
  Yearn: 308,
  Synthetix: 309,
  DYdX: 310,
  QuickSwap: 400,
  SushiSwapPolygon: 401,
  CurvePolygon: 402,
  AavePolygon: 403,
  BalancerPolygon: 404,
  PancakeSwap: 500,
  VenusProtocol: 501,
  UniswapV3Arbitrum: 600,
  SushiSwapArbitrum: 601,
  CurveArbitrum: 602,
  Deribit: 700,
  BybitDerivatives: 701,
  OpynProtocol: 702,
  Hegic: 703,
  COMEX: 800,
  CME: 801,
  ICE: 802,
  ForexCom: 803,
  TestVenue: 65000,
  MockExchange: 65001,
} as const;

/** A wire value of {@linkcode VenueId}. */
export type VenueId = typeof VenueId[keyof typeof VenueId];

/** Asset types as numbered on the wire (6.3). */
export const AssetType = {
  Stock: 1,
  Bond: 2,
  ETF: 3,
  Commodity: 4,
  Currency: 5,
  Index: 6,
  Token: 50,
  Coin: 51,
  NFT: 52,
  StableCoin: 53,
  WrappedToken: 54,
  Pool: 100,
  LPToken: 101,
  YieldToken: 102,
  SyntheticAsset: 103,
  DerivativeToken: 104,
  GovernanceToken: 105,
  Option: 150,
  Future: 151,
  Swap: 152,
  Forward: 153,
  CDS: 154,
  StructuredNote: 200,
  ConvertibleBond: 201,
  TestAsset: 250,
  MockAsset: 251,
} as const;

/** A wire value of {@linkcode AssetType}. */
export type AssetType = typeof AssetType[keyof typeof AssetType];

/**
 * A decoded InstrumentId (6.1). Build one with a constructor of this module
 * (e.g. {@linkcode coin}, {@linkcode pool}) or {@linkcode instrumentId}; never
 * mutate it. Two ids are equal when all four fields are ({@linkcode equals}).
 */
export interface InstrumentId {
  /** Venue-specific identifier, u64 (6.4). */
  readonly assetId: bigint;
  /** {@linkcode VenueId} value, u16; unknown venues are representable. */
  readonly venue: number;
  /** {@linkcode AssetType} value, u8; unknown types are representable. */
  readonly assetType: number;
  /** Flag byte, u8: 1 marks a triangular pool, else 0. */
  readonly reserved: number;
}

/** The fields of {@linkcode instrumentId}; `reserved` defaults to 0. */
export interface InstrumentIdInit {
  /** u64 asset id. */
  assetId: bigint;
  /** u16 venue. */
  venue: number;
  /** u8 asset type. */
  assetType: number;
  /** u8 flags, default 0. */
  reserved?: number;
}

const U64_MASK = 0xffff_ffff_ffff_ffffn;
const LOW_40_MASK = 0xff_ffff_ffffn;
const CACHE_KEY_LIMIT = 1n << 96n;

function _invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([name, value]) => [value, name]));
}

function _normalizeName(text: string): string {
  return text.trim().toLowerCase().replace(/[-_\s]/g, "");
}

const VENUE_NAMES = _invert(VenueId);
const ASSET_TYPE_NAMES = _invert(AssetType);
const VENUES_BY_NAME: ReadonlyMap<string, VenueId> = new Map(
  Object.entries(VenueId).map(([name, value]) => [_normalizeName(name), value]),
);

/** Chain ids of the chain venues themselves (6.2, "Chain of a venue"). */
const CHAIN_VENUE_IDS: ReadonlyMap<number, number> = new Map([
  [VenueId.Ethereum, 1],
  [VenueId.Polygon, 137],
  [VenueId.BinanceSmartChain, 56],
  [VenueId.Arbitrum, 42161],
  [VenueId.Optimism, 10],
  [VenueId.Avalanche, 43114],
  [VenueId.Fantom, 250],
]);

/**
 * The name of a venue as in the table of 6.2.
 *
 * @param venue a u16 venue value
 * @returns e.g. `Kraken`, or `undefined` when the value names no venue
 * @example
 * ```ts
 * venueName(101); // "Kraken"
 * ```
 */
export function venueName(venue: number): string | undefined {
  return VENUE_NAMES.get(venue);
}

/**
 * The name of an asset type as in the table of 6.3.
 *
 * @param assetType a u8 asset-type value
 * @returns e.g. `Coin`, or `undefined` when the value names no asset type
 * @example
 * ```ts
 * assetTypeName(51); // "Coin"
 * ```
 */
export function assetTypeName(assetType: number): string | undefined {
  return ASSET_TYPE_NAMES.get(assetType);
}

/**
 * The venue named by `text`: a venue name in any letter case (dashes,
 * underscores and spaces ignored, so `uniswap-v3` works) or the decimal number
 * of a venue of 6.2.
 *
 * @param text the name or number, e.g. from a `--venue` option
 * @returns the venue value, or `undefined` when the text names no known venue
 * @example
 * ```ts
 * parseVenue("kraken"); // 101
 * parseVenue("301"); // 301 (UniswapV3)
 * ```
 */
export function parseVenue(text: string): VenueId | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const value = Number(trimmed);
    return VENUE_NAMES.has(value) ? value as VenueId : undefined;
  }
  return VENUES_BY_NAME.get(_normalizeName(trimmed));
}

/**
 * The EVM chain id a venue lives on (6.2, "Chain of a venue"): DeFi venues
 * 300–399 → 1 (Ethereum), 400–499 → 137 (Polygon), 500–599 → 56 (BSC),
 * 600–699 → 42161 (Arbitrum); the chain venues Ethereum, Polygon,
 * BinanceSmartChain, Arbitrum, Optimism, Avalanche and Fantom map to their own
 * chain ids.
 *
 * @param venue a u16 venue value
 * @returns the chain id, or `undefined` for venues not on an EVM chain
 * @example
 * ```ts
 * venueChainId(VenueId.QuickSwap); // 137
 * venueChainId(VenueId.Kraken); // undefined
 * ```
 */
export function venueChainId(venue: number): number | undefined {
  if (venue >= 300 && venue <= 399) return 1;
  if (venue >= 400 && venue <= 499) return 137;
  if (venue >= 500 && venue <= 599) return 56;
  if (venue >= 600 && venue <= 699) return 42161;
  return CHAIN_VENUE_IDS.get(venue);
}

/**
 * The typical number of decimals of an asset type (6.3, informational):
 * Stock 2, Bond 4, Currency 4, Token and WrappedToken 18, StableCoin 6, Coin 8,
 * Pool and LPToken 18, every other type (known or not) 8.
 *
 * @param assetType a u8 asset-type value
 * @returns the number of decimals
 * @example
 * ```ts
 * typicalDecimals(AssetType.StableCoin); // 6
 * ```
 */
export function typicalDecimals(assetType: number): number {
  switch (assetType) {
    case AssetType.Stock:
      return 2;
    case AssetType.Bond:
    case AssetType.Currency:
      return 4;
    case AssetType.StableCoin:
      return 6;
    case AssetType.Token:
    case AssetType.WrappedToken:
    case AssetType.Pool:
    case AssetType.LPToken:
      return 18;
    default:
      return 8;
  }
}

function _invalid(
  action: string,
  field: string,
  message: string,
  expected: string,
  actual: string | number | bigint,
): FrameError {
  return new FrameError(ErrorCode.InvalidFieldValue, `Cannot ${action}: ${message}`, {
    field,
    expected,
    actual,
  });
}

function _checkUint(action: string, field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw _invalid(
      action,
      field,
      `${field} ${value} is not an integer in 0–${max}`,
      `0–${max}`,
      value,
    );
  }
}

function _checkU64(action: string, field: string, value: bigint): void {
  if (typeof value !== "bigint" || value < 0n || value > U64_MASK) {
    throw _invalid(
      action,
      field,
      `${field} ${value} is not a u64`,
      `0–${U64_MASK}`,
      typeof value === "bigint" ? value : String(value),
    );
  }
}

function _checkId(action: string, id: InstrumentId): void {
  _checkU64(action, "assetId", id.assetId);
  _checkUint(action, "venue", id.venue, 0xffff);
  _checkUint(action, "assetType", id.assetType, 0xff);
  _checkUint(action, "reserved", id.reserved, 0xff);
}

function _make(assetId: bigint, venue: number, assetType: number, reserved: number): InstrumentId {
  return { assetId, venue, assetType, reserved };
}

/**
 * An InstrumentId from its four fields, checked to fit their widths (u64, u16,
 * u8, u8). Unknown venues and asset types are allowed.
 *
 * @param init the fields; `reserved` defaults to 0
 * @returns the id
 * @throws {FrameError} `InvalidFieldValue` when a field is out of range
 * @example
 * ```ts
 * instrumentId({ assetId: 123n, venue: VenueId.Ethereum, assetType: AssetType.LPToken });
 * ```
 */
export function instrumentId(init: InstrumentIdInit): InstrumentId {
  const id = _make(init.assetId, init.venue, init.assetType, init.reserved ?? 0);
  _checkId("build instrument id", id);
  return id;
}

function _token(venue: VenueId, address: string): InstrumentId {
  const action = "build token id";
  const digits = /^0[xX]/.test(address) ? address.slice(2) : address;
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad !== null) {
    throw _invalid(
      action,
      "address",
      `address "${address}" contains the non-hex character "${bad[0]}"`,
      "40 hex digits",
      address,
    );
  }
  if (digits.length !== 40) {
    throw _invalid(
      action,
      "address",
      `address "${address}" has ${digits.length} hex digits, expected 40`,
      "40 hex digits",
      address,
    );
  }
  return _make(BigInt("0x" + digits.slice(0, 16)), venue, AssetType.Token, 0);
}

/**
 * An ERC-20 token on Ethereum (venue 200, type Token): the asset id is the first
 * 8 bytes of the address read big-endian (6.4).
 *
 * @param address 40 hex digits, with or without `0x`
 * @returns the token id
 * @throws {FrameError} `InvalidFieldValue` when the address is not 40 hex digits
 * @example
 * ```ts
 * ethereumToken("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48").assetId; // 0xa0b86991c6218b36n
 * ```
 */
export function ethereumToken(address: string): InstrumentId {
  return _token(VenueId.Ethereum, address);
}

/**
 * A token on Polygon (venue 202, type Token); see {@linkcode ethereumToken}.
 *
 * @param address 40 hex digits, with or without `0x`
 * @returns the token id
 * @throws {FrameError} `InvalidFieldValue` when the address is not 40 hex digits
 * @example
 * ```ts
 * polygonToken("0x2791bca1f2de4661ed88a30c99a7a9449aa84174").venue; // 202
 * ```
 */
export function polygonToken(address: string): InstrumentId {
  return _token(VenueId.Polygon, address);
}

/**
 * A token on BNB Smart Chain (venue 203, type Token); see {@linkcode ethereumToken}.
 *
 * @param address 40 hex digits, with or without `0x`
 * @returns the token id
 * @throws {FrameError} `InvalidFieldValue` when the address is not 40 hex digits
 * @example
 * ```ts
 * bscToken("0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d").venue; // 203
 * ```
 */
export function bscToken(address: string): InstrumentId {
  return _token(VenueId.BinanceSmartChain, address);
}

/**
 * A token on Arbitrum (venue 206, type Token); see {@linkcode ethereumToken}.
 *
 * @param address 40 hex digits, with or without `0x`
 * @returns the token id
 * @throws {FrameError} `InvalidFieldValue` when the address is not 40 hex digits
 * @example
 * ```ts
 * arbitrumToken("0xaf88d065e77c8cc2239327c5edb3a432268e5831").venue; // 206
 * ```
 */
export function arbitrumToken(address: string): InstrumentId {
  return _token(VenueId.Arbitrum, address);
}

/** Packs an ASCII symbol: first 8 bytes, zero-padded on the right, read big-endian. */
function _packSymbol(action: string, symbol: string): bigint {
  let value = 0n;
  for (let i = 0; i < symbol.length; i++) {
    const code = symbol.charCodeAt(i);
    if (code > 0x7f) {
      throw _invalid(
        action,
        "symbol",
        `symbol "${symbol}" has the non-ASCII character "${symbol[i]}" at index ${i}`,
        "ASCII",
        symbol,
      );
    }
    if (i < 8) value |= BigInt(code) << BigInt(56 - 8 * i);
  }
  return value;
}

function _symbolId(
  kind: string,
  assetType: AssetType,
  venue: number,
  symbol: string,
): InstrumentId {
  const action = `build ${kind} id`;
  _checkUint(action, "venue", venue, 0xffff);
  return _make(_packSymbol(action, symbol), venue, assetType, 0);
}

/**
 * A stock (type Stock) identified by its ticker: the ASCII symbol truncated to
 * 8 bytes, zero-padded on the right and read as a big-endian u64 (6.4).
 *
 * @param venue the exchange, e.g. {@linkcode VenueId.NASDAQ}
 * @param symbol ASCII ticker; bytes after the eighth are dropped
 * @returns the stock id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16 or a non-ASCII symbol
 * @example
 * ```ts
 * debugInfo(stock(VenueId.NASDAQ, "AAPL")); // "NASDAQ Stock: AAPL"
 * ```
 */
export function stock(venue: number, symbol: string): InstrumentId {
  return _symbolId("stock", AssetType.Stock, venue, symbol);
}

/**
 * A bond (type Bond) identified by a symbol packed as in {@linkcode stock}.
 *
 * @param venue the venue
 * @param symbol ASCII symbol; bytes after the eighth are dropped
 * @returns the bond id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16 or a non-ASCII symbol
 * @example
 * ```ts
 * symbolOf(bond(VenueId.NYSE, "US10Y")); // "US10Y"
 * ```
 */
export function bond(venue: number, symbol: string): InstrumentId {
  return _symbolId("bond", AssetType.Bond, venue, symbol);
}

/**
 * A CEX trading pair or coin (type Coin) identified by a symbol packed as in
 * {@linkcode stock}; the reference collectors use e.g. `coin(Kraken, "BTC-USD")`.
 *
 * @param venue the exchange, e.g. {@linkcode VenueId.Kraken}
 * @param symbol ASCII symbol; bytes after the eighth are dropped
 * @returns the coin id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16 or a non-ASCII symbol
 * @example
 * ```ts
 * coin(VenueId.Kraken, "BTC-USD").assetId; // 0x4254432d55534400n
 * ```
 */
export function coin(venue: number, symbol: string): InstrumentId {
  return _symbolId("coin", AssetType.Coin, venue, symbol);
}

/**
 * A two-token pool (type Pool, reserved 0): asset id = (min·31 + max) mod 2⁶⁴
 * over the tokens' asset ids, so the token order does not matter. A one-way
 * hash, good as a cache key only **[D-17]**.
 *
 * @param dex the DEX venue, e.g. {@linkcode VenueId.UniswapV3}
 * @param a one token
 * @param b the other token
 * @returns the pool id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16
 * @example
 * ```ts
 * const usdc = ethereumToken("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
 * const weth = ethereumToken("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
 * pool(VenueId.UniswapV3, usdc, weth).assetId; // 3926983709444790807n
 * ```
 */
export function pool(dex: number, a: InstrumentId, b: InstrumentId): InstrumentId {
  _checkUint("build pool id", "venue", dex, 0xffff);
  const [lo, hi] = a.assetId <= b.assetId ? [a.assetId, b.assetId] : [b.assetId, a.assetId];
  return _make(BigInt.asUintN(64, lo * 31n + hi), dex, AssetType.Pool, 0);
}

/**
 * A three-token pool (type Pool, reserved 1): with the tokens' asset ids sorted
 * s0 ≤ s1 ≤ s2, asset id = (s0·31 + s1·17 + s2) mod 2⁶⁴.
 *
 * @param dex the DEX venue
 * @param a first token
 * @param b second token
 * @param c third token
 * @returns the triangular pool id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16
 * @example
 * ```ts
 * const usdc = ethereumToken("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
 * const weth = ethereumToken("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
 * const dai = ethereumToken("0x6b175474e89094c44da98b954eedeac495271d0f");
 * debugInfo(triangularPool(VenueId.Balancer, usdc, weth, dai));
 * // "Balancer TriPool #7222901958365954271"
 * ```
 */
export function triangularPool(
  dex: number,
  a: InstrumentId,
  b: InstrumentId,
  c: InstrumentId,
): InstrumentId {
  _checkUint("build triangular pool id", "venue", dex, 0xffff);
  const [s0, s1, s2] = [a.assetId, b.assetId, c.assetId].sort((x, y) => x < y ? -1 : x > y ? 1 : 0);
  const assetId = BigInt.asUintN(64, s0! * 31n + s1! * 17n + s2!);
  return _make(assetId, dex, AssetType.Pool, 1);
}

/**
 * The LP token of the two-token pool of `a` and `b` on `dex` (type LPToken,
 * asset id = the pool's asset id, reserved 0).
 *
 * @param dex the DEX venue
 * @param a one token
 * @param b the other token
 * @returns the LP token id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16
 * @example
 * ```ts
 * const usdc = ethereumToken("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
 * const weth = ethereumToken("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
 * debugInfo(lpToken(VenueId.UniswapV3, usdc, weth)); // "UniswapV3 LPToken #3926983709444790807"
 * ```
 */
export function lpToken(dex: number, a: InstrumentId, b: InstrumentId): InstrumentId {
  return lpTokenFromPool(pool(dex, a, b));
}

/**
 * The LP token of a pool id (type LPToken, same venue and asset id). The
 * triangular flag is kept, so an LP token still says whether its pool is
 * triangular (6.7).
 *
 * @param poolId an id of type Pool
 * @returns the LP token id
 * @throws {FrameError} `InvalidFieldValue` when `poolId` is not of type Pool
 * @example
 * ```ts
 * const usdc = ethereumToken("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
 * const weth = ethereumToken("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
 * lpTokenFromPool(pool(VenueId.SushiSwap, usdc, weth)).assetType; // 101 (LPToken)
 * ```
 */
export function lpTokenFromPool(poolId: InstrumentId): InstrumentId {
  if (poolId.assetType !== AssetType.Pool) {
    throw _invalid(
      "build LP token id",
      "assetType",
      `asset type ${poolId.assetType} is not Pool (${AssetType.Pool})`,
      String(AssetType.Pool),
      poolId.assetType,
    );
  }
  return _make(poolId.assetId, poolId.venue, AssetType.LPToken, poolId.reserved);
}

function _toBigUint(action: string, field: string, value: number | bigint): bigint {
  if (typeof value === "bigint") {
    if (value >= 0n) return value;
  } else if (Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  throw _invalid(
    action,
    field,
    `${field} ${value} is not a non-negative safe integer or bigint`,
    "non-negative integer",
    typeof value === "bigint" ? value : String(value),
  );
}

/**
 * An option (type Option, reserved 0): asset id = (strike mod 2³²) ≪ 32 |
 * (expiry mod 2²⁰) ≪ 12 | call ≪ 11 | (symbol(underlying) & 0x7FF). Lossy: a
 * YYYYMMDD expiry does not fit 20 bits and the symbol part is 0 for symbols of
 * up to 6 characters (6.4, 6.7).
 *
 * @param venue the derivatives venue, e.g. {@linkcode VenueId.Deribit}
 * @param underlying ASCII symbol of the underlying, packed as in {@linkcode coin}
 * @param strike non-negative integer strike; only its low 32 bits are kept
 * @param expiry non-negative integer expiry (e.g. YYYYMMDD); only its low 20 bits are kept
 * @param isCall true for a call, false for a put
 * @returns the option id
 * @throws {FrameError} `InvalidFieldValue` for a venue outside u16, a non-ASCII
 *   underlying, or a negative or unsafe strike or expiry
 * @example
 * ```ts
 * debugInfo(option(VenueId.Deribit, "BTC", 50000, 20241225, true));
 * // "Deribit Call Option strike=50000 exp=318281 sym=0x0"
 * ```
 */
export function option(
  venue: number,
  underlying: string,
  strike: number | bigint,
  expiry: number | bigint,
  isCall: boolean,
): InstrumentId {
  const action = "build option id";
  _checkUint(action, "venue", venue, 0xffff);
  const s = BigInt.asUintN(32, _toBigUint(action, "strike", strike));
  const e = BigInt.asUintN(20, _toBigUint(action, "expiry", expiry));
  const sym = _packSymbol(action, underlying) & 0x7ffn;
  const assetId = (s << 32n) | (e << 12n) | ((isCall ? 1n : 0n) << 11n) | sym;
  return _make(assetId, venue, AssetType.Option, 0);
}

/**
 * The 64-bit key of 6.5: venue ≪ 48 | assetType ≪ 40 | (assetId & 0xFF_FFFF_FFFF).
 * Lossy: drops `reserved` and the high 24 bits of `assetId`.
 *
 * @param id the id
 * @returns the u64 key
 * @example
 * ```ts
 * toU64(coin(VenueId.Kraken, "BTC-USD")); // 0x0065332d55534400n
 * ```
 */
export function toU64(id: InstrumentId): bigint {
  return (BigInt(id.venue) << 48n) | (BigInt(id.assetType) << 40n) |
    (BigInt.asUintN(64, id.assetId) & LOW_40_MASK);
}

/**
 * The id a 64-bit key of {@linkcode toU64} stands for: venue, asset type and
 * the low 40 bits of the asset id; `reserved` is 0.
 *
 * @param key a u64
 * @returns the id
 * @throws {FrameError} `InvalidFieldValue` when `key` is not a u64
 * @example
 * ```ts
 * fromU64(0x0065332d55534400n).assetId; // 0x2d55534400n
 * ```
 */
export function fromU64(key: bigint): InstrumentId {
  _checkU64("read u64 instrument key", "key", key);
  return _make(key & LOW_40_MASK, Number(key >> 48n), Number((key >> 40n) & 0xffn), 0);
}

/**
 * The full 128-bit key of 6.5: venue ≪ 80 | assetType ≪ 72 | reserved ≪ 64 |
 * assetId. Fully reversible ({@linkcode fromCacheKey}); equality and hashing
 * of ids use it.
 *
 * @param id the id
 * @returns the u128 key (at most 96 bits are used)
 * @example
 * ```ts
 * const map = new Map<bigint, number>();
 * map.set(cacheKey(coin(VenueId.Kraken, "BTC-USD")), 1);
 * ```
 */
export function cacheKey(id: InstrumentId): bigint {
  return (BigInt(id.venue) << 80n) | (BigInt(id.assetType) << 72n) |
    (BigInt(id.reserved) << 64n) | BigInt.asUintN(64, id.assetId);
}

/**
 * The id a key of {@linkcode cacheKey} stands for.
 *
 * @param key a key of at most 96 bits
 * @returns the id, equal to the one the key was made from
 * @throws {FrameError} `InvalidFieldValue` when `key` is negative or wider than 96 bits
 * @example
 * ```ts
 * const id = coin(VenueId.Kraken, "BTC-USD");
 * equals(fromCacheKey(cacheKey(id)), id); // true
 * ```
 */
export function fromCacheKey(key: bigint): InstrumentId {
  if (typeof key !== "bigint" || key < 0n || key >= CACHE_KEY_LIMIT) {
    throw _invalid(
      "read cache key",
      "key",
      `key ${key} is not in 0–2^96-1`,
      "0–2^96-1",
      typeof key === "bigint" ? key : String(key),
    );
  }
  return _make(
    key & U64_MASK,
    Number(key >> 80n),
    Number((key >> 72n) & 0xffn),
    Number((key >> 64n) & 0xffn),
  );
}

/**
 * Whether two ids are the same instrument (all four fields equal, i.e. equal
 * {@linkcode cacheKey}s).
 *
 * @param a one id
 * @param b the other id
 * @returns true when equal
 * @example
 * ```ts
 * equals(coin(VenueId.Kraken, "BTC-USD"), coin(VenueId.Kraken, "BTC-USD")); // true
 * equals(coin(VenueId.Kraken, "BTC-USD"), coin(VenueId.Binance, "BTC-USD")); // false
 * ```
 */
export function equals(a: InstrumentId, b: InstrumentId): boolean {
  return a.assetId === b.assetId && a.venue === b.venue && a.assetType === b.assetType &&
    a.reserved === b.reserved;
}

/**
 * Writes the packed 12-byte form (6.1): asset_id u64 LE @0, venue u16 LE @8,
 * asset_type u8 @10, reserved u8 @11.
 *
 * @param id the id
 * @param target destination buffer
 * @param offset where to write (default 0)
 * @returns the offset after the written bytes (`offset + 12`)
 * @throws {FrameError} `InvalidFieldValue` when a field is out of range or
 *   `target` has fewer than 12 bytes at `offset`
 * @example
 * ```ts
 * const b = new Uint8Array(12);
 * encodeInstrumentId(coin(VenueId.Kraken, "BTC-USD"), b); // 12; b starts 00 44 53 55 2d 43 54 42
 * ```
 */
export function encodeInstrumentId(id: InstrumentId, target: Uint8Array, offset = 0): number {
  const action = "encode instrument id";
  _checkId(action, id);
  _checkRoom(action, target, offset);
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setBigUint64(offset, id.assetId, true);
  view.setUint16(offset + 8, id.venue, true);
  view.setUint8(offset + 10, id.assetType);
  view.setUint8(offset + 11, id.reserved);
  return offset + INSTRUMENT_ID_SIZE;
}

function _checkRoom(action: string, bytes: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + INSTRUMENT_ID_SIZE > bytes.length) {
    const available = Number.isInteger(offset) && offset >= 0
      ? Math.max(0, bytes.length - offset)
      : 0;
    throw new FrameError(
      ErrorCode.InvalidFieldValue,
      `Cannot ${action}: ${INSTRUMENT_ID_SIZE} bytes needed at offset ${offset}, ${available} available`,
      { offset, field: "instrument", expected: INSTRUMENT_ID_SIZE, actual: available },
    );
  }
}

/**
 * Reads the packed 12-byte form (6.1) at `offset`.
 *
 * @param bytes buffer (any view; its own window is respected)
 * @param offset where the id starts (default 0)
 * @returns the id
 * @throws {FrameError} `InvalidFieldValue` when fewer than 12 bytes remain at `offset`
 * @example
 * ```ts
 * decodeInstrumentId(new Uint8Array([0, 0x44, 0x53, 0x55, 0x2d, 0x43, 0x54, 0x42, 101, 0, 51, 0]));
 * // coin(VenueId.Kraken, "BTC-USD")
 * ```
 */
export function decodeInstrumentId(bytes: Uint8Array, offset = 0): InstrumentId {
  _checkRoom("decode instrument id", bytes, offset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return _make(
    view.getBigUint64(offset, true),
    view.getUint16(offset + 8, true),
    view.getUint8(offset + 10),
    view.getUint8(offset + 11),
  );
}

/**
 * The symbol packed into an id's asset id: its big-endian bytes up to the first
 * zero byte, one character per byte. Meaningful for stock, bond and coin ids;
 * symbols of up to 8 ASCII characters without NUL come back unchanged (6.7).
 *
 * @param id the id
 * @returns the symbol, `""` when the first byte is zero
 * @example
 * ```ts
 * symbolOf(coin(VenueId.Kraken, "BTC-USD")); // "BTC-USD"
 * ```
 */
export function symbolOf(id: InstrumentId): string {
  const assetId = BigInt.asUintN(64, id.assetId);
  let out = "";
  for (let shift = 56n; shift >= 0n; shift -= 8n) {
    const byte = Number((assetId >> shift) & 0xffn);
    if (byte === 0) break;
    out += String.fromCharCode(byte);
  }
  return out;
}

/**
 * The display form of 6.6, using the venue and asset-type names: e.g.
 * `Ethereum Token 0xa0b86991c6218b36`, `NASDAQ Stock: AAPL`,
 * `Kraken Coin: BTC-USD`, `UniswapV3 Pool #3926983709444790807` (`TriPool`
 * when reserved = 1), `Deribit Call Option strike=50000 exp=318281 sym=0x0`,
 * `Ethereum LPToken #123` for other types, and `Invalid 9999/7 #1` when the
 * venue or type is unknown.
 *
 * @param id the id
 * @returns one line of text
 * @example
 * ```ts
 * debugInfo(coin(VenueId.Kraken, "BTC-USD")); // "Kraken Coin: BTC-USD"
 * ```
 */
export function debugInfo(id: InstrumentId): string {
  const venue = venueName(id.venue);
  const type = assetTypeName(id.assetType);
  if (venue === undefined || type === undefined) {
    return `Invalid ${id.venue}/${id.assetType} #${id.assetId}`;
  }
  switch (id.assetType) {
    case AssetType.Token:
      return `${venue} Token 0x${id.assetId.toString(16).padStart(16, "0")}`;
    case AssetType.Stock:
      return `${venue} Stock: ${symbolOf(id)}`;
    case AssetType.Coin:
      return `${venue} Coin: ${symbolOf(id)}`;
    case AssetType.Pool:
      return `${venue} ${id.reserved === 1 ? "TriPool" : "Pool"} #${id.assetId}`;
    case AssetType.Option: {
      const strike = id.assetId >> 32n;
      const expiry = (id.assetId >> 12n) & 0xfffffn;
      const side = ((id.assetId >> 11n) & 1n) === 1n ? "Call" : "Put";
      const sym = (id.assetId & 0x7ffn).toString(16);
      return `${venue} ${side} Option strike=${strike} exp=${expiry} sym=0x${sym}`;
    }
    default:
      return `${venue} ${type} #${id.assetId}`;
  }
}
