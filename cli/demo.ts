/**
 * `torq demo arbitrage|pipeline`: demo traffic through running relays.
 *
 * - `arbitrage` (PROTOCOL.md 8.2): randomized, economically consistent
 *   ArbitrageSignals to the signal relay.
 * - `pipeline`: trades → strategy → signals → portfolio → orders → consumer,
 *   through all three relays.
 *
 * @module
 */

import { arbitrageJsonFromMessage } from "../src/format/mod.ts";
import {
  formatPipelineEvent,
  formatPipelineStats,
  Pipeline,
  PIPELINE_STAGES,
  type PipelineStage,
  type PipelineStats,
  randomSeed,
  runDemoArbitrage,
  sentLine,
} from "../src/demo/mod.ts";
import { VenueId } from "../src/protocol/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { Exit, UsageError } from "./_args.ts";
import { countOption, SEED_OPTION } from "./_options.ts";
import { defineCommand, defineGroup } from "./_command.ts";
import { relayPaths, relayTarget, TARGET_OPTIONS, type TargetArgs } from "./_target.ts";

/** `torq demo`. */
export const command = defineGroup({
  name: "torq demo",
  description: "Stream demo traffic through running relays ('torq up' starts them).",
  commands: { arbitrage: () => arbitrage, pipeline: () => pipeline },
  summaries: {
    arbitrage: "Randomized ArbitrageSignals (type 32) to the signal relay",
    pipeline: "Trades → strategy → signals → portfolio → orders, through all three relays",
  },
  aliases: { arb: "arbitrage" },
  examples: ["torq demo arbitrage --count 10 --rate 2", "torq demo pipeline --count 200 --rate 50"],
});

const arbitrage = defineCommand({
  name: "torq demo arbitrage",
  summary: "Randomized ArbitrageSignals (type 32) to the signal relay",
  description:
    `Publish randomized but economically consistent ArbitrageSignal (type 32) messages to the
signal relay (PROTOCOL.md 8.2): domain 2, source 20 (ArbitrageStrategy), strategy 21, chain 137
(Polygon), pairs WMATIC/USDC, WETH/USDC, WBTC/USDC and LINK/USDC with their Polygon token
addresses, buy and sell on two of QuickSwap (400), SushiSwap (401) and Uniswap V3 (301), random
pools. Spread 0.1–3.0 %, size $1,000–10,000, gas $5–20, DEX fees 0.3 %, slippage 0.1–0.5 %; every
USD amount is an exact q8 integer and net = expected − fees − gas − slippage. One line per signal;
Ctrl-C stops.

Source 20 is this demo's own: the built-in demo of 'torq up --demo' sends its signals from source
23, so both run side by side without sequence gaps. Two of these demos at once need --source.`,
  options: {
    interval: {
      type: "number",
      value: "MS",
      positive: true,
      help: "Pause between signals (default: random 2–5 s, like the reference)",
    },
    rate: {
      type: "number",
      value: "N",
      positive: true,
      help: "Signals per second (overrides --interval)",
    },
    count: countOption("Stop after N signals (default: until Ctrl-C)"),
    ...SEED_OPTION,
    source: {
      type: "number",
      value: "N",
      integer: true,
      min: 1,
      max: 255,
      default: 20,
      help: "Header source of the signals",
    },
    "fixed-clock": {
      type: "boolean",
      help: "Timestamps from 2023-11-14T22:13:20Z advancing by each pause, so the same seed " +
        "gives byte-identical frames",
    },
    json: {
      type: "boolean",
      help: "Print each signal as dashboard JSON (PROTOCOL.md 8.5), one per line; the status " +
        "lines go to stderr",
    },
    ...TARGET_OPTIONS,
  },
  exits: { 1: "the signal relay is not running or the connection failed" },
  examples: [
    "torq demo arbitrage",
    "torq demo arbitrage --count 3 --rate 10 --seed 1",
    "torq demo arbitrage --socket /tmp/torq-dev/signals.sock --interval 500",
    "torq demo arbitrage --count 5 --seed 7 --fixed-clock --json | jq .net_profit_usd",
  ],
  run: ({ options }) => runArbitrage(options),
});

