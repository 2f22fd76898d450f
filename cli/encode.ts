/**
 * `torq encode`: build Protocol V2 frames from the JSON that `torq decode
 * --json` prints, and print them as hex (or raw bytes).
 *
 * @module
 */

import { encodeMessagesJson, MessageJsonError, toHex } from "../src/format/mod.ts";
import {
  CliError,
  Exit,
  printOut,
  readInputFile,
  readStdin,
  UsageError,
  writeStdout,
} from "./_args.ts";
import { defineCommand } from "./_command.ts";

const COMMAND = "torq encode";

/** `torq encode`. */
export const command = defineCommand({
  name: COMMAND,
  usage: ["--json FILE|- [--raw] [--legacy-numbering]"],
  description:
    `Build Protocol V2 messages from JSON in the shape 'torq decode --json' prints (one message
object, or an array of them: the frames are concatenated) and print them as one line of hex. For
every valid frame, 'torq decode --json' piped into 'torq encode --json -' reproduces the same bytes.

  {"header": {...}, "tlvs": [{"type": 1, "fields": {...}}, {"type": 4, "payload_hex": "..."}]}

Header fields are optional: relay_domain (or domain, a name or number; default the first TLV's
home domain), version 1, source 99 TestClient (a number or a name), flags 0, sequence 1, timestamp
(or timestamp_ns) now, magic 0xDEADBEEF. payload_size is always computed, and so is the checksum
unless the input says "checksum": 0 (the hot-path variant without checksum). Each TLV is built
from "fields" (names as in 'torq tlv-info TYPE'; integers as numbers or decimal strings) or, when
fields is null or absent, from "payload_hex". "type" may be a number or a name; "form": "extended"
keeps the extended form for short values; offset, length and name are ignored.`,
  options: {
    json: {
      type: "string",
      value: "FILE",
      help: "Read the JSON from FILE, or from stdin with '-' (required)",
    },
    raw: { type: "boolean", help: "Write the frame bytes to stdout instead of hex" },
    "legacy-numbering": {
      type: "boolean",
      help: "Domain and source names map to the legacy numbering (0-3)",
    },
  },
  exits: { 0: "encoded", 1: "the JSON does not describe a valid message" },
  examples: [
    `echo '{"tlvs":[{"type":"Heartbeat","fields":{"timestamp_ns":"1700000007000000000",\n` +
    `  "uptime_seconds":3600,"service_type":20,"health_status":0,"reserved":0}}]}' | torq encode --json -`,
    "torq decode --json HEX | torq encode --json -",
    "torq encode --json trade.json --raw > trade.bin",
  ],
  async run({ options: values }) {
    const source = values.json;
    if (source === undefined) {
      throw new UsageError(COMMAND, "missing --json FILE (or --json - for stdin)");
    }
    const bytes = source === "-" ? await readStdin() : await readInputFile(source);
    const where = source === "-" ? "stdin" : JSON.stringify(source);
    let input: unknown;
    try {
      input = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new CliError(`Cannot parse JSON from ${where}: ${e instanceof Error ? e.message : e}`);
    }
    let frames: Uint8Array;
    try {
      frames = encodeMessagesJson(input, { legacyNumbering: values["legacy-numbering"] });
    } catch (e) {
      if (e instanceof MessageJsonError) throw new CliError(e.message);
      throw e;
    }
    if (values.raw) await writeStdout(frames);
    else await printOut(toHex(frames));
    return Exit.OK;
  },
});
