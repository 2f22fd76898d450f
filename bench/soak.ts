/**
 * Soak: the three relays under a steady mixed load for N minutes, watching
 * memory. One `torq up` process (or three `torq relay` processes with
 * `--mode relay`) serves ~100 clients from this process: ~20 producers spread
 * over the three domains at a steady total rate (mixed sizes, TLV types valid
 * for each relay's policy: execution frames are checksummed OrderRequests and
 * OrderCancels with rising per-connection sequences and current timestamps,
 * signal frames are checksummed), ~80 consumers (some with Subscribe filters)
 * and ONE consumer on market data that never reads (when the relay drops it as
 * a slow consumer, a new stalled consumer takes its place).
 *
 * Every `--interval` seconds it prints one line: the relay processes' RSS and
 * VmHWM (/proc/<pid>/status), their V8 heap (used/total) and external memory
 * (`process` of `/api/relays`), their CPU, frames in/out per second and drops
 * (from the relays' HTTP API `/api/relays`), queued frames per relay, and the
 * latency p50/p99/p99.9 that the consumers measured from header timestamps.
 * At the end: the RSS slope over the last two thirds of the run (MB/min) and
 * the targets (RSS ≤ 100 MB; bounded under the stalled consumer).
 *
 *   deno task soak -- --minutes 30 [--rate 20000] [--clients 100] [--interval 10]
 *                     [--mode up|relay] [--stall-timeout-ms N] [--out FILE] [--json]
 *
 * `--out FILE` writes the report (text, or JSON with `--json`) to FILE as well
 * as to stdout; the text lines are appended as they are measured, so an
 * interrupted run leaves its samples behind. The relays' stderr goes to
 * FILE.relay.log (else to a temporary directory removed at the end).
 * SIGINT/SIGTERM end the run early and still write the report.
 *
 * @module
 */