const pipeline = defineCommand({
  name: "torq demo pipeline",
  summary: "Trades → strategy → signals → portfolio → orders, through all three relays",
  description: `Run a miniature trading pipeline through the three running relays:
  feed       Trades for one pair on Kraken (101) and Coinbase (102): random walks that sometimes
             diverge → market-data relay
  strategy   Subscribed to trades (tlv.1); a price gap of at least --threshold bps between the
             venues → an ArbitrageSignal on the signal relay (source 20)
  portfolio  Subscribed to signals (tlv.32); each signal → two OrderRequests (limit IOC buy on
             the cheap venue, sell on the dear one) on the execution relay (source 40,
             sequences 1, 2, 3, …, checksummed)
  consumer   Subscribed to the execution relay; counts the orders
One line per trade (📈), signal (📊) and received order (🧾), then a summary.`,
  options: {
    rate: {
      type: "number",
      value: "N",
      positive: true,
      default: 10,
      help: "Trades per second",
    },
    count: countOption("Stop after N trades (then drain and exit)"),
    duration: { type: "number", value: "S", positive: true, help: "Stop after S seconds" },
    ...SEED_OPTION,
    threshold: {
      type: "number",
      value: "BPS",
      integer: true,
      positive: true,
      default: 30,
      help: "Smallest price gap that makes a signal",
    },
    symbol: { type: "string", value: "SYMBOL", default: "BTC-USD", help: "The pair" },
    stage: {
      type: "string",
      value: "LIST",
      help: "Run only these stages here, e.g. feed or strategy,portfolio (default all): the " +
        "others run in other processes, e.g. as torq up services",
    },
    venue: {
      type: "string",
      value: "VENUE",
      choices: ["kraken", "coinbase"],
      help: "The feed publishes only this venue's trades (two feeds with the same --seed draw " +
        "the same market)",
    },
    ...TARGET_OPTIONS,
  },
  exits: { 1: "a relay is not running or a connection failed" },
  examples: [
    "torq up --socket-dir /tmp/torq-demo &",
    "torq demo pipeline --socket-dir /tmp/torq-demo --count 200 --rate 50 --seed 3",
    "torq demo pipeline --duration 30",
    "torq demo pipeline --stage feed --venue kraken --seed 7   # one collector of a split pipeline",
  ],
  run: ({ options }) => runPipeline(options),
});

/** Writes one line synchronously (keeps stdout and stderr lines in order). */
function emit(stream: "out" | "err", text: string): void {
  const bytes = new TextEncoder().encode(text + "\n");
  const target = stream === "out" ? Deno.stdout : Deno.stderr;
  for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
}

function reportError(e: unknown, verbose: boolean): number {
  emit("err", `❌ Error: ${e instanceof Error ? e.message : String(e)}`);
  if (verbose && e instanceof Error && e.stack !== undefined) emit("err", e.stack);
  return Exit.BAD_INPUT;
}

async function runArbitrage(
  values: TargetArgs & {
    seed?: number | undefined;
    interval?: number | undefined;
    rate?: number | undefined;
    count?: number | undefined;
    source: number;
    "fixed-clock": boolean;
    json: boolean;
    verbose: boolean;
  },
): Promise<number> {
  const command = "torq demo arbitrage";
  const seed = values.seed ?? randomSeed();
  const path = relayTarget(command, "signal", values).path;
  const interval = values.interval;
  const rate = values.rate;
  const count = values.count;
  const status = values.json ? "err" : "out";
  using interrupt = interruptOnSignals();
  try {
    const result = await runDemoArbitrage({
      path,
      seed,
      source: values.source,
      count,
      intervalMs: rate !== undefined ? 1000 / rate : interval,
      fixedClock: values["fixed-clock"],
      signal: interrupt.signal,
      onStatus: (line) => emit(status, line),
      onSent: (s) => {
        if (values.json) {
          for (const o of arbitrageJsonFromMessage(s.message)) emit("out", JSON.stringify(o));
        } else {
          emit("out", sentLine(s.opportunity));
        }
      },
    });
    if (result.interrupted) emit(status, "👋 Stopping demo generator");
    emit(
      status,
      `Sent ${result.sent} arbitrage signal${
        result.sent === 1 ? "" : "s"
      } to ${path} (seed ${seed})`,
    );
    return Exit.OK;
  } catch (e) {
    return reportError(e, values.verbose);
  }
}

