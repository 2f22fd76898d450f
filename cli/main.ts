/**
 * `torq`: one executable, many subcommands. This file is the dispatcher: the
 * one table of subcommands (name → summary and lazily loaded module), the
 * global options and the error policy (one line on stderr, stack traces only
 * with `--verbose`).
 *
 * Adding a subcommand is one file in cli/ that exports a `command` declared
 * with `defineCommand` (cli/_command.ts), and one line in {@linkcode COMMANDS}.
 *
 * @module
 */

import { VERSION } from "../src/version.ts";
import { didYouMean } from "../src/text/mod.ts";
import { CliError, Exit, printOut, wantsVerbose } from "./_args.ts";
import type { Command } from "./_command.ts";

/** What every subcommand module exports. */
export interface CommandModule {
  /** The command, declared with `defineCommand` or `defineGroup`. */
  command: Command;
}

/** One entry of the subcommand table. */
export interface CommandEntry {
  /** One line for `torq --help`. */
  summary: string;
  /** Loads the module (lazily, so each subcommand pays only for its own imports). */
  load: () => Promise<CommandModule>;
}

/** The subcommands, in the order `torq --help` lists them. One line each, hence no formatting. */
// deno-fmt-ignore
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  relay: { summary: "Run one domain relay (market-data, signal or execution)", load: () => import("./relay.ts") },
  up: { summary: "Run the three relays and the configured services (-d: in the background)", load: () => import("./up.ts") },
  down: { summary: "Stop a running torq up: its services, then its relays", load: () => import("./down.ts") },
  restart: { summary: "Restart a running torq up's services and relays, or one of them", load: () => import("./restart.ts") },
  logs: { summary: "Show or follow the logs of a torq up's services (-f)", load: () => import("./logs.ts") },
  config: { summary: "Validate or show the effective configuration", load: () => import("./config.ts") },
  demo: { summary: "Stream demo traffic: arbitrage signals, or a whole pipeline", load: () => import("./demo.ts") },
  "mock-relay": { summary: "A fake market-data source and sink for testing consumers", load: () => import("./mock_relay.ts") },
  sub: { summary: "Subscribe to a relay and print what arrives", load: () => import("./sub.ts") },
  pub: { summary: "Publish built or given messages to a relay", load: () => import("./pub.ts") },
  bench: { summary: "Load-generate through a relay: throughput, latency percentiles", load: () => import("./bench.ts") },
  record: { summary: "Record a relay's frames with receive times to a file", load: () => import("./record.ts") },
  replay: { summary: "Play a recording back into a relay", load: () => import("./replay.ts") },
  journal: { summary: "Show or verify an audited relay's execution journal", load: () => import("./journal.ts") },
  top: { summary: "Live terminal view of the relays (like nats top)", load: () => import("./top.ts") },
  stats: { summary: "Print the relays' counters from the HTTP API", load: () => import("./stats.ts") },
  status: { summary: "Is each configured relay running? (socket probe, uptime, rates)", load: () => import("./status.ts") },
  "tlv-info": { summary: "Show the TLV registry, or one type's layout and fields", load: () => import("./tlv_info.ts") },
  decode: { summary: "Decode Protocol V2 frames from hex, stdin or a file", load: () => import("./decode.ts") },
  encode: { summary: "Build Protocol V2 frames from the JSON that decode prints", load: () => import("./encode.ts") },
};

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const commands = names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`).join("\n");
  return `torq ${VERSION}: Protocol V2 relays, codec and developer tools

Usage:
  torq <command> [options] [arguments]
  torq <command> --help
  torq help <command>

Commands:
${commands}

Options:
  -h, --help     Show this help
  -V, --version  Print the version
      --verbose  Print stack traces of errors

Exit status: 0 success, 1 bad input or validation failure, 2 usage error
('torq <command> --help' says what each code means for that command).

Examples:
  torq tlv-info
  torq tlv-info ArbitrageSignal
  torq decode efbeadde01010200010000000000000015cd853dfe9c97172a0000000fde683b0128004453552d43544280d3049d1a0400004e61bc000000000000002a36fe9c97176500330000000000
  torq decode --json - < frames.bin | torq encode --json -`;
}

function unknownCommand(name: string): CliError {
  return new CliError(
    `unknown command ${JSON.stringify(name)}${
      didYouMean(name, [...Object.keys(COMMANDS), "help"])
    } (see 'torq --help')`,
    Exit.USAGE,
  );
}

async function dispatch(args: string[]): Promise<number> {
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h" || a === "--help") {
      await printOut(mainHelp());
      return Exit.OK;
    }
    if (a === "-V" || a === "--version") {
      await printOut(`torq ${VERSION}`);
      return Exit.OK;
    }
    if (a === "--verbose") continue;
    if (a.startsWith("-")) {
      throw new CliError(
        `unknown option '${a}'${
          didYouMean(a, ["--help", "--version", "--verbose"])
        } (see 'torq --help')`,
        Exit.USAGE,
      );
    }
    break;
  }
  const name = args[i];
  if (name === undefined) {
    console.error(mainHelp());
    return Exit.USAGE;
  }
  const rest = args.slice(i + 1);
  if (args.slice(0, i).includes("--verbose")) rest.push("--verbose");
  if (name === "help") {
    const topic = rest.find((a) => !a.startsWith("-"));
    if (topic === undefined) {
      await printOut(mainHelp());
      return Exit.OK;
    }
    if (!Object.hasOwn(COMMANDS, topic)) throw unknownCommand(topic);
    const sub = rest.filter((a) => !a.startsWith("-")).slice(1, 2);
    return await (await COMMANDS[topic]!.load()).command.run([...sub, "--help"]);
  }
  if (!Object.hasOwn(COMMANDS, name)) throw unknownCommand(name);
  const entry = COMMANDS[name]!;
  return await (await entry.load()).command.run(rest);
}

/**
 * Runs `torq` with the given arguments and returns the exit code. Errors are
 * printed as one line `torq[ <command>]: <message>`; `--verbose` adds the stack.
 *
 * @param args command-line arguments (without the program name)
 * @returns the exit code
 * @example
 * ```ts
 * Deno.exit(await main(Deno.args));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) return Exit.OK;
    const first = args.find((a) => !a.startsWith("-"));
    const prefix = e instanceof CliError && e.command !== undefined
      ? e.command
      : first !== undefined && Object.hasOwn(COMMANDS, first)
      ? `torq ${first}`
      : "torq";
    const message = e instanceof Error ? e.message : String(e);
    console.error(`${prefix}: ${message}`);
    if (wantsVerbose(args) && e instanceof Error && e.stack !== undefined) console.error(e.stack);
    return e instanceof CliError ? e.exitCode : Exit.BAD_INPUT;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