import { encodeHeader, HEADER_SIZE, readU32, sealChecksum } from "../src/protocol/header.ts";
import { writeTlvHeader } from "../src/protocol/tlv.ts";
import { writeNsFromMs } from "../src/protocol/clock.ts";
import { DOMAIN_NUMBERS } from "../src/protocol/domains.ts";
import { encodeSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { Histogram, type HistogramSummary } from "../src/bench/histogram.ts";
import { Prng } from "../src/demo/prng.ts";
import { torqArgs } from "./_torq.ts";
import { benchArgs } from "./_args.ts";
import type { ProcessInfo } from "../src/http/api.ts";
import { writeAll } from "../src/io/mod.ts";

const HELP = `Usage: deno task soak -- [options]

Options:
  --minutes N            Run time in minutes (default 3; fractions allowed)
  --rate N               Total producer rate in frames/s over all domains (default 20000)
  --clients N            Clients: 20 % producers, 80 % consumers, one of them stalled (default 100)
  --interval S           Seconds between report lines (default 10)
  --mode up|relay        One \`torq up\` process (default) or three \`torq relay\` processes
  --stall-timeout-ms N   Override the market-data relay's slow_consumer_timeout_ms
  --out FILE             Also write the report to FILE (relay stderr to FILE.relay.log)
  --json                 Report as JSON instead of text lines
  -h, --help             Show this help`;

const values = benchArgs("soak", HELP, {
  minutes: { type: "string", default: "3" },
  rate: { type: "string", default: "20000" },
  clients: { type: "string", default: "100" },
  interval: { type: "string", default: "10" },
  mode: { type: "string", default: "up" },
  "stall-timeout-ms": { type: "string" },
  out: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) {
    console.error(`soak: --${name} must be a positive number, got ${JSON.stringify(text)}`);
    Deno.exit(2);
  }
  return n;
}

const MINUTES = positive("minutes", values.minutes!);
const RATE = positive("rate", values.rate!);
const CLIENTS = Math.max(10, Math.round(positive("clients", values.clients!)));
const INTERVAL_S = positive("interval", values.interval!);
const MODE = values.mode!;
if (MODE !== "up" && MODE !== "relay") {
  console.error(`soak: --mode must be up or relay, got ${JSON.stringify(MODE)}`);
  Deno.exit(2);
}
const JSON_OUT = values.json!;
const OUT = values.out;
/** RSS target for the relay process(es), MB. */
const RSS_TARGET_MB = 100;
/** Largest RSS slope over the last two thirds still called flat, MB/min. */
const FLAT_SLOPE_MB_PER_MIN = 0.5;
/** The market-data relay's max_queue_frames (config/default.yaml): a stalled consumer's cap. */
const MD_MAX_QUEUE_FRAMES = 10_000;
/** Shortest slope window (minutes) for a flat/not-flat verdict that means something. */
const MIN_VERDICT_WINDOW_MIN = 10;
/** Producer scheduler tick, ms. */
const TICK_MS = 5;

type DomainName = "market_data" | "signal" | "execution";
const DOMAINS: readonly DomainName[] = ["market_data", "signal", "execution"];
const SOCKET_FILE: Record<DomainName, string> = {
  market_data: "market_data.sock",
  signal: "signals.sock",
  execution: "execution.sock",
};

// ----------------------------------------------------------------------------------------------
// Workload: frame kinds per domain (type, value length, weight) and client layout.

interface Kind {
  name: string;
  tlvs: { type: number; length: number }[];
  weight: number;
}

const KINDS: Record<DomainName, Kind[]> = {
  market_data: [
    { name: "Trade", tlvs: [{ type: 1, length: 40 }], weight: 0.55 },
    { name: "Quote", tlvs: [{ type: 2, length: 56 }], weight: 0.3 },
    { name: "PoolSwap", tlvs: [{ type: 11, length: 208 }], weight: 0.14 },
    { name: "OrderBook", tlvs: [{ type: 3, length: 2456 }], weight: 0.01 },
  ],
  signal: [
    { name: "ArbitrageSignal", tlvs: [{ type: 32, length: 170 }], weight: 0.6 },
    {
      name: "SignalIdentity+Economics",
      tlvs: [{ type: 20, length: 16 }, { type: 22, length: 32 }],
      weight: 0.4,
    },
  ],
  execution: [
    { name: "OrderRequest", tlvs: [{ type: 40, length: 32 }], weight: 0.8 },
    { name: "OrderCancel", tlvs: [{ type: 43, length: 16 }], weight: 0.2 },
  ],
};

/** Header sources per domain, cycled over that domain's producers. */
const SOURCES: Record<DomainName, number[]> = {
  market_data: [1, 2, 3, 4], // Binance, Kraken, Coinbase, Polygon collectors
  signal: [20, 22, 21], // arbitrage, trend, market maker
  execution: [40, 41, 42], // portfolio, risk, execution engine
};

/** Share of the total rate per domain. */
const RATE_SHARE: Record<DomainName, number> = { market_data: 0.8, signal: 0.15, execution: 0.05 };
/** Share of the producers and of the consumers per domain. */
const PRODUCER_SHARE: Record<DomainName, number> = {
  market_data: 0.6,
  signal: 0.25,
  execution: 0.15,
};
const CONSUMER_SHARE: Record<DomainName, number> = {
  market_data: 0.625,
  signal: 0.25,
  execution: 0.125,
};
/** Subscribe filters given to some consumers (cycled); null = everything. */
const FILTERS: Record<DomainName, (string[] | null)[]> = {
  market_data: [
    null,
    null,
    ["market_data_binance"],
    null,
    ["tlv.1"],
    null,
    ["market_data_k*", "tlv.3"],
  ],
  signal: [null, null, ["tlv.32"], null, ["arbitrage_signals"]],
  execution: [null],
};

function split(total: number, share: Record<DomainName, number>): Record<DomainName, number> {
  const out = { market_data: 0, signal: 0, execution: 0 };
  let left = total;
  for (const d of DOMAINS.slice(1)) {
    out[d] = Math.max(1, Math.round(total * share[d]));
    left -= out[d];
  }
  out.market_data = left;
  return out;
}

const PRODUCERS = split(Math.max(3, Math.round(CLIENTS * 0.2)), PRODUCER_SHARE);
const CONSUMERS = split(CLIENTS - Math.max(3, Math.round(CLIENTS * 0.2)), CONSUMER_SHARE);

// ----------------------------------------------------------------------------------------------
// Small helpers.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();

async function connectRetry(path: string, timeoutMs: number): Promise<Deno.UnixConn> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (e) {
      if (performance.now() > until) throw e;
      await sleep(25);
    }
  }
}

/** A header-only frame: marks a producer connection publish-only. */
function hello(domain: number, source: number): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  encodeHeader({ relayDomain: domain, source }, h);
  return h;
}

function subscribeFrame(domain: number, patterns: string[]): Uint8Array {
  const value = encodeSubscribe({ mode: 0, patterns });
  const f = new Uint8Array(HEADER_SIZE + 2 + value.length);
  encodeHeader({ relayDomain: domain, source: 99, payloadSize: 2 + value.length }, f);
  const at = writeTlvHeader(f, HEADER_SIZE, SUBSCRIBE_TLV, value.length);
  f.set(value, at);
  sealChecksum(f, 0);
  return f;
}

function tlvSize(length: number): number {
  return length <= 255 ? 2 + length : 5 + length;
}

// ----------------------------------------------------------------------------------------------
// Producers.

class Producer {
  readonly domain: DomainName;
  readonly dnum: number;
  readonly source: number;
  readonly rate: number;
  readonly conn: Deno.Conn;
  readonly #prng: Prng;
  readonly #kinds: { kind: Kind; size: number; cum: number }[];
  /** Reused output buffer (grown when needed). */
  #buf = new Uint8Array(1 << 16);
  #seq = 1;
  sent = 0;
  bytes = 0;
  /** Frames skipped because a write was still in flight a whole second's worth behind. */
  skipped = 0;
  inflight = false;
  failed: string | null = null;

