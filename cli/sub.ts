/**
 * `torq sub <domain>`: a live view of a relay through a real Subscribe.
 * Also the home of the argument helpers `pub`, `record` and `replay` share
 * (relay target from a domain and `--socket`, counts, Ctrl-C).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { RelayDomainName } from "../src/config/mod.ts";
import { domainName } from "../src/protocol/domains.ts";
import {
  parseByteList,
  planSubscription,
  runSub,
  type SubFormat,
  type SubscriptionPlan,
  subSummary,
} from "../src/tools/sub.ts";
import { interruptOnSignals } from "../src/tools/_interrupt.ts";
import { SchemaCache } from "../src/client/schema_cache.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError, writeStdout } from "./_args.ts";
import { configFromArgs } from "./_config.ts";
import { relayName } from "./relay.ts";
import { registerSchemaFiles, SCHEMAS_HELP, SCHEMAS_OPTION } from "./_schemas.ts";

const COMMAND = "torq sub";

/** parseArgs specs of the options every relay-facing tool shares. */
export const TARGET_OPTIONS = {
  socket: { type: "string" },
  config: { type: "string" },
  env: { type: "string" },
  set: { type: "string", multiple: true },
  help: { type: "boolean", short: "h", default: false },
  verbose: { type: "boolean", default: false },
} as const;

/** Help lines of {@linkcode TARGET_OPTIONS}. */
export const TARGET_HELP =
  `  --socket PATH        Relay socket (default: the domain's configured path)
  --config FILE        Configuration file whose relays.<domain>.transport.path is used
  --env NAME           Environment overlay: development, staging, production
  --set KEY=VALUE      Override one setting, e.g. --set relays.signal.transport.path=/tmp/s.sock
  --verbose            Print stack traces of errors
  -h, --help           Show this help`;

/** A relay to talk to. */
export interface RelayTarget {
  /** Relay name in the config (`market_data`, `signal`, `execution`). */
  name: RelayDomainName;
  /** Wire domain (1–3). */
  domain: number;
  /** Socket path. */
  path: string;
}

/**
 * Resolves a domain argument and `--socket` (else the configured path) to a relay.
 *
 * @param command full command name for usage errors
 * @param arg the domain argument (`market-data`, `signal`, `execution`)
 * @param values parsed shared options
 * @returns the relay
 * @throws {UsageError} for a missing or unknown domain
 */
export function relayTarget(
  command: string,
  arg: string | undefined,
  values: {
    socket?: string | undefined;
    config?: string | undefined;
    env?: string | undefined;
    set?: string[] | undefined;
  },
): RelayTarget {
  if (arg === undefined) {
    throw new UsageError(command, "missing the relay domain: market-data, signal or execution");
  }
  const name = relayName(arg);
  if (name === undefined) {
    throw new UsageError(
      command,
      `unknown domain ${JSON.stringify(arg)}: use market-data, signal or execution`,
    );
  }
  const domain = ({ market_data: 1, signal: 2, execution: 3 } as const)[name];
  if (values.socket !== undefined) return { name, domain, path: values.socket };
  const config = configFromArgs({ config: values.config, env: values.env, set: values.set });
  return { name, domain, path: config.relays[name].transport.path };
}

/**
 * Parses a non-negative integer option.
 *
 * @param command full command name for usage errors
 * @param option option name, e.g. `--count`
 * @param text the value
 * @returns the number, or undefined when `text` is undefined
 * @throws {UsageError} for anything but digits
 */
