/**
 * Relay throughput: one producer and 1 or 4 consumers through a real relay
 * process (started with `torq relay <domain>`), against the same workload over
 * a direct Unix socket in the same run. Lossless: the producer keeps at most
 * WINDOW frames ahead of its slowest consumer, and every frame is counted.
 *
 *   deno task bench:relay [--seconds 3] [--sizes 64,128,512] [--consumers 1,4]
 *                         [--domains market_data,signal,execution] [--json]
 *                         [--set relays.execution.journal.fsync=always ...]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DOMAIN_NUMBERS,
  type DomainName,
  encodeHeader,
  HEADER_SIZE,
  sealChecksum,
  writeNsFromMs,
  writeTlvHeader,
} from "../src/protocol/mod.ts";
import { writeAll } from "../src/io/mod.ts";
import { type BenchDomain, RelayProcess } from "../src/bench/mod.ts";
import { torqArgs } from "./_torq.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    sizes: { type: "string", default: "64,128,512" },
    consumers: { type: "string", default: "1,4" },
    domains: { type: "string", default: "market_data,signal,execution" },
    json: { type: "boolean", default: false },
    // Passed to the relay as --set KEY=VALUE (e.g. the journal's fsync policy).
    set: { type: "string", multiple: true },
  },
});
const SECONDS = Number(values.seconds);
const WINDOW = 6_000;
const CHUNK = 262_144;

/** Frames of `size` bytes laid back to back in one chunk; execution frames carry OrderRequests. */
function makeChunk(
  domain: number,
  size: number,
): { chunk: Uint8Array; frames: number; size: number } {
  if (domain === 3) size = HEADER_SIZE + 2 + 32;
  const frames = Math.floor(CHUNK / size);
  const chunk = new Uint8Array(frames * size);
  for (let i = 0; i < frames; i++) {
    const off = i * size;
    encodeHeader(
      { relayDomain: domain, source: domain === 3 ? 40 : 99, payloadSize: size - HEADER_SIZE },
      chunk,
      off,
    );
    const type = domain === 3 ? 40 : 202;
    const len = size - HEADER_SIZE - (size - HEADER_SIZE - 2 <= 255 ? 2 : 5);
    const at = writeTlvHeader(chunk, off + HEADER_SIZE, type, len);
    if (domain === 3) chunk.fill(1, at, at + len);
  }
  return { chunk, frames, size };
}

/** Stamps sequences and the current time, and seals checksums (audit needs rising sequences). */
function stamp(
  chunk: Uint8Array,
  frames: number,
  size: number,
  firstSeq: number,
  crc: boolean,
): void {
  const dv = new DataView(chunk.buffer);
  const now = performance.timeOrigin + performance.now();
  for (let i = 0; i < frames; i++) {
    const off = i * size;
    dv.setUint32(off + 8, (firstSeq + i) >>> 0, true);
    dv.setUint32(off + 12, Math.floor((firstSeq + i) / 4294967296), true);
    writeNsFromMs(chunk, off + 16, now);
    if (crc) sealChecksum(chunk, off);
  }
}

async function readCount(conn: Deno.Conn, counter: { bytes: number }, stop: { done: boolean }) {
  const buf = new Uint8Array(1 << 20);
  while (!stop.done) {
    const n = await conn.read(buf);
    if (n === null) break;
    counter.bytes += n;
  }
}

interface Result {
  system: string;
  domain: string;
  size: number;
  consumers: number;
  seconds: number;
  msgsPerSecPerConsumer: number;
  mbPerSecPerConsumer: number;
  delivered: number;
  sent: number;
  lost: number;
}