  constructor(domain: DomainName, index: number, rate: number, conn: Deno.Conn) {
    this.domain = domain;
    this.dnum = DOMAIN_NUMBERS[domain];
    const sources = SOURCES[domain];
    this.source = sources[index % sources.length]!;
    this.rate = rate;
    this.conn = conn;
    this.#prng = new Prng(0x5eed + index * 7919 + this.dnum);
    let cum = 0;
    this.#kinds = KINDS[domain].map((kind) => {
      cum += kind.weight;
      const payload = kind.tlvs.reduce((s, t) => s + tlvSize(t.length), 0);
      return { kind, size: HEADER_SIZE + payload, cum };
    });
  }

  /** Builds `n` frames stamped now into the reused buffer; returns the byte count. */
  build(n: number): number {
    const ms = nowMs();
    let off = 0;
    for (let i = 0; i < n; i++) {
      const u = this.#prng.float();
      let k = this.#kinds[this.#kinds.length - 1]!;
      for (const c of this.#kinds) {
        if (u < c.cum) {
          k = c;
          break;
        }
      }
      if (off + k.size > this.#buf.length) {
        const bigger = new Uint8Array(Math.max(this.#buf.length * 2, off + k.size));
        bigger.set(this.#buf.subarray(0, off));
        this.#buf = bigger;
      }
      const b = this.#buf;
      const seq = this.#seq++;
      encodeHeader(
        {
          relayDomain: this.dnum,
          source: this.source,
          sequence: this.domain === "market_data" ? 0 : seq,
          payloadSize: k.size - HEADER_SIZE,
        },
        b,
        off,
      );
      writeNsFromMs(b, off + 16, ms);
      let at = off + HEADER_SIZE;
      for (const t of k.kind.tlvs) {
        at = writeTlvHeader(b, at, t.type, t.length);
        // A recognisable, deterministic value: the sequence's low bytes, then a ramp.
        for (let j = 0; j < t.length; j++) b[at + j] = (seq + j) & 0xff;
        at += t.length;
      }
      if (this.domain !== "market_data") sealChecksum(b, off);
      off += k.size;
    }
    return off;
  }

  /** Sends `n` frames (one write); the caller skips a producer whose write is in flight. */
  send(n: number): void {
    const len = this.build(n);
    this.inflight = true;
    writeAll(this.conn, this.#buf.subarray(0, len)).then(
      () => {
        this.inflight = false;
        this.sent += n;
        this.bytes += len;
      },
      (e: Error) => {
        this.inflight = false;
        this.failed ??= e.message;
      },
    );
  }
}

// ----------------------------------------------------------------------------------------------
// Consumers.

/** Latency histograms of one domain: the current interval and the whole run. */
interface DomainLatency {
  interval: Histogram;
  total: Histogram;
}

class Consumer {
  readonly domain: DomainName;
  readonly patterns: string[] | null;
  readonly #path: string;
  readonly #lat: DomainLatency;
  conn: Deno.Conn | null = null;
  frames = 0;
  bytes = 0;
  answers = 0;
  disconnects = 0;
  garbage = 0;
  #buf = new Uint8Array(1 << 18);
  #have = 0;
  #stopped = false;
  done: Promise<void> = Promise.resolve();

  constructor(domain: DomainName, path: string, patterns: string[] | null, lat: DomainLatency) {
    this.domain = domain;
    this.#path = path;
    this.patterns = patterns;
    this.#lat = lat;
  }

  async start(): Promise<void> {
    this.conn = await connectRetry(this.#path, 5000);
    if (this.patterns !== null) {
      await writeAll(this.conn, subscribeFrame(DOMAIN_NUMBERS[this.domain], this.patterns));
    }
    this.done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const conn = this.conn!;
      let n: number | null = null;
      try {
        n = await conn.read(this.#buf.subarray(this.#have));
      } catch {
        n = null;
      }
      if (n === null) {
        if (this.#stopped) return;
        // Unexpected: the relay closed us (slow consumer?). Count it and reconnect.
        this.disconnects++;
        try {
          conn.close();
        } catch { /* already closed */ }
        this.#have = 0;
        try {
          await this.start();
        } catch {
          await sleep(100);
          if (!this.#stopped) this.done = this.#loop();
        }
        return;
      }
      this.#have += n;
      this.#scan();
    }
  }

  /** Walks the complete frames in the buffer; records each one's latency. */
  #scan(): void {
    const b = this.#buf;
    const have = this.#have;
    // Now as (hi, lo) of u64 ns, computed once per read.
    const ms = nowMs();
    const whole = Math.floor(ms);
    const nowNs = whole * 1e6 + Math.round((ms - whole) * 1e6); // ~256 ns granularity
    const lat = this.#lat.interval;
    let off = 0;
    while (have - off >= HEADER_SIZE) {
      if (readU32(b, off) !== 0xdeadbeef) {
        // Should never happen: the relays forward whole frames. Skip a byte and count it.
        this.garbage++;
        off++;
        continue;
      }
      const size = HEADER_SIZE + readU32(b, off + 24);
      if (have - off < size) break;
      const t = b[off + HEADER_SIZE];
      const isAnswer = t === SUBSCRIBE_TLV ||
        (t === 255 && size > HEADER_SIZE + 2 && b[off + HEADER_SIZE + 2] === SUBSCRIBE_TLV);
      if (isAnswer) this.answers++;
      else {
        const ts = readU32(b, off + 20) * 4294967296 + readU32(b, off + 16);
        lat.record(nowNs - ts);
        this.frames++;
        this.bytes += size;
      }
      off += size;
    }
    if (off > 0) {
      b.copyWithin(0, off, have);
      this.#have = have - off;
    }
    if (this.#have === b.length) {
      const bigger = new Uint8Array(b.length * 2);
      bigger.set(b);
      this.#buf = bigger;
    }
  }

  stop(): void {
    this.#stopped = true;
    try {
      this.conn?.close();
    } catch { /* already closed */ }
  }
}

/** A market-data consumer that connects and never reads. */
class Staller {
  conn: Deno.Conn | null = null;
  cycles = 0;
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }
  async connect(): Promise<void> {
    try {
      this.conn?.close();
    } catch { /* the relay closed it */ }
    this.conn = await connectRetry(this.#path, 5000);
    this.cycles++;
  }
  stop(): void {
    try {
      this.conn?.close();
    } catch { /* already closed */ }
  }
}

// ----------------------------------------------------------------------------------------------
// Relay processes.

interface RelayProcess {
  child: Deno.ChildProcess;
  pid: number;
  api: string;
  /** Finishes when stdout and stderr close (drained in the background). */
  drained: Promise<void>;
}

async function spawnTorq(args: string[], logFile: Deno.FsFile): Promise<RelayProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: torqArgs(args),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // stderr: appended to the log file, never to our output. Written chunk by chunk:
  // piped to `logFile.writable` with preventClose, nothing reached the file.
  const logged = (async () => {
    try {
      for await (const chunk of child.stderr) {
        for (let off = 0; off < chunk.length;) off += await logFile.write(chunk.subarray(off));
      }
    } catch { /* closed */ }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let api: string | null = null;
  const until = performance.now() + 30_000;
  while (api === null) {
    const next = await Promise.race([
      reader.read(),
      sleep(Math.max(0, until - performance.now())).then(() => null),
    ]);
    if (next === null || next.done) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      throw new Error(`torq ${args.join(" ")} did not announce its HTTP API; stdout: ${text}`);
    }
    text += next.value;
    const m = /dashboard: (http:\/\/[0-9.]+:\d+)\//.exec(text);
    if (m) api = m[1]!;
  }
  const drained = (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
      }
    } catch { /* closed */ }
    await logged;
  })();
  return { child, pid: child.pid, api, drained };
}

async function stopProcess(p: RelayProcess): Promise<void> {
  try {
    p.child.kill("SIGTERM");
  } catch { /* gone */ }
  const done = await Promise.race([p.child.status.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
    await p.child.status;
  }
  await p.drained;
}

/** VmRSS and VmHWM of a process in MB, and its CPU time in seconds. */
function procStats(pid: number): { rssMb: number; hwmMb: number; cpuS: number } {
  let rssMb = NaN;
  let hwmMb = NaN;
  let cpuS = NaN;
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (rss) rssMb = Number(rss[1]) / 1024;
    if (hwm) hwmMb = Number(hwm[1]) / 1024;
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the command: state is index 0, utime 11, stime 12 (clock ticks, 100 Hz).
    cpuS = (Number(fields[11]) + Number(fields[12])) / 100;
  } catch { /* process gone */ }
  return { rssMb, hwmMb, cpuS };
}

// ----------------------------------------------------------------------------------------------
// Relay API samples.

interface ConnDetail {
  role: string;
  queueFrames: number;
  queueBytes: number;
  dropped: number;
}
interface RelayApiStats {
  name: string;
  framesIn: number;
  framesOut: number;
  drops: Record<string, number>;
  rejects: Record<string, number>;
  slowConsumerDisconnects: number;
  connections: { current: number };
  connectionsDetail: ConnDetail[];
}

async function fetchRelays(
  api: string,
): Promise<{ relays: RelayApiStats[]; process: ProcessInfo }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 3000);
  try {
    const res = await fetch(`${api}/api/relays`, { signal: ctl.signal });
    return await res.json() as { relays: RelayApiStats[]; process: ProcessInfo };
  } finally {
    clearTimeout(timer);
  }
}

