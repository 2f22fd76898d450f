/**
 * Demo traffic: the arbitrage signal generator of `torq demo arbitrage`, the
 * four-stage pipeline of `torq demo pipeline`, the fake market-data source and
 * sink of `torq mock-relay`, the traffic of `torq up --demo`, and the seeded
 * random numbers that make every demo reproducible ({@linkcode Prng}).
 *
 * @example
 * ```ts
 * import { DemoArbitrageGenerator } from "./mod.ts";
 *
 * const demo = new DemoArbitrageGenerator(7);
 * const opportunity = demo.next();
 * console.log(opportunity.netProfitQ8);
 * ```
 *
 * @module
 */

export {
  abortableDelay,
  buildSignalFrame,
  DEMO_PAIRS,
  DEMO_SIGNAL,
  DEMO_VENUES,
  DemoArbitrageGenerator,
  FIXED_CLOCK_START_NS,
  formatPercent2,
  formatUsd2,
  POLYGON_TOKENS,
  routeOf,
  runDemoArbitrage,
  sentLine,
  signalFields,
} from "./arbitrage.ts";
export type {
  ArbitrageOpportunity,
  DemoArbitrageOptions,
  DemoArbitrageResult,
  DemoPair,
  SentSignal,
} from "./arbitrage.ts";
export {
  formatPipelineEvent,
  formatPipelineStats,
  GapDetector,
  gapSignalFields,
  isPipelineSignal,
  MarketWalk,
  ordersForSignal,
  Pipeline,
  PIPELINE_STAGES,
  PIPELINE_VENUES,
} from "./pipeline.ts";
export type {
  Gap,
  OrderEvent,
  PipelineEvent,
  PipelineOptions,
  PipelinePaths,
  PipelineStage,
  PipelineStats,
  SignalEvent,
  TradeEvent,
  WalkTrade,
} from "./pipeline.ts";
export {
  DEFAULT_MOCK_PRICES,
  FALLBACK_MOCK_PRICE,
  formatMockRelayStats,
  MockMarketData,
  MockRelay,
  receivedLine,
  tlvNames,
} from "./mock_relay.ts";
export type {
  MockMarketOptions,
  MockMessage,
  MockRelayOptions,
  MockRelayStats,
} from "./mock_relay.ts";
export {
  DEMO_QUOTE_SYMBOLS,
  DEMO_QUOTES_PER_SECOND,
  startUpDemo,
  UP_DEMO_STRATEGY_SOURCE,
} from "./up.ts";
export type { UpDemo } from "./up.ts";
export { parseSeed, Prng, randomSeed } from "./prng.ts";
