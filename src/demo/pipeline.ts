/**
 * `torq demo pipeline`: a whole trading pipeline in miniature, through the
 * three running relays.
 *
 * 1. **Feed.** Trades for one pair on Kraken (101) and Coinbase (102), random
 *    walks that sometimes diverge, published to the market-data relay
 *    (sources 2 KrakenCollector and 3 CoinbaseCollector).
 * 2. **Strategy.** Subscribed to the market-data relay (`tlv.1`); when the last
 *    prices of the two venues differ by at least a threshold it publishes an
 *    ArbitrageSignal (type 32) to the signal relay (source 20), once per
 *    divergence.
 * 3. **Portfolio.** Subscribed to the signal relay (`tlv.32`), and to trades
 *    for marks; turns each signal into two OrderRequests (type 40, a limit IOC
 *    buy on the cheap venue and sell on the dear one) on the execution relay
 *    (source 40, sequences 1, 2, 3, …, checksum set, as the audit policy asks).
 *    Signals of other pairs or venues on the relay are counted and ignored.
 * 4. **Consumer.** Subscribed to the execution relay (`tlv.40`); counts every
 *    OrderRequest it sees.
 *
 * {@linkcode Pipeline.start} connects every stage (consumer first, feed last)
 * and runs; {@linkcode Pipeline.stop} stops the feed, waits (bounded) for the
 * stages to drain and closes everything.
 *
 * The stages talk only through the relays, so each may run in a process of
 * its own (`stages`; `torq demo pipeline --stage feed --venue kraken`, as
 * services of `torq up`): two feeds with the same seed draw the same walk and
 * each publishes its own venue's trades. A pipeline without its feed runs
 * until it is stopped (or its duration ends).
 *
 * The signal of a CEX pair carries no token addresses; the strategy writes the
 * pair's InstrumentId asset id (8 bytes, big-endian) at the start of
 * `token_in` and the quote symbol's at the start of `token_out` (6.4's
 * address → asset id rule read backwards), so the portfolio needs nothing but
 * the signal to find the instrument.
 *
 * @module
 */

import {
  AssetType,
  coin,
  nowNs,
  type PayloadFields,
  SourceType,
  symbolOf,
  VenueId,
} from "../protocol/mod.ts";
import { type ReceivedFrame, RelayClient } from "../client/mod.ts";
import { ARBITRAGE_SIGNAL_TLV, dexName, formatFixed } from "../format/mod.ts";
import { abortableDelay, formatUsd2 } from "./arbitrage.ts";
import { Prng, randomSeed } from "./prng.ts";

/** TLV type of Trade. */
const TRADE_TLV = 1;
/** TLV type of OrderRequest. */
const ORDER_REQUEST_TLV = 40;

/** The two venues of the pipeline's pair. */
export const PIPELINE_VENUES: readonly number[] = [VenueId.Kraken, VenueId.Coinbase];

const COLLECTOR_SOURCE: Readonly<Record<number, number>> = {
  [VenueId.Kraken]: SourceType.KrakenCollector,
  [VenueId.Coinbase]: SourceType.CoinbaseCollector,
};

/** Order flags (5.5): limit (type 1 in bits 1–3), IOC (1 in bits 4–5); bit 0 is the side. */
const LIMIT_IOC = (1 << 1) | (1 << 4);

/**
 * The stages of the pipeline, in data order.
 *
 * @example
 * ```ts
 * PIPELINE_STAGES.join(" → "); // "feed → strategy → portfolio → consumer"
 * ```
 */
export const PIPELINE_STAGES = ["feed", "strategy", "portfolio", "consumer"] as const;
/** One stage of {@linkcode PIPELINE_STAGES}. */
export type PipelineStage = typeof PIPELINE_STAGES[number];

/** Socket paths of the three relays. */
export interface PipelinePaths {
  /** Market-data relay. */
  marketData: string;
  /** Signal relay. */
  signal: string;
  /** Execution relay. */
  execution: string;
}