export function parseCount(
  command: string,
  option: string,
  text: string | undefined,
): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(command, `${option} expects a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text.trim());
}

/**
 * Parses a positive number option (rates, durations).
 *
 * @param command full command name for usage errors
 * @param option option name
 * @param text the value
 * @returns the number, or undefined when `text` is undefined
 * @throws {UsageError} for a value that is not a positive number
 */
export function parsePositive(
  command: string,
  option: string,
  text: string | undefined,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(
      command,
      `${option} expects a positive number, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/**
 * The subscription plan of `--subscribe`, `--types` and `--source`.
 *
 * @param command full command name for usage errors
 * @param values parsed options
 * @returns the plan
 * @throws {UsageError} for an unparsable type or source list
 */
export function planFromArgs(
  command: string,
  values: {
    subscribe?: string[] | undefined;
    types?: string | undefined;
    source?: string | undefined;
  },
): SubscriptionPlan {
  try {
    const subscribe = (values.subscribe ?? []).flatMap((s) =>
      s.split(",").map((p) => p.trim()).filter((p) => p !== "")
    );
    return planSubscription({
      subscribe,
      types: values.types === undefined ? undefined : parseByteList(values.types, "type"),
      sources: values.source === undefined ? undefined : parseByteList(values.source, "source"),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(command, e.message);
    throw e;
  }
}

/** Help lines of the subscription options (`sub` and `record`). */
export const PLAN_HELP =
  `  --subscribe PATTERN  Relay-side pattern (repeatable or comma-separated): *, tlv.1, tlv.2*,
                       source.20, arbitrage_signals ... (default *)
  --types LIST         TLV types, e.g. 32, 20-39, 1,2 or Trade; without --subscribe they are
                       sent as tlv.N patterns; always also filtered locally
  --source LIST        Header sources, e.g. 20 or 20-39; as source.N patterns likewise`;

const HELP = `Usage: torq sub <market-data|signal|execution> [options]

Subscribe to a relay (a real Subscribe, TLV 113: the relay sends only what
matches) and print every frame as it arrives, decoded like 'torq decode'.
Sequence gaps per source are reported on stderr as they happen
(⚠ gap on source 20: expected 8, got 11 (3 missing)). Ctrl-C stops with a
one-line summary (frames, bytes, gaps) on stderr.

Options:
${PLAN_HELP}
  --count N            Exit after N frames
  --decode             Print each frame like 'torq decode' (default)
  --hex                Print each frame as one line of hex
  --json               Print each frame as one JSON line, the shape of 'torq decode --json'
  --timestamp          Prefix each frame with its receive time (JSON: a "received" member)
  --rate-graph         Print one line per second (msg/s, bytes/s, a bar) instead of frames
  --cache              Learn instruments, pools and tokens from the frames (an instrument cache)
                       and print what was learned on stderr when the view ends (also on Ctrl-C);
                       as JSON with --json
${SCHEMAS_HELP}
${TARGET_HELP}

Exit status: 0 after --count frames or Ctrl-C, 1 relay not running, subscription
refused or connection lost, 2 usage error.

Examples:
  torq sub signal
  torq sub market-data --subscribe tlv.1 --hex
  torq sub signal --types 20-39 --source 20 --json --timestamp
  torq sub market-data --rate-graph
  torq sub market-data --cache --count 1000 > /dev/null
  torq sub market-data --schemas config/schemas/example_vendor.yaml
  torq sub execution --socket /tmp/exec.sock --count 10`;

/**
 * Runs `torq sub`.
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
        subscribe: { type: "string", multiple: true },
        types: { type: "string" },
        source: { type: "string" },
        count: { type: "string" },
        decode: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        timestamp: { type: "boolean", default: false },
        "rate-graph": { type: "boolean", default: false },
        cache: { type: "boolean", default: false },
        ...SCHEMAS_OPTION,
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  if (positionals.length > 1) {
    throw new UsageError(COMMAND, `unexpected argument '${positionals[1]}'`);
  }
  const formats = (["decode", "hex", "json"] as const).filter((f) => values[f]);
  if (formats.length > 1) {
    throw new UsageError(COMMAND, `choose one of --decode, --hex and --json`);
  }
  const format: SubFormat = formats[0] ?? "decode";
  const count = parseCount(COMMAND, "--count", values.count);
  const plan = planFromArgs(COMMAND, values);
  const target = relayTarget(COMMAND, positionals[0], values);
  registerSchemaFiles(values.schemas ?? []);
  const cache = values.cache ? new SchemaCache() : undefined;
  const encoder = new TextEncoder();
  using stop = interruptOnSignals();
  const result = await runSub(
    {
      domain: target.domain,
      path: target.path,
      plan,
      format,
      timestamp: values.timestamp,
      rateGraph: values["rate-graph"],
      count,
      signal: stop.signal,
      ...(cache === undefined ? {} : { onFrame: (f) => void cache.observe(f) }),
    },
    {
      out: (text) => writeStdout(encoder.encode(text)),
      err: (line) => console.error(line),
    },
  );
  console.error(subSummary(result));
  if (cache !== undefined) {
    console.error(values.json ? JSON.stringify(cache) : cache.dump().join("\n"));
  }
  if (result.ended === "closed") {
    throw new CliError(
      result.error?.message ?? `the ${domainName(target.domain)} relay closed the connection`,
    );
  }
  return Exit.OK;
}
