/**
 * `torq up`: run the market-data, signal and execution relays in one process,
 * with the HTTP API and dashboard; `--demo` also feeds them demo traffic.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loggerFromConfig, runUntilSignal, startRelays } from "../src/relay/service.ts";
import { startBridges } from "../src/bridge/mod.ts";
import type { Relay } from "../src/relay/relay.ts";
import { Pipeline } from "../src/tools/pipeline.ts";
import { MockMarketData } from "../src/tools/mock_relay.ts";
import { abortableDelay } from "../src/tools/demo_arbitrage.ts";
import { RelayClient } from "../src/client/client.ts";
import { SourceType } from "../src/protocol/domains.ts";
import { VenueId } from "../src/protocol/instrument_id.ts";
import { nowNs } from "../src/protocol/clock.ts";
import { CliError, Exit, parseOrUsage, printOut } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { bindHttp, dashboardLine } from "./_http.ts";
import { registerSchemaFiles, SCHEMAS_HELP, SCHEMAS_OPTION } from "./_schemas.ts";

const COMMAND = "torq up";

const HELP = `Usage: torq up [options]

Run all three relays (market data, signal, execution) in one process, each on
its own socket, and serve the dashboard and HTTP API (http.listen, default
127.0.0.1:7420). SIGINT/SIGTERM stop them gracefully. SIGHUP reloads the
configuration (same --config, --env, --set) and applies its limits and log
levels without dropping connections; the changes are logged.

Options:
  --socket-dir DIR     Put the three sockets in DIR (market_data.sock, signals.sock, execution.sock)
  --journal PATH       Audit journal of the execution relay (default: beside its socket)
  --http HOST:PORT     Serve the dashboard and API here instead of http.listen (port 0: any free port)
  --demo               Also run demo traffic in this process: a market feed (trades on two
                       venues, quotes), an arbitrage strategy, a portfolio sending orders
${CONFIG_HELP}
${SCHEMAS_HELP}
  -h, --help           Show this help

Examples:
  torq up
  torq up --demo
  torq up --socket-dir /tmp/torq-dev --http 127.0.0.1:8080
  torq up --env production --log-format json --set http.token=s3cret`;

/** Quote symbols of the demo's extra market data (Binance). */
const DEMO_QUOTE_SYMBOLS = ["ETH-USD", "SOL-USD", "BTC-USDT", "ETH-USDT"];
/** Quotes per second of the demo's extra market data. */
const DEMO_QUOTES_PER_SECOND = 200;

/**
 * Runs `torq up`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        ...SCHEMAS_OPTION,
        "socket-dir": { type: "string" },
        journal: { type: "string" },
        http: { type: "string" },
        demo: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  const config = configFromArgs(values);
  registerSchemaFiles([...config.schemas, ...(values.schemas ?? [])]);
  const token = config.http.token;
  const http = bindHttp(COMMAND, values.http ?? config.http.listen, token);
  const dir = values["socket-dir"];
  let service;
  try {
    service = await startRelays(
      config,
      ["market_data", "signal", "execution"],
      {
        ...(dir === undefined ? {} : { socketDir: dir }),
        ...(values.journal === undefined ? {} : { journalPath: values.journal }),
        reloadConfig: () => configFromArgs(values),
      },
    );
  } catch (e) {
    await http.stop();
    throw new CliError(`cannot start the relays: ${(e as Error).message}`);
  }
  let bridges;
  try {
    bridges = await startBridges(service.relays, config, {
      loggerFor: (section) => loggerFromConfig(section.logging),
    });
  } catch (e) {
    await http.stop();
    await service.stop();
    throw new CliError((e as Error).message);
  }
  http.observe(service.relays);
  const lines = service.relays.map((r) =>
    `  ${r.logic.name.padEnd(12)} ${r.address}  (${r.logic.policy} policy${
      r.logic.policy === "audit" ? ", journal " + r.logic.journalPath : ""
    })`
  );
  let demo: Demo | null = null;
  if (values.demo) {
    try {
      demo = await startDemo(service.relays);
    } catch (e) {
      await http.stop();
      await bridges.stop();
      await service.stop();
      throw new CliError(`cannot start the demo: ${(e as Error).message}`);
    }
  }
  // Signal handlers first (runUntilSignal installs them synchronously), then the lines
  // that tell a supervisor or a test that the relays run.
  const stopped = runUntilSignal(service, {
    beforeStop: async () => {
      await demo?.stop();
      await bridges.stop();
      await http.stop();
    },
  });
  await printOut(
    `torq up: 3 relays running (Ctrl-C to stop)\n${lines.join("\n")}\n${
      dashboardLine(http, token)
    }${demo === null ? "" : `\n${demo.description}`}`,
  );
  await stopped;
  return Exit.OK;
}

/** Demo traffic running against the relays of this process. */
interface Demo {
  /** One line saying what runs. */
  description: string;
  /** Stops the traffic (bounded). */
  stop(): Promise<void>;
}

/**
 * Starts the demo pipeline (feed → strategy → portfolio → order consumer) and
 * a stream of quotes for a few more symbols.
 */
async function startDemo(relays: readonly Relay[]): Promise<Demo> {
  const path = (name: string) => relays.find((r) => r.logic.name === name)!.address;
  const paths = {
    marketData: path("market_data"),
    signal: path("signal"),
    execution: path("execution"),
  };
  const pipeline = await Pipeline.start({ paths, rate: 20 });
  pipeline.finished.catch((e: Error) => console.error(`${COMMAND}: demo stopped: ${e.message}`));
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
    if (!stopQuotes.signal.aborted) console.error(`${COMMAND}: demo quotes stopped: ${e.message}`);
  });
  return {
    description:
      `demo: BTC-USD trades on Kraken and Coinbase (20/s) → arbitrage signals → orders; ${DEMO_QUOTES_PER_SECOND} quotes/s for ${
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
