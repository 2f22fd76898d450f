/**
 * `torq restart [NAME]`: restart everything a running `torq up` runs, one
 * service, or one relay.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ControlError, controlRequest, formatRestarted, stackFiles } from "../src/stack/mod.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { STACK_HELP, STACK_OPTIONS, stackDir } from "./_stack.ts";

const COMMAND = "torq restart";

const HELP = `Usage: torq restart [NAME] [options]

Restart what the running torq up runs, without stopping torq up itself:
  NAME a service   stop it (stop_signal, SIGKILL after stop_timeout_ms) and start
                   it again; its restart counters start over (a failed service
                   runs again). Nothing else is touched.
  NAME a relay     market_data, signal or execution: stop it (its connections
                   drop) and start it again on the same socket, with the
                   settings SIGHUP could only log as needing a restart.
  no NAME          everything: the services in reverse order, each relay, then
                   the services again in dependency order.

Options:
${STACK_HELP}
  -h, --help           Show this help

Examples:
  torq restart strategy
  torq restart signal
  torq restart --socket-dir /tmp/torq-dev`;

/**
 * Runs `torq restart`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...STACK_OPTIONS,
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
  if (positionals.length > 1) {
    throw new UsageError(COMMAND, `unexpected argument '${positionals[1]}'`);
  }
  const dir = stackDir(values);
  try {
    const answer = await controlRequest(
      stackFiles(dir).control,
      { op: "restart", name: positionals[0] ?? null },
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
}
