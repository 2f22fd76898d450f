/**
 * `torq demo arbitrage` (PROTOCOL.md 8.2): randomized but economically
 * consistent ArbitrageSignal (type 32) messages for the signal relay.
 *
 * {@linkcode DemoArbitrageGenerator} is pure: a seeded generator of
 * opportunities drawn from the reference's distributions, every USD amount an
 * exact q8 integer (computed from whole cents and integer rates, never from a
 * float). {@linkcode buildSignalFrame} turns one into a frame (5.4 rules);
 * {@linkcode runDemoArbitrage} publishes them to a relay at a pace.
 *
 * @module
 */

import {
  type DecodedMessage,
  decodeMessage,
  MessageBuilder,
  nowNs,
  SourceType,
  VenueId,
} from "../protocol/mod.ts";
import { RelayClient } from "../client/mod.ts";
import { ARBITRAGE_SIGNAL_TLV, dexName, toHex } from "../format/mod.ts";
import { Prng } from "./prng.ts";
import { sleep } from "../io/mod.ts";

/** Real Polygon token addresses of the demo pairs. */
export const POLYGON_TOKENS = {
  WMATIC: "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270",
  USDC: "0x2791bca1f2de4661ed88a30c99a7a9449aa84174",
  WETH: "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619",
  WBTC: "0x1bfd67037b42cf73acf2047067bd4f2c47d9bfd6",
  LINK: "0x53e0bca35ec356bd5dddfebbd1fc0fd03fabad39",
} as const;

/** One traded pair of the demo: base token bought on one DEX and sold on another. */
export interface DemoPair {
  /** Display name, e.g. `WMATIC/USDC`. */
  readonly name: string;
  /** Address of the base token (token_in). */
  readonly tokenIn: string;
  /** Address of the quote token (token_out). */
  readonly tokenOut: string;
  /** Lowest base price, USD × 10⁸. */
  readonly minPriceQ8: bigint;
  /** Highest base price, USD × 10⁸. */
  readonly maxPriceQ8: bigint;
  /** Granularity of drawn prices, USD × 10⁸. */
  readonly priceStepQ8: bigint;
}

/** The four pairs of 8.2 with their price ranges (0.5–2.0 for WMATIC, else 1,000–50,000). */
export const DEMO_PAIRS: readonly DemoPair[] = [
  {
    name: "WMATIC/USDC",
    tokenIn: POLYGON_TOKENS.WMATIC,
    tokenOut: POLYGON_TOKENS.USDC,
    minPriceQ8: 50_000_000n,
    maxPriceQ8: 200_000_000n,
    priceStepQ8: 10_000n, // $0.0001
  },
  ...(["WETH", "WBTC", "LINK"] as const).map((base) => ({
    name: `${base}/USDC`,
    tokenIn: POLYGON_TOKENS[base],
    tokenOut: POLYGON_TOKENS.USDC,
    minPriceQ8: 100_000_000_000n,
    maxPriceQ8: 5_000_000_000_000n,
    priceStepQ8: 1_000_000n, // $0.01
  })),
];

/** The DEX venues buy and sell legs are drawn from: QuickSwap, SushiSwap (Polygon), Uniswap V3. */
export const DEMO_VENUES: readonly number[] = [
  VenueId.QuickSwap,
  VenueId.SushiSwapPolygon,
  VenueId.UniswapV3,
];

/** Constant header and signal values of the demo's ArbitrageSignals (8.2, 5.4). */
export const DEMO_SIGNAL = {
  /** Signal relay domain. */
  domain: 2,
  /** ArbitrageStrategy. */
  source: SourceType.ArbitrageStrategy,
  /** Flash arbitrage. */
  strategyId: 21,
  /** Polygon. */
  chainId: 137,
  /** Reference default. */
  slippageToleranceBps: 50,
  /** Reference default. */
  maxGasPriceGwei: 100,
  /** valid_until = ⌊timestamp_ns / 10⁹⌋ + this. */
  validForSeconds: 300,
  /** DEX fees: 0.3 % of the trade size, in bps. */
  dexFeeBps: 30,
} as const;