/** Options of {@linkcode Pipeline.start}. */
export interface PipelineOptions {
  /** Where the relays listen. */
  paths: PipelinePaths;
  /** The pair, a coin symbol of at most 8 ASCII bytes (default `BTC-USD`). */
  symbol?: string | undefined;
  /** Start price in USD (default 45,000). */
  startPrice?: number | undefined;
  /** Trades per second (default 10). */
  rate?: number | undefined;
  /** Stop the feed after this many trades (default: no limit). */
  count?: number | undefined;
  /** Stop the feed after this long, in ms (default: no limit). */
  durationMs?: number | undefined;
  /** PRNG seed of the market walk (default random). */
  seed?: number | undefined;
  /**
   * Header source of the strategy's signals (default 20, ArbitrageStrategy). `torq up --demo`
   * uses its own, so that `torq demo arbitrage` (source 20) can run beside it.
   */
  strategySource?: number | undefined;
  /** Price gap that makes a signal, in bps of the lower price (default 30). */
  thresholdBps?: number | undefined;
  /** Capital per signal in whole USD (default 10,000). */
  capitalUsd?: number | undefined;
  /** Longest wait for the stages to drain once the feed stops, in ms (default 5,000). */
  drainTimeoutMs?: number | undefined;
  /** Called for each trade published, signal published and order received. */
  onEvent?: ((event: PipelineEvent) => void) | undefined;
  /** Called once every stage is connected, just before the feed starts. */
  onConnected?: (() => void) | undefined;
  /** The stages to run in this process (default all four). */
  stages?: readonly PipelineStage[] | undefined;
  /** The feed publishes only these venues' trades of its walk (default both). */
  feedVenues?: readonly number[] | undefined;
}

/** A trade the feed published. */
export interface TradeEvent {
  /** Discriminator. */
  kind: "trade";
  /** VenueId. */
  venue: number;
  /** Pair symbol. */
  symbol: string;
  /** 0 buy, 1 sell. */
  side: number;
  /** Price × 10⁸. */
  priceQ8: bigint;
  /** Volume × 10⁸. */
  volumeQ8: bigint;
}

/** A signal the strategy published. */
export interface SignalEvent {
  /** Discriminator. */
  kind: "signal";
  /** Pair symbol. */
  symbol: string;
  /** Cheap venue. */
  buyVenue: number;
  /** Dear venue. */
  sellVenue: number;
  /** Last price on the cheap venue × 10⁸. */
  buyPriceQ8: bigint;
  /** Last price on the dear venue × 10⁸. */
  sellPriceQ8: bigint;
  /** Gap in bps of the buy price. */
  spreadBps: number;
  /** Net profit, USD × 10⁸. */
  netProfitQ8: bigint;
  /** Signal id (its timestamp). */
  signalId: bigint;
}

/** An order the consumer received from the execution relay. */
export interface OrderEvent {
  /** Discriminator. */
  kind: "order";
  /** Client order id. */
  orderId: number;
  /** Side from the flags. */
  side: "buy" | "sell";
  /** Target venue. */
  venue: number;
  /** Symbol of the instrument. */
  symbol: string;
  /** Quantity × 10⁸. */
  quantityQ8: bigint;
  /** Limit price × 10⁸ (0 = market). */
  limitPriceQ8: bigint;
  /** Header sequence of the order's message. */
  sequence: bigint;
}

/** One stage event of the pipeline. */
export type PipelineEvent = TradeEvent | SignalEvent | OrderEvent;

/** Counters of a pipeline run. */
export interface PipelineStats {
  /** Trades published by the feed. */
  trades: number;
  /** Trades the strategy received. */
  tradesSeen: number;
  /** Signals published by the strategy. */
  signals: number;
  /** Signals of this pipeline's pair and venues the portfolio received. */
  signalsSeen: number;
  /** Other signals on the relay (other pairs or venues, e.g. `torq demo arbitrage`'s), ignored. */
  signalsIgnored: number;
  /** Orders published by the portfolio. */
  ordersSent: number;
  /** Orders the consumer received. */
  ordersReceived: number;
}

/**
 * One line of console text for a pipeline event.
 *
 * @param e the event
 * @returns e.g. `📈 trade Kraken BTC-USD buy 0.1234 @ 45123.45`
 * @example
 * ```ts
 * declare const paths: PipelinePaths;
 * let pipeline: Pipeline;
 *
 * pipeline = await Pipeline.start({ paths, onEvent: (e) => console.log(formatPipelineEvent(e)) });
 * ```
 */
