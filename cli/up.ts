/**
 * `torq up`: run the market-data, signal and execution relays in one process,
 * with the HTTP API and dashboard; `--demo` also feeds them demo traffic.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  descriptorBudget,
  loggerFromConfig,
  runUntilSignal,
  startRelays,
} from "../src/relay/service.ts";
import { ProcessSignals } from "../src/relay/signals.ts";
import { startBridges } from "../src/bridge/start.ts";
import type { UpDemo } from "../src/tools/up_demo.ts";
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
  // Before anything binds: a SIGTERM during the start-up stops the relays once they run
  // (exit 0, sockets removed) instead of killing the process with the socket files left.
  const signals = new ProcessSignals();
  try {
    const token = config.http.token;
    const names = ["market_data", "signal", "execution"] as const;
    // Connection caps of the relays and the HTTP server, fitted to the open file limit.
    const logger = loggerFromConfig(config.logging);
    const descriptors = descriptorBudget(names, { http: true, logger });
    const http = await bindHttp(COMMAND, values.http ?? config.http.listen, token, {
      http: config.http,
      maxConnections: descriptors.fit(config).http,
      logger: logger.with({ component: "http" }),
    });
    const dir = values["socket-dir"];
    let service;
    try {
      service = await startRelays(
        config,
        names,
        {
          descriptors,
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
    let demo: UpDemo | null = null;
    if (values.demo) {
      try {
        // Loaded only with --demo: a relay process without it does not hold the demo's code.
        const { startUpDemo } = await import("../src/tools/up_demo.ts");
        demo = await startUpDemo(service.relays, (line) => console.error(`${COMMAND}: ${line}`));
      } catch (e) {
        await http.stop();
        await bridges.stop();
        await service.stop();
        throw new CliError(`cannot start the demo: ${(e as Error).message}`);
      }
    }
    // The lines that tell a supervisor or a test that the relays run come last.
    const stopped = runUntilSignal(service, {
      signals,
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
  } finally {
    signals.dispose();
  }
  return Exit.OK;
}
