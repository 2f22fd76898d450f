/**
 * `torq up`: run the market-data, signal and execution relays in one process,
 * with the HTTP API and dashboard; `--demo` also feeds them demo traffic.
 *
 * @module
 */

import { loggerFromConfig, runUntilSignal, startRelays } from "../src/relay/service.ts";
import { startBridges } from "../src/bridge/start.ts";
import type { UpDemo } from "../src/tools/up_demo.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { JOURNAL_OPTION } from "./_options.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { bindHttp, dashboardLine } from "./_http.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_schemas.ts";

const COMMAND = "torq up";

/** `torq up`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Run all three relays (market data, signal, execution) in one process, each on its own
socket, and serve the dashboard and HTTP API (http.listen, default 127.0.0.1:7420). SIGINT/SIGTERM
stop them gracefully. SIGHUP reloads the configuration (same --config, --env, --set) and applies
its limits and log levels without dropping connections; the changes are logged.`,
  options: {
    "socket-dir": {
      type: "string",
      value: "DIR",
      help: "Put the three sockets in DIR (market_data.sock, signals.sock, execution.sock)",
    },
    ...JOURNAL_OPTION,
    http: {
      type: "string",
      value: "HOST:PORT",
      help: "Serve the dashboard and API here instead of http.listen (port 0: any free port)",
    },
    demo: {
      type: "boolean",
      help:
        "Also run demo traffic in this process: a market feed (trades on two venues, quotes), " +
        "an arbitrage strategy (source 20), a portfolio sending orders (source 40)",
    },
    ...CONFIG_OPTIONS,
    ...SCHEMAS_OPTION,
  },
  exits: { 1: "the relays could not start (socket or port in use, bad configuration)" },
  examples: [
    "torq up",
    "torq up --demo",
    "torq up --socket-dir /tmp/torq-dev --http 127.0.0.1:8080",
    "torq up --env production --log-format json --set http.token=s3cret",
  ],
  async run({ options: values }) {
    const config = configFromArgs(values);
    registerSchemaFiles([...config.schemas, ...values.schemas]);
    const token = config.http.token;
    const http = await bindHttp(COMMAND, values.http ?? config.http.listen, token);
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
  },
});
