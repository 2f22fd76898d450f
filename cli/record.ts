/**
 * `torq record <domain> -o FILE`: record a relay's frames with their receive
 * times (file format: src/tools/record_file.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { recordSummary, runRecord } from "../src/tools/record.ts";
import { interruptOnSignals } from "../src/tools/_interrupt.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import {
  parseCount,
  parsePositive,
  PLAN_HELP,
  planFromArgs,
  relayTarget,
  TARGET_HELP,
  TARGET_OPTIONS,
} from "./sub.ts";

const COMMAND = "torq record";

const HELP = `Usage: torq record <market-data|signal|execution> -o FILE [options]

Subscribe to a relay and write every frame it sends, with its receive time, to
FILE: a 24-byte header (magic "TORQREC1", version 1, domain, start time) and
then one record per frame (receive time ns u64, length u32, the frame bytes).
'torq replay' plays it back; 'torq decode --file FILE' prints its frames.
Stops after --count frames, after --duration seconds, or on Ctrl-C, with a
one-line summary on stderr.

Options:
  -o, --output FILE    The recording to write (created or truncated)
${PLAN_HELP}
  --count N            Stop after N frames
  --duration S         Stop after S seconds
${TARGET_HELP}

Exit status: 0 recorded, 1 relay not running, file not writable or connection
lost, 2 usage error.

Examples:
  torq record signal -o signals.torq
  torq record market-data -o trades.torq --subscribe tlv.1 --duration 60
  torq record execution -o exec.torq --count 1000 --socket /tmp/exec.sock`;

/**
 * Runs `torq record`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...TARGET_OPTIONS,
        output: { type: "string", short: "o" },
        subscribe: { type: "string", multiple: true },
        types: { type: "string" },
        source: { type: "string" },
        count: { type: "string" },
        duration: { type: "string" },
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
  const file = values.output;
  if (file === undefined) throw new UsageError(COMMAND, "missing -o FILE");
  const count = parseCount(COMMAND, "--count", values.count);
  const durationS = parsePositive(COMMAND, "--duration", values.duration);
  const plan = planFromArgs(COMMAND, values);
  const target = relayTarget(COMMAND, positionals[0], values);
  using stop = interruptOnSignals();
  let result;
  try {
    result = await runRecord(
      {
        domain: target.domain,
        path: target.path,
        plan,
        file,
        count,
        durationS,
        signal: stop.signal,
      },
      (line) => console.error(line),
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `cannot write ${JSON.stringify(file)}: ${e.message.replace(/: open .*$/, "")}`,
      );
    }
    throw e;
  }
  console.error(recordSummary(result, file));
  if (result.ended === "closed") {
    throw new CliError(result.error?.message ?? "the relay closed the connection");
  }
  return Exit.OK;
}
