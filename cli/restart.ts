/**
 * `torq restart [NAME]`: restart everything a running `torq up` runs, one
 * service, or one relay.
 *
 * @module
 */

import { ControlError, controlRequest, formatRestarted, stackFiles } from "../src/stack/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { STACK_OPTIONS, stackDir } from "./_stack.ts";

/** `torq restart`. */
export const command = defineCommand({
  name: "torq restart",
  description: `Restart what the running torq up runs, without stopping torq up itself:
  NAME a service   stop it (stop_signal, SIGKILL after stop_timeout_ms) and start it again; its
                   restart counters start over (a failed service runs again). Nothing else is
                   touched.
  NAME a relay     market_data, signal or execution: stop it (its connections drop) and start it
                   again on the same socket, with the settings SIGHUP could only log as needing
                   a restart.
  no NAME          everything: the services in reverse order, each relay, then the services
                   again in dependency order.`,
  positionals: [{
    key: "name",
    name: "NAME",
    optional: true,
    help: "A service or a relay (default: everything)",
  }],
  options: { ...STACK_OPTIONS },
  exits: { 1: "no torq up runs there, or NAME is neither a service nor a relay of it" },
  examples: [
    "torq restart strategy",
    "torq restart signal",
    "torq restart --socket-dir /tmp/torq-dev",
  ],
  async run({ options: values, args }) {
    const dir = stackDir(values);
    try {
      const answer = await controlRequest(
        stackFiles(dir).control,
        { op: "restart", name: args.name ?? null },
        { timeoutMs: 300_000 },
      );
      await printOut(formatRestarted(answer.restarted).join("\n"));
      return Exit.OK;
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      throw new CliError(
        e.reason === "not_running" || e.reason === "stale"
          ? `no torq up is running in ${dir}`
          : e.message,
      );
    }
  },
});
