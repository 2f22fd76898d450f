/**
 * The fuzzer's live-relay stage: a real `torq relay <domain>` process takes
 * mutated byte streams on one producer connection, batch after batch, while a
 * separate consumer must keep receiving canaries:
 *
 * - after each batch the fuzzing connection sends `max_message_size` zero
 *   bytes (they complete any partial frame the batch left, then count as
 *   garbage) and a valid "resync" canary: receiving it proves the relay
 *   re-framed the whole batch and still serves that connection;
 * - a clean second producer sends a canary too: receiving it proves the other
 *   clients are unaffected.
 *
 * The consumer must receive both canaries of every batch (bounded wait), and
 * only whole frames that the relay's own policy accepts; the relay process
 * must stay alive. Its RSS is sampled from `/proc/<pid>/status` after every
 * batch.
 *
 * @module
 */

import { FrameReader } from "../src/protocol/frame_reader.ts";
import { HEADER_SIZE, sealChecksum, writeU64 } from "../src/protocol/header.ts";
import { Status } from "../src/protocol/errors.ts";
import { auditTlvRanges, SequenceState, Validator } from "../src/relay/policy.ts";
import { nowMs } from "../src/protocol/clock.ts";
import {
  helloFrame,
  makeFrame,
  type Profile,
  PROFILES,
  type RelayArg,
  startRelay,
} from "../tests/_support/relay.ts";
import { writeAll } from "../src/io/mod.ts";
import { Mutator, Rng, seedCorpus } from "./_fuzz_core.ts";

/** Options of {@linkcode fuzzRelay}. */
export interface RelayFuzzOptions {
  /** Which relay. */
  domain: RelayArg;
  /** Seed (default 1). */
  seed?: number;
  /** Mutants to send (default 20,000 unless `seconds` is given). */
  frames?: number;
  /** Stop after this long. */
  seconds?: number;
  /** Mutants per batch (default 500). */
  batch?: number;
  /** Frames to mutate from (default: the seed corpus). */
  corpus?: Uint8Array[];
  /** Bound of the wait for each batch's canaries (default 10,000 ms). */
  canaryTimeoutMs?: number;
  /** Extra `torq relay` arguments. */
  relayArgs?: string[];
}

/** What {@linkcode fuzzRelay} reports. */
export interface RelayFuzzReport {
  /** The relay. */
  domain: RelayArg;
  /** Mutants sent. */
  framesSent: number;
  /** Bytes sent on fuzzing connections (mutants, padding, canaries). */
  bytesSent: number;
  /** Batches sent. */
  batches: number;
  /** Canaries of the clean producer: sent and received. */
  canaries: { sent: number; received: number };
  /** Resync canaries of the fuzzing connection: sent and received. */
  resyncCanaries: { sent: number; received: number };
  /** Frames the consumer received besides canaries (mutants the policy accepted). */
  forwardedMutants: number;
  /** Received frames the relay's own policy would reject (must be 0). */
  forwardedInvalid: number;
  /** Bytes the consumer received that were not whole frames (must be 0). */
  consumerGarbageBytes: number;
  /** Times the relay closed the fuzzing connection (e.g. max_garbage_bytes) and it reconnected. */
  fuzzReconnects: number;
  /** Whether the relay process was alive after every batch. */
  relayAlive: boolean;
  /** Relay exit code after the final SIGTERM (0 = graceful). */
  exitCode: number | null;
  /** Relay resident memory (kB): after the first batch, highest seen, last. */
  rssKb: { start: number; peak: number; end: number };
  /** Relay log lines by level. */
  logLevels: Record<string, number>;
  /** `rejected frame` log lines by code (rate-limited samples, not totals). */
  sampledRejects: Record<string, number>;
  /** Why connections were closed, from the relay's log (reason: count). */
  closeReasons: Record<string, number>;
  /** Wall time. */
  elapsedMs: number;
  /** First problems met (missed canaries, invalid frames, relay exit). */
  problems: string[];
}

