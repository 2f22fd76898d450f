/**
 * `torq replay FILE --to <domain|socket>`: play a recording back into a relay.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { damageLine, RecordingError } from "../src/tools/record_file.ts";
import {
  loadRecording,
  parseReplayFrom,
  parseReplayRate,
  ReplayError,
  type ReplayFrom,
  replayPolicy,
  replayProblems,
  type ReplayRate,
  replaySummary,
  runReplay,
} from "../src/tools/replay.ts";
import { interruptOnSignals } from "../src/tools/_interrupt.ts";
import { CliError, Exit, parseOrUsage, printOut, readInputFile, UsageError } from "./_args.ts";
import { relayName } from "./relay.ts";
import { configFromArgs } from "./_config.ts";
import { parseCount, relayTarget, TARGET_HELP, TARGET_OPTIONS } from "./sub.ts";

const COMMAND = "torq replay";

const HELP = `Usage: torq replay FILE --to <market-data|signal|execution|SOCKET> [options]

Play a recording made by 'torq record' back into a relay, byte for byte, with
the original spacing between frames (--rate 1x), faster or slower, as fast as
possible, or at a fixed rate. The connection sends a hello first, so the relay
never writes to it. Frames of another domain than the relay's are refused
unless --force, and so are frames the relay's validation policy would refuse
(checked by the configuration's relays.<domain> section before sending): they
are not sent, and are reported in one line. A recording whose last record is
torn is replayed up to it, and the damage is reported. Ends with a one-line
summary on stderr (also on Ctrl-C).

Options:
  --to TARGET          A domain (its --socket or configured path) or a socket path
                       (then the recording's domain is used)
  --rate RATE          1x (default: original spacing), 2x, 0.5x, max, or N/s
  --from SEQ|TIME      Start at the first frame whose header sequence is >= SEQ,
                       or that was received at or after an ISO time
  --loop               Repeat the recording (until --count frames, or Ctrl-C)
  --count N            Stop after N frames
  --force              Send frames of another domain, and frames the relay would refuse, too
${TARGET_HELP}

Exit status: 0 replayed, 1 bad or torn recording, frames the relay would
refuse, or relay not running, 2 usage error.

Examples:
  torq replay signals.torq --to signal
  torq replay trades.torq --to market-data --rate max
  torq replay trades.torq --to /tmp/md.sock --rate 500/s --loop --count 100000
  torq replay signals.torq --to signal --from 2026-11-23T14:29:08Z --rate 2x`;

/**
 * Runs `torq replay`.
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
        to: { type: "string" },
        rate: { type: "string" },
        from: { type: "string" },
        loop: { type: "boolean", default: false },
        count: { type: "string" },
        force: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      COMMAND,
      positionals.length === 0
        ? "missing the recording FILE"
        : `unexpected argument '${positionals[1]}'`,
    );
  }
  const file = positionals[0]!;
  const to = values.to;
  if (to === undefined) throw new UsageError(COMMAND, "missing --to <domain|socket>");
  let rate: ReplayRate | undefined;
  let from: ReplayFrom | undefined;
  try {
    rate = values.rate === undefined ? undefined : parseReplayRate(values.rate);
    from = values.from === undefined ? undefined : parseReplayFrom(values.from);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(COMMAND, e.message);
    throw e;
  }
  const count = parseCount(COMMAND, "--count", values.count);
  let domain: number | undefined;
  let path: string;
  if (relayName(to) !== undefined) {
    const target = relayTarget(COMMAND, to, values);
    domain = target.domain;
    path = target.path;
  } else if (to.includes("/") || to.endsWith(".sock")) {
    if (values.socket !== undefined) {
      throw new UsageError(
        COMMAND,
        "give the socket either as --to SOCKET or with --socket, not both",
      );
    }
    path = to;
  } else {
    throw new UsageError(
      COMMAND,
      `--to ${
        JSON.stringify(to)
      } is neither a domain (market-data, signal, execution) nor a socket path`,
    );
  }

  const bytes = await readInputFile(file);
  let recording;
  try {
    recording = loadRecording(bytes);
  } catch (e) {
    if (e instanceof RecordingError) throw new CliError(`${e.code}: ${e.message} (${file})`);
    throw e;
  }
  if (recording.records.length === 0 && recording.damage) {
    throw new CliError(damageLine(recording.damage, 0, file));
  }
  const config = configFromArgs({ config: values.config, env: values.env, set: values.set });
  using stop = interruptOnSignals();
  try {
    const result = await runReplay({
      recording,
      domain,
      path,
      from,
      ...(rate === undefined ? {} : { rate }),
      loop: values.loop,
      count,
      force: values.force,
      policyFor: (d) => replayPolicy(config, d),
      signal: stop.signal,
    });
    console.error(replaySummary(result, file));
    const problems = replayProblems(result, recording, file);
    if (problems.length > 0) throw new CliError(problems.join("; "));
  } catch (e) {
    if (e instanceof ReplayError) throw new CliError(e.message);
    throw e;
  }
  return Exit.OK;
}
