/**
 * Side by side: the same workload through the minimal C relay of
 * `../shared/perf` (the reference: the limit of a Unix-socket relay on this
 * machine), a direct Unix socket (no relay), Torq's market-data and signal
 * relays (`torq relay` processes), nats-server (core pub/sub, one subject) and
 * Redis pub/sub, in interleaved repetitions.
 *
 * Throughput cases: one producer, 1 and 4 consumers, 64/128/512-byte messages,
 * fixed duration, in two producer modes: `windowed` (lossless: the producer
 * keeps at most WINDOW messages ahead of its slowest consumer) and
 * `unthrottled` (the producer writes as fast as the socket takes its bytes;
 * what a system drops shows up as loss). Every message is counted at every
 * consumer; ratios to the C relay are taken within each repetition.
 * Latency cases: a producer paced at 10 k and 100 k msg/s (1 ms batches), the
 * send time carried in each message (Torq: the header timestamp; NATS and
 * Redis: the payload's first 8 bytes, u64 LE nanoseconds), percentiles from a
 * histogram at the consumer.
 *
 * Every system is driven the same way from this one process: the producer
 * writes pre-encoded batches of its protocol (Torq frames, NATS `PUB`, Redis
 * `PUBLISH` pipelined) with one write per batch, and each consumer walks every
 * message of its protocol (Torq frames, NATS `MSG`, RESP pushes) on a raw Unix
 * or TCP socket. `--systems` may add `nats.js` (the official
 * `@nats-io/transport-node` client: `publish` + `flush` per batch, one
 * subscription callback per message) for comparison with a client library.
 *
 *   deno task bench:peers [--seconds 5] [--reps 3] [--sizes 64,128,512] [--consumers 1,4]
 *                         [--modes windowed,unthrottled]
 *                         [--systems c-relay,direct,torq-md,torq-signal,nats,redis]
 *                         [--latency-rates 10000,100000] [--latency-seconds 2]
 *                         [--latency-size 128] [--out BENCHMARKS.md] [--svg docs/bench_peers.svg]
 *                         [--no-write] [--json]
 *
 * Writes its section of BENCHMARKS.md (machine, versions, command, tables;
 * the file's other marked sections are kept) and the chart
 * docs/bench_peers.svg unless `--no-write`.
 *
 * @module
 */

import { encodeHeader, HEADER_SIZE, readU32, sealChecksum } from "../src/protocol/header.ts";
import { writeTlvHeader } from "../src/protocol/tlv.ts";
import { writeNsFromMs } from "../src/protocol/clock.ts";
import { Histogram } from "../src/bench/histogram.ts";
import { writeAll } from "../src/io/mod.ts";
import { ROOT, torqArgs } from "./_torq.ts";
import { BENCH_ARGS, benchArgs } from "./_args.ts";
import { buildPerfTools, type PerfTools, startCRelay } from "./_c_perf.ts";
import { putSection } from "./_sections.ts";

const HELP = `Usage: deno task bench:peers -- [options]

Options:
  --seconds N           Seconds per throughput case (default 5)
  --reps N              Interleaved repetitions (default 3)
  --sizes LIST          Message sizes in bytes (default 64,128,512)
  --consumers LIST      Consumer counts (default 1,4)
  --modes LIST          Producer modes (default windowed,unthrottled): windowed stays at most
                        --window messages ahead of its slowest consumer; unthrottled writes as
                        fast as the socket takes its bytes ("" for the latency cases only)
  --systems LIST        c-relay,direct,torq-md,torq-signal,nats,redis (default); also nats.js.
                        c-relay (the reference of the ratios) is built with gcc
  --window N            Messages the producer may be ahead of its slowest consumer (default 50000;
                        keep it under --queue-frames, or Torq drops)
  --queue-frames N      The Torq relays' per-consumer queue limit, max_queue_frames, in windowed
                        mode (default 1000000, the design documents' market-data sizing);
                        unthrottled mode and the latency cases run the built-in defaults
  --latency-rates LIST  Paced rates of the latency cases, msg/s (default 10000,100000; "" for none)
  --latency-seconds N   Seconds per latency case (default 2)
  --latency-size N      Message size of the latency cases (default 128)
  --out FILE            Markdown report (default BENCHMARKS.md in the project root); replaces
                        the report's own section, keeps the file's other marked sections
  --svg FILE            Chart (default docs/bench_peers.svg in the project root)
  --no-write            Print only; write neither file
  --json                Print the results as JSON
  -h, --help            Show this help`;

const values = benchArgs("bench:peers", HELP, {
  seconds: { type: "string", default: "5" },
  reps: { type: "string", default: "3" },
  sizes: { type: "string", default: "64,128,512" },
  consumers: { type: "string", default: "1,4" },
  modes: { type: "string", default: "windowed,unthrottled" },
  systems: { type: "string", default: "c-relay,direct,torq-md,torq-signal,nats,redis" },
  window: { type: "string", default: "50000" },
  "queue-frames": { type: "string", default: "1000000" },
  "latency-rates": { type: "string", default: "10000,100000" },
  "latency-seconds": { type: "string", default: "2" },
  "latency-size": { type: "string", default: "128" },
  out: { type: "string" },
  svg: { type: "string" },
  "no-write": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});

