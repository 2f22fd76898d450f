/**
 * `torq status`: are the relays of the current configuration running?
 *
 * @module
 */

import { collectStatus, formatStatus, statusToJson } from "../src/tools/status.ts";
import { DOMAIN_NAMES } from "../src/config/mod.ts";
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
(http.listen) answers, each running relay's uptime, connections and message rates are shown too.`,
  options: {
    json: { type: "boolean", help: "Print the report as JSON" },
    timeout: {
      type: "number",
      value: "MS",
      positive: true,
      default: 2000,
      help: "Bound of each probe and of the HTTP request",
    },
    ...API_OPTIONS,
  },
  exits: {
    0: "every relay is running",
    1: "a relay is down, stale or unknown (or the configuration is bad)",
  },
  examples: ["torq status", "torq status --env production --json", "torq status --http none"],
  async run({ options: values }) {
    const timeoutMs = values.timeout;
    const config = configFromArgs(values);
    const relays = DOMAIN_NAMES.map((name) => ({ name, path: config.relays[name].transport.path }));
    const api = values.http === "none" ? null : apiTarget(values);
    const report = await collectStatus({
      relays,
      http: api === null || api.url === null ? null : { url: api.url, token: api.token },
      timeoutMs,
    });
    await printOut(
      values.json ? JSON.stringify(statusToJson(report), null, 2) : formatStatus(report),
    );
    return report.ok ? Exit.OK : Exit.BAD_INPUT;
  },
});
