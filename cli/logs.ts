/**
 * `torq logs [NAME…] [-f] [--since T] [-n N]`: show or follow the logs of a
 * stack's services (and of a detached `torq up` and its relays).
 *
 * @module
 */

import { parseArgs } from "node:util";
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
import { CliError, Exit, parseOrUsage, UsageError, writeStdout } from "./_args.ts";
import { STACK_HELP, STACK_OPTIONS, stackDir } from "./_stack.ts";

const COMMAND = "torq logs";

const HELP = `Usage: torq logs [NAME...] [options]

Show the last lines of a stack's logs, merged by time, each line prefixed with
[name] when more than one log is shown. The logs are files in the socket
directory: <service>.log for each service (each line begins with its time),
and up.log for a detached torq up (torq up -d): its relays' and supervisor's
log. NAME is a service, 'up', or a relay (market_data, signal, execution: its
lines of up.log). Without NAME: every log. Rotated files are read too.

Options:
  -f, --follow         Keep printing lines as they are written (Ctrl-C to stop)
  --since T            Only lines since T: a duration back from now (30s, 10m,
                       2h, 1d) or an ISO time (2026-11-23T14:00:00Z)
  -n, --lines N        The last N lines of each log (default 50; 'all' for every line)
${STACK_HELP}
  -h, --help           Show this help

Examples:
  torq logs
  torq logs strategy -f
  torq logs feed portfolio --since 10m
  torq logs signal -n 20 --socket-dir /tmp/torq-dev`;

const encoder = new TextEncoder();

function print(lines: readonly LogLine[], width: number): void {
  if (lines.length === 0) return;
  const bytes = encoder.encode(lines.map((l) => formatLogLine(l, width) + "\n").join(""));
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/**
 * Runs `torq logs`.
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
        follow: { type: "boolean", short: "f", default: false },
        since: { type: "string" },
        lines: { type: "string", short: "n" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await writeStdout(encoder.encode(HELP + "\n"));
    return Exit.OK;
  }
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
    sources = selectLogs(dir, positionals, DOMAIN_NAMES);
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
  const ac = new AbortController();
  const stop = () => ac.abort();
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, stop);
  try {
    await followLogs(sources, {
      signal: ac.signal,
      ...(positionals.length === 0 ? { rescan: () => logSources(dir) } : {}),
      onLines: (batch) =>
        print(batch, positionals.length === 0 ? Math.max(width, widthOf(logSources(dir))) : width),
    });
  } finally {
    for (const s of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(s, stop);
  }
  return Exit.OK;
}
