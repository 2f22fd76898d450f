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

import { join } from "node:path";
import { parseArgs } from "node:util";
import { SOCKET_FILE_NAMES } from "../src/config/mod.ts";
import { arbitrageJsonFromMessage } from "../src/tools/arbitrage_json.ts";
import { runDemoArbitrage, sentLine } from "../src/tools/demo_arbitrage.ts";
import {
  formatPipelineEvent,
  formatPipelineStats,
  Pipeline,
  PIPELINE_STAGES,
  type PipelineStage,
  type PipelineStats,
} from "../src/tools/pipeline.ts";
import { VenueId } from "../src/protocol/instrument_id.ts";
import { parseSeed, randomSeed } from "../src/tools/prng.ts";
import { Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";

const COMMAND = "torq demo";

const HELP = `Usage: torq demo <arbitrage|pipeline> [options]

Stream demo traffic through running relays ('torq up' starts them).

  arbitrage  Randomized ArbitrageSignals (type 32) to the signal relay
  pipeline   Trades → strategy → signals → portfolio → orders, through all three relays

'torq demo <name> --help' shows each one's options.

Examples:
  torq demo arbitrage --count 10 --rate 2
  torq demo pipeline --count 200 --rate 50`;

const ARBITRAGE_HELP = `Usage: torq demo arbitrage [options]

Publish randomized but economically consistent ArbitrageSignal (type 32)
messages to the signal relay (PROTOCOL.md 8.2): domain 2, source 20
(ArbitrageStrategy), strategy 21, chain 137 (Polygon), pairs WMATIC/USDC,
WETH/USDC, WBTC/USDC and LINK/USDC with their Polygon token addresses, buy and
sell on two of QuickSwap (400), SushiSwap (401) and Uniswap V3 (301), random
pools. Spread 0.1–3.0 %, size $1,000–10,000, gas $5–20, DEX fees 0.3 %,
slippage 0.1–0.5 %; every USD amount is an exact q8 integer and
net = expected − fees − gas − slippage. One line per signal; Ctrl-C stops.

Options:
  --socket PATH        Signal relay socket (default: the configured signal relay path)
  --interval MS        Pause between signals (default: random 2–5 s, like the reference)
  --rate N             Signals per second (overrides --interval)
  --count N            Stop after N signals (default: until Ctrl-C)
  --seed N             Seed the generator (0–4294967295): the same seed gives the same signals
  --fixed-clock        Timestamps from 2023-11-14T22:13:20Z advancing by each pause, so
                       the same seed gives byte-identical frames
  --json               Print each signal as dashboard JSON (PROTOCOL.md 8.5), one per line;
                       the status lines go to stderr
${CONFIG_HELP}
  -h, --help           Show this help

Examples:
  torq demo arbitrage
  torq demo arbitrage --count 3 --rate 10 --seed 1
  torq demo arbitrage --socket /tmp/torq-dev/signals.sock --interval 500
  torq demo arbitrage --count 5 --seed 7 --fixed-clock --json | jq .net_profit_usd`;

const PIPELINE_HELP = `Usage: torq demo pipeline [options]

Run a miniature trading pipeline through the three running relays:
  feed       Trades for one pair on Kraken (101) and Coinbase (102): random walks
             that sometimes diverge → market-data relay
  strategy   Subscribed to trades (tlv.1); a price gap of at least --threshold bps
             between the venues → an ArbitrageSignal on the signal relay
  portfolio  Subscribed to signals (tlv.32); each signal → two OrderRequests
             (limit IOC buy on the cheap venue, sell on the dear one) on the
             execution relay (source 40, sequences 1, 2, 3, …, checksummed)
  consumer   Subscribed to the execution relay; counts the orders
One line per trade (📈), signal (📊) and received order (🧾), then a summary.

Options:
  --socket-dir DIR     The relays' sockets are DIR/market_data.sock, DIR/signals.sock and
                       DIR/execution.sock (default: the configured paths)
  --rate N             Trades per second (default 10)
  --count N            Stop after N trades (then drain and exit)
  --duration S         Stop after S seconds
  --seed N             Seed the market walk (0–4294967295)
  --threshold BPS      Smallest price gap that makes a signal (default 30)
  --symbol SYMBOL      The pair (default BTC-USD)
  --stage LIST         Run only these stages here, e.g. feed or strategy,portfolio (default
                       all): the others run in other processes, e.g. as torq up services
  --venue VENUE        The feed publishes only this venue's trades: kraken or coinbase (two
                       feeds with the same --seed draw the same market)
${CONFIG_HELP}
  -h, --help           Show this help

Examples:
  torq up --socket-dir /tmp/torq-demo &
  torq demo pipeline --socket-dir /tmp/torq-demo --count 200 --rate 50 --seed 3
  torq demo pipeline --duration 30
  torq demo pipeline --stage feed --venue kraken --seed 7   # one collector of a split pipeline`;

/** Writes one line synchronously (keeps stdout and stderr lines in order). */
function emit(stream: "out" | "err", text: string): void {
  const bytes = new TextEncoder().encode(text + "\n");
  const target = stream === "out" ? Deno.stdout : Deno.stderr;
  for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
}

/** An AbortSignal fired by the first SIGINT or SIGTERM; `dispose()` removes the listeners. */
function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const sigs = ["SIGINT", "SIGTERM"] as const;
  const handler = () => ac.abort();
  for (const s of sigs) Deno.addSignalListener(s, handler);
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of sigs) Deno.removeSignalListener(s, handler);
    },
  };
}

