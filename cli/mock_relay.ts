/**
 * `torq mock-relay` (PROTOCOL.md 8.3): a fake market-data relay for testing
 * consumers — it emits synthetic Trades and Quotes to every client and prints
 * what clients send, by TLV name.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseVenue, venueName } from "../src/protocol/instrument_id.ts";
import { SourceType } from "../src/protocol/domains.ts";
import { formatMockRelayStats, MockRelay } from "../src/tools/mock_relay.ts";
import { parseSeed, randomSeed } from "../src/tools/prng.ts";
import { TransportError } from "../src/transport/transport.ts";
import { Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";

const COMMAND = "torq mock-relay";

const HELP = `Usage: torq mock-relay [options]

A fake market-data relay for testing consumers (PROTOCOL.md 8.3). Listens on a
Unix socket (directory created, a live socket refused, a stale one removed),
accepts any number of clients, and
  - prints what each client sends: '📨 Received <n> bytes (<k> frames: Trade×2, …)'
  - emits synthetic market data to every connected client (nothing is emitted
    while no client receives): Trade and Quote messages (domain 1, source 99
    TestClient) for each symbol in turn, a random walk around a start price
  - like a relay, treats a first hello as publish-only and answers each
    Subscribe (TLV 113) with the filter in effect: *, tlv.<n>, source.<n>
    and trailing-* prefixes, so 'torq sub market-data' works against it.
Stops after --count messages or on Ctrl-C, with a one-line summary.

Options:
  --socket PATH        Listen here (default: the configured market-data relay path)
  --symbols LIST       Comma-separated coin symbols (default BTC-USD,ETH-USD)
  --venue VENUE        Venue of the instruments, a name or number (default kraken)
  --price P            Start price in USD for every symbol, or SYMBOL=P,… per symbol
                       (default: BTC 45000, ETH 2500, others 100)
  --rate N             Messages per second (default 10)
  --count N            Stop after N messages
  --seed N             Seed the walk (0–4294967295): the same seed gives the same stream
  --source N           Header source of the messages (default 99, TestClient)
${CONFIG_HELP}
  -h, --help           Show this help

Examples:
  torq mock-relay
  torq mock-relay --socket /tmp/mock/md.sock --count 20 --seed 1
  torq mock-relay --symbols BTC-USD,ETH-USD,SOL-USD --venue coinbase --rate 100
  torq mock-relay --price BTC-USD=60000,ETH-USD=3000`;

function emit(text: string, target: typeof Deno.stdout | typeof Deno.stderr = Deno.stdout): void {
  const bytes = new TextEncoder().encode(text + "\n");
  for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
}

function positive(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (
    text.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))
  ) {
    throw new UsageError(
      COMMAND,
      `option '--${name}' needs a positive ${integer ? "whole " : ""}number, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return n;
}

function parsePrices(
  text: string | undefined,
  symbols: readonly string[],
): Record<string, number> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, number> = {};
  if (!text.includes("=")) {
    const p = positive("price", text, false)!;
    for (const s of symbols) out[s] = p;
    return out;
  }
  for (const part of text.split(",")) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null) {
      throw new UsageError(
        COMMAND,
        `option '--price' needs P or SYMBOL=P,…, got ${JSON.stringify(part)}`,
      );
    }
    out[m[1]!] = positive("price", m[2]!, false)!;
  }
  return out;
}

/**
 * Runs `torq mock-relay`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        socket: { type: "string" },
        symbols: { type: "string" },
        venue: { type: "string" },
        price: { type: "string" },
        rate: { type: "string" },
        count: { type: "string" },
        seed: { type: "string" },
        source: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  const symbols = (values.symbols ?? "BTC-USD,ETH-USD").split(",").map((s) => s.trim()).filter(
    (s) => s !== "",
  );
  if (symbols.length === 0) throw new UsageError(COMMAND, "option '--symbols' lists no symbol");
  for (const s of symbols) {
    if (!/^[\x21-\x7e]{1,8}$/.test(s)) {
      throw new UsageError(COMMAND, `symbol ${JSON.stringify(s)} is not 1–8 ASCII characters`);
    }
  }
  const venue = parseVenue(values.venue ?? "kraken");
  if (venue === undefined) {
    throw new UsageError(
      COMMAND,
      `unknown venue ${JSON.stringify(values.venue)}: use a name or number of PROTOCOL.md 6.2`,
    );
  }
  let source: number = SourceType.TestClient;
  if (values.source !== undefined) {
    const n = Number(values.source);
    if (!/^\d+$/.test(values.source.trim()) || n > 255) {
      throw new UsageError(
        COMMAND,
        `option '--source' needs 0–255, got ${JSON.stringify(values.source)}`,
      );
    }
    source = n;
  }
  let seed = randomSeed();
  if (values.seed !== undefined) {
    const s = parseSeed(values.seed);
    if (s === undefined) {
      throw new UsageError(
        COMMAND,
        `option '--seed' needs an integer 0–4294967295, got ${JSON.stringify(values.seed)}`,
      );
    }
    seed = s;
  }
  const rate = positive("rate", values.rate, false);
  const count = positive("count", values.count, true);
  const prices = parsePrices(values.price, symbols);
  const path = values.socket ?? configFromArgs(values).relays.market_data.transport.path;

  let relay: MockRelay;
  try {
    relay = await MockRelay.start({
      path,
      symbols,
      venue,
      prices,
      seed,
      source,
      rate,
      count,
      log: (line) => emit(line),
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    emit(`❌ Error: Cannot start mock relay: ${message}`, Deno.stderr);
    if (
      values.verbose && e instanceof Error && e.stack !== undefined &&
      !(e instanceof TransportError)
    ) {
      console.error(e.stack);
    }
    return Exit.BAD_INPUT;
  }
  emit(
    `🎲 Emitting ${symbols.join(", ")} on ${venueName(venue)} at ${rate ?? 10} msg/s${
      count === undefined ? "" : `, ${count} messages`
    } (seed ${seed})`,
  );
  const sigs = ["SIGINT", "SIGTERM"] as const;
  let interrupted = false;
  const handler = () => {
    interrupted = true;
    void relay.stop();
  };
  for (const s of sigs) Deno.addSignalListener(s, handler);
  try {
    const stats = await relay.finished;
    emit(interrupted ? "👋 Shutting down mock relay" : `✅ Sent ${stats.sent} messages`);
    emit(formatMockRelayStats(stats));
  } finally {
    for (const s of sigs) Deno.removeSignalListener(s, handler);
  }
  return Exit.OK;
}
