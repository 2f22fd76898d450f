/**
 * `torq status`: are the relays of the current configuration running?
 *
 * @module
 */

import { parseArgs } from "node:util";
import { apiUrlOfListen, collectStatus, formatStatus, statusToJson } from "../src/tools/status.ts";
import { DOMAIN_NAMES, SOCKET_FILE_NAMES } from "../src/config/mod.ts";
import {
  ControlError,
  controlRequest,
  formatServices,
  servicesToJson,
  stackFiles,
  type StackStatus,
} from "../src/stack/mod.ts";
import { Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";
import { parsePositive } from "./sub.ts";

const COMMAND = "torq status";

const HELP = `Usage: torq status [options]

For each relay of the configuration (the same --config, --env and --set as
'torq up'), connect to its socket: a relay that answers is running, a socket
file nobody listens on is a stale socket (its relay died without removing it),
no socket file is down. When the HTTP API (http.listen) answers, each running
relay's uptime, connections and message rates are shown too. When a torq up
runs in the socket directory, its services are listed as well: state
(running, restarting, stopping, stopped, exited, failed), pid, uptime,
restarts and last exit status; its dashboard is asked for the rates.

Options:
  --json               Print the report as JSON
  --http HOST:PORT     Ask this HTTP API instead of http.listen ('none' to skip it)
  --token TOKEN        Bearer token of the HTTP API (default http.token)
  --timeout MS         Bound of each probe and of the HTTP request (default 2000)
  --socket-dir DIR     The relays' socket directory, as given to 'torq up'
  --config FILE        Configuration file (YAML) layered over the built-in defaults
  --env NAME           Environment overlay: development, staging, production
  --set KEY=VALUE      Override one setting (repeatable)
  -h, --help           Show this help

Exit status: 0 every relay running and no service failed, 1 a relay is down,
stale or unknown, a service failed (or bad configuration), 2 usage error.

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
        "socket-dir": { type: "string" },
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
  const dir = values["socket-dir"];
  const relays = DOMAIN_NAMES.map((name) => ({
    name,
    path: dir === undefined
      ? config.relays[name].transport.path
      : `${dir}/${SOCKET_FILE_NAMES[name]}`,
  }));
  const stack = await stackStatus(dir ?? config.socket_dir, timeoutMs);
  const listen = values.http ?? config.http.listen;
  const url = listen === "none"
    ? null
    : values.http !== undefined
    ? listen
    : stack?.http?.replace(/\/$/, "") ?? apiUrlOfListen(listen);
  const report = await collectStatus({
    relays,
    http: url === null ? null : { url, token: values.token ?? config.http.token },
    timeoutMs,
  });
  const failed = stack?.services.filter((s) => s.state === "failed") ?? [];
  if (values.json) {
    const json = statusToJson(report);
    json.ok = report.ok && failed.length === 0;
    if (stack !== null) {
      json.up = {
        pid: stack.pid,
        phase: stack.phase,
        detached: stack.detached,
        started_at: new Date(stack.startedAt).toISOString(),
        dir: stack.dir,
      };
      json.services = servicesToJson(stack.services);
    }
    await printOut(JSON.stringify(json, null, 2));
  } else {
    const lines = [formatStatus(report)];
    if (stack !== null && stack.services.length > 0) {
      lines.push("", ...formatServices(stack.services, Date.now()));
      const running = stack.services.filter((s) => s.state === "running").length;
      lines.push(
        `${running} of ${stack.services.length} services running${
          failed.length === 0 ? "" : `, ${failed.length} failed`
        } (torq up pid ${stack.pid}${stack.detached ? ", in the background" : ""})`,
      );
    }
    await printOut(lines.join("\n"));
  }
  return report.ok && failed.length === 0 ? Exit.OK : Exit.BAD_INPUT;
}

/** The state of the torq up running in `dir`, or null when none answers. */
async function stackStatus(dir: string, timeoutMs: number): Promise<StackStatus | null> {
  try {
    return await controlRequest(stackFiles(dir).control, { op: "status" }, { timeoutMs });
  } catch (e) {
    if (e instanceof ControlError) return null;
    throw e;
  }
}