/**
 * Resident memory of a process in kB.
 *
 * @param pid process id
 * @returns VmRSS, or 0 when the process is gone
 * @example
 * ```ts
 * rssKb(Deno.pid); // e.g. 85000
 * ```
 */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Consumer side: re-frames what the relay writes and looks for the canaries. */
class Consumer {
  readonly reader = new FrameReader({ capacity: 262_144 });
  readonly #conn: Deno.Conn;
  readonly #profile: Profile;
  readonly #validator: Validator;
  #pending: Promise<number | null> | null = null;
  received = 0;
  invalid = 0;
  eof = false;

  constructor(conn: Deno.Conn, profile: Profile) {
    this.#conn = conn;
    this.#profile = profile;
    this.#validator = new Validator({
      policy: profile.name === "market_data"
        ? "performance"
        : profile.name === "signal"
        ? "standard"
        : "audit",
      strict: true,
      allowedTlv: auditTlvRanges(profile.domain, false),
      strictSourceCheck: false,
      maxSequenceGap: Number.MAX_SAFE_INTEGER,
      maxFutureMs: Number.MAX_SAFE_INTEGER,
      maxAgeMs: Number.MAX_SAFE_INTEGER,
    });
  }

  /**
   * Reads until every wanted frame has arrived or the deadline passes.
   *
   * @returns the wanted frames that were not seen
   */
  async waitFor(
    wanted: Uint8Array[],
    deadline: number,
    problems: string[],
  ): Promise<Set<Uint8Array>> {
    const left = new Set(wanted);
    while (left.size > 0) {
      const r = this.reader;
      while (r.next()) {
        const s = r.frameStart;
        const e = r.frameEnd;
        let canary = false;
        for (const w of left) {
          if (w.length === e - s && equal(w, r.buffer, s)) {
            left.delete(w);
            canary = true;
            break;
          }
        }
        if (canary) continue;
        this.received++;
        if (!this.#valid(r.buffer, s, e) && this.invalid++ < 5) {
          problems.push(`forwarded a frame its policy rejects: ${hexHead(r.buffer, s, e)}`);
        }
      }
      if (this.eof || left.size === 0) break;
      this.#pending ??= this.#conn.read(this.reader.writable(65_536));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.#pending,
        new Promise<"timeout">((res) => {
          timer = setTimeout(() => res("timeout"), Math.max(0, deadline - Date.now()));
        }),
      ]).catch(() => null);
      clearTimeout(timer);
      if (n === "timeout") break;
      this.#pending = null;
      if (n === null) {
        this.eof = true;
        break;
      }
      this.reader.commit(n);
    }
    return left;
  }

  #valid(b: Uint8Array, s: number, e: number): boolean {
    if (b[s + 4] !== this.#profile.domain) return false;
    if (e - s === HEADER_SIZE) return false; // hellos are never forwarded
    const v = this.#validator;
    if (v.check(b, s, e, new SequenceState(), nowMs()) !== Status.OK) return false;
    // Strict relays drop these soft failures too.
    const strictSoft = (1 << Status.MissingChecksum) | (1 << Status.UnknownSource);
    return v.policy !== "audit" || (v.soft & strictSoft) === 0;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }
}

function equal(w: Uint8Array, b: Uint8Array, s: number): boolean {
  for (let i = 0; i < w.length; i++) if (w[i] !== b[s + i]) return false;
  return true;
}

function hexHead(b: Uint8Array, s: number, e: number): string {
  let out = "";
  for (let i = s; i < Math.min(e, s + 48); i++) out += b[i]!.toString(16).padStart(2, "0");
  return out;
}

function isClosedError(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.NotConnected;
}

/** A fuzzing connection with a background reader that discards what the relay writes to it. */
async function fuzzConnection(path: string): Promise<{ conn: Deno.Conn; done: Promise<void> }> {
  const conn = await Deno.connect({ transport: "unix", path });
  const sink = new Uint8Array(65_536);
  const done = (async () => {
    try {
      while ((await conn.read(sink)) !== null) {
        // discard
      }
    } catch {
      // closed
    }
  })();
  return { conn, done };
}

