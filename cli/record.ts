/**
 * `torq record <domain> -o FILE`: record a relay's frames with their receive
 * times (file format: src/tools/record_file.ts).
 *
 * @module
 */

import { recordSummary, runRecord } from "../src/tools/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { CliError, Exit, UsageError } from "./_args.ts";
import { countOption } from "./_options.ts";
import { defineCommand } from "./_command.ts";
import { relayTarget, SUBSCRIPTION_OPTIONS, subscriptionPlan, TARGET_OPTIONS } from "./_target.ts";

const COMMAND = "torq record";

/** `torq record`. */
export const command = defineCommand({
  name: COMMAND,
  usage: ["<DOMAIN> -o FILE [options]"],
  description:
    `Subscribe to a relay and write every frame it sends, with its receive time, to FILE: a
24-byte header (magic "TORQREC1", version 1, domain, start time) and then one record per frame
(receive time ns u64, length u32, the frame bytes). 'torq replay' plays it back;
'torq decode --file FILE' prints its frames. Stops after --count frames, after --duration seconds,
or on Ctrl-C, with a one-line summary on stderr.`,
  positionals: [
    { key: "domain", name: "DOMAIN", type: "domain", help: "market-data, signal or execution" },
  ],
  options: {
    output: {
      type: "string",
      value: "FILE",
      short: "o",
      help: "The recording to write (created or truncated); required",
    },
    ...SUBSCRIPTION_OPTIONS,
    count: countOption("Stop after N frames"),
    duration: { type: "number", value: "S", positive: true, help: "Stop after S seconds" },
    ...TARGET_OPTIONS,
  },
  exits: { 0: "recorded", 1: "relay not running, file not writable or connection lost" },
  examples: [
    "torq record signal -o signals.torq",
    "torq record market-data -o trades.torq --subscribe tlv.1 --duration 60",
    "torq record execution -o exec.torq --count 1000 --socket /tmp/exec.sock",
  ],
  async run({ options: values, args }) {
    const file = values.output;
    if (file === undefined) throw new UsageError(COMMAND, "missing -o FILE");
    const count = values.count;
    const durationS = values.duration;
    const plan = subscriptionPlan(COMMAND, values);
    const target = relayTarget(COMMAND, args.domain, values);
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
          `Cannot write ${JSON.stringify(file)}: ${e.message.replace(/: open .*$/, "")}`,
        );
      }
      throw e;
    }
    console.error(recordSummary(result, file));
    if (result.ended === "closed") {
      throw new CliError(result.error?.message ?? "the relay closed the connection");
    }
    return Exit.OK;
  },
});