function fail(message: string): never {
  console.error(`bench:peers: ${message}`);
  Deno.exit(2);
}
function num(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number ≥ ${min}, got "${text}"`);
  return n;
}
function list(name: string, text: string, min: number): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map((t) => num(name, t.trim(), min));
}

type SystemName =
  | "c-relay"
  | "direct"
  | "torq-md"
  | "torq-signal"
  | "nats"
  | "redis"
  | "nats.js";
const ALL_SYSTEMS: readonly SystemName[] = [
  "c-relay",
  "direct",
  "torq-md",
  "torq-signal",
  "nats",
  "redis",
  "nats.js",
];
const LABEL: Record<SystemName, string> = {
  "c-relay": "C relay",
  direct: "direct socket",
  "torq-md": "Torq market data",
  "torq-signal": "Torq signal",
  nats: "NATS",
  redis: "Redis",
  "nats.js": "NATS (nats.js client)",
};

const SECONDS = num("seconds", values.seconds!, 0.1);
const REPS = Math.round(num("reps", values.reps!, 1));
const SIZES = list("sizes", values.sizes!, 48);
const CONSUMERS = list("consumers", values.consumers!, 1).map(Math.round);
const SYSTEMS = values.systems!.split(",").map((s) => s.trim()) as SystemName[];
for (const s of SYSTEMS) {
  if (!ALL_SYSTEMS.includes(s)) fail(`unknown system "${s}" (known: ${ALL_SYSTEMS.join(", ")})`);
}
/** How the producer of a throughput case writes. */
type Mode = "windowed" | "unthrottled";
const ALL_MODES: readonly Mode[] = ["windowed", "unthrottled"];
const MODES = values.modes!.split(",").map((m) => m.trim()).filter((m) => m !== "") as Mode[];
for (const m of MODES) {
  if (!ALL_MODES.includes(m)) fail(`unknown mode "${m}" (known: ${ALL_MODES.join(", ")})`);
}
const LAT_RATES = list("latency-rates", values["latency-rates"]!, 1);
const LAT_SECONDS = num("latency-seconds", values["latency-seconds"]!, 0.1);
const LAT_SIZE = Math.round(num("latency-size", values["latency-size"]!, 48));
const OUT_MD = values.out ?? `${ROOT}BENCHMARKS.md`;
const OUT_SVG = values.svg ?? `${ROOT}docs/bench_peers.svg`;
/** Messages the producer may be ahead of its slowest consumer. */
const WINDOW = Math.round(num("window", values.window!, 1));
const QUEUE_FRAMES = Math.round(num("queue-frames", values["queue-frames"]!, 1));
/** Bytes of payload per producer batch (one write). */
const BATCH_BYTES = 262_144;
/** Longest wait for consumers to receive everything after the producer stops. */
const DRAIN_MS = 5_000;
/** Unthrottled mode: the drain ends once no consumer has received anything for this long. */
const IDLE_MS = 500;
/** Unthrottled mode: longest drain. */
const UNTHROTTLED_DRAIN_MS = 3_000;
/** A producer write that has not completed this long after the case's end is abandoned. */
const WRITE_STUCK_MS = 10_000;
/** Most messages a throughput case sends (a bound beside its duration). */
const MAX_SENT = 1_000_000_000;
const SUBJECT = "b";
/** The C relay's source, as the report names it. */
const PERF_SOURCE = "../shared/perf/relay.c";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();
const enc = new TextEncoder();
const dec = new TextDecoder();

// ----------------------------------------------------------------------------------------------
// Message encodings: one template per system and size, repeated into batches.

/** How a system's producer encodes a message of `size` payload bytes. */
interface Encoding {
  /** Bytes of one message on the producer's wire. */
  wireSize: number;
  /** One encoded message. */
  template: Uint8Array;
  /** Offset of the u64 LE send time (ns) inside the message. */
  tsAt: number;
  /** Seal a Torq checksum after stamping (signal relay). */
  crc: boolean;
}

function torqEncoding(domain: number, size: number, crc: boolean): Encoding {
  const t = new Uint8Array(size);
  encodeHeader({
    relayDomain: domain,
    source: domain === 1 ? 1 : 20,
    payloadSize: size - HEADER_SIZE,
  }, t);
  const len = size - HEADER_SIZE - (size - HEADER_SIZE - 2 <= 255 ? 2 : 5);
  // Vendor type 202: any length, accepted by the performance and standard policies.
  const at = writeTlvHeader(t, HEADER_SIZE, 202, len);
  for (let i = at; i < size; i++) t[i] = i & 0xff;
  if (crc) sealChecksum(t, 0);
  return { wireSize: size, template: t, tsAt: 16, crc };
}

function payload(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 8; i < size; i++) p[i] = i & 0xff;
  return p;
}

function natsEncoding(size: number): Encoding {
  const head = enc.encode(`PUB ${SUBJECT} ${size}\r\n`);
  const t = new Uint8Array(head.length + size + 2);
  t.set(head);
  t.set(payload(size), head.length);
  t.set([13, 10], head.length + size);
  return { wireSize: t.length, template: t, tsAt: head.length, crc: false };
}

function redisEncoding(size: number): Encoding {
  const head = enc.encode(
    `*3\r\n$7\r\nPUBLISH\r\n$${SUBJECT.length}\r\n${SUBJECT}\r\n$${size}\r\n`,
  );
  const t = new Uint8Array(head.length + size + 2);
  t.set(head);
  t.set(payload(size), head.length);
  t.set([13, 10], head.length + size);
  return { wireSize: t.length, template: t, tsAt: head.length, crc: false };
}

/** `n` copies of the template back to back. */
function batchOf(e: Encoding, n: number): Uint8Array {
  const b = new Uint8Array(n * e.wireSize);
  for (let i = 0; i < n; i++) b.set(e.template, i * e.wireSize);
  return b;
}

/** Stamps the first `n` messages of a batch with the current time (and reseals checksums). */
function stamp(b: Uint8Array, e: Encoding, n: number): void {
  const ms = nowMs();
  for (let i = 0; i < n; i++) {
    const off = i * e.wireSize;
    writeNsFromMs(b, off + e.tsAt, ms);
    if (e.crc) sealChecksum(b, off);
  }
}

// ----------------------------------------------------------------------------------------------
// Consumers: one raw reader per connection, walking every message of its protocol.

type Protocol = "torq" | "nats" | "redis";

class Reader {
  count = 0;
  /** `performance.now()` of the read that brought the last message counted. */
  lastAt = 0;
  /** Non-message items seen (NATS INFO/PONG/+OK, Redis subscribe confirmations). */
  control = 0;
  errors: string[] = [];
  hist: Histogram | null = null;
  #buf = new Uint8Array(1 << 20);
  #have = 0;
  #pings = 0;
  #stopped = false;
  #waiters: { need: number; resolve: () => void }[] = [];
  done: Promise<void> = Promise.resolve();
  onProgress: () => void = () => {};
  readonly conn: Deno.Conn;
  readonly protocol: Protocol;

  constructor(conn: Deno.Conn, protocol: Protocol) {
    this.conn = conn;
    this.protocol = protocol;
  }

  start(): void {
    this.done = this.#loop();
  }

  /** Resolves once `n` control items have been seen (e.g. the PONG after SUB). */
  controlReached(n: number, timeoutMs: number): Promise<void> {
    if (this.control >= n) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer from the server within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        need: n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      let n: number | null;
      try {
        n = await this.conn.read(this.#buf.subarray(this.#have));
      } catch (e) {
        if (!this.#stopped) this.errors.push((e as Error).message);
        return;
      }
      if (n === null) return;
      const end = this.#have + n;
      const before = this.count;
      const used = this.protocol === "torq"
        ? this.#scanTorq(end)
        : this.protocol === "nats"
        ? this.#scanNats(end)
        : this.#scanRedis(end);
      if (this.count !== before) this.lastAt = performance.now();
      if (used > 0) this.#buf.copyWithin(0, used, end);
      this.#have = end - used;
      if (this.#have === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      if (this.#waiters.length > 0) {
        this.#waiters = this.#waiters.filter((w) => {
          if (this.control < w.need) return true;
          w.resolve();
          return false;
        });
      }
      while (this.#pings > 0) {
        this.#pings--;
        await writeAll(this.conn, enc.encode("PONG\r\n")).catch(() => {});
      }
      this.onProgress();
    }
  }

  #nowNs(): number {
    const ms = nowMs();
    const whole = Math.floor(ms);
    return whole * 1e6 + Math.round((ms - whole) * 1e6);
  }

  #scanTorq(end: number): number {
    const b = this.#buf;
    const h = this.hist;
    const now = h === null ? 0 : this.#nowNs();
    let off = 0;
    while (end - off >= HEADER_SIZE) {
      if (readU32(b, off) !== 0xdeadbeef) throw new Error("Torq consumer: lost frame sync");
      const size = HEADER_SIZE + readU32(b, off + 24);
      if (end - off < size) break;
      if (h !== null) h.record(now - (readU32(b, off + 20) * 4294967296 + readU32(b, off + 16)));
      this.count++;
      off += size;
    }
    return off;
  }

  #scanNats(end: number): number {
    const b = this.#buf;
    const h = this.hist;
    const now = h === null ? 0 : this.#nowNs();
    let off = 0;
    while (off < end) {
      let nl = off;
      while (nl < end && b[nl] !== 10) nl++;
      if (nl >= end) break;
      const c0 = b[off];
      if (c0 === 0x4d /* M */) {
        // MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n
        let i = nl - 2;
        let n = 0;
        let mul = 1;
        while (b[i]! >= 48 && b[i]! <= 57) {
          n += (b[i]! - 48) * mul;
          mul *= 10;
          i--;
        }
        const start = nl + 1;
        if (start + n + 2 > end) break;
        if (h !== null) h.record(now - (readU32(b, start + 4) * 4294967296 + readU32(b, start)));
        this.count++;
        off = start + n + 2;
        continue;
      }
      if (c0 === 0x50 /* P */ && b[off + 1] === 0x49 /* I */) this.#pings++;
      else if (c0 === 0x2d /* - */) this.errors.push(dec.decode(b.subarray(off, nl)).trim());
      else this.control++; // INFO, PONG, +OK
      off = nl + 1;
    }
    return off;
  }

  #scanRedis(end: number): number {
    const b = this.#buf;
    const h = this.hist;
    const now = h === null ? 0 : this.#nowNs();
    let off = 0;
    outer: while (off < end) {
      const c0 = b[off];
      if (c0 !== 0x2a /* * */) {
        // A simple reply line (+OK, -ERR, :n).
        let nl = off;
        while (nl < end && b[nl] !== 10) nl++;
        if (nl >= end) break;
        if (c0 === 0x2d) this.errors.push(dec.decode(b.subarray(off, nl)).trim());
        else this.control++;
        off = nl + 1;
        continue;
      }
      // *<count>\r\n then <count> elements ($<len>\r\n<data>\r\n or :<int>\r\n).
      let p = off + 1;
      let count = 0;
      while (p < end && b[p] !== 13) count = count * 10 + (b[p++]! - 48);
      if (p + 1 >= end) break;
      p += 2;
      let isMessage = false;
      let dataAt = -1;
      for (let k = 0; k < count; k++) {
        if (p >= end) break outer;
        const t = b[p++];
        let v = 0;
        let neg = false;
        if (b[p] === 0x2d) {
          neg = true;
          p++;
        }
        while (p < end && b[p] !== 13) v = v * 10 + (b[p++]! - 48);
        if (p + 1 >= end) break outer;
        p += 2;
        if (t === 0x24 /* $ */ && !neg) {
          if (p + v + 2 > end) break outer;
          if (k === 0) isMessage = v === 7 && b[p] === 0x6d; // "message"
          if (k === 2) dataAt = p;
          p += v + 2;
        }
      }
      if (isMessage && dataAt >= 0) {
        if (h !== null) {
          h.record(now - (readU32(b, dataAt + 4) * 4294967296 + readU32(b, dataAt)));
        }
        this.count++;
      } else this.control++;
      off = p;
    }
    return off;
  }

  stop(): void {
    this.#stopped = true;
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

// ----------------------------------------------------------------------------------------------
// Servers.

type Address = { transport: "unix"; path: string } | {
  transport: "tcp";
  hostname: string;
  port: number;
};

interface Server {
  /** Where clients connect. */
  address: Address;
  /** Where producers connect, when not at `address` (the C relay's second socket). */
  producerAddress?: Address;
  version: string;
  child: Deno.ChildProcess | null;
  stop(): Promise<void>;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (performance.now() > until) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await sleep(25);
  }
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const done = await Promise.race([child.status.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
  }
}

async function commandVersion(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim().split("\n")[0] ?? "";
  } catch {
    return "not installed";
  }
}

/**
 * How a Torq relay is configured: `default` as a user starts it (the built-in
 * queue limits, D-36 flow control on); `large-queue` with `max_queue_frames`
 * --queue-frames (the design documents' sizing) for the windowed cases.
 */
type TorqSetup = "default" | "large-queue";
const TORQ_SETUP: Record<Mode, TorqSetup> = { windowed: "large-queue", unthrottled: "default" };
/** The latency cases run the relays as users start them. */
const LATENCY_SETUP: TorqSetup = "default";

async function startTorq(
  dir: string,
  domain: "market-data" | "signal",
  setup: TorqSetup,
): Promise<Server> {
  const path = `${dir}/torq-${domain}-${setup}.sock`;
  const section = domain === "signal" ? "signal" : "market_data";
  const child = new Deno.Command(Deno.execPath(), {
    args: torqArgs([
      "relay",
      domain,
      "--socket",
      path,
      "--log-level",
      "warn",
      ...(setup === "default"
        ? []
        : ["--set", `relays.${section}.performance.max_queue_frames=${QUEUE_FRAMES}`]),
    ]),
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitFor(`torq relay ${domain}`, 30_000, async () => {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  });
  return {
    address: { transport: "unix", path },
    version: `torq ${await torqVersion()}`,
    child,
    stop: () => stopChild(child),
  };
}

async function torqVersion(): Promise<string> {
  try {
    const mod = await import("../src/version.ts") as Record<string, unknown>;
    const v = Object.values(mod).find((x) => typeof x === "string");
    return typeof v === "string" ? v : "?";
  } catch {
    return "?";
  }
}

async function startC(tools: PerfTools, dir: string): Promise<Server> {
  const relay = await startCRelay(tools.relay, dir, { prefix: "c-relay-" });
  return {
    address: { transport: "unix", path: relay.consumerPath },
    producerAddress: { transport: "unix", path: relay.producerPath },
    version: `${PERF_SOURCE} (gcc -O2; ${await commandVersion("gcc", ["--version"])})`,
    child: relay.child,
    stop: () => relay.stop(),
  };
}

async function startNats(dir: string): Promise<Server> {
  const portsDir = `${dir}/nats-ports`;
  await Deno.mkdir(portsDir);
  const child = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", portsDir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const port = await waitFor("nats-server", 10_000, async () => {
    for await (const e of Deno.readDir(portsDir)) {
      const j = JSON.parse(await Deno.readTextFile(`${portsDir}/${e.name}`)) as { nats?: string[] };
      const m = /:(\d+)$/.exec(j.nats?.[0] ?? "");
      if (m) return Number(m[1]);
    }
    return null;
  });
  return {
    address: { transport: "tcp", hostname: "127.0.0.1", port },
    version: await commandVersion("nats-server", ["--version"]),
    child,
    stop: () => stopChild(child),
  };
}

async function startRedis(dir: string): Promise<Server> {
  const path = `${dir}/redis.sock`;
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      "0",
      "--unixsocket",
      path,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor("redis-server", 10_000, async () => {
    const c = await Deno.connect({ transport: "unix", path });
    try {
      await writeAll(c, enc.encode("PING\r\n"));
      const b = new Uint8Array(64);
      const n = await c.read(b);
      return n !== null && dec.decode(b.subarray(0, n)).startsWith("+PONG") ? true : null;
    } finally {
      c.close();
    }
  });
  return {
    address: { transport: "unix", path },
    version: await commandVersion("redis-server", ["--version"]),
    child,
    stop: () => stopChild(child),
  };
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

async function dial(s: Server, side: "consumer" | "producer" = "consumer"): Promise<Deno.Conn> {
  const a = side === "producer" ? s.producerAddress ?? s.address : s.address;
  if (a.transport === "unix") return await Deno.connect({ transport: "unix", path: a.path });
  const c = await Deno.connect({ hostname: a.hostname, port: a.port });
  c.setNoDelay(true);
  return c;
}

const NATS_CONNECT =
  `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false,"headers":false,"name":"bench"}\r\n`;

// ----------------------------------------------------------------------------------------------
// One case on one system.

/** A connected producer and consumers, ready to run. */
interface Session {
  encoding: Encoding;
  readers: Reader[];
  /** Writes one batch to every producer connection. */
  write(batch: Uint8Array, messages: number): Promise<void>;
  /** Problems seen on the producer side (NATS -ERR, Redis publishes reaching too few). */
  producerProblems(): string[];
  /** Closes the producer's connections: a write in flight fails. */
  abortProducer(): void;
  close(): Promise<void>;
}

/**
 * Connects one producer and `consumers` consumers of `system` at `server`
 * (none for `direct`, which listens in `dir`).
 */
async function openSession(
  system: SystemName,
  server: Server | undefined,
  dir: string,
  size: number,
  consumers: number,
): Promise<Session> {
  if (system === "nats.js") return await openNatsJs(server!, size, consumers);
  const readers: Reader[] = [];
  const producerConns: Deno.Conn[] = [];
  let listener: Deno.UnixListener | null = null;
  let problems: () => string[] = () => [];
  let encoding: Encoding;
  let closeExtra: () => Promise<void> = () => Promise.resolve();
  if (system === "direct") {
    encoding = torqEncoding(1, size, false);
    const path = `${dir}/direct-${crypto.randomUUID().slice(0, 8)}.sock`;
    listener = Deno.listen({ transport: "unix", path });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for (let i = 0; i < consumers; i++) accepted.push(await listener!.accept());
    })();
    for (let i = 0; i < consumers; i++) {
      producerConns.push(await Deno.connect({ transport: "unix", path }));
    }
    await accepting;
    for (const c of accepted) readers.push(new Reader(c, "torq"));
    for (const r of readers) r.start();
  } else if (system === "torq-md" || system === "torq-signal" || system === "c-relay") {
    // The C relay frames by payload_size only: it carries the market-data frames as they are.
    const domain = system === "torq-signal" ? 2 : 1;
    encoding = torqEncoding(domain, size, domain === 2);
    for (let i = 0; i < consumers; i++) readers.push(new Reader(await dial(server!), "torq"));
    for (const r of readers) r.start();
    const p = await dial(server!, "producer");
    if (system !== "c-relay") {
      const hello = new Uint8Array(HEADER_SIZE);
      encodeHeader({ relayDomain: domain, source: domain === 1 ? 1 : 20 }, hello);
      await writeAll(p, hello); // a first hello frame makes the producer publish-only
    }
    producerConns.push(p);
    await sleep(100); // the relay has accepted every connection
  } else if (system === "nats") {
    server = server!;
    encoding = natsEncoding(size);
    for (let i = 0; i < consumers; i++) {
      const r = new Reader(await dial(server), "nats");
      r.start();
      await writeAll(r.conn, enc.encode(`${NATS_CONNECT}SUB ${SUBJECT} 1\r\nPING\r\n`));
      await r.controlReached(2, 5000); // INFO, PONG: subscribed
      readers.push(r);
    }
    const p = new Reader(await dial(server), "nats");
    p.start();
    await writeAll(p.conn, enc.encode(`${NATS_CONNECT}PING\r\n`));
    await p.controlReached(2, 5000);
    producerConns.push(p.conn);
    problems = () => p.errors;
    closeExtra = async () => {
      p.stop();
      await p.done;
    };
  } else {
    server = server!;
    encoding = redisEncoding(size);
    for (let i = 0; i < consumers; i++) {
      const r = new Reader(await dial(server), "redis");
      r.start();
      await writeAll(
        r.conn,
        enc.encode(`*2\r\n$9\r\nSUBSCRIBE\r\n$${SUBJECT.length}\r\n${SUBJECT}\r\n`),
      );
      await r.controlReached(1, 5000);
      readers.push(r);
    }
    // The producer reads its replies (":<receivers>\r\n" per PUBLISH) and checks each.
    const p = await dial(server);
    const replies = { count: 0, short: 0, errors: [] as string[] };
    const replyReader = (async () => {
      const b = new Uint8Array(1 << 16);
      // Replies are lines; parsed byte by byte across reads, allocation-free (":<n>\r\n").
      let kind = -1; // first byte of the current line, -1 at a line start
      let value = 0;
      let line = "";
      for (;;) {
        let n: number | null;
        try {
          n = await p.read(b);
        } catch {
          return;
        }
        if (n === null) return;
        for (let i = 0; i < n; i++) {
          const c = b[i]!;
          if (kind === -1) {
            kind = c;
            value = 0;
            line = "";
          } else if (c === 10) {
            if (kind === 0x3a /* : */) {
              replies.count++;
              if (value < consumers) replies.short++;
            } else if (kind === 0x2d /* - */) replies.errors.push(`-${line.trim()}`);
            kind = -1;
          } else if (kind === 0x3a) {
            if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
          } else if (kind === 0x2d) line += String.fromCharCode(c);
        }
      }
    })();
    producerConns.push(p);
    problems = () => [
      ...replies.errors,
      ...(replies.short > 0 ? [`${replies.short} PUBLISH reached fewer than ${consumers}`] : []),
    ];
    closeExtra = async () => {
      await replyReader;
    };
  }
  return {
    encoding,
    readers,
    write: async (batch) => {
      if (producerConns.length === 1) await writeAll(producerConns[0]!, batch);
      else await Promise.all(producerConns.map((c) => writeAll(c, batch)));
    },
    producerProblems: () => problems(),
    abortProducer: () => closeAll(producerConns),
    close: async () => {
      closeAll(producerConns);
      for (const r of readers) r.stop();
      await Promise.allSettled(readers.map((r) => r.done));
      await closeExtra();
      listener?.close();
    },
  };
}

/** The official client: publish + flush per batch; one callback per message at each consumer. */
async function openNatsJs(server: Server, size: number, consumers: number): Promise<Session> {
  const { connect } = await import("@nats-io/transport-node");
  const a = server.address as { hostname: string; port: number };
  const opts = { servers: `${a.hostname}:${a.port}`, noEcho: true };
  const readers: Reader[] = [];
  const ncs: Awaited<ReturnType<typeof connect>>[] = [];
  for (let i = 0; i < consumers; i++) {
    const nc = await connect(opts);
    ncs.push(nc);
    // A Reader with no connection of its own: only its counters and histogram are used.
    const r = new Reader({ close() {} } as unknown as Deno.Conn, "nats");
    readers.push(r);
    nc.subscribe(SUBJECT, {
      callback: (_err, msg) => {
        const d = msg.data;
        if (r.hist !== null) {
          const ms = nowMs();
          const whole = Math.floor(ms);
          const now = whole * 1e6 + Math.round((ms - whole) * 1e6);
          r.hist.record(now - (readU32(d, 4) * 4294967296 + readU32(d, 0)));
        }
        r.count++;
        r.lastAt = performance.now();
        r.onProgress();
      },
    });
    await nc.flush();
  }
  const pub = await connect(opts);
  const encoding: Encoding = { wireSize: size, template: payload(size), tsAt: 0, crc: false };
  return {
    encoding,
    readers,
    write: async (batch, messages) => {
      for (let i = 0; i < messages; i++) {
        pub.publish(SUBJECT, batch.subarray(i * size, (i + 1) * size));
      }
      await pub.flush();
    },
    producerProblems: () => [],
    abortProducer: () => void pub.close().catch(() => {}),
    close: async () => {
      await pub.close();
      for (const nc of ncs) await nc.close();
    },
  };
}

// ----------------------------------------------------------------------------------------------
// Runs.

interface ThroughputResult {
  rep: number;
  mode: Mode;
  system: SystemName;
  size: number;
  consumers: number;
  /** From the first write to the last delivery (mean over consumers). */
  seconds: number;
  sent: number;
  /** Messages received by the slowest consumer. */
  delivered: number;
  /** Messages received by each consumer. */
  received: number[];
  /** Messages not received, summed over consumers. */
  lost: number;
  /** Mean over consumers of (messages received / time from the first write to its last delivery). */
  msgsPerSecPerConsumer: number;
  mbPerSecPerConsumer: number;
  problems: string[];
}

interface LatencyResult {
  rep: number;
  system: SystemName;
  rate: number;
  size: number;
  consumers: number;
  seconds: number;
  sent: number;
  lost: number;
  achievedRate: number;
  hist: Histogram;
  problems: string[];
}

/** Window gate: wakes the producer when the slowest consumer is close enough. */
class Gate {
  sent = 0;
  #waiter: (() => void) | null = null;
  constructor(readonly readers: Reader[], readonly window: number) {
    for (const r of readers) r.onProgress = () => this.#notify();
  }
  slowest(): number {
    let m = Infinity;
    for (const r of this.readers) if (r.count < m) m = r.count;
    return m;
  }
  ok(): boolean {
    return this.sent - this.slowest() <= this.window;
  }
  wait(): Promise<void> {
    return new Promise<void>((r) => this.#waiter = r);
  }
  #notify(): void {
    if (this.#waiter !== null && this.ok()) this.kick();
  }
  kick(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}

async function drain(readers: Reader[], sent: number): Promise<void> {
  const until = performance.now() + DRAIN_MS;
  while (readers.some((r) => r.count < sent) && performance.now() < until) await sleep(2);
}

/**
 * Unthrottled mode: waits until every consumer has everything, or none has
 * received anything for IDLE_MS (what a relay dropped never comes), at most
 * UNTHROTTLED_DRAIN_MS.
 */
async function settle(readers: Reader[], sent: number): Promise<void> {
  const until = performance.now() + UNTHROTTLED_DRAIN_MS;
  for (;;) {
    const now = performance.now();
    if (readers.every((r) => r.count >= sent) || now >= until) return;
    const last = Math.max(...readers.map((r) => r.lastAt));
    if (now - last >= IDLE_MS) return;
    await sleep(5);
  }
}

function lossOf(readers: Reader[], sent: number): number {
  return readers.reduce((s, r) => s + Math.max(0, sent - r.count), 0);
}

function problemsOf(s: Session): string[] {
  return [...s.producerProblems(), ...s.readers.flatMap((r) => r.errors)];
}

async function throughputCase(
  rep: number,
  mode: Mode,
  system: SystemName,
  server: Server | undefined,
  size: number,
  consumers: number,
): Promise<ThroughputResult> {
  const s = await openSession(system, server, dir, size, consumers);
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / size));
  const batch = batchOf(s.encoding, perBatch);
  stamp(batch, s.encoding, perBatch);
  const gate = new Gate(s.readers, Math.max(WINDOW, perBatch));
  const kicker = setInterval(() => gate.kick(), 50);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  // A write the system never completes (a relay that stopped reading) must not hang the bench.
  let stuck = false;
  const watchdog = setTimeout(() => {
    stuck = true;
    s.abortProducer();
    gate.kick();
  }, SECONDS * 1000 + WRITE_STUCK_MS);
  const problems: string[] = [];
  try {
    while (performance.now() < end && !stuck && gate.sent < MAX_SENT) {
      if (mode === "windowed" && !gate.ok()) {
        await gate.wait();
        continue;
      }
      await s.write(batch, perBatch);
      gate.sent += perBatch;
    }
  } catch (e) {
    problems.push(
      stuck
        ? `a producer write did not complete within ${WRITE_STUCK_MS / 1000} s of the case's end`
        : `producer: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(watchdog);
    clearInterval(kicker);
  }
  if (mode === "windowed") await drain(s.readers, gate.sent);
  else await settle(s.readers, gate.sent);
  const delivered = gate.slowest();
  problems.push(...problemsOf(s));
  await s.close();
  const rates = s.readers.map((r) => r.lastAt > t0 ? r.count / ((r.lastAt - t0) / 1000) : 0);
  const rate = rates.reduce((a, x) => a + x, 0) / rates.length;
  const seconds = s.readers.reduce((a, r) => a + Math.max(0, r.lastAt - t0), 0) /
    s.readers.length / 1000;
  return {
    rep,
    mode,
    system,
    size,
    consumers,
    seconds: Math.round(seconds * 1000) / 1000,
    sent: gate.sent,
    delivered,
    received: s.readers.map((r) => r.count),
    lost: lossOf(s.readers, gate.sent),
    msgsPerSecPerConsumer: Math.round(rate),
    mbPerSecPerConsumer: Math.round((rate * size) / 1e4) / 100,
    problems,
  };
}

async function latencyCase(
  rep: number,
  system: SystemName,
  server: Server | undefined,
  rate: number,
): Promise<LatencyResult> {
  const size = LAT_SIZE;
  const s = await openSession(system, server, dir, size, 1);
  const hist = new Histogram();
  for (const r of s.readers) r.hist = hist;
  const maxBatch = Math.max(1, Math.ceil(rate / 100)); // at most 10 ms worth at once
  const batch = batchOf(s.encoding, maxBatch);
  const t0 = performance.now();
  const end = t0 + LAT_SECONDS * 1000;
  let sent = 0;
  while (performance.now() < end) {
    const due = Math.min(maxBatch, Math.floor(((performance.now() - t0) / 1000) * rate) - sent);
    if (due > 0) {
      stamp(batch, s.encoding, due);
      await s.write(batch.subarray(0, due * s.encoding.wireSize), due);
      sent += due;
    }
    await sleep(1);
  }
  await drain(s.readers, sent);
  const seconds = (performance.now() - t0) / 1000;
  const problems = problemsOf(s);
  const lost = lossOf(s.readers, sent);
  await s.close();
  return {
    rep,
    system,
    rate,
    size,
    consumers: 1,
    seconds: Math.round(seconds * 1000) / 1000,
    sent,
    lost,
    achievedRate: Math.round(sent / LAT_SECONDS),
    hist,
    problems,
  };
}

// ----------------------------------------------------------------------------------------------
// Main.

const startedAt = new Date();
const load0 = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3)
  .join(" ");
const dir = await Deno.makeTempDir({ prefix: "torq-peers-" });
/** The servers of the systems other than Torq's relays (nats.js uses "nats"). */
const servers = new Map<SystemName, Server>();
/** Torq's relays, one per system and setup. */
const torqServers = new Map<`${SystemName}/${TorqSetup}`, Server>();
const unavailable = new Map<SystemName, string>();
const throughput: ThroughputResult[] = [];
const latency: LatencyResult[] = [];
let perfTools: PerfTools | null = null;
const log = (line: string) => {
  if (!values.json) console.log(line);
};

const abort = new AbortController();
const onSignal = () => abort.abort();
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

/** The Torq setups this run needs: one per mode, and the latency cases'. */
const torqSetups = [
  ...new Set<TorqSetup>([
    ...MODES.map((m) => TORQ_SETUP[m]),
    ...(LAT_RATES.length > 0 ? [LATENCY_SETUP] : []),
  ]),
];

/** Where `system` runs in a case of Torq setup `setup` (undefined: `direct`, which needs none). */
function serverFor(system: SystemName, setup: TorqSetup): Server | undefined {
  if (system === "torq-md" || system === "torq-signal") {
    return torqServers.get(`${system}/${setup}`);
  }
  return servers.get(system === "nats.js" ? "nats" : system);
}

/** Why a system could not start, in one line. */
function whyUnavailable(system: SystemName, e: unknown): string {
  const program = system === "redis"
    ? "redis-server"
    : system.startsWith("nats")
    ? "nats-server"
    : "";
  if (e instanceof Deno.errors.NotFound && program !== "") {
    return `${program} is not installed (apt-get install ${program})`;
  }
  return (e as Error).message;
}

async function startSystem(system: SystemName): Promise<void> {
  if (system === "c-relay") {
    perfTools = await buildPerfTools();
    servers.set(system, await startC(perfTools, dir));
  }
  if (system === "torq-md" || system === "torq-signal") {
    for (const setup of torqSetups) {
      const domain = system === "torq-md" ? "market-data" : "signal";
      torqServers.set(`${system}/${setup}`, await startTorq(dir, domain, setup));
    }
  }
  if ((system === "nats" || system === "nats.js") && !servers.has("nats")) {
    servers.set("nats", await startNats(dir));
  }
  if (system === "redis") servers.set(system, await startRedis(dir));
}

/** One line of a repetition's row: each system's rate, loss, problems and ratio to the C relay. */
function rowLine(row: ThroughputResult[]): string {
  const c = row.find((r) => r.system === "c-relay");
  return row.map((r) =>
    `${r.system} ${(r.msgsPerSecPerConsumer / 1e6).toFixed(3)}M${
      c !== undefined && r !== c && c.msgsPerSecPerConsumer > 0
        ? ` (${(r.msgsPerSecPerConsumer / c.msgsPerSecPerConsumer).toFixed(2)}×C)`
        : ""
    }${r.lost > 0 ? ` LOST ${r.lost} (${pct(r.lost, r.sent * r.consumers)})` : ""}${
      r.problems.length > 0 ? ` [${r.problems.join("; ")}]` : ""
    }`
  ).join("  ");
}

try {
  for (const system of SYSTEMS) {
    try {
      await startSystem(system);
    } catch (e) {
      unavailable.set(system, whyUnavailable(system, e));
      log(`${system}: unavailable: ${unavailable.get(system)}`);
    }
  }
  const systems = SYSTEMS.filter((s) => !unavailable.has(s));
  const estimate = REPS *
    (MODES.length * SIZES.length * CONSUMERS.length * systems.length * (SECONDS + 0.3) +
      LAT_RATES.length * systems.length * (LAT_SECONDS + 0.2));
  log(
    `bench:peers: about ${(estimate / 60).toFixed(1)} min; ${REPS} rep(s) × ${
      MODES.length === 0
        ? "no throughput case"
        : `${MODES.join("+")} × ${SIZES.length} size(s) × ${CONSUMERS.length} consumer count(s)`
    } × ${systems.length} system(s), ${SECONDS} s each; latency ${
      LAT_RATES.join(", ") || "none"
    } msg/s × ${LAT_SECONDS} s; load average at start ${load0}`,
  );
  for (let rep = 1; rep <= REPS && !abort.signal.aborted; rep++) {
    for (const mode of MODES) {
      for (const size of SIZES) {
        for (const consumers of CONSUMERS) {
          const row: ThroughputResult[] = [];
          for (const system of systems) {
            if (abort.signal.aborted) break;
            try {
              const server = serverFor(system, TORQ_SETUP[mode]);
              const r = await throughputCase(rep, mode, system, server, size, consumers);
              row.push(r);
              throughput.push(r);
            } catch (e) {
              log(`  ${mode} ${system} ${size} B ×${consumers}: FAILED: ${(e as Error).message}`);
            }
          }
          log(
            `rep ${rep} ${mode.padEnd(11)} ${String(size).padStart(3)} B ×${consumers}: ${
              rowLine(row)
            }`,
          );
        }
      }
    }
    for (const rate of LAT_RATES) {
      for (const system of systems) {
        if (abort.signal.aborted) break;
        try {
          const r = await latencyCase(rep, system, serverFor(system, LATENCY_SETUP), rate);
          latency.push(r);
          const s = r.hist.summary();
          log(
            `rep ${rep} latency ${rate} msg/s ${system}: p50 ${us(s.p50Ns)} p99 ${
              us(s.p99Ns)
            } p99.9 ${us(s.p999Ns)} max ${us(s.maxNs)} µs (sent ${r.sent}, lost ${r.lost})${
              r.problems.length > 0 ? ` [${r.problems.join("; ")}]` : ""
            }`,
          );
        } catch (e) {
          log(`  latency ${rate} ${system}: FAILED: ${(e as Error).message}`);
        }
      }
    }
  }
} finally {
  for (const s of [...servers.values(), ...torqServers.values()]) await s.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  if (perfTools !== null) await Deno.remove(perfTools.dir, { recursive: true }).catch(() => {});
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}

function pct(part: number, whole: number): string {
  return whole === 0 ? "–" : `${((100 * part) / whole).toFixed(part < whole / 100 ? 2 : 1)} %`;
}

function us(ns: number): string {
  return ns >= 100_000 ? (ns / 1000).toFixed(0) : (ns / 1000).toFixed(1);
}

// ----------------------------------------------------------------------------------------------
// Summaries.

const systemsRun = SYSTEMS.filter((s) => !unavailable.has(s));
/** The systems whose rates are divided by the C relay's. */
const comparedToC = systemsRun.filter((s) => s !== "c-relay");
const haveC = systemsRun.includes("c-relay");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

/** One throughput case's key. */
interface CaseKey {
  mode: Mode;
  system: SystemName;
  size: number;
  consumers: number;
}
const sameCase = (r: ThroughputResult, k: CaseKey) =>
  r.mode === k.mode && r.system === k.system && r.size === k.size && r.consumers === k.consumers;

interface Stat {
  min: number;
  median: number;
  max: number;
  n: number;
  /** Messages lost, all repetitions and consumers. */
  lost: number;
  /** Deliveries due (sent × consumers), all repetitions. */
  due: number;
}
function statOf(k: CaseKey): Stat | null {
  const rs = throughput.filter((r) => sameCase(r, k));
  if (rs.length === 0) return null;
  const xs = rs.map((r) => r.msgsPerSecPerConsumer);
  return {
    min: Math.min(...xs),
    median: median(xs),
    max: Math.max(...xs),
    n: xs.length,
    lost: rs.reduce((a, r) => a + r.lost, 0),
    due: rs.reduce((a, r) => a + r.sent * r.consumers, 0),
  };
}
/** system ÷ C relay, msgs/s per consumer, within each repetition. */
function ratiosToC(k: CaseKey): number[] {
  const out: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const x = throughput.find((r) => r.rep === rep && sameCase(r, k));
    const c = throughput.find((r) => r.rep === rep && sameCase(r, { ...k, system: "c-relay" }));
    if (x && c && c.msgsPerSecPerConsumer > 0) {
      out.push(x.msgsPerSecPerConsumer / c.msgsPerSecPerConsumer);
    }
  }
  return out;
}
function latencyOf(system: SystemName, rate: number) {
  const rs = latency.filter((r) => r.system === system && r.rate === rate);
  if (rs.length === 0) return null;
  const h = new Histogram();
  for (const r of rs) h.merge(r.hist);
  return {
    summary: h.summary(),
    sent: rs.reduce((a, r) => a + r.sent, 0),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    achieved: median(rs.map((r) => r.achievedRate)),
  };
}
/** system ÷ C relay of a latency percentile, within each repetition. */
function latencyRatiosToC(system: SystemName, rate: number, p: "p50Ns" | "p99Ns"): number[] {
  const out: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const x = latency.find((r) => r.rep === rep && r.system === system && r.rate === rate);
    const c = latency.find((r) => r.rep === rep && r.system === "c-relay" && r.rate === rate);
    if (x && c && c.hist.summary()[p] > 0) out.push(x.hist.summary()[p] / c.hist.summary()[p]);
  }
  return out;
}

const fmtM = (x: number) => (x / 1e6).toFixed(3);
/** "1.02, 0.98 → **1.00×**": the ratio in each repetition, then their median. */
const fmtRatios = (rs: number[]) =>
  rs.length === 0
    ? "–"
    : `${rs.map((r) => r.toFixed(2)).join(", ")} → **${median(rs).toFixed(2)}×**`;

const MODE_TITLE: Record<Mode, string> = {
  windowed: "windowed producer (lossless)",
  unthrottled: "unthrottled producer",
};

function throughputSection(mode: Mode): string[] {
  const lines = [`## Throughput, ${MODE_TITLE[mode]}`, ""];
  lines.push(
    mode === "windowed"
      ? `Median msgs/s per consumer over ${REPS} repetition(s), with min–max, in millions. One producer, at most ${
        WINDOW.toLocaleString("en-US")
      } messages ahead of its slowest consumer; every message counted at every consumer.`
      : `Median msgs/s that each consumer received over ${REPS} repetition(s), with min–max, in millions. One producer writing as fast as the socket takes its bytes, no window; what a system did not deliver is lost (share of all deliveries due).`,
    "",
  );
  lines.push(
    `| size | consumers | ${systemsRun.map((s) => LABEL[s]).join(" | ")} |`,
    `|---:|---:|${systemsRun.map(() => "---:").join("|")}|`,
  );
  for (const size of SIZES) {
    for (const consumers of CONSUMERS) {
      const cells = systemsRun.map((system) => {
        const st = statOf({ mode, system, size, consumers });
        if (st === null) return "–";
        return `${fmtM(st.median)} (${fmtM(st.min)}–${fmtM(st.max)})${
          st.lost > 0 ? ` **lost ${pct(st.lost, st.due)}**` : ""
        }`;
      });
      lines.push(`| ${size} B | ${consumers} | ${cells.join(" | ")} |`);
    }
  }
  lines.push("");
  return lines;
}

