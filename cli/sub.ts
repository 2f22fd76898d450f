/**
 * `torq sub <domain>`: a live view of a relay through a real Subscribe.
 *
 * @module
 */

import { domainName } from "../src/protocol/mod.ts";
import {
  parseByteList,
  parseSequence,
  runSub,
  type SubFormat,
  subSummary,
} from "../src/tools/mod.ts";
import { InstrumentCache, type RecoverOptions } from "../src/client/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { CliError, Exit, UsageError, writeStdout } from "./_args.ts";
import { countOption } from "./_options.ts";
import { defineCommand } from "./_command.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_tlv_schemas.ts";
import { relayTarget, SUBSCRIPTION_OPTIONS, subscriptionPlan, TARGET_OPTIONS } from "./_target.ts";

const COMMAND = "torq sub";

/** `torq sub`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Subscribe to a relay (a real Subscribe, TLV 113: the relay sends only what matches) and
print every frame as it arrives, decoded like 'torq decode'. Sequence gaps per source are reported
on stderr as they happen (⚠ gap on source 20: expected 8, got 11 (3 missing)). Ctrl-C stops with a
one-line summary (frames, bytes, gaps) on stderr.

--snapshot and --from first ask the relay for what it still holds (PROTOCOL.md 7.9): the frames
come before the live ones, in order, none twice, and one line on stderr sums up the relay's answer
(how many frames, their sequences, and whether the relay's window still held the start).`,
  positionals: [
    { key: "domain", name: "DOMAIN", type: "domain", help: "market-data, signal or execution" },
  ],
  options: {
    ...SUBSCRIPTION_OPTIONS,
    count: countOption("Exit after N frames"),
    decode: { type: "boolean", help: "Print each frame like 'torq decode' (the default)" },
    hex: { type: "boolean", help: "Print each frame as one line of hex" },
    json: {
      type: "boolean",
      help: "Print each frame as one JSON line, the shape of 'torq decode --json'",
    },
    timestamp: {
      type: "boolean",
      help: 'Prefix each frame with its receive time (JSON: a "received" member)',
    },
    "rate-graph": {
      type: "boolean",
      help: "Print one line per second (msg/s, bytes/s, a bar) instead of frames",
    },
    cache: {
      type: "boolean",
      help: "Learn instruments, pools and tokens from the frames (an instrument cache) and print " +
        "what was learned on stderr when the view ends (also on Ctrl-C); as JSON with --json",
    },
    snapshot: {
      type: "boolean",
      group: "Recovery",
      help: "Start with the relay's snapshot, then live: on market data the last value of every " +
        "instrument and TLV type, on signal and execution every frame of the relay's replay " +
        "window (with --source N: of that source only)",
    },
    from: {
      type: "string",
      value: "SEQ",
      group: "Recovery",
      help: "Start with the frames of --source S after sequence SEQ that the relay still holds, " +
        "then live (a consumer that restarts gives the last sequence it handled)",
    },
    ...SCHEMAS_OPTION,
    ...TARGET_OPTIONS,
  },
  exits: {
    0: "after --count frames or Ctrl-C",
    1: "relay not running, subscription refused or connection lost",
  },
  examples: [
    "torq sub signal",
    "torq sub market-data --subscribe tlv.1 --hex",
    "torq sub signal --types 20-39 --source 20 --json --timestamp",
    "torq sub market-data --rate-graph",
    "torq sub market-data --snapshot --count 100",
    "torq sub signal --from 1000 --source 20",
    "torq sub market-data --cache --count 1000 > /dev/null",
    "torq sub market-data --schemas config/schemas/example_vendor.yaml",
    "torq sub execution --socket /tmp/exec.sock --count 10",
  ],
  async run({ options, args }) {
    const formats = (["decode", "hex", "json"] as const).filter((f) => options[f]);
    if (formats.length > 1) {
      throw new UsageError(COMMAND, "choose one of --decode, --hex and --json");
    }
    const format: SubFormat = formats[0] ?? "decode";
    const plan = subscriptionPlan(COMMAND, options);
    const recover = recoveryRequest(options);
    const target = relayTarget(COMMAND, args.domain, options);
    registerSchemaFiles(options.schemas);
    const cache = options.cache ? new InstrumentCache() : undefined;
    const encoder = new TextEncoder();
    using stop = interruptOnSignals();
    const result = await runSub(
      {
        domain: target.domain,
        path: target.path,
        plan,
        format,
        timestamp: options.timestamp,
        rateGraph: options["rate-graph"],
        count: options.count,
        signal: stop.signal,
        recover,
        ...(cache === undefined ? {} : { onFrame: (f) => void cache.observe(f) }),
      },
      {
        out: (text) => writeStdout(encoder.encode(text)),
        err: (line) => console.error(line),
      },
    );
    console.error(subSummary(result));
    if (cache !== undefined) {
      console.error(options.json ? JSON.stringify(cache) : cache.dump().join("\n"));
    }
    if (result.ended === "closed") {
      throw new CliError(
        result.error?.message ?? `the ${domainName(target.domain)} relay closed the connection`,
      );
    }
    return Exit.OK;
  },
});

/** The recovery `--snapshot` or `--from SEQ --source S` asks for, if any. */
function recoveryRequest(
  options: { snapshot: boolean; from?: string | undefined; source?: string | undefined },
): RecoverOptions | undefined {
  if (!options.snapshot && options.from === undefined) return undefined;
  if (options.snapshot && options.from !== undefined) {
    throw new UsageError(COMMAND, "choose one of --snapshot and --from");
  }
  let source: number | undefined;
  if (options.source !== undefined) {
    const list = parseByteList(options.source, "source");
    if (list.length === 1 && typeof list[0] === "number") source = list[0];
    else if (options.from !== undefined) {
      throw new UsageError(
        COMMAND,
        `--from needs one source: --source ${options.source} names several (e.g. --source 20)`,
      );
    }
  }
  if (options.snapshot) return { snapshot: true, source: source ?? 0 };
  if (source === undefined) {
    throw new UsageError(
      COMMAND,
      "--from needs --source: whose sequence is it (e.g. --source 20)?",
    );
  }
  try {
    return { source, after: parseSequence(options.from!) };
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(COMMAND, e.message);
    throw e;
  }
}
