/**
 * `torq status`: are the relays of the current configuration running?
 *
 * @module
 */

import { parseArgs } from "node:util";
import { apiUrlOfListen, collectStatus, formatStatus, statusToJson } from "../src/tools/status.ts";
import { DOMAIN_NAMES } from "../src/config/mod.ts";
import { Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { parsePositive } from "./sub.ts";

const COMMAND = "torq status";

const HELP = `Usage: torq status [options]

For each relay of the configuration (the same --config, --env and --set as
'torq up'), connect to its socket: a relay that answers is running, a socket
file nobody listens on is a stale socket (its relay died without removing it),
no socket file is down. When the HTTP API (http.listen) answers, each running
relay's uptime, connections and message rates are shown too.

Options:
  --json               Print the report as JSON
  --http HOST:PORT     Ask this HTTP API instead of http.listen ('none' to skip it)
  --token TOKEN        Bearer token of the HTTP API (default http.token)
  --timeout MS         Bound of each probe and of the HTTP request (default 2000)
  --config FILE        Configuration file (YAML) layered over the built-in defaults
  --env NAME           Environment overlay: development, staging, production
  --set KEY=VALUE      Override one setting (repeatable)
  -h, --help           Show this help

Exit status: 0 every relay running, 1 a relay is down, stale or unknown (or
bad configuration), 2 usage error.

Examples:
  torq status
  torq status --env production --json
  torq status --http none`;

/**
 * Runs `torq status`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code: 0 when every relay runs, else 1
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        json: { type: "boolean", default: false },
        http: { type: "string" },
        token: { type: "string" },
        timeout: { type: "string" },
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
  if (positionals.length > 0) {
    throw new UsageError(COMMAND, `unexpected argument '${positionals[0]}'`);
  }
  const timeoutMs = parsePositive(COMMAND, "--timeout", values.timeout) ?? 2000;
  const config = configFromArgs(values);
  const relays = DOMAIN_NAMES.map((name) => ({ name, path: config.relays[name].transport.path }));
  const listen = values.http ?? config.http.listen;
  const url = listen === "none"
    ? null
    : values.http !== undefined
    ? listen
    : apiUrlOfListen(listen);
  const report = await collectStatus({
    relays,
    http: url === null ? null : { url, token: values.token ?? config.http.token },
    timeoutMs,
  });
  await printOut(
    values.json ? JSON.stringify(statusToJson(report), null, 2) : formatStatus(report),
  );
  return report.ok ? Exit.OK : Exit.BAD_INPUT;
}
