/**
 * `torq relay <domain>`: run one domain relay in the foreground.
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
import { TransportError } from "../src/transport/transport.ts";
import { domainName, parseDomain } from "../src/protocol/domains.ts";
import type { RelayDomainName } from "../src/config/mod.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { bindHttp, dashboardLine } from "./_http.ts";
import { registerSchemaFiles, SCHEMAS_HELP, SCHEMAS_OPTION } from "./_schemas.ts";

const COMMAND = "torq relay";

const HELP = `Usage: torq relay <market-data|signal|execution> [options]

Run one domain relay: listen on its Unix socket, validate what producers send
by the domain's policy (market data: performance, signal: standard, execution:
audit) and fan every accepted frame out to every other connection.
SIGINT/SIGTERM stop it gracefully (queues flushed for up to 1 s, socket removed).
SIGHUP reloads the configuration (same --config, --env, --set) and applies its
limits and log level without dropping connections; the changes are logged.

Options:
  --socket PATH        Listen here instead of the configured path
  --journal PATH       Audit journal of the execution relay (default: beside its socket)
  --http HOST:PORT     Also serve this relay's dashboard and HTTP API there (none unless given;
                       http.token applies)
${CONFIG_HELP}
${SCHEMAS_HELP}
  -h, --help           Show this help

Examples:
  torq relay signal
  torq relay market-data --socket /tmp/md.sock --log-level debug
  torq relay execution --env production --log-format json
  torq relay market-data --http 127.0.0.1:7421
  torq relay signal --set relays.signal.validation.strict=false
  torq relay execution --set relays.execution.bridge.nats.enabled=true \
    --set relays.execution.bridge.nats.jetstream=true`;

/**
 * Resolves a domain argument to a relay name.
 *
 * @param text e.g. `market-data`
 * @returns the relay name
 */
export function relayName(text: string): RelayDomainName | undefined {
  const d = parseDomain(text);
  return d === undefined || d === 4 ? undefined : domainName(d) as RelayDomainName;
}

/**
 * Runs `torq relay`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        ...SCHEMAS_OPTION,
        socket: { type: "string" },
        journal: { type: "string" },
        http: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError(COMMAND, "expected one domain: market-data, signal or execution");
  }
  const name = relayName(positionals[0]!);
  if (name === undefined) {
    throw new UsageError(
      COMMAND,
      `unknown domain ${JSON.stringify(positionals[0])}: use market-data, signal or execution`,
    );
  }
  const config = configFromArgs(values);
  registerSchemaFiles([...config.schemas, ...(values.schemas ?? [])]);
  // Before anything binds: a SIGTERM during the start-up stops the relay once it runs
  // (exit 0, socket removed) instead of killing it with the socket file left behind.
  const signals = new ProcessSignals();
  try {
    const token = config.http.token;
    // Connection caps of the relay and the HTTP server, fitted to the open file limit.
    const logger = loggerFromConfig(config.logging);
    const descriptors = descriptorBudget([name], { http: values.http !== undefined, logger });
    const http = values.http === undefined ? null : await bindHttp(COMMAND, values.http, token, {
      http: config.http,
      maxConnections: descriptors.fit(config).http,
      logger: logger.with({ component: "http" }),
    });
    let service;
    try {
      service = await startRelays(config, [name], {
        descriptors,
        reloadConfig: () => configFromArgs(values),
        ...(values.socket === undefined ? {} : { socketPath: values.socket }),
        ...(values.journal === undefined ? {} : { journalPath: values.journal }),
      });
    } catch (e) {
      await http?.stop();
      if (e instanceof TransportError || e instanceof Error) {
        throw new CliError(`cannot start the ${name.replace("_", "-")} relay: ${e.message}`);
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
}