/** `torq_slow_consumer_disconnects_total` of the market-data relay, from `/metrics`. */
async function slowDisconnects(api: string): Promise<number> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 3000);
  try {
    const text = await (await fetch(`${api}/metrics`, { signal: ctl.signal })).text();
    const m = /^torq_slow_consumer_disconnects_total\{relay="market_data"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  } finally {
    clearTimeout(timer);
  }
}

interface RelaySample {
  connections: number;
  framesIn: number;
  framesOut: number;
  /** Frames not forwarded, hello excluded (cumulative). */
  drops: number;
  rejects: number;
  slowConsumerDisconnects: number;
  /** Frames queued over all its connections, and the largest single queue. */
  queueFrames: number;
  queueBytes: number;
  maxQueueFrames: number;
}

function summarise(r: RelayApiStats): RelaySample {
  let drops = 0;
  for (const [k, v] of Object.entries(r.drops)) if (k !== "hello") drops += v;
  let rejects = 0;
  for (const v of Object.values(r.rejects)) rejects += v;
  let q = 0;
  let qb = 0;
  let qmax = 0;
  for (const c of r.connectionsDetail) {
    q += c.queueFrames;
    qb += c.queueBytes;
    if (c.queueFrames > qmax) qmax = c.queueFrames;
  }
  return {
    connections: r.connections.current,
    framesIn: r.framesIn,
    framesOut: r.framesOut,
    drops,
    rejects,
    slowConsumerDisconnects: r.slowConsumerDisconnects,
    queueFrames: q,
    queueBytes: qb,
    maxQueueFrames: qmax,
  };
}