function ratioSection(): string[] {
  const lines = ["## Ratio to the C relay, same repetition", ""];
  if (!haveC) {
    lines.push(
      `No ratio: the C relay did not run (${unavailable.get("c-relay") ?? "not in --systems"}).`,
      "",
    );
    return lines;
  }
  lines.push(
    "Each cell: the system's msgs/s per consumer divided by the C relay's in repetition 1, 2, … (same case, same minute), then the median of those ratios.",
    "",
    `| producer | size | consumers | ${comparedToC.map((s) => LABEL[s]).join(" | ")} |`,
    `|---|---:|---:|${comparedToC.map(() => "---:").join("|")}|`,
  );
  for (const mode of MODES) {
    for (const size of SIZES) {
      for (const consumers of CONSUMERS) {
        const cells = comparedToC.map((system) =>
          fmtRatios(ratiosToC({ mode, system, size, consumers }))
        );
        lines.push(`| ${mode} | ${size} B | ${consumers} | ${cells.join(" | ")} |`);
      }
    }
  }
  lines.push("");
  return lines;
}

function lossSection(): string[] {
  const lines = ["## Loss", ""];
  const lost = throughput.filter((r) => r.lost > 0 || r.problems.length > 0);
  if (lost.length === 0) {
    lines.push(
      `No message was lost in any throughput case: every consumer received every message sent (${
        throughput.reduce((a, r) => a + r.sent * r.consumers, 0).toLocaleString("en-US")
      } deliveries in all).`,
      "",
    );
    return lines;
  }
  lines.push(
    "Cases where a consumer did not receive every message sent, or where a client saw an error.",
    "",
    "| rep | producer | system | size | consumers | sent | received (each consumer) | lost (all consumers) | problems |",
    "|---:|---|---|---:|---:|---:|---:|---:|---|",
  );
  for (const r of lost) {
    lines.push(
      `| ${r.rep} | ${r.mode} | ${LABEL[r.system]} | ${r.size} B | ${r.consumers} | ${r.sent} | ${
        r.received.join(", ")
      } | ${r.lost} (${pct(r.lost, r.sent * r.consumers)}) | ${r.problems.join("; ")} |`,
    );
  }
  lines.push("");
  return lines;
}

