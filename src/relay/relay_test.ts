import assert from "node:assert/strict";
import { Relay } from "./relay.ts";
import { MARKET_DATA_LOGIC, type RelayLogic, SIGNAL_LOGIC } from "./logic.ts";
import { Logger } from "../log/logger.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { SourceType } from "../protocol/domains.ts";
import { encodePayload } from "../protocol/payloads.ts";
import {
  assertBytes,
  assertFrames,
  close,
  concat,
  connectMany,
  readExactly,
  readFrames,
  send,
  subscribe,
  tradeFrame,
} from "../../tests/_support/relay.ts";

async function readSome(conn: Deno.Conn, ms: number): Promise<number> {
  const buf = new Uint8Array(65536);
  let total = 0;
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
  } catch {
    // closed by the timer
  } finally {
    clearTimeout(timer);
  }
  return total;
}

/**
 * Runs `fn` against a market-data relay (with `options`) on a temporary socket
 * and `clients` connections to it; closes and removes everything after.
 */
async function withMarketData(
  clients: number,
  options: Partial<RelayLogic>,
  fn: (relay: Relay, conns: Deno.UnixConn[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const relay = new Relay({ ...MARKET_DATA_LOGIC, socketPath: `${dir}/md.sock`, ...options }, {
    logger: new Logger({ level: "error" }),
  });
  await relay.start();
  const conns = await connectMany(relay.address, clients);
  try {
    await fn(relay, conns);
  } finally {
    await close(...conns);
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Relay.reload() applies new limits to live connections and reports what changed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const lines: string[] = [];
  const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: path }, {
    logger: new Logger({ level: "info", format: "json", sink: (l) => lines.push(l) }),
  });
  await relay.start();
  const consumer = await Deno.connect({ transport: "unix", path });
  const producer = await Deno.connect({ transport: "unix", path });
  try {
    const changed = relay.reload({ maxMessageSize: 1024, maxQueueFrames: 500, name: "ignored" });
    assert.deepEqual(changed, ["maxMessageSize: 32768 → 1024", "maxQueueFrames: 10000 → 500"]);
    assert.equal(relay.logic.name, "signal", "identity is not reloadable");
    assert.ok(lines.some((l) => JSON.parse(l).msg === "reloaded"));
    assert.deepEqual(
      relay.reload({ maxQueueFrames: 500 }),
      [],
      "nothing changed, nothing reported",
    );
    const b = new MessageBuilder({ domain: 2, source: 20 });
    await producer.write(b.begin().addTlv(202, new Uint8Array(2000)).build()); // over the new limit
    await producer.write(b.begin().addTlv(202, new Uint8Array(100)).build());
    assert.equal(
      await readSome(consumer, 300),
      32 + 2 + 100,
      "only the frame within the new limit",
    );
    assert.equal(relay.stats().rejects.PayloadTooLarge, 1);
  } finally {
    producer.close();
    try {
      consumer.close();
    } catch {
      // closed by readSome
    }
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Relay forwards large runs byte-exact to every consumer, filtered or not, while the producer keeps writing", async () => {
  // Large reads are handed to the queues without a copy and the reader continues in a
  // pooled buffer; a partial frame at the end of each read must carry over, and a buffer
  // must not be reused while a consumer still holds it (the slow consumer below).
  await withMarketData(
    4,
    { maxQueueFrames: 1_000_000 },
    async (_relay, [plain, slow, filtered, producer]) => {
      // The filtered consumer takes one source's frames only.
      assert.deepEqual((await subscribe(filtered!, ["market_data_kraken"])).patterns, [
        "market_data_kraken",
      ]);
      // 3,000 frames of varying sizes from two sources, written in uneven pieces.
      const kraken = new MessageBuilder({ domain: 1, source: SourceType.KrakenCollector });
      const binance = new MessageBuilder({ domain: 1, source: SourceType.BinanceCollector });
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 3000; i++) {
        const b = i % 3 === 0 ? kraken : binance;
        frames.push(
          b.begin().addTlv(202, new Uint8Array(20 + (i * 37) % 400).fill(i & 0xff)).build(),
        );
      }
      const all = concat(frames);
      const krakenOnly = concat(frames.filter((_, i) => i % 3 === 0));
      const reading = [readExactly(plain!, all.length), readExactly(filtered!, krakenOnly.length)];
      for (let off = 0; off < all.length;) {
        const n = Math.min(1 + ((off * 7919) % 90_000), all.length - off);
        await send(producer!, all.subarray(off, off + n));
        off += n;
      }
      const [gotPlain, gotFiltered] = await Promise.all(reading);
      assertBytes(gotPlain!, all, "plain consumer");
      assertBytes(gotFiltered!, krakenOnly, "filtered consumer");
      // The slow consumer reads only now: everything it was queued is still intact.
      assertBytes(await readExactly(slow!, all.length), all, "slow consumer");
    },
  );
});