/** Start of `--fixed-clock` time: 2023-11-14T22:13:20Z in ns (the spec's example epoch). */
export const FIXED_CLOCK_START_NS = 1_700_000_000_000_000_000n;

const Q8_PER_CENT = 1_000_000n;

/** One drawn opportunity: every USD amount an exact q8 integer. */
export interface ArbitrageOpportunity {
  /** The pair. */
  readonly pair: DemoPair;
  /** VenueId of the DEX bought on (source_venue). */
  readonly buyVenue: number;
  /** VenueId of the DEX sold on (target_venue), never `buyVenue`. */
  readonly sellVenue: number;
  /** Base price on the buy side, USD × 10⁸. */
  readonly priceBuyQ8: bigint;
  /** Price on the sell side = buy × (1 + spread), USD × 10⁸ (truncated). */
  readonly priceSellQ8: bigint;
  /** Spread, 10–300 bps (0.1–3.0 %). */
  readonly spreadBps: number;
  /** Trade size = required capital, $1,000–10,000 in whole cents, × 10⁸. */
  readonly capitalQ8: bigint;
  /** Gross profit = capital × spread_bps / 10⁴ (exact). */
  readonly expectedProfitQ8: bigint;
  /** DEX fees = capital × 0.3 % (exact). */
  readonly dexFeesQ8: bigint;
  /** Gas, $5–20 in whole cents. */
  readonly gasCostQ8: bigint;
  /** Slippage rate, 1,000–5,000 parts per million (0.1–0.5 %). */
  readonly slippagePpm: number;
  /** Slippage = capital × ppm / 10⁶ (exact). */
  readonly slippageQ8: bigint;
  /** expected − fees − gas − slippage (may be negative). */
  readonly netProfitQ8: bigint;
  /** Pool bought from, `0x` + 40 hex digits (random). */
  readonly sourcePool: string;
  /** Pool sold into, `0x` + 40 hex digits (random). */
  readonly targetPool: string;
  /** The reference's pause before the next opportunity: 2,000–5,000 ms. */
  readonly delayMs: number;
}

/**
 * Seeded generator of demo opportunities (8.2 distributions). The same seed
 * gives the same sequence of opportunities.
 *
 * @example
 * ```ts
 * const gen = new DemoArbitrageGenerator(7);
 * const opp = gen.next();
 * opp.netProfitQ8 === opp.expectedProfitQ8 - opp.dexFeesQ8 - opp.gasCostQ8 - opp.slippageQ8; // true
 * ```
 */
export class DemoArbitrageGenerator {
  readonly #rng: Prng;

  /**
   * Creates a generator.
   *
   * @param seed PRNG seed (32-bit)
   */
  constructor(seed: number) {
    this.#rng = new Prng(seed);
  }

  /** The seed. */
  get seed(): number {
    return this.#rng.seed;
  }

