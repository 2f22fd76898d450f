/**
 * `torq mock-relay` (PROTOCOL.md 8.3): a fake market-data relay for testing
 * consumers — it emits synthetic Trades and Quotes to every client and prints
 * what clients send, by TLV name.
 *
 * @module
 */

import { parseVenue, SourceType, venueName } from "../src/protocol/mod.ts";
import { formatMockRelayStats, MockRelay, randomSeed } from "../src/demo/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { TransportError } from "../src/transport/mod.ts";
import { Exit, UsageError } from "./_args.ts";
import { countOption, SEED_OPTION } from "./_options.ts";
import { defineCommand, describeNumber, parseNumber } from "./_command.ts";
import { relayTarget, TARGET_OPTIONS } from "./_target.ts";

const COMMAND = "torq mock-relay";

/** `torq mock-relay`. */
export const command = defineCommand({
  name: COMMAND,
  description: `A fake market-data relay for testing consumers (PROTOCOL.md 8.3). Listens on a Unix
socket (directory created, a live socket refused, a stale one removed), accepts any number of
clients, and
  - prints what each client sends: '📨 Received <n> bytes (<k> frames: Trade×2, …)'
  - emits synthetic market data to every connected client (nothing is emitted while no client
    receives): Trade and Quote messages (domain 1, source 99 TestClient) for each symbol in turn,
    a random walk around a start price
  - like a relay, treats a first hello as publish-only and answers each Subscribe (TLV 113) with
    the filter in effect: *, tlv.<n>, source.<n> and trailing-* prefixes, so
    'torq sub market-data' works against it.
Stops after --count messages or on Ctrl-C, with a one-line summary.`,
  options: {
    symbols: {
      type: "string",
      value: "LIST",
      default: "BTC-USD,ETH-USD",
      help: "Comma-separated coin symbols",
    },
    venue: {
      type: "string",
      value: "VENUE",
      default: "kraken",
      help: "Venue of the instruments, a name or number",
    },
    price: {
      type: "string",
      value: "P",
      help: "Start price in USD for every symbol, or SYMBOL=P,… per symbol " +
        "(default: BTC 45000, ETH 2500, others 100)",
    },
    rate: { type: "number", value: "N", positive: true, default: 10, help: "Messages per second" },
    count: countOption("Stop after N messages"),
    ...SEED_OPTION,
    source: {
      type: "number",
      value: "N",
      integer: true,
      min: 0,
      max: 255,
      default: SourceType.TestClient,
      help: "Header source of the messages (99: TestClient)",
    },
    ...TARGET_OPTIONS,
  },
  exits: { 1: "cannot listen (a live relay on the socket, no permission)" },
  examples: [
    "torq mock-relay",
    "torq mock-relay --socket /tmp/mock/md.sock --count 20 --seed 1",
    "torq mock-relay --symbols BTC-USD,ETH-USD,SOL-USD --venue coinbase --rate 100",
    "torq mock-relay --price BTC-USD=60000,ETH-USD=3000",
  ],
  async run({ options: values }) {
    const symbols = values.symbols.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (symbols.length === 0) throw new UsageError(COMMAND, "option '--symbols' lists no symbol");
    for (const s of symbols) {
      if (!/^[\x21-\x7e]{1,8}$/.test(s)) {
        throw new UsageError(COMMAND, `symbol ${JSON.stringify(s)} is not 1–8 ASCII characters`);
      }
    }
    const venue = parseVenue(values.venue);
    if (venue === undefined) {
      throw new UsageError(
        COMMAND,
        `unknown venue ${JSON.stringify(values.venue)}: use a name or number of PROTOCOL.md 6.2`,
      );
    }
    const source = values.source;
    const seed = values.seed ?? randomSeed();
    const rate = values.rate;
    const count = values.count;
    const prices = parsePrices(values.price, symbols);
    const path = relayTarget(COMMAND, "market_data", values).path;

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
      `🎲 Emitting ${symbols.join(", ")} on ${venueName(venue)} at ${rate} msg/s${
        count === undefined ? "" : `, ${count} messages`
      } (seed ${seed})`,
    );
    using interrupt = interruptOnSignals();
    const onInterrupt = () => void relay.stop();
    interrupt.signal.addEventListener("abort", onInterrupt, { once: true });
    const stats = await relay.finished;
    emit(
      interrupt.signal.aborted ? "👋 Shutting down mock relay" : `✅ Sent ${stats.sent} messages`,
    );
    emit(formatMockRelayStats(stats));
    return Exit.OK;
  },
});

function emit(text: string, target: typeof Deno.stdout | typeof Deno.stderr = Deno.stdout): void {
  const bytes = new TextEncoder().encode(text + "\n");
  for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
}

function parsePrices(
  text: string | undefined,
  symbols: readonly string[],
): Record<string, number> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, number> = {};
  if (!text.includes("=")) {
    const p = price(text);
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
    out[m[1]!] = price(m[2]!);
  }
  return out;
}

function price(text: string): number {
  const rule = { positive: true };
  const p = parseNumber(text, rule);
  if (p === undefined) {
    throw new UsageError(
      COMMAND,
      `option '--price' expects ${describeNumber(rule)}, got ${JSON.stringify(text)}`,
    );
  }
  return p;
}