function latencySection(): string[] {
  if (LAT_RATES.length === 0) return [];
  const lines = ["## Latency (paced producer, 1 consumer)", ""];
  lines.push(
    `${LAT_SIZE}-byte messages sent in 1 ms batches at the given rate for ${LAT_SECONDS} s per repetition; send time to receive time (the consumer's read), all repetitions merged, µs. The ratios divide the system's p50 (p99) by the C relay's in the same repetition; the median of those ratios.`,
    "",
    "| rate | system | p50 | p90 | p99 | p99.9 | max | messages | achieved msg/s | lost | p50 ÷ C relay | p99 ÷ C relay |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const rate of LAT_RATES) {
    for (const s of systemsRun) {
      const l = latencyOf(s, rate);
      if (l === null) continue;
      const x = l.summary;
      const ratio = (p: "p50Ns" | "p99Ns") => {
        if (s === "c-relay") return "1";
        const rs = latencyRatiosToC(s, rate, p);
        return rs.length === 0 ? "–" : `${median(rs).toFixed(2)}×`;
      };
      lines.push(
        `| ${rate.toLocaleString("en-US")} | ${LABEL[s]} | ${us(x.p50Ns)} | ${us(x.p90Ns)} | ${
          us(x.p99Ns)
        } | ${us(x.p999Ns)} | ${us(x.maxNs)} | ${x.count} | ${l.achieved} | ${l.lost} | ${
          ratio("p50Ns")
        } | ${ratio("p99Ns")} |`,
      );
    }
  }
  lines.push("");
  return lines;
}

