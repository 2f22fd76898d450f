/**
 * `torq journal show|verify FILE`: read an audited relay's execution journal
 * (the logic is in src/tools/journal_view.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { JournalError, type JournalResult } from "../src/relay/journal_file.ts";
import {
  followJournal,
  formatJournalLine,
  type JournalFilter,
  journalRecords,
  journalRecordToJson,
  matchesFilter,
  parseSince,
  verifyLines,
} from "../src/tools/journal_view.ts";
import { formatMessageText } from "../src/tools/decode_format.ts";
import { decodeMessage } from "../src/protocol/message.ts";
import { interruptOnSignals } from "../src/tools/_interrupt.ts";
import { CliError, Exit, parseOrUsage, printError, printOut, UsageError } from "./_args.ts";

const COMMAND = "torq journal";

const HELP = `Usage: torq journal show FILE [options]
       torq journal verify FILE [--all]

Read the execution journal an audited relay writes (relays.<name>.journal in the
configuration; the execution relay's default is <socket dir>/execution.journal):
every frame it received, byte for byte, with the receive time, connection and
verdict: PASS (forwarded), FAIL (rejected, with the error), CONTROL (hello,
subscribe, recovery), and SUMMARY records counting the rejected frames that were
over the per-second bound.

  show     One line per record, or one JSON object per line with --json:
           {"ts","relay","conn","domain","source","sequence","size","result","error"?,"kind"?}
  verify   Check every record (length, CRC-32, frame header); one line per file.
           Exit 1 when a record is corrupt, a tail is torn or a file is no journal.

Options (show):
  --json            JSON lines instead of text
  --decode          Add the decoded frame (JSON: "decoded"; text: the decode view)
  --hex             Add the frame's bytes as hex (JSON: "frame_hex")
  --since TIME      Only records received at or after TIME: ISO (2026-07-01T12:00:00Z)
                    or a duration back from now (90s, 15m, 2h, 1d)
  --result LIST     Only these results, comma-separated: PASS,FAIL,CONTROL,SUMMARY
  --conn N          Only connection N
  --follow          Keep reading the live file as the relay writes it, across
                    rotations, until Ctrl-C
  --all             Read the rotated files first (FILE.N ... FILE.1), oldest first
  -h, --help        Show this help

Exit status: 0 read (and verified), 1 not a journal, corrupt or torn (show still
prints every readable record and one line per damaged region on stderr), 2 usage.

Examples:
  torq journal show /tmp/torq/execution.journal --since 15m
  torq journal show /tmp/torq/execution.journal --json --result FAIL --decode
  torq journal show /tmp/torq/execution.journal --follow
  torq journal verify /var/lib/torq/execution.journal --all`;

const RESULTS: readonly JournalResult[] = ["PASS", "FAIL", "CONTROL", "SUMMARY"];

/**
 * Runs `torq journal`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        json: { type: "boolean", default: false },
        decode: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        since: { type: "string" },
        result: { type: "string" },
        conn: { type: "string" },
        follow: { type: "boolean", default: false },
        all: { type: "boolean", default: false },
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
  const [sub, file, extra] = positionals;
  if (sub !== "show" && sub !== "verify") {
    throw new UsageError(
      COMMAND,
      sub === undefined ? "missing the subcommand: show or verify" : `unknown subcommand '${sub}'`,
    );
  }
  if (file === undefined) throw new UsageError(COMMAND, "missing the journal FILE");
  if (extra !== undefined) throw new UsageError(COMMAND, `unexpected argument '${extra}'`);
  try {
    if (sub === "verify") {
      const { lines, ok } = verifyLines(file, values.all);
      await printOut(lines.join("\n"));
      return ok ? Exit.OK : Exit.BAD_INPUT;
    }
    return await show(file, values);
  } catch (e) {
    if (e instanceof JournalError) throw new CliError(`${e.code}: ${e.message}`);
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`cannot read ${JSON.stringify(file)}: no such file`);
    }
    throw e;
  }
}

async function show(
  file: string,
  o: {
    json: boolean;
    decode: boolean;
    hex: boolean;
    since?: string | undefined;
    result?: string | undefined;
    conn?: string | undefined;
    follow: boolean;
    all: boolean;
  },
): Promise<number> {
  const filter: JournalFilter = {};
  try {
    if (o.since !== undefined) filter.sinceNs = parseSince(o.since, Date.now());
  } catch (e) {
    throw new UsageError(COMMAND, (e as Error).message);
  }
  if (o.result !== undefined) {
    const list = o.result.split(",").map((r) => r.trim().toUpperCase());
    const bad = list.find((r) => !(RESULTS as readonly string[]).includes(r));
    if (bad !== undefined) {
      throw new UsageError(
        COMMAND,
        `--result ${JSON.stringify(bad)}: expected ${RESULTS.join(", ")}`,
      );
    }
    filter.results = list as JournalResult[];
  }
  if (o.conn !== undefined) {
    if (!/^\d+$/.test(o.conn)) {
      throw new UsageError(COMMAND, `--conn ${JSON.stringify(o.conn)}: expected a connection id`);
    }
    filter.conn = Number(o.conn);
  }
  let damaged = 0;
  const onDamage =
    (what: string) => (d: { offset: number; bytes: number; reason: string; file: string }) => {
      damaged++;
      printError(
        COMMAND,
        `${what} in ${d.file} at offset ${d.offset}: ${d.bytes} bytes skipped (${d.reason})`,
      );
    };
  const lines: string[] = [];
  const emit = async (r: Parameters<typeof formatJournalLine>[0]) => {
    if (o.json) {
      lines.push(JSON.stringify(journalRecordToJson(r, { decode: o.decode, hex: o.hex })));
    } else {
      lines.push(formatJournalLine(r));
      if (o.hex) {
        lines.push(`  ${Array.from(r.frame, (x) => x.toString(16).padStart(2, "0")).join("")}`);
      }
      if (o.decode && r.frame.length > 0) lines.push(decodedText(r.frame));
    }
    if (lines.length >= 1000 || o.follow) await printOut(lines.splice(0).join("\n"));
  };
  if (o.follow) {
    if (o.all) {
      for (
        const r of journalRecords(file, {
          all: true,
          filter,
          onCorrupt: onDamage("corrupt record"),
        })
      ) {
        if (r.file !== file) await emit(r);
      }
    }
    using stop = interruptOnSignals();
    for await (
      const r of followJournal(file, { signal: stop.signal, onCorrupt: onDamage("corrupt record") })
    ) {
      if (matchesFilter(r, filter)) await emit(r);
    }
    return Exit.OK;
  }
  const read = journalRecords(file, {
    all: o.all,
    filter,
    onCorrupt: onDamage("corrupt record"),
    onTornTail: onDamage("torn tail"),
  });
  for (const r of read) await emit(r);
  if (lines.length > 0) await printOut(lines.join("\n"));
  return damaged === 0 ? Exit.OK : Exit.BAD_INPUT;
}

function decodedText(frame: Uint8Array): string {
  try {
    const text = formatMessageText(decodeMessage(frame, { verifyChecksum: false }));
    return text.split("\n").map((l) => `    ${l}`).join("\n");
  } catch (e) {
    return `    cannot decode: ${(e as Error).message}`;
  }
}
