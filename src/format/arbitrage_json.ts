/**
 * The dashboard's JSON for an ArbitrageSignal (PROTOCOL.md 8.5): what
 * `torq demo arbitrage --json` prints and what the dashboard sends to browsers.
 * USD values are decimals (q8 / 10⁸), the signal id a decimal string.
 *
 * @module
 */

import {
  type DecodedMessage,
  type FieldValue,
  type PayloadFields,
  venueName,
} from "../protocol/mod.ts";
import { formatFixed, formatNsTime } from "./decode_format.ts";

/** TLV type of ArbitrageSignal. */
export const ARBITRAGE_SIGNAL_TLV = 32;

/** The 8.5 dashboard shape of one ArbitrageSignal. */
export interface ArbitrageOpportunityJson {
  /** Always `arbitrage_opportunity`. */
  msg_type: "arbitrage_opportunity";
  /** Always `real_arbitrage`. */
  type: "real_arbitrage";
  /** Signal creation time (`timestamp_ns`, else the header's), ms since the epoch. */
  timestamp: number;
  /** The same time as ISO-8601 UTC with every digit. */
  timestamp_iso: string;
  /** `0x<first 6 hex>...<last 4 hex>/…` of token_in and token_out. */
  pair: string;
  /** token_in, `0x` hex. */
  token_a: string;
  /** token_out, `0x` hex. */
  token_b: string;
  /** source_pool (buy), `0x` hex. */
  pool_a: string;
  /** target_pool (sell), `0x` hex. */
  pool_b: string;
  /** Name of the source venue's DEX. */
  dex_buy: string;
  /** Name of the target venue's DEX. */
  dex_sell: string;
  /** Same as `dex_buy`. */
  buyExchange: string;
  /** Same as `dex_sell`. */
  sellExchange: string;
  /** Gross expected profit, USD. */
  estimated_profit: number;
  /** Net profit, USD. */
  net_profit_usd: number;
  /** Required capital, USD. */
  max_trade_size: number;
  /** Required capital, USD. */
  required_capital_usd: number;
  /** Spread in percent (spread_bps / 100). */
  spread: number;
  /** Spread in percent (spread_bps / 100). */
  spread_percent: number;
  /** Net profit / capital × 100. */
  profit_percent: number;
  /** Net profit / capital × 100. */
  net_profit_percent: number;
  /** Gas cost, USD. */
  gas_fee_usd: number;
  /** DEX fees, USD. */
  dex_fees_usd: number;
  /** Slippage cost, USD. */
  slippage_cost_usd: number;
  /** Slippage tolerance in percent (bps / 100). */
  slippage_tolerance: number;
  /** Highest gas price, gwei. */
  max_gas_price_gwei: number;
  /** Unix seconds after which the signal is void. */
  valid_until: number;
  /** 0–65535, higher is more urgent. */
  priority: number;
  /** Whether the header time (seconds) is at most `valid_until`. */
  executable: boolean;
  /** Strategy type (21 flash arbitrage). */
  strategy_id: number;
  /** Signal id as a decimal string (u64). */
  signal_id: string;
  /** EVM chain id. */
  chain_id: number;
}

/** Dashboard names of DEX venues (8.5); other venues use their 6.2 name. */
const DEX_NAMES: Readonly<Record<number, string>> = {
  300: "Uniswap V2",
  301: "Uniswap V3",
  302: "SushiSwap",
  400: "QuickSwap",
  401: "SushiSwap",
  402: "Curve",
  404: "Balancer",
};

/**
 * The dashboard's name of a venue: 300 `Uniswap V2`, 301 `Uniswap V3`, 302
 * and 401 `SushiSwap`, 400 `QuickSwap`, 402 `Curve`, 404 `Balancer`; any other
 * venue its 6.2 name, or `Venue <n>`.
 *
 * @param venue a VenueId value
 * @returns the name
 * @example
 * ```ts
 * dexName(401); // "SushiSwap"
 * dexName(101); // "Kraken"
 * ```
 */
export function dexName(venue: number): string {
  return DEX_NAMES[venue] ?? venueName(venue) ?? `Venue ${venue}`;
}

/**
 * Shortens an address as the dashboard does: `0x` + first 6 hex digits +
 * `...` + last 4.
 *
 * @param address `0x` hex (any case)
 * @returns e.g. `0x0d500b...1270`
 * @example
 * ```ts
 * shortAddress("0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"); // "0x0d500b...1270"
 * ```
 */
export function shortAddress(address: string): string {
  const h = address.toLowerCase().replace(/^0x/, "");
  return h.length <= 10 ? `0x${h}` : `0x${h.slice(0, 6)}...${h.slice(-4)}`;
}

function big(fields: PayloadFields, name: string): bigint {
  const v: FieldValue | undefined = fields[name];
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(v);
  throw new TypeError(
    `Cannot build arbitrage JSON: field ${name} is ${String(v)}, expected an integer`,
  );
}