  /**
   * Draws the next opportunity.
   *
   * @returns the opportunity
   */
  next(): ArbitrageOpportunity {
    const r = this.#rng;
    const pair = r.pick(DEMO_PAIRS);
    const buyIndex = r.int(0, DEMO_VENUES.length - 1);
    let sellIndex = r.int(0, DEMO_VENUES.length - 2);
    if (sellIndex >= buyIndex) sellIndex++;
    const steps = Number((pair.maxPriceQ8 - pair.minPriceQ8) / pair.priceStepQ8);
    const priceBuyQ8 = pair.minPriceQ8 + BigInt(r.int(0, steps)) * pair.priceStepQ8;
    const spreadBps = r.int(10, 300);
    const capitalQ8 = BigInt(r.int(100_000, 1_000_000)) * Q8_PER_CENT;
    const gasCostQ8 = BigInt(r.int(500, 2_000)) * Q8_PER_CENT;
    const slippagePpm = r.int(1_000, 5_000);
    const sourcePool = "0x" + toHex(r.bytes(20));
    const targetPool = "0x" + toHex(r.bytes(20));
    const delayMs = r.int(2_000, 5_000);

    // All exact: capital is whole cents × 10⁶, so each division below leaves no remainder.
    const expectedProfitQ8 = capitalQ8 * BigInt(spreadBps) / 10_000n;
    const dexFeesQ8 = capitalQ8 * BigInt(DEMO_SIGNAL.dexFeeBps) / 10_000n;
    const slippageQ8 = capitalQ8 * BigInt(slippagePpm) / 1_000_000n;
    const netProfitQ8 = expectedProfitQ8 - dexFeesQ8 - gasCostQ8 - slippageQ8;
    return {
      pair,
      buyVenue: DEMO_VENUES[buyIndex]!,
      sellVenue: DEMO_VENUES[sellIndex]!,
      priceBuyQ8,
      priceSellQ8: priceBuyQ8 * BigInt(10_000 + spreadBps) / 10_000n,
      spreadBps,
      capitalQ8,
      expectedProfitQ8,
      dexFeesQ8,
      gasCostQ8,
      slippagePpm,
      slippageQ8,
      netProfitQ8,
      sourcePool,
      targetPool,
      delayMs,
    };
  }
}

/**
 * The ArbitrageSignal fields of an opportunity created at `timestampNs`
 * (5.4): signal_id = timestamp_ns, valid_until = ⌊ts / 10⁹⌋ + 300,
 * priority = min(spread_bps × 10, 65535).
 *
 * @param opp the opportunity
 * @param timestampNs creation time, ns since the epoch
 * @returns fields for `MessageBuilder.addPayload(32, …)`
 * @example
 * ```ts
 * import type { MessageBuilder } from "../protocol/mod.ts";
 * declare const builder: MessageBuilder;
 * declare const opp: ArbitrageOpportunity;
 * declare const ts: bigint;
 *
 * builder.begin({ timestamp: ts }).addPayload(32, signalFields(opp, ts)).finish();
 * ```
 */
export function signalFields(
  opp: ArbitrageOpportunity,
  timestampNs: bigint,
): Record<string, unknown> {
  return {
    strategy_id: DEMO_SIGNAL.strategyId,
    signal_id: timestampNs,
    chain_id: DEMO_SIGNAL.chainId,
    source_pool: opp.sourcePool,
    target_pool: opp.targetPool,
    source_venue: opp.buyVenue,
    target_venue: opp.sellVenue,
    token_in: opp.pair.tokenIn,
    token_out: opp.pair.tokenOut,
    expected_profit_usd_q8: opp.expectedProfitQ8,
    required_capital_usd_q8: opp.capitalQ8,
    spread_bps: opp.spreadBps,
    dex_fees_usd_q8: opp.dexFeesQ8,
    gas_cost_usd_q8: opp.gasCostQ8,
    slippage_usd_q8: opp.slippageQ8,
    net_profit_usd_q8: opp.netProfitQ8,
    slippage_tolerance_bps: DEMO_SIGNAL.slippageToleranceBps,
    max_gas_price_gwei: DEMO_SIGNAL.maxGasPriceGwei,
    valid_until: Number(timestampNs / 1_000_000_000n) + DEMO_SIGNAL.validForSeconds,
    priority: Math.min(opp.spreadBps * 10, 65_535),
    timestamp_ns: timestampNs,
  };
}

/**
 * Builds the signal message of an opportunity: header domain 2, the builder's
 * source (20 for the demo) and next sequence, header timestamp = `timestampNs`,
 * checksum set.
 *
 * @param builder a builder for domain 2 (e.g. `client.builder(20)`)
 * @param opp the opportunity
 * @param timestampNs creation time, ns
 * @returns the frame, a view valid until the builder's next `begin()`
 * @example
 * ```ts
 * import { nowNs } from "../protocol/mod.ts";
 * import type { RelayClient } from "../client/mod.ts";
 * declare const client: RelayClient;
 * const gen = new DemoArbitrageGenerator(7);
 *
 * client.publish(buildSignalFrame(client.builder(20), gen.next(), nowNs()));
 * ```
 */