function positive(command: string, name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(
      command,
      `option '--${name}' needs a positive number, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function positiveInt(command: string, name: string, text: string | undefined): number | undefined {
  const n = positive(command, name, text);
  if (n !== undefined && !Number.isSafeInteger(n)) {
    throw new UsageError(
      command,
      `option '--${name}' needs a whole number, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function seedOf(command: string, text: string | undefined): number {
  if (text === undefined) return randomSeed();
  const seed = parseSeed(text);
  if (seed === undefined) {
    throw new UsageError(
      command,
      `option '--seed' needs an integer 0–4294967295, got ${JSON.stringify(text)}`,
    );
  }
  return seed;
}

function reportError(e: unknown, verbose: boolean): number {
  emit("err", `❌ Error: ${e instanceof Error ? e.message : String(e)}`);
  if (verbose && e instanceof Error && e.stack !== undefined) emit("err", e.stack);
  return Exit.BAD_INPUT;
}

async function runArbitrage(args: string[]): Promise<number> {
  const command = `${COMMAND} arbitrage`;
  const { values } = parseOrUsage(command, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        socket: { type: "string" },
        interval: { type: "string" },
        rate: { type: "string" },
        count: { type: "string" },
        seed: { type: "string" },
        "fixed-clock": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(ARBITRAGE_HELP);
    return Exit.OK;
  }
  const interval = positive(command, "interval", values.interval);
  const rate = positive(command, "rate", values.rate);
  const count = positiveInt(command, "count", values.count);
  const seed = seedOf(command, values.seed);
  const path = values.socket ?? configFromArgs(values).relays.signal.transport.path;
  const status = values.json ? "err" : "out";
  const interrupt = interruptSignal();
  try {
    const result = await runDemoArbitrage({
      path,
      seed,
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
  } finally {
    interrupt.dispose();
  }
}

async function runPipeline(args: string[]): Promise<number> {
  const command = `${COMMAND} pipeline`;
  const { values } = parseOrUsage(command, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        "socket-dir": { type: "string" },
        rate: { type: "string" },
        count: { type: "string" },
        duration: { type: "string" },
        seed: { type: "string" },
        threshold: { type: "string" },
        symbol: { type: "string" },
        stage: { type: "string" },
        venue: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(PIPELINE_HELP);
    return Exit.OK;
  }
  const stages = stagesOf(command, values.stage);
  const feedVenues = venuesOf(command, values.venue);
  const rate = positive(command, "rate", values.rate);
  const count = positiveInt(command, "count", values.count);
  const duration = positive(command, "duration", values.duration);
  const threshold = positiveInt(command, "threshold", values.threshold);
  const seed = seedOf(command, values.seed);
  const symbol = values.symbol ?? "BTC-USD";
  if (!/^[\x21-\x7e]{1,8}$/.test(symbol)) {
    throw new UsageError(
      command,
      `option '--symbol' needs 1–8 ASCII characters, got ${JSON.stringify(symbol)}`,
    );
  }
  const dir = values["socket-dir"];
  const relays = configFromArgs(values).relays;
  const paths = dir === undefined
    ? {
      marketData: relays.market_data.transport.path,
      signal: relays.signal.transport.path,
      execution: relays.execution.transport.path,
    }
    : {
      marketData: join(dir, SOCKET_FILE_NAMES.market_data),
      signal: join(dir, SOCKET_FILE_NAMES.signal),
      execution: join(dir, SOCKET_FILE_NAMES.execution),
    };
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
  const interrupt = interruptSignal();
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
  } finally {
    interrupt.dispose();
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

function venuesOf(command: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const venues: Record<string, number> = { kraken: VenueId.Kraken, coinbase: VenueId.Coinbase };
  const venue = venues[text.trim().toLowerCase()];
  if (venue === undefined) {
    throw new UsageError(
      command,
      `option '--venue' needs kraken or coinbase, got ${JSON.stringify(text)}`,
    );
  }
  return [venue];
}

/**
 * Runs `torq demo`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const first = args[0];
  const name = first === undefined || first.startsWith("-") ? undefined : first;
  const rest = args.slice(1);
  switch (name) {
    case "arbitrage":
    case "arb":
      return await runArbitrage(rest);
    case "pipeline":
      return await runPipeline(rest);
    case undefined:
      if (args.includes("-h") || args.includes("--help")) {
        await printOut(HELP);
        return Exit.OK;
      }
      throw new UsageError(COMMAND, "expected a demo name: arbitrage or pipeline");
    default:
      throw new UsageError(
        COMMAND,
        `unknown demo ${JSON.stringify(name)}: use arbitrage or pipeline`,
      );
  }
}
