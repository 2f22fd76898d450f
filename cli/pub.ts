/**
 * `torq pub <domain>`: publish given or built frames to a relay.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RelayClient } from "../src/client/mod.ts";
import { FrameError } from "../src/protocol/errors.ts";
import { HexParseError } from "../src/tools/hex.ts";
import { MessageJsonError } from "../src/tools/encode_json.ts";
import {
  pubFrames,
  type PubInput,
  publishPaced,
  pubSummary,
  repeatAtRate,
  wrongDomain,
} from "../src/tools/pub.ts";
import { SPEC_VECTORS } from "../src/tools/vectors_data.ts";
import { interruptOnSignals } from "../src/tools/_interrupt.ts";
import {
  CliError,
  Exit,
  parseOrUsage,
  printOut,
  readInputFile,
  readStdin,
  UsageError,
} from "./_args.ts";
import { parseCount, parsePositive, relayTarget, TARGET_HELP, TARGET_OPTIONS } from "./sub.ts";

const COMMAND = "torq pub";

function help(): string {
  const names = SPEC_VECTORS.map((v) =>
    `  ${v.name}${v.expect === "valid" ? "" : ` (${v.expect})`}`
  );
  return `Usage: torq pub <market-data|signal|execution> (--hex HEX | --json FILE | --vector NAME | -) [options]

Publish frames to a relay: given as hex, built from JSON in the shape of
'torq encode --json' (one message object or an array), one of the spec's
worked examples, or read from stdin (hex text or raw frames). The connection
sends a hello first, so the relay never writes to it (--no-publish-only to
connect as an ordinary client). A frame whose relay_domain is not the target
relay's is refused (the relay would drop it as WrongDomain) unless --force.

Input (exactly one):
  --hex HEX            One or more frames as hex (whitespace and 0x allowed)
  --json FILE          JSON in the 'torq encode --json' shape; '-' reads stdin
  --vector NAME        A worked example of the spec (names below)
  -                    Read stdin: hex text or raw frame bytes (detected)

Options:
  --count N            Publish the frames N times (default 1)
  --rate R             Messages per second (default: as fast as possible)
  --force              Publish frames of another domain too
  --no-publish-only    Do not send the hello (the relay then also writes to this connection)
${TARGET_HELP}

Exit status: 0 published, 1 bad input, refused frame or relay not running, 2 usage error.

Vectors:
${names.join("\n")}

Examples:
  torq pub signal --vector arbitrage_signal_flash_arb
  torq pub market-data --vector trade_kraken_btc_usd --count 1000 --rate 100
  torq decode --json HEX | torq pub signal --json -
  torq encode --json trade.json --raw | torq pub market-data -`;
}

/**
 * Runs `torq pub`.
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
        hex: { type: "string" },
        json: { type: "string" },
        vector: { type: "string" },
        count: { type: "string" },
        rate: { type: "string" },
        force: { type: "boolean", default: false },
        "publish-only": { type: "boolean", default: true },
      },
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(help());
    return Exit.OK;
  }
  const [domainArg, ...rest] = positionals;
  const stdin = rest.length === 1 && rest[0] === "-";
  if (rest.length > 1 || (rest.length === 1 && !stdin)) {
    throw new UsageError(COMMAND, `unexpected argument '${rest[stdin ? 1 : 0]}'`);
  }
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
  const count = parseCount(COMMAND, "--count", values.count) ?? 1;
  const rate = parsePositive(COMMAND, "--rate", values.rate);
  const target = relayTarget(COMMAND, domainArg, values);

  let input: PubInput;
  if (values.hex !== undefined) input = { kind: "hex", text: values.hex };
  else if (values.vector !== undefined) input = { kind: "vector", name: values.vector };
  else if (values.json !== undefined) {
    const bytes = values.json === "-" ? await readStdin() : await readInputFile(values.json);
    const where = values.json === "-" ? "stdin" : JSON.stringify(values.json);
    try {
      input = { kind: "json", value: JSON.parse(new TextDecoder().decode(bytes)) };
    } catch (e) {
      throw new CliError(`cannot parse JSON from ${where}: ${e instanceof Error ? e.message : e}`);
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
}
