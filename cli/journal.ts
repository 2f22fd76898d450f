/**
 * `torq journal show|verify FILE`: read an audited relay's execution journal
 * (the logic is in src/tools/journal_view.ts).
 *
 * @module
 */

import { JournalError, type JournalResult } from "../src/relay/mod.ts";
import {
  followJournal,
  formatJournalLine,
  type JournalFilter,
  journalRecords,
  journalRecordToJson,
  matchesFilter,
  parseSince,
  verifyLines,
} from "../src/tools/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { formatMessageText } from "../src/format/mod.ts";
import { decodeMessage } from "../src/protocol/mod.ts";
import { CliError, Exit, printError, printOut, UsageError } from "./_args.ts";
import { defineCommand, defineGroup } from "./_command.ts";

const COMMAND = "torq journal show";

const RESULTS: readonly JournalResult[] = ["PASS", "FAIL", "CONTROL", "SUMMARY"];

const ABOUT = `Read the execution journal an audited relay writes (relays.<name>.journal in the
configuration; the execution relay's default is <socket dir>/execution.journal): every frame it
received, byte for byte, with the receive time, connection and verdict: PASS (forwarded), FAIL
(rejected, with the error), CONTROL (hello, subscribe, recovery), and SUMMARY records counting the
rejected frames that were over the per-second bound.`;

/** `torq journal`. */
export const command = defineGroup({
  name: "torq journal",
  description: ABOUT,
  commands: { show: () => show, verify: () => verify },
  summaries: {
    show: "One line (or JSON object) per record, filtered; --follow reads the live file",
    verify: "Check every record (length, CRC-32, frame header); one line per file",
  },
  examples: [
    "torq journal show /tmp/torq/execution.journal --since 15m",
    "torq journal show /tmp/torq/execution.journal --json --result FAIL --decode",
    "torq journal show /tmp/torq/execution.journal --follow",
    "torq journal verify /var/lib/torq/execution.journal --all",
  ],
});

const FILE = { key: "file", name: "FILE", help: "The live journal file" } as const;
const ALL = {
  type: "boolean",
  help: "Read the rotated files first (FILE.N ... FILE.1), oldest first",
} as const;

const show = defineCommand({
  name: COMMAND,
  summary: "One line (or JSON object) per record, filtered; --follow reads the live file",
  description: `${ABOUT}

One line per record, or one JSON object per line with --json:
{"ts","relay","conn","domain","source","sequence","size","result","error"?,"kind"?}`,
  positionals: [FILE],
  options: {
    json: { type: "boolean", help: "JSON lines instead of text" },
    decode: {
      type: "boolean",
      help: 'Add the decoded frame (JSON: "decoded"; text: the decode view)',
    },
    hex: { type: "boolean", help: 'Add the frame\'s bytes as hex (JSON: "frame_hex")' },
    since: {
      type: "string",
      value: "TIME",
      help: "Only records received at or after TIME: ISO (2026-07-01T12:00:00Z) or a duration " +
        "back from now (90s, 15m, 2h, 1d)",
    },
    result: {
      type: "string",
      value: "LIST",
      help: "Only these results, comma-separated: PASS,FAIL,CONTROL,SUMMARY",
    },
    conn: { type: "string", value: "N", help: "Only connection N" },
    follow: {
      type: "boolean",
      help: "Keep reading the live file as the relay writes it, across rotations, until Ctrl-C",
    },
    all: ALL,
  },
  exits: {
    0: "read",
    1: "not a journal, corrupt or torn (every readable record is still printed, and one line " +
      "per damaged region on stderr)",
  },
  examples: [
    "torq journal show /tmp/torq/execution.journal --since 15m",
    "torq journal show /tmp/torq/execution.journal --json --result FAIL --decode",
    "torq journal show /tmp/torq/execution.journal --follow",
  ],
  run: ({ options, args }) => readable(args.file, () => showRecords(args.file, options)),
});

const verify = defineCommand({
  name: "torq journal verify",
  summary: "Check every record (length, CRC-32, frame header); one line per file",
  description: `${ABOUT}

Check every record (length, CRC-32, frame header); one line per file.`,
  positionals: [FILE],
  options: { all: ALL },
  exits: {
    0: "every record is sound",
    1: "a record is corrupt, a tail is torn or a file is no journal",
  },
  examples: ["torq journal verify /var/lib/torq/execution.journal --all"],
  run: ({ options, args }) =>
    readable(args.file, async () => {
      const { lines, ok } = verifyLines(args.file, options.all);
      await printOut(lines.join("\n"));
      return ok ? Exit.OK : Exit.BAD_INPUT;
    }),
});

/** Runs `fn`, turning a journal's errors and a missing file into one line. */
async function readable(file: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof JournalError) throw new CliError(`${e.code}: ${e.message}`);
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`Cannot read ${JSON.stringify(file)}: no such file`);
    }
    throw e;
  }
}

async function showRecords(
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
