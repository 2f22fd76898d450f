/**
 * Bridge throughput and added latency (PROTOCOL.md 7.12): frames from a producer
 * on relay A cross A's NATS bridge (out), a real nats-server, and relay B's
 * bridge (in) to a consumer on B, compared in the same run with
 *
 * - `nats`: NATS alone, a plain publish/subscribe loop of the same frames
 *   (one message per frame, no headers), publisher and subscriber in this process;
 * - `relay`: one relay without a bridge (producer and consumer on its socket).
 *
 * Relays run as `torq relay market-data` processes (performance policy), the
 * server as a `nats-server` process on 127.0.0.1.
 *
 * Throughput is lossless: the producer keeps at most WINDOW frames ahead of
 * its consumer. Latency is measured at a fixed rate (`--rate` frames/s, sent
 * every millisecond): the header timestamp is stamped at send, and the consumer
 * reads the clock once per read (same process, same clock).
 *
 *   deno run -A bench/bridge_throughput.ts [--seconds 3] [--sizes 64,256,1024]
 *                                          [--rate 20000] [--json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { encodeHeader, HEADER_SIZE, readTimestampApprox } from "../src/protocol/header.ts";
import { writeTlvHeader } from "../src/protocol/tlv.ts";
import { writeNsFromMs } from "../src/protocol/clock.ts";
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { type NatsServer, startNatsServer } from "../tests/_support/nats.ts";
import { torqArgs } from "./_torq.ts";
import { writeAll } from "../src/io/mod.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    sizes: { type: "string", default: "64,256,1024" },
    rate: { type: "string", default: "20000" },
    json: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const WINDOW = 6_000;
const CHUNK = 65_536;
const SUBJECT = "torq.market_data";

type System = "nats" | "bridge" | "relay";

/** `count` market-data frames of `size` bytes back to back (vendor TLV 202, no checksum). */
function makeChunk(size: number, count: number): Uint8Array {
  const chunk = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    const off = i * size;
    encodeHeader({ relayDomain: 1, source: 99, payloadSize: size - HEADER_SIZE }, chunk, off);
    const len = size - HEADER_SIZE - (size - HEADER_SIZE - 2 <= 255 ? 2 : 5);
    writeTlvHeader(chunk, off + HEADER_SIZE, 202, len);
  }
  return chunk;
}

function stamp(chunk: Uint8Array, size: number, count: number): void {
  const now = performance.timeOrigin + performance.now();
  for (let i = 0; i < count; i++) writeNsFromMs(chunk, i * size + 16, now);
}

/** Counts frames (and latencies while `record`) of a byte stream or of messages. */
class Sink {
  frames = 0;
  record = false;
  lat: number[] = [];
  readonly #reader = new FrameReader();

  /** A socket read: frames re-framed, the clock read once. */
  async readLoop(conn: Deno.Conn): Promise<void> {
    const r = this.#reader;
    try {
      for (;;) {
        const n = await conn.read(r.writable(CHUNK));
        if (n === null) break;
        r.commit(n);
        const nowUs = (performance.timeOrigin + performance.now()) * 1000;
        while (r.next()) {
          this.frames++;
          if (this.record) {
            this.lat.push(nowUs - readTimestampApprox(r.buffer, r.frameStart) / 1000);
          }
        }
      }
    } catch {
      // closed
    }
  }

  /** One NATS message = one frame. */
  message(data: Uint8Array): void {
    this.frames++;
    if (this.record) {
      const nowUs = (performance.timeOrigin + performance.now()) * 1000;
      this.lat.push(nowUs - readTimestampApprox(data, 0) / 1000);
    }
  }
}

/** Where the producer writes: a socket (relay) or NATS messages. */
interface Producer {
  send(chunk: Uint8Array, size: number): Promise<void>;
  close(): Promise<void>;
}

function socketProducer(conn: Deno.Conn): Producer {
  return {
    send: (chunk) => writeAll(conn, chunk),
    close: () => Promise.resolve(conn.close()),
  };
}

function natsProducer(nc: NatsConnection): Producer {
  return {
    send: async (chunk, size) => {
      for (let off = 0; off < chunk.length; off += size) {
        nc.publish(SUBJECT, chunk.subarray(off, off + size));
      }
      // Let the client write what it buffered (it flushes in a queued microtask).
      await Promise.resolve();
    },
    close: () => nc.close(),
  };
}

interface Setup {
  server: NatsServer;
  dir: string;
  children: Deno.ChildProcess[];
  paths: { a: string; b: string; c: string };
}