export function formatPipelineEvent(e: PipelineEvent): string {
  switch (e.kind) {
    case "trade":
      return `📈 trade ${dexName(e.venue)} ${e.symbol} ${e.side === 0 ? "buy" : "sell"} ${
        formatFixed(e.volumeQ8)
      } @ ${formatUsd2(e.priceQ8)}`;
    case "signal":
      return `📊 signal ${e.symbol} buy ${dexName(e.buyVenue)} @ ${
        formatUsd2(e.buyPriceQ8)
      } → sell ${dexName(e.sellVenue)} @ ${
        formatUsd2(e.sellPriceQ8)
      }: spread ${e.spreadBps} bps, net $${formatUsd2(e.netProfitQ8)}`;
    case "order":
      return `🧾 order #${e.orderId} ${e.side} ${formatFixed(e.quantityQ8)} ${e.symbol} on ${
        dexName(e.venue)
      } limit ${formatUsd2(e.limitPriceQ8)} IOC (seq ${e.sequence})`;
  }
}

/**
 * One line summarising a run.
 *
 * @param s the counters
 * @returns e.g. `Pipeline: 60 trades, 4 signals, 8 orders sent, 8 orders received`
 */
export function formatPipelineStats(s: PipelineStats): string {
  const ignored = s.signalsIgnored > 0 ? `, ${s.signalsIgnored} other signals ignored` : "";
  return `Pipeline: ${s.trades} trades, ${s.signals} signals, ${s.ordersSent} orders sent, ${s.ordersReceived} orders received${ignored}`;
}

// ---------------------------------------------------------------------------------------------
// Pure parts: the market walk and the gap detector

/** One trade drawn by {@linkcode MarketWalk}. */
export interface WalkTrade {
  /** VenueId (alternating Kraken, Coinbase). */
  venue: number;
  /** Price × 10⁸, whole cents. */
  priceQ8: bigint;
  /** Volume × 10⁸ (0.001–0.5). */
  volumeQ8: bigint;
  /** 0 buy, 1 sell. */
  side: number;
}

/**
 * Seeded random walks of one pair on two venues: a common mid price (±4 bps
 * per step) plus a per-venue offset that decays by half on each of the
 * venue's trades and jumps by 35–90 bps with probability 0.15 — so the venues
 * diverge now and then and converge again.
 *
 * @example
 * ```ts
 * const walk = new MarketWalk(45_000, 7);
 * walk.next(); // { venue: 101, priceQ8: 4500123000000n, ... }
 * ```
 */
export class MarketWalk {
  readonly #rng: Prng;
  #mid: number;
  readonly #offsetBps = [0, 0];
  #i = 0;

  /**
   * Creates a walk.
   *
   * @param startPrice start mid in USD
   * @param seed PRNG seed
   */
  constructor(startPrice: number, seed: number) {
    this.#mid = startPrice;
    this.#rng = new Prng(seed);
  }