function num(fields: PayloadFields, name: string): number {
  return Number(big(fields, name));
}

function str(fields: PayloadFields, name: string): string {
  const v = fields[name];
  if (typeof v !== "string") {
    throw new TypeError(`Cannot build arbitrage JSON: field ${name} is ${String(v)}, expected hex`);
  }
  return v;
}

/** q8 → the nearest double of its exact decimal. */
function usd(q8: bigint): number {
  return Number(formatFixed(q8, 8));
}

/** part / whole × 100 as the nearest double of the exact ratio (0 when whole is 0). */
function percent(part: bigint, whole: bigint): number {
  if (whole === 0n) return 0;
  // 12 decimal places of the percentage, then one rounding to double.
  const scaled = (part * 100n * 10n ** 12n) / whole;
  return Number(formatFixed(scaled, 12));
}

/**
 * Builds the 8.5 dashboard JSON of one ArbitrageSignal's decoded fields.
 *
 * @param fields the TLV's fields as `decodePayload(32, …)` returns them
 * @param headerTimestampNs the message header's timestamp (for `executable`, and the
 *   time when `timestamp_ns` is 0)
 * @returns the dashboard object
 * @throws {TypeError} when a field is missing or of the wrong kind
 * @example
 * ```ts
 * import { decodeMessage } from "../protocol/mod.ts";
 * declare const frame: Uint8Array;
 *
 * const msg = decodeMessage(frame);
 * const json = arbitrageSignalToJson(msg.tlvs[0]!.fields!, msg.header.timestamp);
 * json.net_profit_usd; // 10.62890123
 * ```
 */
export function arbitrageSignalToJson(
  fields: PayloadFields,
  headerTimestampNs: bigint,
): ArbitrageOpportunityJson {
  const tsNs = big(fields, "timestamp_ns") === 0n ? headerTimestampNs : big(fields, "timestamp_ns");
  const tokenIn = str(fields, "token_in");
  const tokenOut = str(fields, "token_out");
  const capital = big(fields, "required_capital_usd_q8");
  const net = big(fields, "net_profit_usd_q8");
  const spreadBps = num(fields, "spread_bps");
  const validUntil = num(fields, "valid_until");
  const dexBuy = dexName(num(fields, "source_venue"));
  const dexSell = dexName(num(fields, "target_venue"));
  return {
    msg_type: "arbitrage_opportunity",
    type: "real_arbitrage",
    timestamp: Number(tsNs / 1_000_000n),
    timestamp_iso: formatNsTime(tsNs) ?? new Date(0).toISOString(),
    pair: `${shortAddress(tokenIn)}/${shortAddress(tokenOut)}`,
    token_a: tokenIn,
    token_b: tokenOut,
    pool_a: str(fields, "source_pool"),
    pool_b: str(fields, "target_pool"),
    dex_buy: dexBuy,
    dex_sell: dexSell,
    buyExchange: dexBuy,
    sellExchange: dexSell,
    estimated_profit: usd(big(fields, "expected_profit_usd_q8")),
    net_profit_usd: usd(net),
    max_trade_size: usd(capital),
    required_capital_usd: usd(capital),
    spread: spreadBps / 100,
    spread_percent: spreadBps / 100,
    profit_percent: percent(net, capital),
    net_profit_percent: percent(net, capital),
    gas_fee_usd: usd(big(fields, "gas_cost_usd_q8")),
    dex_fees_usd: usd(big(fields, "dex_fees_usd_q8")),
    slippage_cost_usd: usd(big(fields, "slippage_usd_q8")),
    slippage_tolerance: num(fields, "slippage_tolerance_bps") / 100,
    max_gas_price_gwei: num(fields, "max_gas_price_gwei"),
    valid_until: validUntil,
    priority: num(fields, "priority"),
    executable: headerTimestampNs / 1_000_000_000n <= BigInt(validUntil),
    strategy_id: num(fields, "strategy_id"),
    signal_id: big(fields, "signal_id").toString(),
    chain_id: num(fields, "chain_id"),
  };
}

/**
 * The dashboard JSON of every decodable ArbitrageSignal TLV of a message
 * (TLVs of other types, and ones that did not decode, are skipped).
 *
 * @param msg a decoded message
 * @returns one object per ArbitrageSignal, in wire order
 * @example
 * ```ts
 * import type { DecodedMessage } from "../protocol/mod.ts";
 * declare const frame: { decode(): DecodedMessage };
 * declare const socket: WebSocket;
 *
 * for (const o of arbitrageJsonFromMessage(frame.decode())) socket.send(JSON.stringify(o));
 * ```
 */
export function arbitrageJsonFromMessage(msg: DecodedMessage): ArbitrageOpportunityJson[] {
  const out: ArbitrageOpportunityJson[] = [];
  for (const t of msg.tlvs) {
    if (t.type === ARBITRAGE_SIGNAL_TLV && t.fields !== null) {
      out.push(arbitrageSignalToJson(t.fields, msg.header.timestamp));
    }
  }
  return out;
}