async function run(
  system: "relay" | "direct",
  domain: string,
  size: number,
  consumers: number,
): Promise<Result> {
  const dir = await Deno.makeTempDir({ prefix: "torq-bench-" });
  const path = `${dir}/${domain}.sock`;
  const dnum = DOMAIN_NUMBERS[domain as DomainName];
  const { chunk, frames, size: frameSize } = makeChunk(dnum, size);
  let relay: RelayProcess | null = null;
  let listener: Deno.UnixListener | null = null;
  const consumerConns: Deno.Conn[] = [];
  let producer: Deno.Conn[];
  if (system === "relay") {
    relay = await RelayProcess.start({
      command: [Deno.execPath(), ...torqArgs([])],
      domain: domain.replace("_", "-") as BenchDomain,
      socket: path,
      journal: `${dir}/execution.journal`,
      args: (values.set ?? []).flatMap((kv) => ["--set", kv]),
    });
    for (let i = 0; i < consumers; i++) {
      consumerConns.push(await Deno.connect({ transport: "unix", path }));
    }
    const p = await Deno.connect({ transport: "unix", path });
    await writeAll(p, hello(dnum));
    producer = [p];
  } else {
    listener = Deno.listen({ transport: "unix", path });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for (let i = 0; i < consumers; i++) accepted.push(await listener!.accept());
    })();
    producer = [];
    for (let i = 0; i < consumers; i++) {
      producer.push(await Deno.connect({ transport: "unix", path }));
    }
    await accepting;
    consumerConns.push(...accepted);
  }
  await new Promise((r) => setTimeout(r, 100));
  const counters = consumerConns.map(() => ({ bytes: 0 }));
  const stop = { done: false };
  const readers = consumerConns.map((c, i) => readCount(c, counters[i]!, stop));
  const crc = dnum !== 1;
  let sent = 0;
  let seq = 1;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  while (performance.now() < end) {
    const slowest = Math.min(...counters.map((c) => c.bytes)) / frameSize;
    if (sent - slowest > WINDOW) {
      await new Promise((r) => setTimeout(r, 0));
      continue;
    }
    if (dnum !== 1) stamp(chunk, frames, frameSize, seq, crc);
    seq += frames;
    await Promise.all(producer.map((p) => writeAll(p, chunk)));
    sent += frames;
  }
  // Drain: wait for every consumer to receive everything sent (bounded).
  const drainUntil = performance.now() + 5000;
  while (counters.some((c) => c.bytes < sent * frameSize) && performance.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  stop.done = true;
  for (const p of producer) p.close();
  for (const c of consumerConns) c.close();
  await Promise.allSettled(readers);
  listener?.close();
  if (relay !== null) {
    // The relay's own warnings and errors (drops, rejects), after its figures.
    for (const line of (await relay.stop()).log) console.error(`relay: ${JSON.stringify(line)}`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const delivered = Math.min(...counters.map((c) => Math.floor(c.bytes / frameSize)));
  const rate = delivered / seconds;
  return {
    system,
    domain,
    size: frameSize,
    consumers,
    seconds: Math.round(seconds * 100) / 100,
    msgsPerSecPerConsumer: Math.round(rate),
    mbPerSecPerConsumer: Math.round((rate * frameSize) / 1e4) / 100,
    delivered,
    sent,
    lost: sent - delivered,
  };
}

function hello(domain: number): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  encodeHeader({ relayDomain: domain, source: 99 }, h);
  return h;
}

const results: Result[] = [];
for (const domain of values.domains!.split(",")) {
  for (const size of values.sizes!.split(",").map(Number)) {
    for (const consumers of values.consumers!.split(",").map(Number)) {
      const direct = await run("direct", domain, size, consumers);
      const relay = await run("relay", domain, size, consumers);
      results.push(direct, relay);
      if (!values.json) {
        const ratio = relay.msgsPerSecPerConsumer / direct.msgsPerSecPerConsumer;
        console.log(
          `${domain.padEnd(11)} ${
            String(relay.size).padStart(4)
          } B  ${consumers} consumer(s)  relay ${
            (relay.msgsPerSecPerConsumer / 1e6).toFixed(2)
          } M msg/s (${relay.mbPerSecPerConsumer} MB/s) per consumer  direct ${
            (direct.msgsPerSecPerConsumer / 1e6).toFixed(2)
          } M msg/s  ratio ${ratio.toFixed(2)}  lost ${relay.lost}`,
        );
      }
    }
  }
}
if (values.json) console.log(JSON.stringify(results, null, 2));