interface LatencyUs {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

function latUs(s: HistogramSummary): LatencyUs {
  const us = (ns: number) => Math.round(ns / 100) / 10;
  return {
    count: s.count,
    p50: us(s.p50Ns),
    p99: us(s.p99Ns),
    p999: us(s.p999Ns),
    max: us(s.maxNs),
  };
}

interface Sample {
  /** Seconds since the load started. */
  t: number;
  rssMb: number;
  hwmMb: number;
  /** The relay processes' V8 heap in use and reserved, and their external (ArrayBuffer) memory, MB. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** Relay CPU over the interval, % of one core. */
  cpuPct: number;
  /** This soak process's RSS (MB) and CPU (% of one core), for context: the load generator. */
  soakRssMb: number;
  soakCpuPct: number;
  /** Over the interval, per second: frames into the relays, out of them, read by our consumers. */
  inPerSec: number;
  outPerSec: number;
  recvPerSec: number;
  dropsPerSec: number;
  relays: Record<string, RelaySample & { dropsPerSec: number }>;
  latency: LatencyUs;
  latencyByDomain: Record<string, LatencyUs>;
  stallCycles: number;
  unexpectedDisconnects: number;
}

// ----------------------------------------------------------------------------------------------
// Main.

const tmp = await Deno.makeTempDir({ prefix: "torq-soak-" });
const logPath = OUT === undefined ? `${tmp}/relay.log` : `${OUT}.relay.log`;
const logFile = await Deno.open(logPath, { write: true, create: true, truncate: true });
const outFile = OUT === undefined
  ? null
  : await Deno.open(OUT, { write: true, create: true, truncate: true });
const encoder = new TextEncoder();

function emit(line: string): void {
  if (JSON_OUT) return;
  console.log(line);
  outFile?.writeSync(encoder.encode(line + "\n"));
}

const abort = new AbortController();
const onSignal = () => abort.abort();
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const extra: string[] = ["--log-level", "warn"];
if (values["stall-timeout-ms"] !== undefined) {
  extra.push(
    "--set",
    `relays.market_data.performance.slow_consumer_timeout_ms=${
      Math.round(positive("stall-timeout-ms", values["stall-timeout-ms"]))
    }`,
  );
}

const processes: RelayProcess[] = [];
const paths: Record<DomainName, string> = {
  market_data: `${tmp}/${SOCKET_FILE.market_data}`,
  signal: `${tmp}/${SOCKET_FILE.signal}`,
  execution: `${tmp}/${SOCKET_FILE.execution}`,
};
const producers: Producer[] = [];
const consumers: Consumer[] = [];
let staller: Staller | null = null;
const lat: Record<DomainName, DomainLatency> = {
  market_data: { interval: new Histogram(), total: new Histogram() },
  signal: { interval: new Histogram(), total: new Histogram() },
  execution: { interval: new Histogram(), total: new Histogram() },
};
const samples: Sample[] = [];
let failure: string | null = null;
const started = new Date();

try {
  if (MODE === "up") {
    processes.push(
      await spawnTorq(["up", "--socket-dir", tmp, "--http", "127.0.0.1:0", ...extra], logFile),
    );
  } else {
    for (const d of DOMAINS) {
      const args = ["relay", d, "--socket", paths[d], "--http", "127.0.0.1:0", ...extra];
      if (d === "execution") args.push("--journal", `${tmp}/execution.journal`);
      processes.push(await spawnTorq(args, logFile));
    }
  }

  // Consumers first (so producers' first frames reach them), then the staller, then producers.
  for (const d of DOMAINS) {
    const filters = FILTERS[d];
    const n = d === "market_data" ? CONSUMERS[d] - 1 : CONSUMERS[d];
    for (let i = 0; i < n; i++) {
      const c = new Consumer(d, paths[d], filters[i % filters.length]!, lat[d]);
      await c.start();
      consumers.push(c);
    }
  }
  staller = new Staller(paths.market_data);
  await staller.connect();
  for (const d of DOMAINS) {
    const rate = (RATE * RATE_SHARE[d]) / PRODUCERS[d];
    for (let i = 0; i < PRODUCERS[d]; i++) {
      const conn = await connectRetry(paths[d], 5000);
      const p = new Producer(d, i, rate, conn);
      await writeAll(conn, hello(p.dnum, p.source));
      producers.push(p);
    }
  }
  await sleep(200); // let the Subscribe answers arrive before measuring

  emit(
    `soak: ${MINUTES} min, ${RATE} frames/s total (market_data ${
      Math.round(RATE * RATE_SHARE.market_data)
    }, signal ${Math.round(RATE * RATE_SHARE.signal)}, execution ${
      Math.round(RATE * RATE_SHARE.execution)
    }), ${producers.length} producers, ${consumers.length + 1} consumers (${
      consumers.filter((c) => c.patterns !== null).length
    } filtered, 1 stalled on market_data), mode ${MODE} (pid ${
      processes.map((p) => `${p.pid} ${p.api}`).join(", ")
    }), started ${started.toISOString()}`,
  );
  emit(
    "   t s  RSS MB  HWM MB  heap MB u/t  ext MB  CPU %  gen %   in/s    out/s   recv/s  drop/s  p50 µs  p99 µs  p99.9 µs" +
      "  q md/sig/exec     stall  disc",
  );

  // Producer scheduler: every tick each producer sends what its rate owes it.
  const t0 = performance.now();
  const endAt = t0 + MINUTES * 60_000;
  const owed = producers.map(() => 0);
  const scheduler = (async () => {
    let last = t0;
    while (!abort.signal.aborted && performance.now() < endAt) {
      await sleep(TICK_MS);
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      for (let i = 0; i < producers.length; i++) {
        const p = producers[i]!;
        if (p.failed !== null) continue;
        owed[i]! += p.rate * dt;
        if (owed[i]! > p.rate) {
          // More than a second behind: give up the excess rather than burst.
          p.skipped += Math.floor(owed[i]! - p.rate);
          owed[i] = p.rate;
        }
        if (p.inflight) continue;
        const n = Math.floor(owed[i]!);
        if (n <= 0) continue;
        owed[i]! -= n;
        p.send(n);
      }
    }
  })();

  // Sampler.
  let prevApi: Map<string, RelaySample> | null = null;
  let prevCpu = processes.reduce((s, p) => s + procStats(p.pid).cpuS, 0);
  let prevSelfCpu = procStats(Deno.pid).cpuS;
  let prevT = performance.now();
  let prevRecv = 0;
  let nextSample = t0 + INTERVAL_S * 1000;
  const sampleOnce = async (): Promise<void> => {
    const now = performance.now();
    const dt = (now - prevT) / 1000;
    prevT = now;
    let rss = 0;
    let hwm = 0;
    let cpu = 0;
    for (const p of processes) {
      const s = procStats(p.pid);
      rss += s.rssMb;
      hwm += s.hwmMb;
      cpu += s.cpuS;
    }
    const cpuPct = ((cpu - prevCpu) / dt) * 100;
    prevCpu = cpu;
    const selfCpu = procStats(Deno.pid).cpuS;
    const soakCpuPct = ((selfCpu - prevSelfCpu) / dt) * 100;
    prevSelfCpu = selfCpu;
    const api = new Map<string, RelaySample>();
    let heapUsed = 0;
    let heapTotal = 0;
    let external = 0;
    for (const p of processes) {
      const body = await fetchRelays(p.api);
      for (const r of body.relays) api.set(r.name, summarise(r));
      heapUsed += body.process.heapUsedBytes / 1048576;
      heapTotal += body.process.heapTotalBytes / 1048576;
      external += body.process.externalBytes / 1048576;
    }
    const relays: Sample["relays"] = {};
    let inS = 0;
    let outS = 0;
    let dropS = 0;
    for (const [name, r] of api) {
      const prev = prevApi?.get(name);
      const din = r.framesIn - (prev?.framesIn ?? 0);
      const dout = r.framesOut - (prev?.framesOut ?? 0);
      const ddrop = r.drops - (prev?.drops ?? 0);
      inS += din / dt;
      outS += dout / dt;
      dropS += ddrop / dt;
      relays[name] = { ...r, dropsPerSec: Math.round(ddrop / dt) };
    }
    prevApi = api;
    const recv = consumers.reduce((s, c) => s + c.frames, 0);
    const all = new Histogram();
    const byDomain: Record<string, LatencyUs> = {};
    for (const d of DOMAINS) {
      byDomain[d] = latUs(lat[d].interval.summary());
      all.merge(lat[d].interval);
      lat[d].total.merge(lat[d].interval);
      lat[d].interval.reset();
    }
    const sample: Sample = {
      t: Math.round((now - t0) / 100) / 10,
      rssMb: Math.round(rss * 10) / 10,
      hwmMb: Math.round(hwm * 10) / 10,
      heapUsedMb: Math.round(heapUsed * 10) / 10,
      heapTotalMb: Math.round(heapTotal * 10) / 10,
      externalMb: Math.round(external * 10) / 10,
      cpuPct: Math.round(cpuPct),
      soakRssMb: Math.round(Deno.memoryUsage().rss / 1048576),
      soakCpuPct: Math.round(soakCpuPct),
      inPerSec: Math.round(inS),
      outPerSec: Math.round(outS),
      recvPerSec: Math.round((recv - prevRecv) / dt),
      dropsPerSec: Math.round(dropS),
      relays,
      latency: latUs(all.summary()),
      latencyByDomain: byDomain,
      stallCycles: staller?.cycles ?? 0,
      unexpectedDisconnects: consumers.reduce((s, c) => s + c.disconnects, 0),
    };
    prevRecv = recv;
    samples.push(sample);
    const q = (n: string) => String(relays[n]?.queueFrames ?? "-");
    emit(
      [
        sample.t.toFixed(0).padStart(6),
        sample.rssMb.toFixed(1).padStart(7),
        sample.hwmMb.toFixed(1).padStart(7),
        `${sample.heapUsedMb.toFixed(1)}/${sample.heapTotalMb.toFixed(1)}`.padStart(11),
        sample.externalMb.toFixed(1).padStart(6),
        String(sample.cpuPct).padStart(6),
        String(sample.soakCpuPct).padStart(6),
        String(sample.inPerSec).padStart(6),
        String(sample.outPerSec).padStart(8),
        String(sample.recvPerSec).padStart(8),
        String(sample.dropsPerSec).padStart(7),
        sample.latency.p50.toFixed(0).padStart(7),
        sample.latency.p99.toFixed(0).padStart(7),
        sample.latency.p999.toFixed(0).padStart(9),
        `${q("market_data")}/${q("signal")}/${q("execution")}`.padStart(16),
        String(sample.stallCycles).padStart(9),
        String(sample.unexpectedDisconnects).padStart(5),
      ].join(" "),
    );
  };
  // The staller watch: once a second, when the relay has dropped the stalled consumer
  // (torq_slow_consumer_disconnects_total of market_data went up), a new one takes its place.
  const mdApi = processes[0]!.api; // `torq up`, or the market-data `torq relay` (started first)
  const stallWatch = (async () => {
    let seen = 0;
    while (!abort.signal.aborted && performance.now() < endAt) {
      await sleep(1000);
      try {
        const n = await slowDisconnects(mdApi);
        if (n > seen) {
          seen = n;
          if (!abort.signal.aborted) await staller!.connect();
        }
      } catch { /* the sampler reports API failures */ }
    }
  })();
  // Take the first reading of the counters (not printed) so the first interval has a base.
  {
    const api = new Map<string, RelaySample>();
    for (const p of processes) {
      for (const r of (await fetchRelays(p.api)).relays) api.set(r.name, summarise(r));
    }
    prevApi = api;
  }
  while (!abort.signal.aborted && performance.now() < endAt) {
    const wait = Math.min(nextSample, endAt) - performance.now();
    if (wait > 0) {
      await Promise.race([
        sleep(wait),
        new Promise<void>((r) => abort.signal.addEventListener("abort", () => r(), { once: true })),
      ]);
    }
    if (abort.signal.aborted) break;
    if (performance.now() >= nextSample - 1) {
      try {
        await sampleOnce();
      } catch (e) {
        emit(`sample failed: ${(e as Error).message}`);
      }
      nextSample += INTERVAL_S * 1000;
    }
  }
  await scheduler;
  await stallWatch;
  if (abort.signal.aborted) failure = "interrupted (SIGINT/SIGTERM) before the end";
  for (const p of producers) if (p.failed !== null) failure ??= `producer failed: ${p.failed}`;
} catch (e) {
  failure = (e as Error).stack ?? String(e);
}

// ----------------------------------------------------------------------------------------------
// Shutdown and verdict.

await sleep(500);
for (const p of producers) {
  try {
    p.conn.close();
  } catch { /* closed */ }
}
for (const c of consumers) c.stop();
staller?.stop();
await Promise.allSettled(consumers.map((c) => c.done));
const lastRss = processes.map((p) => procStats(p.pid));
for (const p of processes) await stopProcess(p);
Deno.removeSignalListener("SIGINT", onSignal);
Deno.removeSignalListener("SIGTERM", onSignal);

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

const runS = samples.length === 0 ? 0 : samples[samples.length - 1]!.t;
const tail = samples.filter((s) => s.t >= runS / 3);
const slopeMbPerMin = slope(tail.map((s) => s.t / 60), tail.map((s) => s.rssMb));
const maxRss = Math.max(...samples.map((s) => s.rssMb));
// VmHWM: the processes' peak RSS, read just before they were stopped (else the last sample's).
const hwmTotal = lastRss.length > 0 && lastRss.every((s) => !Number.isNaN(s.hwmMb))
  ? lastRss.reduce((a, s) => a + s.hwmMb, 0)
  : Math.max(0, ...samples.map((s) => s.hwmMb));
const maxQueueMd = Math.max(0, ...samples.map((s) => s.relays.market_data?.maxQueueFrames ?? 0));
const total = new Histogram();
const totalByDomain: Record<string, LatencyUs> = {};
for (const d of DOMAINS) {
  totalByDomain[d] = latUs(lat[d].total.summary());
  total.merge(lat[d].total);
}
const sent = producers.reduce((s, p) => s + p.sent, 0);
const skipped = producers.reduce((s, p) => s + p.skipped, 0);
const received = consumers.reduce((s, c) => s + c.frames, 0);
const garbage = consumers.reduce((s, c) => s + c.garbage, 0);
const lastRelays = samples.length === 0 ? {} : samples[samples.length - 1]!.relays;
const flat = Number.isFinite(slopeMbPerMin) && slopeMbPerMin <= FLAT_SLOPE_MB_PER_MIN;
const windowMin = tail.length < 2 ? 0 : (tail[tail.length - 1]!.t - tail[0]!.t) / 60;
/** Below this window the slope is mostly noise (GC cycles of a few MB). */
const conclusive = windowMin >= MIN_VERDICT_WINDOW_MIN;
const underTarget = samples.length > 0 && maxRss <= RSS_TARGET_MB;
// Bounded under the stalled consumer: its queue never went past the relay's limit (dropping the
// oldest frames instead) and the relay's RSS did not keep growing.
const stallQueueBounded = samples.length > 0 && maxQueueMd <= MD_MAX_QUEUE_FRAMES;
const stallBounded = stallQueueBounded && flat;

const verdict = {
  samples: samples.length,
  runSeconds: runS,
  rssSlopeMbPerMin: Math.round(slopeMbPerMin * 100) / 100,
  rssSlopeWindow: tail.length === 0 ? null : [tail[0]!.t, tail[tail.length - 1]!.t],
  flatMemory: flat,
  /** False when the slope window is under MIN_VERDICT_WINDOW_MIN minutes (run ≥ 15 min). */
  conclusive,
  flatThresholdMbPerMin: FLAT_SLOPE_MB_PER_MIN,
  maxRssMb: Number.isFinite(maxRss) ? maxRss : null,
  hwmMb: Math.round(hwmTotal * 10) / 10,
  rssTargetMb: RSS_TARGET_MB,
  rssUnderTarget: underTarget,
  stalledConsumer: {
    cycles: staller?.cycles ?? 0,
    maxMarketDataQueueFrames: maxQueueMd,
    queueLimitFrames: MD_MAX_QUEUE_FRAMES,
    queueBounded: stallQueueBounded,
    marketDataDrops: lastRelays.market_data?.drops ?? null,
    bounded: stallBounded,
  },
  frames: { sent, skippedByScheduler: skipped, receivedByConsumers: received, garbage },
  rejects: Object.fromEntries(Object.entries(lastRelays).map(([k, r]) => [k, r.rejects])),
  unexpectedDisconnects: consumers.reduce((s, c) => s + c.disconnects, 0),
  latencyUs: latUs(total.summary()),
  latencyUsByDomain: totalByDomain,
  failure,
};

if (JSON_OUT) {
  const report = {
    started: started.toISOString(),
    config: {
      minutes: MINUTES,
      rate: RATE,
      clients: CLIENTS,
      producers: PRODUCERS,
      consumers: CONSUMERS,
      intervalSeconds: INTERVAL_S,
      mode: MODE,
      stallTimeoutMs: values["stall-timeout-ms"] ?? null,
      machine: { cores: navigator.hardwareConcurrency, deno: Deno.version.deno },
    },
    samples,
    verdict,
  };
  const text = JSON.stringify(report, null, 2);
  console.log(text);
  outFile?.writeSync(encoder.encode(text + "\n"));
} else {
  const l = verdict.latencyUs;
  emit("");
  emit(
    `verdict: RSS slope ${verdict.rssSlopeMbPerMin} MB/min over t=${
      verdict.rssSlopeWindow?.join("–") ?? "?"
    } s (${flat ? "flat" : "NOT flat"}, threshold ${FLAT_SLOPE_MB_PER_MIN} MB/min${
      conclusive
        ? ""
        : `; a ${windowMin.toFixed(1)} min window is too short to call, run ≥ 15 min for a verdict`
    }); max RSS ${verdict.maxRssMb} MB, VmHWM ${verdict.hwmMb} MB (target ≤ ${RSS_TARGET_MB} MB: ${
      underTarget ? "met" : "NOT met"
    })`,
  );
  emit(
    `stalled consumer: ${verdict.stalledConsumer.cycles} stall cycle(s), largest market-data queue ${maxQueueMd} frames (limit ${MD_MAX_QUEUE_FRAMES}: ${
      stallQueueBounded ? "held" : "EXCEEDED"
    }), ${
      verdict.stalledConsumer.marketDataDrops ?? "?"
    } market-data frames dropped; bounded (queue held and RSS flat): ${
      stallBounded ? "yes" : "NO"
    }`,
  );
  emit(
    `frames: sent ${sent}, skipped by the scheduler ${skipped}, received by consumers ${received}, garbage ${garbage}, unexpected consumer disconnects ${verdict.unexpectedDisconnects}; rejects ${
      JSON.stringify(verdict.rejects)
    }`,
  );
  emit(
    `latency (consumer-measured, whole run): p50 ${l.p50} µs, p99 ${l.p99} µs, p99.9 ${l.p999} µs, max ${l.max} µs over ${l.count} frames; by domain ${
      DOMAINS.map((d) => {
        const x = totalByDomain[d]!;
        return `${d} ${x.p50}/${x.p99}/${x.p999}`;
      }).join(", ")
    } (p50/p99/p99.9 µs)`,
  );
  if (failure !== null) emit(`FAILED: ${failure}`);
  if (OUT !== undefined) emit(`relay stderr: ${logPath}`);
}
outFile?.close();
logFile.close();
await Deno.remove(tmp, { recursive: true }).catch(() => {});
Deno.exit(failure === null ? 0 : 1);