function relayProcess(path: string, bridge: "out" | "in" | null, url: string): Deno.ChildProcess {
  const set = (k: string, v: string) => ["--set", `relays.market_data.bridge.nats.${k}=${v}`];
  return new Deno.Command(Deno.execPath(), {
    args: [
      ...torqArgs([]),
      "relay",
      "market-data",
      "--socket",
      path,
      "--log-level",
      "warn",
      ...(bridge === null ? [] : [
        ...set("enabled", "true"),
        ...set("servers", `[${url}]`),
        ...set("direction", bridge),
      ]),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function waitSocket(path: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`relay at ${path} did not start`);
}

async function setup(): Promise<Setup> {
  const server = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "torq-bridge-bench-" });
  const paths = { a: `${dir}/a.sock`, b: `${dir}/b.sock`, c: `${dir}/c.sock` };
  const children = [
    relayProcess(paths.a, "out", server.url),
    relayProcess(paths.b, "in", server.url),
    relayProcess(paths.c, null, server.url),
  ];
  for (const p of Object.values(paths)) await waitSocket(p);
  // The bridges connect in the background: wait until one frame crosses A → B.
  const cons = await Deno.connect({ transport: "unix", path: paths.b });
  const prod = await Deno.connect({ transport: "unix", path: paths.a });
  const sink = new Sink();
  const reading = sink.readLoop(cons);
  const probe = makeChunk(64, 1);
  for (let i = 0; i < 400 && sink.frames === 0; i++) {
    await writeAll(prod, probe);
    await new Promise((r) => setTimeout(r, 25));
  }
  prod.close();
  cons.close();
  await reading;
  if (sink.frames === 0) throw new Error("no frame crossed the bridge");
  await new Promise((r) => setTimeout(r, 200));
  return { server, dir, children, paths };
}

async function teardown(s: Setup): Promise<void> {
  for (const c of s.children) {
    try {
      c.kill("SIGTERM");
    } catch {
      // gone
    }
    await c.status;
  }
  await s.server.stop();
  await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

/** A connected producer and consumer for one system. */
async function endpoints(
  s: Setup,
  system: System,
  sink: Sink,
): Promise<{ producer: Producer; done: () => Promise<void> }> {
  if (system === "nats") {
    const sub = await connect({ servers: s.server.url });
    sub.subscribe(SUBJECT, { callback: (_e, m) => sink.message(m.data) });
    await sub.flush();
    const pub = await connect({ servers: s.server.url });
    return { producer: natsProducer(pub), done: () => sub.close() };
  }
  const [pp, cp] = system === "bridge" ? [s.paths.a, s.paths.b] : [s.paths.c, s.paths.c];
  const cons = await Deno.connect({ transport: "unix", path: cp });
  const reading = sink.readLoop(cons);
  const prod = await Deno.connect({ transport: "unix", path: pp });
  const hello = new Uint8Array(HEADER_SIZE);
  encodeHeader({ relayDomain: 1, source: 99 }, hello);
  await writeAll(prod, hello);
  await new Promise((r) => setTimeout(r, 100));
  return {
    producer: socketProducer(prod),
    done: async () => {
      cons.close();
      await reading;
    },
  };
}

interface Result {
  system: System;
  size: number;
  msgsPerSec: number;
  mbPerSec: number;
  sent: number;
  delivered: number;
  rate: number;
  latencySamples: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(s: Setup, system: System, size: number): Promise<Result> {
  const sink = new Sink();
  const { producer, done } = await endpoints(s, system, sink);
  // Throughput: lossless, at most WINDOW frames ahead of the consumer.
  const count = Math.floor(CHUNK / size);
  const chunk = makeChunk(size, count);
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  while (performance.now() < end) {
    if (sent - sink.frames > WINDOW) {
      await new Promise((r) => setTimeout(r, 0));
      continue;
    }
    await producer.send(chunk, size);
    sent += count;
  }
  const drainUntil = performance.now() + 5000;
  while (sink.frames < sent && performance.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 2));
  }
  const seconds = (performance.now() - t0) / 1000;
  const delivered = sink.frames;
  // Latency at a fixed rate: a batch every millisecond.
  const perMs = Math.max(1, Math.round(RATE / 1000));
  const batch = makeChunk(size, perMs);
  const base = sink.frames;
  sink.record = true;
  let latSent = 0;
  const l0 = performance.now();
  let due = l0;
  while (performance.now() < l0 + SECONDS * 1000) {
    stamp(batch, size, perMs);
    await producer.send(batch, size);
    latSent += perMs;
    due += 1;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const latUntil = performance.now() + 5000;
  while (sink.frames - base < latSent && performance.now() < latUntil) {
    await new Promise((r) => setTimeout(r, 2));
  }
  sink.record = false;
  await producer.close();
  await done();
  const lat = sink.lat.sort((x, y) => x - y);
  const rate = delivered / seconds;
  return {
    system,
    size,
    msgsPerSec: Math.round(rate),
    mbPerSec: Math.round((rate * size) / 1e5) / 10,
    sent,
    delivered,
    rate: RATE,
    latencySamples: lat.length,
    p50Us: Math.round(percentile(lat, 0.5)),
    p99Us: Math.round(percentile(lat, 0.99)),
    p999Us: Math.round(percentile(lat, 0.999)),
    maxUs: Math.round(lat.at(-1) ?? NaN),
  };
}

const s = await setup();
const results: Result[] = [];
try {
  for (const size of values.sizes.split(",").map(Number)) {
    for (const system of ["nats", "bridge", "relay"] as const) {
      results.push(await run(s, system, size));
    }
  }
} finally {
  await teardown(s);
}

if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log(
    `Throughput (lossless, window ${WINDOW} frames, ${SECONDS} s) and latency at ${RATE} msg/s`,
  );
  console.log(
    "system  size  msgs/s      MB/s    bridge/nats  p50 µs  p99 µs  p99.9 µs  max µs  lost",
  );
  for (const r of results) {
    const nats = results.find((x) => x.system === "nats" && x.size === r.size)!;
    console.log(
      [
        r.system.padEnd(6),
        String(r.size).padStart(5),
        String(r.msgsPerSec).padStart(9),
        String(r.mbPerSec).padStart(8),
        (r.msgsPerSec / nats.msgsPerSec).toFixed(2).padStart(12),
        String(r.p50Us).padStart(7),
        String(r.p99Us).padStart(7),
        String(r.p999Us).padStart(9),
        String(r.maxUs).padStart(7),
        String(r.sent - r.delivered).padStart(5),
      ].join(" "),
    );
  }
}