/**
 * Fuzzes a live relay process (see the module doc).
 *
 * @param options relay, seed, bounds
 * @returns the report
 * @example
 * ```ts
 * const report = await fuzzRelay({ domain: "signal", frames: 2_000 });
 * console.log(report.relayAlive, report.canaries);
 * ```
 */
export async function fuzzRelay(options: RelayFuzzOptions): Promise<RelayFuzzReport> {
  const profile = PROFILES.find((p) => p.arg === options.domain)!;
  const seed = options.seed ?? 1;
  const maxFrames = options.frames ?? (options.seconds === undefined ? 20_000 : Infinity);
  const deadline = options.seconds === undefined ? Infinity : Date.now() + options.seconds * 1000;
  const batchSize = options.batch ?? 500;
  const canaryTimeoutMs = options.canaryTimeoutMs ?? 10_000;
  const rng = new Rng(seed ^ profile.domain);
  const mutator = new Mutator(rng, (options.corpus ?? seedCorpus(seed)).slice());
  const started = Date.now();
  const report: RelayFuzzReport = {
    domain: options.domain,
    framesSent: 0,
    bytesSent: 0,
    batches: 0,
    canaries: { sent: 0, received: 0 },
    resyncCanaries: { sent: 0, received: 0 },
    forwardedMutants: 0,
    forwardedInvalid: 0,
    consumerGarbageBytes: 0,
    fuzzReconnects: 0,
    relayAlive: true,
    exitCode: null,
    rssKb: { start: 0, peak: 0, end: 0 },
    logLevels: {},
    sampledRejects: {},
    closeReasons: {},
    elapsedMs: 0,
    problems: [],
  };
  const relay = await startRelay(options.domain, { args: options.relayArgs ?? [] });
  const pid = relay.child.pid;
  const consumerConn = await Deno.connect({ transport: "unix", path: relay.path });
  const consumer = new Consumer(consumerConn, profile);
  const clean = await Deno.connect({ transport: "unix", path: relay.path });
  let fuzz: { conn: Deno.Conn; done: Promise<void> } | null = null;
  const pad = new Uint8Array(profile.maxMessageSize);
  try {
    await writeAll(clean, helloFrame()); // publish-only: it never needs to read
    fuzz = await fuzzConnection(relay.path);
    let cleanSeq = 1;
    while (report.framesSent < maxFrames && Date.now() < deadline) {
      const n = Math.min(batchSize, maxFrames - report.framesSent);
      const parts: Uint8Array[] = [];
      let size = 0;
      for (let i = 0; i < n; i++) {
        const m = relayFixups(mutator.next(), profile, rng);
        parts.push(m);
        size += m.length;
      }
      const resync = makeFrame(profile, 0, { tag: report.batches & 0xff });
      const batch = new Uint8Array(size + pad.length + resync.length);
      let off = 0;
      for (const p of parts) {
        batch.set(p, off);
        off += p.length;
      }
      batch.set(resync, off + pad.length);
      const canary = makeFrame(profile, cleanSeq++, { tag: 0xca });
      let cut = false;
      try {
        await writeAll(fuzz.conn, batch);
      } catch (e) {
        if (!isClosedError(e)) throw e;
        // The relay closed the fuzzing connection (e.g. max_garbage_bytes): reconnect.
        cut = true;
        report.fuzzReconnects++;
        fuzz.conn.close();
        await fuzz.done;
        fuzz = await fuzzConnection(relay.path);
      }
      await writeAll(clean, canary);
      report.framesSent += n;
      report.bytesSent += batch.length;
      report.batches++;
      report.canaries.sent++;
      report.resyncCanaries.sent++;
      // A batch cut short by a reconnect has no resync canary to wait for.
      const missing = await consumer.waitFor(
        cut ? [canary] : [canary, resync],
        Date.now() + canaryTimeoutMs,
        report.problems,
      );
      if (missing.has(canary)) {
        report.problems.push(`batch ${report.batches}: the other producer's canary did not arrive`);
      } else report.canaries.received++;
      if (missing.has(resync)) {
        report.problems.push(`batch ${report.batches}: the resync canary did not arrive`);
      } else if (!cut) report.resyncCanaries.received++;
      if (cut) report.resyncCanaries.sent--;
      const rss = rssKb(pid);
      if (report.batches === 1) report.rssKb.start = rss;
      report.rssKb.peak = Math.max(report.rssKb.peak, rss);
      report.rssKb.end = rss;
      if (relay.exited()) {
        report.relayAlive = false;
        report.problems.push(`the relay exited after batch ${report.batches}`);
        break;
      }
      if (consumer.eof) {
        report.problems.push(`the relay closed the consumer after batch ${report.batches}`);
        break;
      }
    }
  } finally {
    report.forwardedMutants = consumer.received;
    report.forwardedInvalid = consumer.invalid;
    report.consumerGarbageBytes = consumer.reader.garbageBytes;
    if (fuzz !== null) {
      fuzz.conn.close();
      await fuzz.done;
    }
    clean.close();
    consumer.close();
    report.relayAlive &&= !relay.exited();
    const stopped = await relay.stop();
    report.exitCode = stopped.code;
    for (const l of relay.logs()) {
      report.logLevels[l.level] = (report.logLevels[l.level] ?? 0) + 1;
      if (l.msg === "rejected frame") {
        const code = String(l.code);
        report.sampledRejects[code] = (report.sampledRejects[code] ?? 0) + 1;
      }
      if (l.msg === "connection closed") {
        const why = String(l.reason).replace(/\d+/g, "N");
        report.closeReasons[why] = (report.closeReasons[why] ?? 0) + 1;
      }
    }
    report.elapsedMs = Date.now() - started;
  }
  return report;
}

