/**
 * `torq logs [NAME…] [-f] [--since T] [-n N]`: show or follow the logs of a
 * stack's services (and of a detached `torq up` and its relays).
 *
 * @module
 */

import { DOMAIN_NAMES } from "../src/config/mod.ts";
import {
  followLogs,
  formatLogLine,
  type LogLine,
  type LogSource,
  logSources,
  parseSince,
  readLogs,
  selectLogs,
  UnknownLogError,
} from "../src/stack/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { CliError, Exit, UsageError } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { STACK_OPTIONS, stackDir } from "./_stack.ts";

const COMMAND = "torq logs";
const encoder = new TextEncoder();

function print(lines: readonly LogLine[], width: number): void {
  if (lines.length === 0) return;
  const bytes = encoder.encode(lines.map((l) => formatLogLine(l, width) + "\n").join(""));
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** `torq logs`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Show the last lines of a stack's logs, merged by time, each line prefixed with [name]
when more than one log is shown. The logs are files in the socket directory: <service>.log for each
service (each line begins with its time), and up.log for a detached torq up (torq up -d): its
relays' and supervisor's log. NAME is a service, 'up', or a relay (market_data, signal, execution:
its lines of up.log). Without NAME: every log. Rotated files are read too.`,
  positionals: [{
    key: "names",
    name: "NAME",
    variadic: true,
    help: "A service, 'up', or a relay (default: every log)",
  }],
  options: {
    follow: {
      type: "boolean",
      short: "f",
      help: "Keep printing lines as they are written (Ctrl-C to stop)",
    },
    since: {
      type: "string",
      value: "T",
      help: "Only lines since T: a duration back from now (30s, 10m, 2h, 1d) or an ISO time " +
        "(2026-11-23T14:00:00Z)",
    },
    lines: {
      type: "string",
      short: "n",
      value: "N",
      help: "The last N lines of each log (default 50; 'all' for every line)",
    },
    ...STACK_OPTIONS,
  },
  exits: { 1: "no such log, or no logs in the socket directory" },
  examples: [
    "torq logs",
    "torq logs strategy -f",
    "torq logs feed portfolio --since 10m",
    "torq logs signal -n 20 --socket-dir /tmp/torq-dev",
  ],
  run: ({ options, args }) => runLogs(options, args.names ?? []),
});

async function runLogs(
  values: {
    follow: boolean;
    since?: string | undefined;
    lines?: string | undefined;
    "socket-dir"?: string | undefined;
    config?: string | undefined;
    env?: string | undefined;
    set?: readonly string[] | undefined;
  },
  positionals: readonly string[],
): Promise<number> {
  let lines: number | undefined = 50;
  if (values.lines === "all") {
    lines = undefined;
  } else if (values.lines !== undefined) {
    lines = Number(values.lines);
    if (!Number.isSafeInteger(lines) || lines < 0) {
      throw new UsageError(
        COMMAND,
        `--lines expects a whole number or 'all', got ${JSON.stringify(values.lines)}`,
      );
    }
  }
  let since: number | undefined;
  if (values.since !== undefined) {
    const t = parseSince(values.since, Date.now());
    if (t === null) {
      throw new UsageError(
        COMMAND,
        `--since expects a duration such as 10m or an ISO time, got ${
          JSON.stringify(values.since)
        }`,
      );
    }
    since = t;
  }
  const dir = stackDir(values);
  let sources: LogSource[];
  try {
    sources = selectLogs(dir, [...positionals], DOMAIN_NAMES);
  } catch (e) {
    if (e instanceof UnknownLogError) throw new CliError(`${e.message} (in ${dir})`);
    throw e;
  }
  if (sources.length === 0 && !values.follow) {
    throw new CliError(`no logs in ${dir} (is a torq up with services running there?)`);
  }
  const many = positionals.length !== 1;
  const widthOf = (all: readonly LogSource[]) =>
    many ? Math.max(0, ...all.map((s) => s.name.length)) : 0;
  const width = widthOf(positionals.length === 0 ? logSources(dir) : sources);
  await print(
    readLogs(sources, {
      ...(since === undefined ? {} : { since }),
      ...(lines === undefined ? {} : { lines }),
    }),
    width,
  );
  if (!values.follow) return Exit.OK;
  using interrupt = interruptOnSignals();
  await followLogs(sources, {
    signal: interrupt.signal,
    ...(positionals.length === 0 ? { rescan: () => logSources(dir) } : {}),
    onLines: (batch) =>
      print(batch, positionals.length === 0 ? Math.max(width, widthOf(logSources(dir))) : width),
  });
  return Exit.OK;
}