  /**
   * The next trade (venues alternate).
   *
   * @returns the trade
   */
  next(): WalkTrade {
    const r = this.#rng;
    const v = this.#i++ % 2;
    this.#mid *= 1 + (r.float() - 0.5) * 0.0008;
    let off = this.#offsetBps[v]! * 0.5 + (r.float() - 0.5) * 4;
    if (r.float() < 0.15) off += (r.float() < 0.5 ? -1 : 1) * r.uniform(35, 90);
    this.#offsetBps[v] = off;
    const cents = Math.max(1, Math.round(this.#mid * (1 + off / 10_000) * 100));
    return {
      venue: PIPELINE_VENUES[v]!,
      priceQ8: BigInt(cents) * 1_000_000n,
      volumeQ8: BigInt(r.int(100_000, 50_000_000)),
      side: r.int(0, 1),
    };
  }
}

/** A detected gap: buy on one venue, sell on the other. */
export interface Gap {
  /** Cheap venue. */
  buyVenue: number;
  /** Dear venue. */
  sellVenue: number;
  /** Its last price × 10⁸. */
  buyPriceQ8: bigint;
  /** Its last price × 10⁸. */
  sellPriceQ8: bigint;
  /** (sell − buy) / buy in bps, floored, at most 65535. */
  spreadBps: number;
}

/**
 * Keeps the last price per venue and reports a gap once when it reaches the
 * threshold; it re-arms when the gap falls below the threshold again.
 *
 * @example
 * ```ts
 * const d = new GapDetector(30);
 * d.update(101, 4500000000000n); // null
 * d.update(102, 4520000000000n); // { buyVenue: 101, sellVenue: 102, spreadBps: 44, ... }
 * ```
 */
export class GapDetector {
  readonly #thresholdBps: number;
  readonly #last = new Map<number, bigint>();
  #armed = true;

  /**
   * Creates a detector.
   *
   * @param thresholdBps smallest gap reported, in bps
   */
  constructor(thresholdBps: number) {
    this.#thresholdBps = thresholdBps;
  }

  /**
   * Records a price and returns a new gap, if any.
   *
   * @param venue the venue traded on
   * @param priceQ8 the price × 10⁸
   * @returns the gap when one opens, else `null`
   */
  update(venue: number, priceQ8: bigint): Gap | null {
    this.#last.set(venue, priceQ8);
    if (this.#last.size < 2) return null;
    let lo: [number, bigint] | null = null;
    let hi: [number, bigint] | null = null;
    for (const [v, p] of this.#last) {
      if (lo === null || p < lo[1]) lo = [v, p];
      if (hi === null || p > hi[1]) hi = [v, p];
    }
    if (lo === null || hi === null || lo[1] <= 0n || lo[0] === hi[0]) {
      this.#armed = true;
      return null;
    }
    const bps = Number((hi[1] - lo[1]) * 10_000n / lo[1]);
    if (bps < this.#thresholdBps) {
      this.#armed = true;
      return null;
    }
    if (!this.#armed) return null;
    this.#armed = false;
    return {
      buyVenue: lo[0],
      sellVenue: hi[0],
      buyPriceQ8: lo[1],
      sellPriceQ8: hi[1],
      spreadBps: Math.min(bps, 65_535),
    };
  }
}

/** Taker fee per leg of the CEX arbitrage, in bps (two legs). */
const CEX_FEE_BPS_PER_LEG = 10n;
/** Slippage estimate, in bps of capital. */
const CEX_SLIPPAGE_BPS = 5n;

function symbolAddress(symbol: string): Uint8Array {
  const out = new Uint8Array(20);
  const id = coin(VenueId.Generic, symbol).assetId;
  for (let i = 0; i < 8; i++) out[i] = Number((id >> BigInt(56 - 8 * i)) & 0xffn);
  return out;
}

function assetIdOfAddress(hex: string): bigint {
  return BigInt("0x" + hex.replace(/^0x/, "").slice(0, 16).padEnd(16, "0"));
}

/**
 * The ArbitrageSignal fields of a CEX gap (5.4 rules; chain 0, zero pools,
 * instrument symbols in token_in/token_out as described in the module notes).
 *
 * @param symbol pair symbol, e.g. `BTC-USD`
 * @param gap the gap
 * @param capitalQ8 capital, USD × 10⁸
 * @param timestampNs creation time, ns
 * @returns the fields
 */
export function gapSignalFields(
  symbol: string,
  gap: Gap,
  capitalQ8: bigint,
  timestampNs: bigint,
): Record<string, unknown> {
  const expected = capitalQ8 * BigInt(gap.spreadBps) / 10_000n;
  const fees = capitalQ8 * 2n * CEX_FEE_BPS_PER_LEG / 10_000n;
  const slippage = capitalQ8 * CEX_SLIPPAGE_BPS / 10_000n;
  const quote = symbol.includes("-") ? symbol.slice(symbol.indexOf("-") + 1) : "USD";
  return {
    strategy_id: 21,
    signal_id: timestampNs,
    chain_id: 0,
    source_pool: new Uint8Array(20),
    target_pool: new Uint8Array(20),
    source_venue: gap.buyVenue,
    target_venue: gap.sellVenue,
    token_in: symbolAddress(symbol),
    token_out: symbolAddress(quote),
    expected_profit_usd_q8: expected,
    required_capital_usd_q8: capitalQ8,
    spread_bps: gap.spreadBps,
    dex_fees_usd_q8: fees,
    gas_cost_usd_q8: 0n,
    slippage_usd_q8: slippage,
    net_profit_usd_q8: expected - fees - slippage,
    slippage_tolerance_bps: 50,
    max_gas_price_gwei: 0,
    valid_until: Number(timestampNs / 1_000_000_000n) + 300,
    priority: Math.min(gap.spreadBps * 10, 65_535),
    timestamp_ns: timestampNs,
  };
}

/**
 * The two OrderRequests of a signal: a limit IOC buy of `capital / buy price`
 * on the source venue and a sell of the same quantity on the target venue, at
 * the venues' last prices (`marks`; 0 = market when a mark is unknown).
 *
 * @param signal decoded ArbitrageSignal fields
 * @param marks last trade price per venue, × 10⁸
 * @param nextOrderId first order id to use (the second is one more)
 * @returns the OrderRequest fields, buy leg first
 */
export function ordersForSignal(
  signal: PayloadFields,
  marks: ReadonlyMap<number, bigint>,
  nextOrderId: number,
): Record<string, unknown>[] {
  const assetId = assetIdOfAddress(String(signal.token_in));
  const buyVenue = Number(signal.source_venue);
  const sellVenue = Number(signal.target_venue);
  const buyMark = marks.get(buyVenue) ?? 0n;
  const sellMark = marks.get(sellVenue) ?? 0n;
  const ref = buyMark > 0n ? buyMark : sellMark;
  const capital = BigInt(signal.required_capital_usd_q8 as bigint);
  let quantity = ref > 0n ? capital * 100_000_000n / ref : 100_000_000n;
  if (quantity <= 0n) quantity = 1n;
  const leg = (venue: number, side: number, price: bigint, id: number) => ({
    asset_id: assetId,
    quantity,
    limit_price: price,
    order_id: id >>> 0,
    venue_id: venue,
    asset_type: AssetType.Coin,
    order_flags: (price > 0n ? LIMIT_IOC : 1 << 4) | side,
  });
  return [leg(buyVenue, 0, buyMark, nextOrderId), leg(sellVenue, 1, sellMark, nextOrderId + 1)];
}

/**
 * Whether a signal is one the pipeline's portfolio trades: its pair (asset id
 * in token_in) on the pipeline's two venues.
 *
 * @param signal decoded ArbitrageSignal fields
 * @param pairAssetId the pair's coin asset id
 * @returns true for the pipeline's own kind of signal
 */
export function isPipelineSignal(signal: PayloadFields, pairAssetId: bigint): boolean {
  return typeof signal.token_in === "string" &&
    assetIdOfAddress(signal.token_in) === pairAssetId &&
    PIPELINE_VENUES.includes(Number(signal.source_venue)) &&
    PIPELINE_VENUES.includes(Number(signal.target_venue));
}

// ---------------------------------------------------------------------------------------------
// The running pipeline

/** Waits until `signal` aborts or `ms` (which may be Infinity) have passed. */
function untilAborted(signal: AbortSignal, ms: number): Promise<void> {
  return Number.isFinite(ms) ? abortableDelay(ms, signal) : new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

interface ResolvedOptions {
  paths: PipelinePaths;
  symbol: string;
  startPrice: number;
  rate: number;
  count: number;
  durationMs: number;
  seed: number;
  strategySource: number;
  thresholdBps: number;
  capitalUsd: number;
  drainTimeoutMs: number;
  onEvent: (e: PipelineEvent) => void;
  onConnected: () => void;
  stages: ReadonlySet<PipelineStage>;
  feedVenues: readonly number[];
}

/**
 * The pipeline: connected stages and a running feed.
 *
 * @example
 * ```ts
 * declare const paths: PipelinePaths;
 *
 * const p = await Pipeline.start({ paths, count: 100, rate: 50, onEvent: (e) => console.log(formatPipelineEvent(e)) });
 * const stats = await p.finished; // after 100 trades and the drain
 * ```
 */
export class Pipeline {
  readonly #o: ResolvedOptions;
  readonly #stats: PipelineStats = {
    trades: 0,
    tradesSeen: 0,
    signals: 0,
    signalsSeen: 0,
    signalsIgnored: 0,
    ordersSent: 0,
    ordersReceived: 0,
  };
  readonly #stopFeed = new AbortController();
  readonly #clients: RelayClient[] = [];
  #feed: RelayClient | null = null;
  #strategyIn: RelayClient | null = null;
  #strategyOut: RelayClient | null = null;
  #portfolioSignals: RelayClient | null = null;
  #portfolioMarks: RelayClient | null = null;
  #portfolioOut: RelayClient | null = null;
  #consumer: RelayClient | null = null;
  #closing = false;
  #failure: Error | null = null;
  #progress: (() => void) | null = null;
  #finished!: Promise<PipelineStats>;

  private constructor(options: PipelineOptions) {
    this.#o = {
      paths: options.paths,
      symbol: options.symbol ?? "BTC-USD",
      startPrice: options.startPrice ?? 45_000,
      rate: options.rate ?? 10,
      count: options.count ?? Infinity,
      durationMs: options.durationMs ?? Infinity,
      seed: options.seed ?? randomSeed(),
      strategySource: options.strategySource ?? SourceType.ArbitrageStrategy,
      thresholdBps: options.thresholdBps ?? 30,
      capitalUsd: options.capitalUsd ?? 10_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 5_000,
      onEvent: options.onEvent ?? (() => {}),
      onConnected: options.onConnected ?? (() => {}),
      stages: new Set(options.stages ?? PIPELINE_STAGES),
      feedVenues: [...(options.feedVenues ?? PIPELINE_VENUES)],
    };
    coin(VenueId.Kraken, this.#o.symbol); // validates the symbol
    if (!(this.#o.rate > 0)) {
      throw new RangeError(`Cannot start pipeline: rate ${this.#o.rate} is not > 0`);
    }
    if (this.#o.stages.size === 0) throw new RangeError("Cannot start pipeline: no stage to run");
    const venue = this.#o.feedVenues.find((v) => !PIPELINE_VENUES.includes(v));
    if (venue !== undefined) {
      throw new RangeError(
        `Cannot start pipeline: venue ${venue} is not one of ${PIPELINE_VENUES.join(", ")}`,
      );
    }
  }

  /**
   * Connects every stage (consumer, portfolio, strategy, then the feed) and
   * starts the feed.
   *
   * @param options relays, pair, pace, limits, callback
   * @returns the running pipeline
   * @throws {ConnectError} when a relay is not running (one-line message)
   */
  static async start(options: PipelineOptions): Promise<Pipeline> {
    const p = new Pipeline(options);
    try {
      await p.#connect();
    } catch (e) {
      p.#closing = true;
      await Promise.all(p.#clients.map((c) => c.close()));
      throw e;
    }
    p.#finished = p.#run();
    p.#finished.catch(() => {}); // observed through `finished` / `stop()`
    return p;
  }

  /** The seed of the market walk. */
  get seed(): number {
    return this.#o.seed;
  }

  /**
   * Resolves with the counters once the feed has stopped (count, duration or
   * `stop()`), the stages have drained (bounded) and every connection is
   * closed; rejects when a relay goes away.
   */
  get finished(): Promise<PipelineStats> {
    return this.#finished;
  }

  /**
   * A snapshot of the counters.
   *
   * @returns the counters
   */
  stats(): PipelineStats {
    return { ...this.#stats };
  }

  /**
   * Stops the feed, waits for the stages to drain (bounded by `drainTimeoutMs`)
   * and closes every connection.
   *
   * @returns the final counters
   * @throws the error that broke the pipeline, if one did
   */
  stop(): Promise<PipelineStats> {
    this.#stopFeed.abort();
    return this.#finished;
  }

  async #connect(): Promise<void> {
    const { paths, stages } = this.#o;
    const add = async (p: Promise<RelayClient>) => {
      const c = await p;
      this.#clients.push(c);
      return c;
    };
    if (stages.has("consumer")) {
      this.#consumer = await add(RelayClient.connect({
        domain: "execution",
        path: paths.execution,
        subscribe: [`tlv.${ORDER_REQUEST_TLV}`],
      }));
    }
    if (stages.has("portfolio")) {
      this.#portfolioOut = await add(RelayClient.connect({
        domain: "execution",
        path: paths.execution,
        publishOnly: true,
        source: SourceType.PortfolioManager,
      }));
      this.#portfolioMarks = await add(RelayClient.connect({
        domain: "market_data",
        path: paths.marketData,
        subscribe: [`tlv.${TRADE_TLV}`],
      }));
      this.#portfolioSignals = await add(RelayClient.connect({
        domain: "signal",
        path: paths.signal,
        subscribe: [`tlv.${ARBITRAGE_SIGNAL_TLV}`],
      }));
    }
    if (stages.has("strategy")) {
      this.#strategyOut = await add(RelayClient.connect({
        domain: "signal",
        path: paths.signal,
        publishOnly: true,
        source: this.#o.strategySource,
      }));
      this.#strategyIn = await add(RelayClient.connect({
        domain: "market_data",
        path: paths.marketData,
        subscribe: [`tlv.${TRADE_TLV}`],
      }));
    }
    if (stages.has("feed")) {
      this.#feed = await add(RelayClient.connect({
        domain: "market_data",
        path: paths.marketData,
        publishOnly: true,
        source: COLLECTOR_SOURCE[this.#o.feedVenues[0] ?? VenueId.Kraken]!,
      }));
    }
  }

  #fail(e: unknown): void {
    if (this.#failure !== null || this.#closing) return;
    this.#failure = e instanceof Error ? e : new Error(String(e));
    this.#stopFeed.abort();
    this.#kick();
  }

  #kick(): void {
    const p = this.#progress;
    this.#progress = null;
    p?.();
  }

  /** Runs one stage's receive loop; an end that is not ours is a failure. */
  async #loop(client: RelayClient | null, onFrame: (f: ReceivedFrame) => void): Promise<void> {
    if (client === null) return;
    try {
      for await (const f of client) {
        onFrame(f);
        this.#kick();
      }
      if (!this.#closing) {
        const why = await client.closed();
        throw new Error(
          `Cannot run pipeline: connection to the ${client.relayName} relay at ${client.address} was lost${
            why === undefined ? "" : ` (${why.message})`
          }`,
        );
      }
    } catch (e) {
      this.#fail(e);
    }
  }

  /** Whether each stage has seen what the stage before it sent (when both run here). */
  #drained(): boolean {
    const s = this.#stats;
    const both = (a: PipelineStage, b: PipelineStage) =>
      this.#o.stages.has(a) && this.#o.stages.has(b);
    return (!both("feed", "strategy") || s.tradesSeen >= s.trades) &&
      (!both("strategy", "portfolio") || s.signalsSeen >= s.signals) &&
      (!both("portfolio", "consumer") || s.ordersReceived >= s.ordersSent);
  }

  async #run(): Promise<PipelineStats> {
    const o = this.#o;
    const s = this.#stats;
    const capitalQ8 = BigInt(Math.round(o.capitalUsd)) * 100_000_000n;

    // Strategy.
    const detector = new GapDetector(o.thresholdBps);
    const strategyBuilder = this.#strategyOut?.builder(this.#o.strategySource);
    let lastSignalTs = 0n;
    const strategy = this.#loop(this.#strategyIn, (f) => {
      for (const t of f.decode().tlvs) {
        if (t.type !== TRADE_TLV || t.fields === null) continue;
        s.tradesSeen++;
        const gap = detector.update(Number(t.fields.venue_id), t.fields.price as bigint);
        if (gap === null) continue;
        let ts = nowNs();
        if (ts <= lastSignalTs) ts = lastSignalTs + 1n;
        lastSignalTs = ts;
        const fields = gapSignalFields(o.symbol, gap, capitalQ8, ts);
        this.#strategyOut!.publish(
          strategyBuilder!.begin({ timestamp: ts }).addPayload(ARBITRAGE_SIGNAL_TLV, fields)
            .finish(),
        );
        s.signals++;
        o.onEvent({
          kind: "signal",
          symbol: o.symbol,
          ...gap,
          netProfitQ8: fields.net_profit_usd_q8 as bigint,
          signalId: ts,
        });
      }
    });

    // Portfolio.
    const marks = new Map<number, bigint>();
    const marksLoop = this.#loop(this.#portfolioMarks, (f) => {
      for (const t of f.decode().tlvs) {
        if (t.type === TRADE_TLV && t.fields !== null) {
          marks.set(Number(t.fields.venue_id), t.fields.price as bigint);
        }
      }
    });
    const orderBuilder = this.#portfolioOut?.builder(SourceType.PortfolioManager);
    const pairAssetId = coin(VenueId.Generic, o.symbol).assetId;
    let nextOrderId = 1;
    const portfolio = this.#loop(this.#portfolioSignals, (f) => {
      for (const t of f.decode().tlvs) {
        if (t.type !== ARBITRAGE_SIGNAL_TLV || t.fields === null) continue;
        if (!isPipelineSignal(t.fields, pairAssetId)) {
          s.signalsIgnored++;
          continue;
        }
        s.signalsSeen++;
        for (const order of ordersForSignal(t.fields, marks, nextOrderId)) {
          this.#portfolioOut!.publish(
            orderBuilder!.begin().addPayload(ORDER_REQUEST_TLV, order).finish(),
          );
          nextOrderId++;
          s.ordersSent++;
        }
      }
    });

    // Consumer.
    const consumer = this.#loop(this.#consumer, (f) => {
      for (const t of f.decode().tlvs) {
        if (t.type !== ORDER_REQUEST_TLV || t.fields === null) continue;
        s.ordersReceived++;
        const flags = Number(t.fields.order_flags);
        const venue = Number(t.fields.venue_id);
        o.onEvent({
          kind: "order",
          orderId: Number(t.fields.order_id),
          side: (flags & 1) === 0 ? "buy" : "sell",
          venue,
          symbol: symbolOf({
            assetId: t.fields.asset_id as bigint,
            venue,
            assetType: AssetType.Coin,
            reserved: 0,
          }),
          quantityQ8: t.fields.quantity as bigint,
          limitPriceQ8: t.fields.limit_price as bigint,
          sequence: f.sequence,
        });
      }
    });

    // Feed (without one, the stages here run until stopped or the duration ends).
    try {
      o.onConnected();
      const walk = new MarketWalk(o.startPrice, o.seed);
      const stop = this.#stopFeed.signal;
      const interval = 1000 / o.rate;
      const start = performance.now();
      let due = start;
      const feed = this.#feed;
      if (feed === null) await untilAborted(stop, o.durationMs);
      while (
        feed !== null && s.trades < o.count && !stop.aborted &&
        performance.now() - start < o.durationMs
      ) {
        const t = walk.next();
        due += interval;
        if (!o.feedVenues.includes(t.venue)) {
          await abortableDelay(due - performance.now(), stop);
          continue;
        }
        const ts = nowNs();
        const builder = feed.builder(COLLECTOR_SOURCE[t.venue]!);
        const id = coin(t.venue, o.symbol);
        feed.publish(
          builder.begin({ timestamp: ts }).addPayload(TRADE_TLV, {
            asset_id: id.assetId,
            price: t.priceQ8,
            volume: t.volumeQ8,
            execution_timestamp_ns: ts,
            venue_id: t.venue,
            asset_type: id.assetType,
            reserved: 0,
            side: t.side,
          }).finish(),
        );
        s.trades++;
        o.onEvent({
          kind: "trade",
          venue: t.venue,
          symbol: o.symbol,
          side: t.side,
          priceQ8: t.priceQ8,
          volumeQ8: t.volumeQ8,
        });
        const wait = Math.min(due - performance.now(), o.durationMs - (performance.now() - start));
        if (s.trades < o.count) await abortableDelay(wait, stop);
      }
      await feed?.flush();
    } catch (e) {
      this.#fail(e);
    }

    // Drain: until every stage has seen what the one before it sent, or the bound.
    const deadline = performance.now() + o.drainTimeoutMs;
    while (this.#failure === null && !this.#drained()) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#progress = null;
          resolve();
        }, left);
        this.#progress = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await Promise.all(
      [this.#strategyOut, this.#portfolioOut].map((c) => c?.flush().catch(() => {})),
    );

    const failure = this.#failure;
    this.#closing = true;
    await Promise.all(this.#clients.map((c) => c.close()));
    await Promise.all([strategy, marksLoop, portfolio, consumer]);
    if (failure !== null) throw failure;
    return { ...s };
  }
}
