/**
 * `torq decode`: a readable (or JSON) breakdown of Protocol V2 frames given as
 * hex, on stdin, or in a file.
 *
 * @module
 */

import {
  type DecodedMessage,
  decodeMessage,
  decodeMessages,
  FrameError,
} from "../src/protocol/mod.ts";
import {
  errorToJson,
  formatMessageText,
  HexParseError,
  looksLikeHex,
  messageToJson,
  parseHex,
} from "../src/format/mod.ts";
import {
  damageLine,
  isRecording,
  journalFrames,
  readRecordingFile,
  RecordingError,
} from "../src/tools/mod.ts";
import { isJournal, JournalError } from "../src/relay/mod.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_tlv_schemas.ts";
import {
  CliError,
  Exit,
  printError,
  printOut,
  readInputFile,
  readStdin,
  UsageError,
} from "./_args.ts";
import { defineCommand } from "./_command.ts";

const COMMAND = "torq decode";

/** What to decode, and the damaged tail of a recording (reported after what could be read). */
interface Input {
  bytes: Uint8Array;
  damage: string | null;
}

async function readInput(positionals: string[], file: string | undefined): Promise<Input> {
  if (file !== undefined && positionals.length > 0) {
    throw new UsageError(COMMAND, "give either HEX, '-' or --file FILE, not several");
  }
  let raw: Uint8Array;
  if (file !== undefined) {
    raw = await readInputFile(file);
  } else if (positionals.length === 1 && positionals[0] === "-") {
    raw = await readStdin();
  } else if (positionals.length === 0) {
    throw new UsageError(COMMAND, "missing input: give HEX, '-' for stdin, or --file FILE");
  } else {
    if (positionals.includes("-")) {
      throw new UsageError(COMMAND, "'-' (stdin) cannot be combined with HEX arguments");
    }
    return { bytes: parseHex(positionals.join(" ")), damage: null };
  }
  if (isRecording(raw)) return recordingFrames(raw, file ?? "stdin");
  if (isJournal(raw)) return { bytes: journalInput(raw, file ?? "stdin"), damage: null };
  return { bytes: looksLikeHex(raw) ? parseHex(new TextDecoder().decode(raw)) : raw, damage: null };
}

/** The frames of a recording, back to back, and what stopped reading it early. */
function recordingFrames(raw: Uint8Array, where: string): Input {
  let contents;
  try {
    contents = readRecordingFile(raw);
  } catch (e) {
    if (e instanceof RecordingError) throw new CliError(`${e.code}: ${e.message} (${where})`);
    throw e;
  }
  const parts = contents.records.map((r) => r.frame);
  const damage = contents.damage === null ? null : damageLine(contents.damage, parts.length, where);
  if (parts.length === 0) throw new CliError(damage ?? `the recording ${where} holds no frames`);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return { bytes: out, damage };
}

/** The accepted and control frames of an execution journal, back to back (FAIL frames are left out, with a note). */
function journalInput(raw: Uint8Array, where: string): Uint8Array {
  let read;
  try {
    read = journalFrames(raw, where);
  } catch (e) {
    if (e instanceof JournalError) throw new CliError(`${e.code}: ${e.message}`);
    throw e;
  }
  if (read.frames.length === 0) {
    throw new CliError(`the journal ${where} holds no frames to decode`);
  }
  if (read.failed > 0) {
    printError(
      COMMAND,
      `left out ${read.failed} rejected frame(s) of the journal; 'torq journal show ${where} --result FAIL --decode' shows them`,
    );
  }
  return read.frames;
}

function decodeAll(bytes: Uint8Array, legacyNumbering: boolean): DecodedMessage[] {
  // An empty input is reported like any short frame (HeaderTooShort).
  if (bytes.length === 0) return [decodeMessage(bytes, { legacyNumbering })];
  return decodeMessages(bytes, { legacyNumbering });
}

/** `torq decode`. */
export const command = defineCommand({
  name: COMMAND,
  usage: ["[options] HEX...", "[options] -", "[options] --file FILE"],
  description: `Decode Protocol V2 messages: the header (with domain and source names, ISO time and
checksum status) and every TLV with its fields: 8-decimal prices and sizes and Q64.64 values also as
decimals, nanosecond times as ISO-8601, instruments with their debug text (e.g. "Kraken Coin:
BTC-USD"), venues by name. Frames given back to back are decoded one after another.`,
  positionals: [{
    key: "hex",
    name: "HEX",
    variadic: true,
    help: "Hex text (whitespace and 0x prefixes allowed), or '-' to read stdin: hex text or " +
      "raw frame bytes (detected)",
  }],
  options: {
    file: {
      type: "string",
      value: "FILE",
      help: "Read raw frame bytes (or hex text, a 'torq record' recording, or an execution " +
        "journal: its accepted and control frames) from FILE",
    },
    json: {
      type: "boolean",
      help: 'Print JSON: {"header": {...}, "tlvs": [...]} per frame, an array when there are ' +
        "several; read back by 'torq encode'",
    },
    "legacy-numbering": {
      type: "boolean",
      help: "Read domains 0-3 and the legacy source numbers (PROTOCOL.md 3.1, 3.3)",
    },
    ...SCHEMAS_OPTION,
  },
  exits: {
    0: "decoded",
    1: "bad input or a frame failed validation (with --json the error is printed as " +
      '{"error": {"code", "message", "offset"}})',
  },
  examples: [
    "torq decode efbeadde01010200010000000000000015cd853dfe9c97172a0000000fde683b0128004453552d43544280d3049d1a0400004e61bc000000000000002a36fe9c97176500330000000000",
    "torq decode --json --file capture.bin",
    "torq decode --schemas config/schemas/example_vendor.yaml --file vendor.bin",
    "xxd -p frame.bin | torq decode -",
    "torq decode --json - < frames.bin | torq encode --json -",
  ],
  async run({ options: values, args }) {
    const positionals = args.hex;
    registerSchemaFiles(values.schemas);
    const legacy = values["legacy-numbering"];
    let bytes: Uint8Array;
    let damage: string | null;
    try {
      ({ bytes, damage } = await readInput(positionals, values.file));
    } catch (e) {
      if (e instanceof HexParseError) throw new CliError(e.message);
      throw e;
    }
    let messages: DecodedMessage[];
    try {
      messages = decodeAll(bytes, legacy);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      if (values.json) await printOut(JSON.stringify({ error: errorToJson(e) }, null, 2));
      else printError(COMMAND, `${e.code}: ${e.message}`);
      if (values.verbose && e.stack !== undefined) console.error(e.stack);
      return Exit.BAD_INPUT;
    }
    if (values.json) {
      const json = messages.map(messageToJson);
      await printOut(JSON.stringify(json.length === 1 ? json[0] : json, null, 2));
      return damaged(damage);
    }
    const many = messages.length > 1;
    let offset = 0;
    const blocks = messages.map((m, i) => {
      const text = formatMessageText(m, {
        legacyNumbering: legacy,
        ...(many ? { frame: i + 1, frameOffset: offset } : {}),
      });
      offset += m.size;
      return text;
    });
    await printOut(blocks.join("\n\n"));
    return damaged(damage);
  },
});

/** After the frames that could be read: the recording's damage in one line, exit 1. */
function damaged(damage: string | null): number {
  if (damage === null) return Exit.OK;
  printError(COMMAND, damage);
  return Exit.BAD_INPUT;
}