export function buildSignalFrame(
  builder: MessageBuilder,
  opp: ArbitrageOpportunity,
  timestampNs: bigint,
): Uint8Array {
  return builder
    .begin({ timestamp: timestampNs, domain: DEMO_SIGNAL.domain })
    .addPayload(ARBITRAGE_SIGNAL_TLV, signalFields(opp, timestampNs))
    .finish();
}

/**
 * Rounds a q8 USD amount to cents (half away from zero) and formats it with two decimals.
 *
 * @param q8 USD × 10⁸
 * @returns e.g. `12.35`, `-3.10`
 * @example
 * ```ts
 * formatUsd2(1062890123n); // "10.63"
 * ```
 */
export function formatUsd2(q8: bigint): string {
  return formatHundredths(roundDiv(q8, Q8_PER_CENT));
}

/**
 * The net profit as a percentage of the capital, formatted with two decimals
 * (exact integer arithmetic, half away from zero).
 *
 * @param netQ8 net profit, USD × 10⁸
 * @param capitalQ8 capital, USD × 10⁸
 * @returns e.g. `0.25`, `-0.41`; `0.00` when the capital is 0
 * @example
 * ```ts
 * formatPercent2(1062890123n, 500000000000n); // "0.21"
 * ```
 */
export function formatPercent2(netQ8: bigint, capitalQ8: bigint): string {
  if (capitalQ8 === 0n) return "0.00";
  return formatHundredths(roundDiv(netQ8 * 10_000n, capitalQ8));
}

function roundDiv(a: bigint, b: bigint): bigint {
  const neg = (a < 0n) !== (b < 0n);
  const absA = a < 0n ? -a : a;
  const absB = b < 0n ? -b : b;
  const q = (absA * 2n + absB) / (absB * 2n);
  return neg ? -q : q;
}