async function runPipeline(
  values: TargetArgs & {
    seed?: number | undefined;
    symbol: string;
    rate: number;
    count?: number | undefined;
    duration?: number | undefined;
    threshold: number;
    stage?: string | undefined;
    venue?: "kraken" | "coinbase" | undefined;
    verbose: boolean;
  },
): Promise<number> {
  const command = "torq demo pipeline";
  const stages = stagesOf(command, values.stage);
  const feedVenues = values.venue === undefined
    ? undefined
    : [values.venue === "coinbase" ? VenueId.Coinbase : VenueId.Kraken];
  const seed = values.seed ?? randomSeed();
  const symbol = values.symbol;
  if (!/^[\x21-\x7e]{1,8}$/.test(symbol)) {
    throw new UsageError(
      command,
      `option '--symbol' expects 1–8 ASCII characters, got ${JSON.stringify(symbol)}`,
    );
  }
  const rate = values.rate;
  const count = values.count;
  const duration = values.duration;
  const threshold = values.threshold;
  if (values.socket !== undefined) {
    throw new UsageError(
      command,
      "the pipeline uses three relays: give --socket-dir, not --socket",
    );
  }
  const all = relayPaths(command, values);
  const paths = { marketData: all.market_data, signal: all.signal, execution: all.execution };
  const part = stages.length === PIPELINE_STAGES.length ? "" : ` (${stages.join(", ")})`;
  const venues = feedVenues === undefined
    ? "Kraken and Coinbase"
    : feedVenues[0] === VenueId.Coinbase
    ? "Coinbase"
    : "Kraken";
  emit(
    "out",
    `🚀 Starting demo pipeline${part}: ${symbol} on ${venues}${
      stages.includes("feed") ? ` (seed ${seed})` : ""
    }`,
  );
  emit(
    "out",
    `📡 Relays: market data ${paths.marketData}, signals ${paths.signal}, execution ${paths.execution}`,
  );
  using interrupt = interruptOnSignals();
  let stats: PipelineStats;
  try {
    const pipeline = await Pipeline.start({
      paths,
      symbol,
      seed,
      rate,
      count,
      durationMs: duration === undefined ? undefined : duration * 1000,
      thresholdBps: threshold,
      stages,
      feedVenues,
      onEvent: (e) => emit("out", formatPipelineEvent(e)),
      onConnected: () =>
        emit(
          "out",
          `✅ Connected: ${stages.slice(0, -1).join(", ")}${stages.length > 1 ? " and " : ""}${
            stages.at(-1)
          }`,
        ),
    });
    const onInterrupt = () => {
      emit("out", "👋 Stopping demo pipeline");
      void pipeline.stop().catch(() => {});
    };
    interrupt.signal.addEventListener("abort", onInterrupt, { once: true });
    try {
      stats = await pipeline.finished;
    } finally {
      interrupt.signal.removeEventListener("abort", onInterrupt);
    }
  } catch (e) {
    return reportError(e, values.verbose);
  }
  emit("out", formatPipelineStats(stats));
  return Exit.OK;
}

function stagesOf(command: string, text: string | undefined): PipelineStage[] {
  if (text === undefined) return [...PIPELINE_STAGES];
  const names = text.split(",").map((n) => n.trim());
  for (const n of names) {
    if (!(PIPELINE_STAGES as readonly string[]).includes(n)) {
      throw new UsageError(
        command,
        `option '--stage' needs stages among ${PIPELINE_STAGES.join(", ")}, got ${
          JSON.stringify(n)
        }`,
      );
    }
  }
  return PIPELINE_STAGES.filter((s) => names.includes(s));
}