Deno.test("Relay counts each source's sequence gaps, regressions and 32-bit carries exactly", async () => {
  await withMarketData(2, {}, async (relay, [consumer, producer]) => {
    const kraken = new MessageBuilder({ domain: 1, source: SourceType.KrakenCollector });
    const binance = new MessageBuilder({ domain: 1, source: SourceType.BinanceCollector });
    const frame = (b: MessageBuilder, sequence: bigint) =>
      b.begin({ sequence }).addTlv(202, new Uint8Array(8)).build();
    const krakenSeqs = [1n, 2n, 3n, 7n, 8n, 5n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_0000_0001n];
    const frames = [
      ...krakenSeqs.map((q) => frame(kraken, q)),
      frame(binance, 0n), // unsequenced producers send 0: never a gap
      frame(binance, 0n),
    ];
    await send(producer!, concat(frames));
    await readExactly(consumer!, concat(frames).length);
    const bySource = Object.fromEntries(relay.stats().sources.map((x) => [x.name, x]));
    assert.deepEqual(bySource.KrakenCollector, {
      source: SourceType.KrakenCollector,
      name: "KrakenCollector",
      frames: 9,
      lastSequence: "4294967297",
      gaps: 2, // 3 → 7 and 5 → 2^32 - 1; the carry from 2^32 - 1 to 2^32 is a step of one
      missing: 3 + (0xffff_ffff - 5 - 1),
      regressions: 1, // 8 → 5
    });
    assert.deepEqual(
      [bySource.BinanceCollector?.frames, bySource.BinanceCollector?.gaps],
      [2, 0],
    );
  });
});

Deno.test("Relay: a producer's read buffer grown by a burst shrinks back once its reads are small", async () => {
  const b = new MessageBuilder({ domain: 1, source: SourceType.KrakenCollector });
  const frame = () => b.begin().addTlv(202, new Uint8Array(32)).build().slice();
  await withMarketData(2, { maxQueueFrames: 1_000_000 }, async (relay, [consumer, producer]) => {
    const burst = concat(Array.from({ length: 20_000 }, frame)); // 1.4 MB in one write
    const received = readExactly(consumer!, burst.length);
    await send(producer!, burst);
    await received;
    const readBuffer = () =>
      relay.stats().connectionsDetail.find((c) => c.framesIn > 0)?.readBufferBytes ?? 0;
    const grown = readBuffer();
    assert.ok(grown >= 65_536, `the burst grew the read buffer (${grown} bytes)`);
    // One small frame every 100 ms: the read size halves each second down to 4 KiB.
    let now = grown;
    for (let i = 0; i < 150 && now > 4096; i++) {
      const f = frame();
      const got = readExactly(consumer!, f.length);
      await send(producer!, f);
      await got;
      await new Promise((r) => setTimeout(r, 100));
      now = readBuffer();
    }
    assert.equal(now, 4096, `shrank from ${grown} bytes`);
  });
});

Deno.test("Relay keeps each instrument's last value, with and without an audit journal (frames recorded by #onData or #forward)", async () => {
  for (const policy of ["performance", "audit"] as const) {
    const dir = await Deno.makeTempDir();
    const options = policy === "audit" ? { policy, journalPath: `${dir}/md.journal` } : {};
    await withMarketData(2, options, async (_relay, [consumer, producer]) => {
      const b = new MessageBuilder({ domain: 1, source: SourceType.KrakenCollector });
      const sent = Array.from({ length: 300 }, (_, i) => tradeFrame(b, i + 1, 1 + (i * 7) % 25));
      const last = new Map<number, Uint8Array>();
      for (const [i, f] of sent.entries()) {
        last.delete(1 + (i * 7) % 25); // oldest update first
        last.set(1 + (i * 7) % 25, f);
      }
      await send(producer!, concat(sent));
      // Once the consumer has them, the relay has handled every frame.
      assertFrames(await readFrames(consumer!, sent.length), sent, `${policy}: live`);
      const request = new MessageBuilder({ domain: 4, source: 60 }).begin({ sequence: 0 })
        .addTlv(
          110,
          encodePayload(110, {
            last_sequence: 0n,
            current_sequence: 0n,
            consumer_id: 0,
            request_type: 1,
          }),
        ).build();
      await send(consumer!, request);
      // The snapshot, oldest update first, then the RecoveryResponse.
      const snapshot = await readFrames(consumer!, last.size + 1);
      assert.equal(snapshot.pop()![4], 4, `${policy}: the response follows the snapshot`);
      assertFrames(snapshot, [...last.values()], `${policy}: snapshot`);
    });
    await Deno.remove(dir, { recursive: true });
  }
});
