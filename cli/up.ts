/**
 * `torq up`: run the market-data, signal and execution relays in one process,
 * with the HTTP API and dashboard, then the configured services (src/stack);
 * `--demo` also feeds them demo traffic; `-d` runs all that in the background.
 *
 * @module
 */

import {
  descriptorBudget,
  loggerFromConfig,
  ProcessSignals,
  runUntilSignal,
  startBridges,
  startRelays,
} from "../src/daemon/mod.ts";
import type { UpDemo } from "../src/demo/mod.ts";
import {
  DetachError,
  formatLogLine,
  formatStarted,
  ServiceStartError,
  Stack,
  StackBusyError,
  StackLock,
  startDetached,
  torqCommand,
} from "../src/stack/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { JOURNAL_OPTION } from "./_options.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { bindHttp, dashboardLine } from "./_http.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_tlv_schemas.ts";

const COMMAND = "torq up";

/** The relays `torq up` runs, in start order. */
const RELAYS = ["market_data", "signal", "execution"] as const;

/** `torq up`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Run all three relays (market data, signal, execution) in one process, each on its own
socket, and serve the dashboard and HTTP API (http.listen, default 127.0.0.1:7420). SIGINT/SIGTERM
stop them gracefully. SIGHUP reloads the configuration (same --config, --env, --set) and applies
its limits and log levels without dropping connections; the changes are logged.

Then the services of the configuration (services:) start in dependency order, once every relay
accepts connections; each one's output goes to <socket dir>/<name>.log and here as "[name] line".
They stop in reverse order before the relays. A second torq up in the same socket directory
refuses to start (up.pid). 'torq status', 'torq logs', 'torq restart' and 'torq down' operate a
running torq up through its control socket (<socket dir>/up.ctl).`,
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
        "an arbitrage strategy (source 23), a portfolio sending orders (source 40)",
    },
    detach: {
      type: "boolean",
      short: "d",
      help: "Run in the background and return once everything runs (exit 1 with the reason " +
        "when something does not start); its own log is <socket dir>/up.log",
    },
    daemon: {
      type: "boolean",
      hidden: true,
      help: "(used by -d) Run as the background process: no terminal output",
    },
    ...CONFIG_OPTIONS,
    ...SCHEMAS_OPTION,
  },
  exits: {
    1: "the relays or a service could not start (socket or port in use, bad configuration, " +
      "a torq up already runs in the socket directory)",
  },
  examples: [
    "torq up",
    "torq up --demo",
    "torq up -d --config stack.yaml && torq status && torq down",
    "torq up --socket-dir /tmp/torq-dev --http 127.0.0.1:8080",
    "torq up --env production --log-format json --set http.token=s3cret",
  ],
  async run({ options: values, argv }) {
    const config = configFromArgs(values);
    const dir = values["socket-dir"];
    if (values.detach) return await runDetached(argv, dir ?? config.socket_dir);
    // Before anything binds: a SIGTERM during the start-up stops the relays once they run
    // (exit 0, sockets removed) instead of killing the process with the socket files left.
    const signals = new ProcessSignals();
    try {
      using lock = lockStackDir(dir ?? config.socket_dir);
      registerSchemaFiles([...config.schemas, ...values.schemas]);
      const token = config.http.token;
      // Connection caps of the relays and the HTTP server, fitted to the open file limit.
      const logger = loggerFromConfig(config.logging);
      const descriptors = descriptorBudget(RELAYS, { http: true, logger });
      const http = await bindHttp(COMMAND, values.http ?? config.http.listen, token, {
        http: config.http,
        maxConnections: descriptors.fit(config).http,
        logger: logger.with({ component: "http" }),
      });
      let service;
      try {
        service = await startRelays(
          config,
          RELAYS,
          {
            descriptors,
            ...(dir === undefined ? {} : { socketDir: dir }),
            ...(values.journal === undefined ? {} : { journalPath: values.journal }),
            reloadConfig: () => configFromArgs(values),
          },
        );
      } catch (e) {
        await http.stop();
        throw new CliError(`Cannot start the relays: ${(e as Error).message}`);
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
          const { startUpDemo } = await import("../src/demo/mod.ts");
          demo = await startUpDemo(service.relays, (line) => console.error(`${COMMAND}: ${line}`));
        } catch (e) {
          await http.stop();
          await bridges.stop();
          await service.stop();
          throw new CliError(`Cannot start the demo: ${(e as Error).message}`);
        }
      }
      let stack: Stack;
      try {
        stack = await Stack.start({
          config,
          lock,
          relays: service,
          relayNames: RELAYS,
          bridges,
          hub: http.hub,
          httpUrl: http.server.url,
          detached: values.daemon,
          torqCommand: torqCommand(),
          env: values.env === undefined ? {} : { TORQ_ENV: values.env },
          logger,
          ...(values.daemon ? {} : { echo: echoer(Object.keys(config.services)) }),
        });
      } catch (e) {
        await demo?.stop();
        await http.stop();
        await bridges.stop();
        await service.stop();
        throw e instanceof ServiceStartError ? new CliError(e.message) : e;
      }
      const stopped = runUntilSignal(service, {
        signals,
        beforeStop: async () => {
          await stack.stopServices();
          await demo?.stop();
          await bridges.stop();
          await http.stop();
        },
      });
      // The lines that tell a supervisor or a test that the relays run come last.
      stack.ready();
      const services = stack.supervisor.status().map((s) => `${s.name} (pid ${s.pid ?? "-"})`);
      await printOut(
        `torq up: 3 relays running (Ctrl-C to stop)\n${lines.join("\n")}\n${
          dashboardLine(http, token)
        }${demo === null ? "" : `\n${demo.description}`}${
          services.length === 0 ? "" : `\nservices: ${services.join(", ")}`
        }`,
      );
      await stopped;
      await stack.close();
    } finally {
      signals.dispose();
    }
    return Exit.OK;
  },
});

function lockStackDir(dir: string): StackLock {
  try {
    return StackLock.acquire(dir);
  } catch (e) {
    if (e instanceof StackBusyError) throw new CliError(e.message);
    throw e;
  }
}

/** Writes `[name] line` to stdout, the names padded to line the texts up. */
function echoer(names: readonly string[]): (name: string, line: string) => void {
  const width = Math.max(0, ...names.map((n) => n.length));
  const encoder = new TextEncoder();
  return (name, line) => {
    const bytes = encoder.encode(formatLogLine({ name, time: 0, text: line }, width) + "\n");
    for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  };
}

/** `torq up -d`: the same command in the background, and its summary once it runs. */
async function runDetached(args: readonly string[], dir: string): Promise<number> {
  const rest = args.filter((a) => a !== "-d" && a !== "--detach");
  try {
    const status = await startDetached({
      dir,
      command: [...torqCommand(), "up", ...rest, "--daemon"],
    });
    await printOut(formatStarted(status).join("\n"));
    return Exit.OK;
  } catch (e) {
    if (e instanceof StackBusyError || e instanceof DetachError) throw new CliError(e.message);
    throw e;
  }
}
