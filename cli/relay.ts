/**
 * `torq relay <domain>`: run one domain relay in the foreground.
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
import { TransportError } from "../src/transport/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { JOURNAL_OPTION } from "./_options.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { bindHttp, dashboardLine } from "./_http.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_tlv_schemas.ts";

/** `torq relay`. */
export const command = defineCommand({
  name: "torq relay",
  description: `Run one domain relay: listen on its Unix socket, validate what producers send by the
domain's policy (market data: performance, signal: standard, execution: audit) and fan every
accepted frame out to every other connection. SIGINT/SIGTERM stop it gracefully (queues flushed
for up to 1 s, socket removed). SIGHUP reloads the configuration (same --config, --env, --set) and
applies its limits and log level without dropping connections; the changes are logged.`,
  positionals: [
    { key: "domain", name: "DOMAIN", type: "domain", help: "market-data, signal or execution" },
  ],
  options: {
    socket: { type: "string", value: "PATH", help: "Listen here instead of the configured path" },
    ...JOURNAL_OPTION,
    http: {
      type: "string",
      value: "HOST:PORT",
      help: "Also serve this relay's dashboard and HTTP API there (none unless given; " +
        "http.token applies; port 0: any free port)",
    },
    ...CONFIG_OPTIONS,
    ...SCHEMAS_OPTION,
  },
  exits: { 1: "the relay could not start (socket in use, bad configuration)" },
  examples: [
    "torq relay signal",
    "torq relay market-data --socket /tmp/md.sock --log-level debug",
    "torq relay execution --env production --log-format json",
    "torq relay market-data --http 127.0.0.1:7421",
    "torq relay signal --set relays.signal.validation.strict=false",
    "torq relay execution --set relays.execution.bridge.nats.enabled=true \\\n" +
    "    --set relays.execution.bridge.nats.jetstream=true",
  ],
  async run({ options, args }) {
    const name = args.domain;
    // Before anything binds: a SIGTERM during the start-up stops the relay once it runs
    // (exit 0, socket removed) instead of killing it with the socket file left behind.
    const signals = new ProcessSignals();
    try {
      const config = configFromArgs(options);
      registerSchemaFiles([...config.schemas, ...options.schemas]);
      const token = config.http.token;
      // Connection caps of the relay and the HTTP server, fitted to the open file limit.
      const logger = loggerFromConfig(config.logging);
      const descriptors = descriptorBudget([name], { http: options.http !== undefined, logger });
      const http = options.http === undefined
        ? null
        : await bindHttp("torq relay", options.http, token, {
          http: config.http,
          maxConnections: descriptors.fit(config).http,
          logger: logger.with({ component: "http" }),
        });
      let service;
      try {
        service = await startRelays(config, [name], {
          descriptors,
          reloadConfig: () => configFromArgs(options),
          ...(options.socket === undefined ? {} : { socketPath: options.socket }),
          ...(options.journal === undefined ? {} : { journalPath: options.journal }),
        });
      } catch (e) {
        await http?.stop();
        if (e instanceof TransportError || e instanceof Error) {
          throw new CliError(`Cannot start the ${name.replace("_", "-")} relay: ${e.message}`);
        }
        throw e;
      }
      let bridges;
      try {
        bridges = await startBridges(service.relays, config, {
          loggerFor: (section) => loggerFromConfig(section.logging),
        });
      } catch (e) {
        await http?.stop();
        await service.stop();
        throw new CliError((e as Error).message);
      }
      http?.observe(service.relays);
      const stopped = runUntilSignal(service, {
        signals,
        beforeStop: async () => {
          await bridges.stop();
          await http?.stop();
        },
      });
      if (http !== null) await printOut(dashboardLine(http, token));
      await stopped;
    } finally {
      signals.dispose();
    }
    return Exit.OK;
  },
});
