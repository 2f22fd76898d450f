// The relay's forwarding path without sockets: a Relay whose producer and
// consumers are in-memory connections (attachConnection), so the time per
// iteration is the relay's own work on one 256 KiB read of back-to-back frames:
// scan, classify, validate, count, copy or hand over, queue, write calls.
import { Relay } from "../src/relay/relay.ts";
import { MARKET_DATA_LOGIC, SIGNAL_LOGIC } from "../src/relay/logic.ts";
import type { RelayLogic } from "../src/relay/logic.ts";
import { Logger } from "../src/log/logger.ts";
import type { StreamConn } from "../src/transport/transport.ts";
import { sealChecksum } from "../src/protocol/header.ts";
import { frameOfSize } from "./_frames.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { tradeFrame } from "../tests/_support/relay.ts";

/**
 * A producer streaming `chunk` over and over, one read each time the bench
 * releases one; like a socket, a read returns at most what fits the reader's
 * buffer (the relay's reads grow to 256 KiB within the warm-up).
 */
class MemoryProducer implements StreamConn {
  #release: ((n: number | null) => void) | null = null;
  #asked: (() => void) | null = null;
  #off = 0;
  constructor(readonly chunk: Uint8Array) {}

  read(p: Uint8Array): Promise<number | null> {
    this.#asked?.();
    return new Promise((resolve) => {
      this.#release = (n) => {
        if (n === null) return resolve(null);
        const take = Math.min(p.length, this.chunk.length - this.#off);
        p.set(this.chunk.subarray(this.#off, this.#off + take));
        this.#off = (this.#off + take) % this.chunk.length;
        resolve(take);
      };
    });
  }

  /** Hands the relay one read and resolves when it asks for the next (the read is processed). */
  feed(): Promise<void> {
    const asked = new Promise<void>((r) => (this.#asked = r));
    const release = this.#release!;
    this.#release = null;
    release(this.chunk.length);
    return asked;
  }

  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }

  close(): void {
    this.#release?.(null);
  }
}

/** A consumer that takes every write at once and never sends. */
class MemoryConsumer implements StreamConn {
  bytes = 0;
  #end: ((n: null) => void) | null = null;

  read(): Promise<number | null> {
    return new Promise((resolve) => (this.#end = resolve));
  }

  write(p: Uint8Array): Promise<number> {
    this.bytes += p.length;
    return Promise.resolve(p.length);
  }

  close(): void {
    this.#end?.(null);
  }
}

/** A Trade of one of 500 instruments: the market-data relay keeps its last value. */
const trade = (sequence: number) => tradeFrame(TRADES, sequence, 1 + (sequence * 7919) % 500);
const TRADES = new MessageBuilder({ domain: 1, source: 2 });

async function setUp(
  logic: RelayLogic,
  size: number,
  consumers: number,
  o: { checksum: boolean; trades: boolean },
) {
  const dir = await Deno.makeTempDir();
  const relay = new Relay({ ...logic, socketPath: `${dir}/r.sock`, maxQueueFrames: 1_000_000 }, {
    logger: new Logger({ level: "error" }),
  });
  await relay.start();
  const count = Math.floor(262_144 / size);
  const chunk = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    const f = o.trades ? trade(i + 1) : frameOfSize(size, i + 1);
    f[4] = logic.domain;
    if (o.checksum) sealChecksum(f);
    else f.fill(0, 28, 32);
    chunk.set(f, i * size);
  }
  const sinks = Array.from({ length: consumers }, () => new MemoryConsumer());
  for (const s of sinks) relay.attachConnection(s, "bench");
  const producer = new MemoryProducer(chunk);
  relay.attachConnection(producer, "bench");
  await new Promise((r) => setTimeout(r, 0)); // the producer's first read is pending
  return { relay, producer, sinks, count, dir };
}

for (
  const [name, logic, checksum, trades] of [
    ["market data", MARKET_DATA_LOGIC, false, false],
    ["market data, Trades (last values)", MARKET_DATA_LOGIC, false, true],
    ["signal (CRC-32 + TLV walk)", SIGNAL_LOGIC, true, false],
  ] as const
) {
  for (const consumers of [1, 4]) {
    const size = trades ? trade(1).length : 64;
    const env = await setUp(logic, size, consumers, { checksum, trades });
    // Re-sequence nothing: the relay counts gaps but forwards every frame.
    Deno.bench({
      name: `${name}: one read of ${env.count} × ${size} B frames to ${consumers} consumer(s)`,
      group: `relay path ${name}`,
      n: 3000,
      async fn(b) {
        b.start();
        await env.producer.feed();
        b.end();
      },
    });
    // Fail loudly if frames were not forwarded (a benchmark of nothing is worse than none).
    Deno.bench({
      name: `${name} ${consumers}: forwarded check`,
      group: `relay path ${name}`,
      n: 1,
      fn() {
        const s = env.relay.stats();
        if (s.framesForwarded === 0 || Object.keys(s.rejects).length > 0) {
          throw new Error(`nothing forwarded: ${JSON.stringify(s.rejects)}`);
        }
      },
    });
  }
}