function markdown(): string {
  return [
    ...markdownHead(),
    ...MODES.flatMap(throughputSection),
    ...ratioSection(),
    ...lossSection(),
    `![median msgs/s per consumer](${svgLink()})`,
    "",
    ...latencySection(),
    ...markdownMethod(),
  ].join("\n");
}

let machine: Record<string, string> = {};
async function describeMachine(): Promise<void> {
  const cpu = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.*)/.exec(cpu)?.[1]?.trim() ?? "?";
  const mem = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const kb = Number(/MemTotal:\s+(\d+)/.exec(mem)?.[1] ?? NaN);
  machine = {
    cores: String(navigator.hardwareConcurrency),
    cpu: model,
    memory: `${(kb / 1048576).toFixed(1)} GiB`,
    kernel: Deno.osRelease(),
    deno: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    "nats-server": servers.get("nats")?.version ??
      await commandVersion("nats-server", ["--version"]),
    "redis-server": servers.get("redis")?.version ??
      await commandVersion("redis-server", ["--version"]),
    "C relay": servers.get("c-relay")?.version ?? "not run",
    torq: `torq ${await torqVersion()}`,
    "load average at start": load0,
  };
}

function commandLine(): string {
  const args = BENCH_ARGS.length === 0 ? "" : ` -- ${BENCH_ARGS.join(" ")}`;
  return `deno task bench:peers${args}`;
}

