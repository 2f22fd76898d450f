/**
 * `torq status`: are the relays of the current configuration running, and the
 * services of a `torq up` in their socket directory?
 *
 * @module
 */

import { collectStatus, formatStatus, statusToJson } from "../src/stack/mod.ts";
import { DOMAIN_NAMES, SOCKET_FILE_NAMES } from "../src/config/mod.ts";
import {
  ControlError,
  controlRequest,
  formatServices,
  servicesToJson,
  stackFiles,
  type StackStatus,
} from "../src/stack/mod.ts";
import { Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { API_OPTIONS, apiTarget } from "./_api.ts";
import { configFromArgs } from "./_config.ts";

/** `torq status`. */
export const command = defineCommand({
  name: "torq status",
  description:
    `For each relay of the configuration (the same --config, --env and --set as 'torq up'),
connect to its socket: a relay that answers is running, a socket file nobody listens on is a stale
socket (its relay died without removing it), no socket file is down. When the HTTP API
(http.listen) answers, each running relay's uptime, connections and message rates are shown too.
When a torq up runs in the socket directory, its services are listed as well: state (running,
restarting, stopping, stopped, exited, failed), pid, uptime, restarts and last exit status; its
dashboard is asked for the rates.`,
  options: {
    json: { type: "boolean", help: "Print the report as JSON" },
    timeout: {
      type: "number",
      value: "MS",
      positive: true,
      default: 2000,
      help: "Bound of each probe and of the HTTP request",
    },
    "socket-dir": {
      type: "string",
      value: "DIR",
      help: "The relays' socket directory, as given to 'torq up'",
    },
    ...API_OPTIONS,
  },
  exits: {
    0: "every relay is running and no service failed",
    1: "a relay is down, stale or unknown, a service failed (or the configuration is bad)",
  },
  examples: ["torq status", "torq status --env production --json", "torq status --http none"],
  async run({ options: values }) {
    const timeoutMs = values.timeout;
    const config = configFromArgs(values);
    const dir = values["socket-dir"];
    const relays = DOMAIN_NAMES.map((name) => ({
      name,
      path: dir === undefined
        ? config.relays[name].transport.path
        : `${dir}/${SOCKET_FILE_NAMES[name]}`,
    }));
    const stack = await stackStatus(dir ?? config.socket_dir, timeoutMs);
    const api = values.http === "none" ? null : apiTarget(values);
    // A running torq up knows its dashboard's address (http.listen may bind port 0).
    const url = api === null
      ? null
      : values.http !== undefined
      ? api.url
      : stack?.http?.replace(/\/$/, "") ?? api.url;
    const report = await collectStatus({
      relays,
      http: api === null || url === null ? null : { url, token: api.token },
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
  },
});

/** The state of the torq up running in `dir`, or null when none answers. */
async function stackStatus(dir: string, timeoutMs: number): Promise<StackStatus | null> {
  try {
    return await controlRequest(stackFiles(dir).control, { op: "status" }, { timeoutMs });
  } catch (e) {
    if (e instanceof ControlError) return null;
    throw e;
  }
}
