/**
 * `torq up`: run the market-data, signal and execution relays in one process.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runUntilSignal, startRelays } from "../src/relay/service.ts";
import { CliError, Exit, parseOrUsage, printOut } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";

const COMMAND = "torq up";

const HELP = `Usage: torq up [options]

Run all three relays (market data, signal, execution) in one process, each on
its own socket, and print where they listen. SIGINT/SIGTERM stop them gracefully.

Options:
  --socket-dir DIR     Put the three sockets in DIR (market_data.sock, signals.sock, execution.sock)
${CONFIG_HELP}
  -h, --help           Show this help

Examples:
  torq up
  torq up --socket-dir /tmp/torq-dev
  torq up --env production --log-format json`;

/**
 * Runs `torq up`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        "socket-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  const config = configFromArgs(values);
  const dir = values["socket-dir"];
  let service;
  try {
    service = await startRelays(
      config,
      ["market_data", "signal", "execution"],
      dir === undefined ? {} : { socketDir: dir },
    );
  } catch (e) {
    throw new CliError(`cannot start the relays: ${(e as Error).message}`);
  }
  const lines = service.relays.map((r) =>
    `  ${r.logic.name.padEnd(12)} ${r.address}  (${r.logic.policy} policy${
      r.logic.policy === "audit" ? ", journal " + r.logic.journalPath : ""
    })`
  );
  await printOut(`torq up: 3 relays running (Ctrl-C to stop)\n${lines.join("\n")}`);
  await runUntilSignal(service);
  return Exit.OK;
}