function svgLink(): string {
  const mdDir = OUT_MD.slice(0, OUT_MD.lastIndexOf("/") + 1);
  return OUT_SVG.startsWith(mdDir) ? OUT_SVG.slice(mdDir.length) : OUT_SVG;
}

function markdownHead(): string[] {
  const short = SECONDS < 5 || REPS < 3;
  return [
    "# Benchmarks: Torq next to the C relay, a direct socket, NATS and Redis",
    "",
    "Written by `bench/peers.ts`; every number below comes from one run of:",
    "",
    "```sh",
    commandLine(),
    "```",
    "",
    ...(short
      ? [
        `> **Short configuration** (${SECONDS} s per case, ${REPS} repetition(s)): a check that the bench works, not a measurement to quote. The full run is \`deno task bench:peers\` on an idle machine.`,
        "",
      ]
      : []),
    `Run on ${startedAt.toISOString()} (${
      ((Date.now() - startedAt.getTime()) / 60000).toFixed(1)
    } min).`,
    "",
    "| machine | |",
    "|---|---|",
    ...Object.entries(machine).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    ...(unavailable.size === 0 ? [] : [
      `**Not run:** ${
        [...unavailable].map(([s, why]) => `${LABEL[s]} (\`${s}\`): ${why}`).join("; ")
      }. Its columns are absent from every table below.`,
      "",
    ]),
  ];
}

function markdownMethod(): string[] {
  const q = QUEUE_FRAMES.toLocaleString("en-US");
  return [
    "## Method",
    "",
    `- **Systems.** *C relay*: \`relay p.sock s.sock\` of \`${PERF_SOURCE}\`, built with \`gcc -O2\` by the bench (\`bench/_c_perf.ts\`): epoll, reads up to 256 KiB from a producer, frames by \`payload_size\` only and writes the run of whole frames to each consumer in one write; a consumer's unsent bytes wait in its own queue, and while any queue holds more than 4 MiB it stops reading producers (lossless backpressure). It verifies nothing (no CRC-32, no TLV walk, no domain check) and carries the market-data frames as they are; its work depends only on the frame sizes, so one C relay run is the reference for both the market-data and the signal rows (the signal relay's ratio includes the cost of its checks). Producers connect to p.sock, consumers to s.sock. *direct socket*: the producer writes Torq frames straight into one Unix socket per consumer (no relay; with 4 consumers it writes every batch 4 times). *Torq market data* / *Torq signal*: \`torq relay market-data|signal --socket <tmp>\` processes (performance policy; standard policy, which verifies every frame's CRC-32 and TLV structure — the producer seals checksums). *NATS*: \`nats-server -a 127.0.0.1 -p -1\`, core pub/sub on one subject over loopback TCP. *Redis*: \`redis-server --port 0 --unixsocket <tmp>/redis.sock --save '' --appendonly no\`, \`PUBLISH\` pipelined, consumers \`SUBSCRIBE\`d. Servers start once per run and stop at the end.`,
    "- **Clients.** Producer and consumers run in the bench's one Deno process, on raw sockets, the same way for every system: the producer writes pre-encoded batches of its protocol (256 KiB of payload per write: Torq frames, NATS `PUB`, Redis `PUBLISH`), each consumer walks every message of its protocol (Torq headers, NATS `MSG` lines, RESP pushes) and counts it. A message of N bytes is N bytes of Torq frame (32-byte header + TLV) or N bytes of NATS/Redis payload.",
    `- **Windowed producer (lossless).** The producer stays at most ${
      WINDOW.toLocaleString("en-US")
    } messages ahead of its slowest consumer. The Torq relays of these cases run with \`--set relays.<domain>.performance.max_queue_frames=${QUEUE_FRAMES}\` (${q} frames: the design documents' market-data sizing; the built-in default is 10,000 frames, 640 KB of 64-byte frames, against 64 MB of pending data that nats-server allows a subscriber and 32 MB that Redis allows a pub/sub client); past it a relay drops the oldest frames as it does for any slow consumer. After the run it waits (up to ${
      DRAIN_MS / 1000
    } s) for every consumer to receive everything.`,
    `- **Unthrottled producer.** The producer writes its batches as fast as the socket takes them, with no window, for ${SECONDS} s; the consumers read as fast as they can. Then a drain: until every consumer has every message, or none has received anything for ${IDLE_MS} ms, at most ${
      UNTHROTTLED_DRAIN_MS / 1000
    } s. Every message a consumer receives, during the run or the drain, is counted; loss = sent − received, per consumer. The Torq relays of these cases run their built-in defaults, as a user starts them (\`max_queue_frames\` 10,000, \`max_queue_bytes\` 64 MiB, \`slow_consumer: drop\`, D-36 flow control on: \`producer_stall: true\`, stalls of at most 5 ms and 100 ms a second while a consumer that keeps reading has more than half its queue limit queued; PROTOCOL.md 7.6). NATS and Redis run their defaults too: nats-server closes a subscriber with 64 MB pending (slow consumer), Redis one past its pub/sub output buffer limit (32 MB, or 8 MB for 60 s).`,
    "- **Rates.** Each consumer's rate is the messages it received / the time from the producer's first write to the read that brought its last message; the case's rate is the mean over its consumers. Loss is counted per consumer; Redis `PUBLISH` replies (receiver counts) are checked too.",
    "- **Interleaved.** for each repetition: for each producer mode: for each case: for each system. Ratios (to the C relay) are taken within one repetition, so slow phases of a shared machine hit both sides of a ratio; a table gives the median of the per-repetition ratios.",
    "- **Latency.** A paced producer (1 ms timer, a batch of rate/1000 messages stamped with the send time), 1 consumer; the Torq relays run their built-in defaults. The consumer reads the send time (Torq frames, C relay included: header timestamp; NATS/Redis: the payload's first 8 bytes, u64 LE ns) and records `receive − send` in a log-linear histogram (1 µs buckets up to ~1 ms, then 0.2 % relative). The messages of one batch share the send time taken just before their write; latency runs from there to the consumer's read, so it includes the bench process's own event-loop delays on both sides (for the C relay too: the clients are the same JS clients).",
    `- **Caveats.** ${machine.cores} cores for the server and the bench process together; the C relay, NATS and Redis are native programs, Torq is TypeScript on Deno. Redis pub/sub and NATS core are at-most-once systems: they are lossless in windowed mode only because of the producer window.`,
    "",
  ];
}

// ----------------------------------------------------------------------------------------------
// The chart: grouped bars of median msgs/s per consumer, one panel per consumer count.

const COLORS: Record<SystemName, string> = {
  "c-relay": "#444444",
  direct: "#9aa5b1",
  "torq-md": "#1f77b4",
  "torq-signal": "#6baed6",
  nats: "#2ca02c",
  redis: "#d62728",
  "nats.js": "#98df8a",
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One panel per (producer mode, consumer count): rows are modes, columns consumer counts. */
function svgChart(): string {
  const panelW = 460;
  const panelH = 300;
  const left = 60;
  const top = 50;
  const gap = 30;
  const rowGap = 50;
  const legendH = 30 + 18 * Math.ceil(systemsRun.length / 3);
  // Wide enough for the title and three legend entries a line with one panel a row.
  const width = Math.max(left + CONSUMERS.length * (panelW + gap), left + 3 * 220);
  const height = top + MODES.length * (panelH + rowGap) + 10 + legendH;
  let maxV = 0;
  for (const mode of MODES) {
    for (const consumers of CONSUMERS) {
      for (const size of SIZES) {
        for (const system of systemsRun) {
          maxV = Math.max(maxV, statOf({ mode, system, size, consumers })?.median ?? 0);
        }
      }
    }
  }
  const maxM = niceCeil(maxV / 1e6);
  const ticks = 5;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${
      width / 2
    }" y="22" text-anchor="middle" font-size="15" font-weight="bold">Median messages/s received per consumer (millions), 1 producer</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${
      esc(
        `${machine.cores ?? "?"} cores, ${machine.cpu ?? "?"}; ${REPS} rep(s) × ${SECONDS} s; ${
          startedAt.toISOString().slice(0, 10)
        }; a value in red: messages lost`,
      )
    }</text>`,
  );
  MODES.forEach((mode, ri) => {
    const yTop = top + ri * (panelH + rowGap);
    CONSUMERS.forEach((consumers, pi) => {
      const x0 = left + pi * (panelW + gap);
      const y0 = yTop + 10;
      const h = panelH - 20;
      out.push(
        `<text x="${x0 + panelW / 2}" y="${y0 - 2}" text-anchor="middle" font-weight="bold">${
          esc(`${MODE_TITLE[mode]}, ${consumers} consumer${consumers === 1 ? "" : "s"}`)
        }</text>`,
      );
      for (let t = 0; t <= ticks; t++) {
        const v = (maxM * t) / ticks;
        const y = y0 + h - (h * t) / ticks;
        out.push(
          `<line x1="${x0}" y1="${y}" x2="${x0 + panelW}" y2="${y}" stroke="#e5e5e5"/>`,
          `<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" fill="#555">${
            Number(v.toFixed(2))
          }</text>`,
        );
      }
      out.push(
        `<line x1="${x0}" y1="${y0 + h}" x2="${x0 + panelW}" y2="${y0 + h}" stroke="#333"/>`,
      );
      const groupW = panelW / SIZES.length;
      const barW = Math.min(28, (groupW - 20) / systemsRun.length);
      SIZES.forEach((size, gi) => {
        const gx = x0 + gi * groupW + (groupW - barW * systemsRun.length) / 2;
        systemsRun.forEach((system, si) => {
          const st = statOf({ mode, system, size, consumers });
          if (st === null) return;
          const v = st.median / 1e6;
          const bh = maxM === 0 ? 0 : (h * v) / maxM;
          const x = gx + si * barW;
          const lost = st.lost > 0 ? `, lost ${pct(st.lost, st.due)}` : "";
          out.push(
            `<rect x="${x.toFixed(1)}" y="${(y0 + h - bh).toFixed(1)}" width="${
              (barW - 2).toFixed(1)
            }" height="${bh.toFixed(1)}" fill="${COLORS[system]}"><title>${
              esc(
                `${LABEL[system]}, ${mode}, ${size} B, ${consumers} consumer(s): ${
                  fmtM(st.median)
                } M msg/s${lost}`,
              )
            }</title></rect>`,
            `<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${
              (y0 + h - bh - 3).toFixed(1)
            }" text-anchor="middle" font-size="9" fill="${st.lost > 0 ? "#d62728" : "#333"}">${
              v >= 10 ? v.toFixed(0) : v.toFixed(v >= 1 ? 1 : 2)
            }</text>`,
          );
        });
        out.push(
          `<text x="${x0 + gi * groupW + groupW / 2}" y="${
            y0 + h + 16
          }" text-anchor="middle">${size} B</text>`,
        );
      });
    });
    out.push(
      `<text x="16" y="${yTop + panelH / 2}" transform="rotate(-90 16 ${
        yTop + panelH / 2
      })" text-anchor="middle" fill="#555">M msg/s per consumer</text>`,
    );
  });
  const ly = top + MODES.length * (panelH + rowGap) + 10;
  systemsRun.forEach((s, i) => {
    const lx = left + (i % 3) * 220;
    const y = ly + Math.floor(i / 3) * 18;
    out.push(
      `<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[s]}"/>`,
      `<text x="${lx + 18}" y="${y}">${esc(LABEL[s])}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

await describeMachine();

if (values.json) {
  console.log(JSON.stringify(
    {
      started: startedAt.toISOString(),
      command: commandLine(),
      machine,
      config: {
        seconds: SECONDS,
        reps: REPS,
        modes: MODES,
        sizes: SIZES,
        consumers: CONSUMERS,
        systems: SYSTEMS,
        latencyRates: LAT_RATES,
        latencySeconds: LAT_SECONDS,
        latencySize: LAT_SIZE,
        window: WINDOW,
        torqSetup: { ...TORQ_SETUP, latency: LATENCY_SETUP },
        queueFramesLargeQueue: QUEUE_FRAMES,
      },
      unavailable: Object.fromEntries(unavailable),
      throughput,
      latency: latency.map(({ hist, ...r }) => ({ ...r, latencyNs: hist.summary() })),
      ratiosToCRelay: haveC
        ? MODES.flatMap((mode) =>
          comparedToC.flatMap((system) =>
            SIZES.flatMap((size) =>
              CONSUMERS.map((consumers) => ({
                mode,
                system,
                size,
                consumers,
                perRep: ratiosToC({ mode, system, size, consumers }),
              }))
            )
          )
        )
        : [],
    },
    null,
    2,
  ));
} else {
  console.log("");
  for (const [s, why] of unavailable) console.log(`not run: ${s}: ${why}`);
  console.log("median msgs/s per consumer (min–max), M; ×C = median ratio to the C relay:");
  for (const mode of MODES) {
    for (const size of SIZES) {
      for (const consumers of CONSUMERS) {
        console.log(
          `  ${mode.padEnd(11)} ${String(size).padStart(3)} B ×${consumers}: ${
            systemsRun.map((system) => {
              const k = { mode, system, size, consumers };
              const st = statOf(k);
              if (st === null) return `${system} –`;
              const rs = system === "c-relay" ? [] : ratiosToC(k);
              return `${system} ${fmtM(st.median)} (${fmtM(st.min)}–${fmtM(st.max)})${
                rs.length > 0 ? ` ${median(rs).toFixed(2)}×C` : ""
              }${st.lost > 0 ? ` lost ${st.lost} (${pct(st.lost, st.due)})` : ""}`;
            }).join("  ")
          }`,
        );
      }
    }
  }
  for (const rate of LAT_RATES) {
    console.log(
      `  latency ${rate} msg/s: ${
        systemsRun.map((system) => {
          const l = latencyOf(system, rate);
          if (l === null) return `${system} –`;
          const r50 = latencyRatiosToC(system, rate, "p50Ns");
          const r99 = latencyRatiosToC(system, rate, "p99Ns");
          return `${system} p50 ${us(l.summary.p50Ns)} p99 ${us(l.summary.p99Ns)} p99.9 ${
            us(l.summary.p999Ns)
          } µs${
            system !== "c-relay" && r50.length > 0
              ? ` (p50 ${median(r50).toFixed(2)}×C, p99 ${median(r99).toFixed(2)}×C)`
              : ""
          }`;
        }).join("  ")
      }`,
    );
  }
}

if (!values["no-write"]) {
  const before = await Deno.readTextFile(OUT_MD).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  });
  // Its own section only: the file's other marked sections (bench:journal's) stay as they are.
  await Deno.writeTextFile(OUT_MD, putSection(before, "peers-bench", markdown(), "first"));
  // The project's `deno fmt --check` covers Markdown: write it formatted.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "-q", "--config", `${ROOT}deno.json`, OUT_MD],
    stdout: "null",
    stderr: "inherit",
  }).output().catch(() => {});
  await Deno.mkdir(OUT_SVG.slice(0, OUT_SVG.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(OUT_SVG, svgChart());
  if (!values.json) console.log(`wrote ${OUT_MD} and ${OUT_SVG}`);
}
if (!values.json) {
  console.log(`done in ${((Date.now() - startedAt.getTime()) / 60000).toFixed(1)} min`);
}