/**
 * Makes a mutant likelier to reach the relay's deeper checks: often in the
 * relay's own domain, stamped now (the audit window), unsequenced (execution)
 * and resealed.
 */
function relayFixups(m: Uint8Array, profile: Profile, rng: Rng): Uint8Array {
  if (m.length < HEADER_SIZE || m[0] !== 0xef || m[5] !== 1) return m;
  let touched = false;
  if (rng.chance(0.5)) {
    m[4] = profile.domain;
    touched = true;
  }
  if (rng.chance(0.4)) {
    writeU64(m, 16, BigInt(Date.now()) * 1_000_000n);
    touched = true;
  }
  if (profile.name === "execution" && rng.chance(0.5)) {
    m.fill(0, 8, 16); // unsequenced: past the audit policy's per-source sequence check
    touched = true;
  }
  const honest = m.length - HEADER_SIZE ===
    (m[24]! | (m[25]! << 8) | (m[26]! << 16) | (m[27]! << 24)) >>> 0;
  if (touched && honest && rng.chance(0.8)) sealChecksum(m, 0);
  return m;
}

/**
 * The report as printable lines.
 *
 * @param r a report
 * @returns text
 * @example
 * ```ts
 * console.log(formatRelayReport(await fuzzRelay({ domain: "signal", frames: 1_000 })));
 * ```
 */
export function formatRelayReport(r: RelayFuzzReport): string {
  const kv = (o: Record<string, number>) =>
    Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return [
    `live relay ${r.domain}: ${r.framesSent} mutants in ${r.batches} batches (${
      (r.bytesSent / 1e6).toFixed(1)
    } MB) in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `  canaries (other producer) ${r.canaries.received}/${r.canaries.sent}, resync canaries ${r.resyncCanaries.received}/${r.resyncCanaries.sent}, relay alive after every batch: ${
      r.relayAlive ? "yes" : "NO"
    }, exit ${r.exitCode}`,
    `  forwarded mutants ${r.forwardedMutants}, forwarded invalid ${r.forwardedInvalid}, consumer garbage bytes ${r.consumerGarbageBytes}, fuzz reconnects ${r.fuzzReconnects}`,
    `  relay RSS ${r.rssKb.start} kB after batch 1, peak ${r.rssKb.peak} kB, end ${r.rssKb.end} kB`,
    `  log lines: ${kv(r.logLevels)}; sampled rejects: ${kv(r.sampledRejects)}`,
    `  closes: ${kv(r.closeReasons)}`,
    ...r.problems.slice(0, 10).map((p) => `  PROBLEM ${p}`),
  ].join("\n");
}
