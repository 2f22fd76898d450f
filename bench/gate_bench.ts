// The performance gate's benches (`deno task bench:gate`, bench/gate.ts). Every group has a
// baseline measured in the same run: a plain copy of the same bytes for the codec, a direct
// Unix socket for the relay's forwarding path. The gate compares each case's speed relative to
// its baseline with the floors in bench/gate_floors.json, so a slower machine or a busy one
// moves both sides and only a real regression of ours fails the gate.
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { frameChecksum } from "../src/protocol/crc32.ts";
import { decodeMessage } from "../src/protocol/message.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodePayload } from "../src/protocol/payloads.ts";
import { findVector } from "../src/protocol/spec_vectors.ts";
import { Relay } from "../src/relay/relay.ts";
import { MARKET_DATA_LOGIC } from "../src/relay/logic.ts";
import { Logger } from "../src/log/logger.ts";
import { frameOfSize } from "./_frames.ts";
import { writeAll } from "../src/io/mod.ts";

/** Back-to-back frames of `size` bytes filling about `bytes`. */
function frames(size: number, bytes: number): Uint8Array {
  const n = Math.floor(bytes / size);
  const out = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) out.set(frameOfSize(size, i + 1), i * size);
  return out;
}

const sink = new Uint8Array(1 << 20);

// -- codec -------------------------------------------------------------------------------------

const read64 = frames(64, 262_144);
const reader = new FrameReader({ capacity: 262_144 });
Deno.bench({
  name: "copy 256 KiB",
  group: "gate: frame scan, 64 B frames",
  baseline: true,
  fn() {
    sink.set(read64);
  },
});
Deno.bench({
  name: "copy 256 KiB into a FrameReader and walk its 4,096 frames",
  group: "gate: frame scan, 64 B frames",
  fn() {
    reader.writable(read64.length).set(read64);
    reader.commit(read64.length);
    let n = 0;
    while (reader.next()) n++;
    if (n !== 4096) throw new Error(`walked ${n} frames`);
  },
});

const crcFrames = frames(512, 65_536);
Deno.bench({
  name: "copy 128 frames of 512 B",
  group: "gate: checksum, 512 B frames",
  baseline: true,
  fn() {
    sink.set(crcFrames);
  },
});
Deno.bench({
  name: "CRC-32 of 128 frames of 512 B",
  group: "gate: checksum, 512 B frames",
  fn() {
    let x = 0;
    for (let off = 0; off < crcFrames.length; off += 512) x ^= frameChecksum(crcFrames, off, 480);
    if (x === 0.5) throw new Error("unreachable");
  },
});

const vector = findVector("arbitrage_signal_flash_arb")!;
const signal = Uint8Array.from(vector.hex.match(/../g)!.map((h) => parseInt(h, 16)));
const copies = new Uint8Array(signal.length * 64);
Deno.bench({
  name: "copy the 204-byte ArbitrageSignal 64 times",
  group: "gate: decode",
  baseline: true,
  fn() {
    for (let i = 0; i < 64; i++) copies.set(signal, i * signal.length);
  },
});
Deno.bench({
  name: "decode the 204-byte ArbitrageSignal (every field, bigints) 64 times",
  group: "gate: decode",
  fn() {
    for (let i = 0; i < 64; i++) decodeMessage(signal);
  },
});

const builder = new MessageBuilder({ domain: 1, source: 2 });
const trade = encodePayload(1, {
  asset_id: 1n,
  price: 4_500_000_000_000n,
  volume: 10_000_000n,
  execution_timestamp_ns: 1_700_000_000_000_000_000n,
  venue_id: 2,
  asset_type: 1,
  reserved: 0,
  side: 0,
});
const built = new MessageBuilder({ domain: 1, source: 2 }).begin().addTlv(1, trade).build();
const batch = { timestamp: 1_700_000_000_000_000_000n, sequence: 1 };
Deno.bench({
  name: "copy a 74-byte Trade 64 times",
  group: "gate: build",
  baseline: true,
  fn() {
    for (let i = 0; i < 64; i++) copies.set(built, i * built.length);
  },
});
Deno.bench({
  name: "build and seal a 74-byte Trade 64 times",
  group: "gate: build",
  fn() {
    for (let i = 0; i < 64; i++) builder.begin(batch).addTlv(1, trade).finish();
  },
});

// -- the relay's forwarding path ---------------------------------------------------------------

const dir = await Deno.makeTempDir({ prefix: "torq_gate_" });
const chunk = frames(64, 262_144);

async function readBytes(conn: Deno.Conn, n: number, buf: Uint8Array): Promise<void> {
  let got = 0;
  while (got < n) {
    const r = await conn.read(buf);
    if (r === null) throw new Error("closed");
    got += r;
  }
}

// Direct: a producer writes 256 KiB straight to a consumer's socket.
const direct = Deno.listen({ transport: "unix", path: `${dir}/direct.sock` });
const directIn = await Deno.connect({ transport: "unix", path: `${dir}/direct.sock` });
const directOut = await direct.accept();
const readBuf = new Uint8Array(262_144);

// Relayed: the same bytes through a market-data relay to one consumer.
const relay = new Relay(
  { ...MARKET_DATA_LOGIC, socketPath: `${dir}/md.sock`, maxQueueFrames: 1_000_000 },
  { logger: new Logger({ level: "error" }) },
);
await relay.start();
const consumer = await Deno.connect({ transport: "unix", path: `${dir}/md.sock` });
const producer = await Deno.connect({ transport: "unix", path: `${dir}/md.sock` });
await new Promise((r) => setTimeout(r, 50)); // both accepted

Deno.bench({
  name: "256 KiB of 64 B frames over a direct Unix socket",
  group: "gate: forwarding path, 64 B frames",
  baseline: true,
  async fn() {
    await Promise.all([writeAll(directIn, chunk), readBytes(directOut, chunk.length, readBuf)]);
  },
});
Deno.bench({
  name: "256 KiB of 64 B frames through a market-data relay",
  group: "gate: forwarding path, 64 B frames",
  async fn() {
    await Promise.all([writeAll(producer, chunk), readBytes(consumer, chunk.length, readBuf)]);
  },
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // gone
  }
});
