/**
 * `torq pub <domain>`: publish given or built frames to a relay.
 *
 * @module
 */

import { RelayClient } from "../src/client/mod.ts";
import { FrameError, SPEC_VECTORS } from "../src/protocol/mod.ts";
import { HexParseError, MessageJsonError } from "../src/format/mod.ts";
import {
  pubFrames,
  type PubInput,
  publishPaced,
  pubSummary,
  repeatAtRate,
  wrongDomain,
} from "../src/tools/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { CliError, Exit, readInputFile, readStdin, UsageError } from "./_args.ts";
import { countOption } from "./_options.ts";
import { defineCommand } from "./_command.ts";
import { relayTarget, TARGET_OPTIONS } from "./_target.ts";

const COMMAND = "torq pub";
const INPUT = "Input (exactly one)";

/** `torq pub`. */
export const command = defineCommand({
  name: COMMAND,
  usage: ["<DOMAIN> (--hex HEX | --json FILE | --vector NAME | -) [options]"],
  description: `Publish frames to a relay: given as hex, built from JSON in the shape of
'torq encode --json' (one message object or an array), one of the spec's worked examples, or read
from stdin (hex text or raw frames). The connection sends a hello first, so the relay never writes
to it (--no-publish-only to connect as an ordinary client). A frame whose relay_domain is not the
target relay's is refused (the relay would drop it as WrongDomain) unless --force.`,
  positionals: [
    { key: "domain", name: "DOMAIN", type: "domain", help: "market-data, signal or execution" },
    { key: "stdin", name: "-", optional: true, help: "Read stdin: hex text or raw frame bytes" },
  ],
  options: {
    hex: {
      type: "string",
      value: "HEX",
      group: INPUT,
      help: "One or more frames as hex (whitespace and 0x allowed)",
    },
    json: {
      type: "string",
      value: "FILE",
      group: INPUT,
      help: "JSON in the 'torq encode --json' shape; '-' reads stdin",
    },
    vector: {
      type: "string",
      value: "NAME",
      group: INPUT,
      help: "A worked example of the spec (names below)",
    },
    count: { ...countOption("Publish the frames N times"), default: 1 },
    rate: {
      type: "number",
      value: "R",
      positive: true,
      help: "Messages per second (default: as fast as possible)",
    },
    force: { type: "boolean", help: "Publish frames of another domain too" },
    "publish-only": {
      type: "boolean",
      negatable: true,
      default: true,
      help: "Send a hello first, so the relay never writes to this connection",
    },
    ...TARGET_OPTIONS,
  },
  sections: [{
    title: "Vectors",
    body: SPEC_VECTORS.map((v) => `  ${v.name}${v.expect === "valid" ? "" : ` (${v.expect})`}`)
      .join("\n"),
  }],
  exits: { 0: "published", 1: "bad input, refused frame or relay not running" },
  examples: [
    "torq pub signal --vector arbitrage_signal_flash_arb",
    "torq pub market-data --vector trade_kraken_btc_usd --count 1000 --rate 100",
    "torq decode --json HEX | torq pub signal --json -",
    "torq encode --json trade.json --raw | torq pub market-data -",
  ],
  async run({ options: values, args }) {
    if (args.stdin !== undefined && args.stdin !== "-") {
      throw new UsageError(COMMAND, `unexpected argument '${args.stdin}'`);
    }
    const stdin = args.stdin === "-";
    const given = [values.hex, values.json, values.vector].filter((v) => v !== undefined).length +
      (stdin ? 1 : 0);
    if (given !== 1) {
      throw new UsageError(
        COMMAND,
        given === 0
          ? "missing input: give --hex HEX, --json FILE, --vector NAME or '-' for stdin"
          : "give only one of --hex, --json, --vector and '-'",
      );
    }
    const count = values.count;
    const rate = values.rate;
    const target = relayTarget(COMMAND, args.domain, values);

    let input: PubInput;
    if (values.hex !== undefined) input = { kind: "hex", text: values.hex };
    else if (values.vector !== undefined) input = { kind: "vector", name: values.vector };
    else if (values.json !== undefined) {
      const bytes = values.json === "-" ? await readStdin() : await readInputFile(values.json);
      const where = values.json === "-" ? "stdin" : JSON.stringify(values.json);
      try {
        input = { kind: "json", value: JSON.parse(new TextDecoder().decode(bytes)) };
      } catch (e) {
        throw new CliError(
          `Cannot parse JSON from ${where}: ${e instanceof Error ? e.message : e}`,
        );
      }
    } else input = { kind: "bytes", bytes: await readStdin() };

    let frames: Uint8Array[];
    try {
      frames = pubFrames(input);
    } catch (e) {
      if (e instanceof FrameError) throw new CliError(`${e.code}: ${e.message}`);
      if (e instanceof HexParseError || e instanceof MessageJsonError || e instanceof RangeError) {
        throw new CliError(e.message);
      }
      throw e;
    }
    const relay = target.name.replace("_", "-");
    if (!values.force) {
      const wrong = wrongDomain(frames, target.domain, relay);
      if (wrong !== null) throw new CliError(`refusing to publish: ${wrong}`);
    }

    using stop = interruptOnSignals();
    const client = await RelayClient.connect({
      domain: target.domain,
      path: target.path,
      publishOnly: values["publish-only"],
    });
    try {
      const result = await publishPaced(client, repeatAtRate(frames, count, rate), stop.signal);
      console.error(pubSummary(result, client.relayName, client.address));
    } finally {
      await client.close();
    }
    return Exit.OK;
  },
});
