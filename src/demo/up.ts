/**
 * The demo traffic of `torq up --demo`: the pipeline (market feed → arbitrage
 * strategy → portfolio → order consumer) plus a steady stream of Binance quotes
 * for a few more symbols, all against relays running in this process.
 *
 * The CLI loads this module only with `--demo`, so a relay process without the
 * demo does not hold its code.
 *
 * @module
 */

import type { Relay } from "../relay/mod.ts";
import { RelayClient } from "../client/mod.ts";
import { nowNs, SourceType, VenueId } from "../protocol/mod.ts";
import { Pipeline } from "./pipeline.ts";
import { MockMarketData } from "./mock_relay.ts";
import { abortableDelay } from "./arbitrage.ts";

/** Quote symbols of the demo's extra market data (Binance). */
export const DEMO_QUOTE_SYMBOLS: readonly string[] = ["ETH-USD", "SOL-USD", "BTC-USDT", "ETH-USDT"];
/** Quotes per second of the demo's extra market data. */
export const DEMO_QUOTES_PER_SECOND = 200;

/**
 * Header source of the built-in demo's arbitrage signals: 23 (KrakenSignalStrategy, its signals
 * come from Kraken–Coinbase gaps), so that `torq demo arbitrage`, which sends from 20
 * (ArbitrageStrategy, PROTOCOL.md 8.2), runs beside `torq up --demo` without sequence gaps.
 */
export const UP_DEMO_STRATEGY_SOURCE: number = SourceType.KrakenSignalStrategy;

/** Demo traffic running against the relays of this process. */
export interface UpDemo {
  /** One line saying what runs. */
  description: string;
  /** Stops the traffic (bounded). */
  stop(): Promise<void>;
}

/**
 * Starts the demo pipeline and the quote stream against running relays.
 *
 * @param relays the running market-data, signal and execution relays
 * @param report receives one line when a part of the demo stops on an error
 * @returns the running demo
 * @throws {Error} when a relay is missing or a client cannot connect
 * @example
 * ```ts
 * import type { Relay } from "../relay/mod.ts";
 * declare const service: { relays: Relay[] };
 *
 * const demo = await startUpDemo(service.relays, (line) => console.error(line));
 * console.log(demo.description);
 * await demo.stop();
 * ```
 */
export async function startUpDemo(
  relays: readonly Relay[],
  report: (line: string) => void,
): Promise<UpDemo> {
  const path = (name: string) => {
    const relay = relays.find((r) => r.logic.name === name);
    if (relay === undefined) throw new Error(`the demo needs the ${name} relay`);
    return relay.address;
  };
  const paths = {
    marketData: path("market_data"),
    signal: path("signal"),
    execution: path("execution"),
  };
  // Its own signal source (23, not 20): `torq demo arbitrage` sends from 20 beside it.
  const pipeline = await Pipeline.start({
    paths,
    rate: 20,
    strategySource: UP_DEMO_STRATEGY_SOURCE,
  });
  pipeline.finished.catch((e: Error) => report(`demo stopped: ${e.message}`));
  let quotes: RelayClient;
  try {
    quotes = await RelayClient.connect({
      domain: "market_data",
      path: paths.marketData,
      publishOnly: true,
      source: SourceType.BinanceCollector,
    });
  } catch (e) {
    await pipeline.stop().catch(() => {});
    throw e;
  }
  const stopQuotes = new AbortController();
  const quoting = publishQuotes(quotes, stopQuotes.signal, pipeline.seed).catch((e: Error) => {
    if (!stopQuotes.signal.aborted) report(`demo quotes stopped: ${e.message}`);
  });
  return {
    description:
      `demo: BTC-USD trades on Kraken and Coinbase (20/s) → arbitrage signals (source 23) → orders; ${DEMO_QUOTES_PER_SECOND} quotes/s for ${
        DEMO_QUOTE_SYMBOLS.join(", ")
      } on Binance`,
    async stop() {
      stopQuotes.abort();
      await quoting;
      await quotes.close();
      await pipeline.stop().catch(() => {});
    },
  };
}

/** Publishes Quotes (never Trades: the pipeline's strategy reads those) at a steady pace. */
async function publishQuotes(
  client: RelayClient,
  signal: AbortSignal,
  pipelineSeed: number,
): Promise<void> {
  const gen = new MockMarketData({
    symbols: DEMO_QUOTE_SYMBOLS,
    venue: VenueId.Binance,
    seed: pipelineSeed ^ 0x5eed,
  });
  const builder = client.builder(SourceType.BinanceCollector);
  const tickMs = 50;
  const perTick = DEMO_QUOTES_PER_SECOND * tickMs / 1000;
  let due = performance.now();
  while (!signal.aborted) {
    let sent = 0;
    while (sent < perTick) {
      const m = gen.next(nowNs());
      if (m.type !== 2) continue;
      client.publish(builder.begin().addPayload(2, m.fields).finish());
      sent++;
    }
    await client.flush();
    due += tickMs;
    await abortableDelay(due - performance.now(), signal);
  }
}