function formatHundredths(h: bigint): string {
  const neg = h < 0n;
  const abs = neg ? -h : h;
  return `${neg ? "-" : ""}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/**
 * The console line of a sent opportunity (8.2).
 *
 * @param opp the opportunity
 * @returns `📊 Sent arbitrage opportunity: <pair> $<net> profit (<net %>%)`
 * @example
 * ```ts
 * declare const opp: ArbitrageOpportunity;
 *
 * sentLine(opp); // "📊 Sent arbitrage opportunity: WETH/USDC $61.88 profit (1.04%)"
 * ```
 */
export function sentLine(opp: ArbitrageOpportunity): string {
  return `📊 Sent arbitrage opportunity: ${opp.pair.name} $${formatUsd2(opp.netProfitQ8)} profit (${
    formatPercent2(opp.netProfitQ8, opp.capitalQ8)
  }%)`;
}

/**
 * A short description of the route, e.g. `QuickSwap → Uniswap V3`.
 *
 * @param opp the opportunity
 * @returns the buy and sell DEX names
 */
export function routeOf(opp: ArbitrageOpportunity): string {
  return `${dexName(opp.buyVenue)} → ${dexName(opp.sellVenue)}`;
}

// ---------------------------------------------------------------------------------------------
// Runner

/** One signal as published by {@linkcode runDemoArbitrage}. */
export interface SentSignal {
  /** 1, 2, 3, … */
  index: number;
  /** What was drawn. */
  opportunity: ArbitrageOpportunity;
  /** The frame as published (a copy the callee may keep). */
  frame: Uint8Array;
  /** The frame decoded (header, checksum status, fields). */
  message: DecodedMessage;
  /** Header and signal timestamp, ns. */
  timestampNs: bigint;
}

/** Options of {@linkcode runDemoArbitrage}. */
export interface DemoArbitrageOptions {
  /** Socket path of the signal relay. */
  path: string;
  /** PRNG seed. */
  seed: number;
  /** Header source (default 20, ArbitrageStrategy). */
  source?: number | undefined;
  /** Stop after this many signals (default: until aborted). */
  count?: number | undefined;
  /** Fixed pause between signals in ms (default: each opportunity's 2–5 s `delayMs`). */
  intervalMs?: number | undefined;
  /**
   * Timestamps from {@linkcode FIXED_CLOCK_START_NS} advancing by the pause of
   * each step, so a seed always gives identical bytes.
   */
  fixedClock?: boolean | undefined;
  /** Stops the run (e.g. on SIGINT); what was published is flushed first. */
  signal?: AbortSignal | undefined;
  /** Status lines: starting, connecting, connected. */
  onStatus?: ((line: string) => void) | undefined;
  /** Called after each signal is handed to the kernel. */
  onSent?: ((sent: SentSignal) => void) | undefined;
}

/** What {@linkcode runDemoArbitrage} did. */
export interface DemoArbitrageResult {
  /** Signals published. */
  sent: number;
  /** The seed used. */
  seed: number;
  /** Whether the run was stopped by the abort signal (rather than by `count`). */
  interrupted: boolean;
}

/**
 * Resolves after `ms` or as soon as `signal` aborts; at once, without a timer,
 * when `ms` is not positive (a schedule that is behind catches up).
 *
 * @param ms how long
 * @param signal abort signal
 * @returns a promise resolved either way
 */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return ms > 0 ? sleep(ms, signal) : Promise.resolve();
}

/**
 * Connects to the signal relay (publish-only, source 20 unless given) and publishes demo
 * ArbitrageSignals until `count` are sent or `signal` aborts.
 *
 * @param options where, how many, how fast, and callbacks
 * @returns how many were sent
 * @throws {ConnectError} when the relay is not running (one-line message)
 * @throws {ClientClosedError} when the relay goes away during the run
 * @example
 * ```ts
 * const ac = new AbortController();
 * Deno.addSignalListener("SIGINT", () => ac.abort());
 * const r = await runDemoArbitrage({ path: "/tmp/torq/signals.sock", seed: 7, count: 5, signal: ac.signal });
 * ```
 */
export async function runDemoArbitrage(
  options: DemoArbitrageOptions,
): Promise<DemoArbitrageResult> {
  const status = options.onStatus ?? (() => {});
  const abort = options.signal;
  status("🚀 Starting demo arbitrage data generator");
  status(`📡 Connecting to signal relay at ${options.path}`);
  const client = await RelayClient.connect({
    domain: "signal",
    path: options.path,
    publishOnly: true,
    source: options.source ?? DEMO_SIGNAL.source,
  });
  let sent = 0;
  try {
    status("✅ Connected to signal relay");
    const gen = new DemoArbitrageGenerator(options.seed);
    const builder = client.builder(options.source ?? DEMO_SIGNAL.source);
    const count = options.count ?? Infinity;
    let clock = FIXED_CLOCK_START_NS;
    let last = 0n;
    let due = performance.now();
    while (sent < count && !abort?.aborted) {
      const opp = gen.next();
      let ts: bigint;
      if (options.fixedClock) {
        ts = clock;
      } else {
        ts = nowNs();
        if (ts <= last) ts = last + 1n; // signal ids stay unique
      }
      last = ts;
      const frame = buildSignalFrame(builder, opp, ts).slice();
      client.publish(frame);
      await client.flush();
      sent++;
      options.onSent?.({
        index: sent,
        opportunity: opp,
        frame,
        message: decodeMessage(frame),
        timestampNs: ts,
      });
      if (sent >= count) break;
      const pause = options.intervalMs ?? opp.delayMs;
      clock += BigInt(Math.round(pause * 1_000_000));
      due += pause;
      await abortableDelay(due - performance.now(), abort);
    }
    await client.flush();
  } finally {
    await client.close();
  }
  return { sent, seed: options.seed, interrupted: abort?.aborted ?? false };
}
