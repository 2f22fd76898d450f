/**
 * A model-based stress test of the relays: seeded, bounded in time, real
 * `torq relay` processes with the slab pools' checking mode on.
 *
 * Producers (paced or unthrottled, each with its own source and sequence)
 * send frames that are a pure function of (producer, sequence), mixed with bad
 * copies the relay must reject. Consumers read fast, pause and resume,
 * disconnect and reconnect, or subscribe to one producer; small queue limits
 * make them overflow on every domain. Every frame a consumer receives is
 * checked against the model: it was sent (byte-exact), arrives once and in its
 * producer's order (without gaps on the execution relay, which never drops),
 * and only when the consumer's filter matches it. At the end the relay's
 * counters must add up, connection by connection (queued = delivered +
 * dropped + undelivered; delivered = what the consumer read when the relay
 * closed it) and in all (frames in = forwarded + rejected + control).
 *
 *   TORQ_STRESS_SECONDS   seconds of traffic per relay (default 3; `deno task stress` runs 60)
 *   TORQ_STRESS_SEED      the seed (default: random; printed, so a failure can be replayed)
 */

import assert from "node:assert/strict";
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { frameChecksum } from "../src/protocol/crc32.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodeSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { hex, type LogLine, prng, type RelayArg, startRelay } from "./_support/relay.ts";
import { writeAll } from "../src/io/mod.ts";

const SECONDS = Number(Deno.env.get("TORQ_STRESS_SECONDS") ?? "3");
const SEED = Number(Deno.env.get("TORQ_STRESS_SEED") ?? Math.floor(Math.random() * 2 ** 31));
/** The slab pools' checking mode (TORQ_STRESS_CHECK=0 turns it off, to see what the model alone finds). */
const CHECK_POOLS = { TORQ_CHECK_POOLS: Deno.env.get("TORQ_STRESS_CHECK") ?? "1" };
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How frames of one relay look, and how its policy treats a bad copy. */
interface Domain {
  arg: RelayArg;
  name: string;
  wire: number;
  /** (TLV type, value length) choices; the execution relay checks registry sizes. */
  tlvs: readonly (readonly [number, number])[];
  checksum: boolean;
  /** Whether a consumer's stream may have gaps (drop policy) or must not (disconnect). */
  drops: boolean;
}

const DOMAINS: readonly Domain[] = [
  {
    arg: "market-data",
    name: "market_data",
    wire: 1,
    tlvs: [[202, 30], [202, 120], [202, 400], [202, 1500]],
    checksum: false,
    drops: true,
  },
  {
    arg: "signal",
    name: "signal",
    wire: 2,
    tlvs: [[202, 20], [202, 170], [202, 700]],
    checksum: true,
    drops: true,
  },
  {
    arg: "execution",
    name: "execution",
    wire: 3,
    tlvs: [[40, 32], [41, 24], [42, 32], [43, 16], [45, 48]],
    checksum: true,
    drops: false,
  },
];

/** Header source of producer `pid`. */
const sourceOf = (pid: number) => 60 + pid;

/** A 32-bit mix of two numbers. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

/** The frame producer `pid` sends with sequence `seq`: a pure function of both. */
function frameFor(d: Domain, pid: number, seq: number, t0: bigint): Uint8Array {
  const h = mix(pid, seq);
  const [type, len] = d.tlvs[h % d.tlvs.length]!;
  const ext = len > 255;
  const size = 32 + (ext ? 5 : 2) + len;
  const f = new Uint8Array(size);
  const v = new DataView(f.buffer);
  v.setUint32(0, 0xdeadbeef, true);
  f[4] = d.wire;
  f[5] = 1;
  f[6] = sourceOf(pid);
  v.setBigUint64(8, BigInt(seq), true);
  v.setBigUint64(16, t0 + BigInt(seq), true);
  v.setUint32(24, size - 32, true);
  let at = 32;
  if (ext) {
    f.set([255, 0, type, len & 0xff, len >> 8], at);
    at += 5;
  } else {
    f.set([type, len], at);
    at += 2;
  }
  v.setUint32(at, seq, true);
  for (let i = 4; i < len; i++) f[at + i] = (h + i * 31) & 0xff;
  if (d.checksum) v.setUint32(28, frameChecksum(f, 0, size - 32), true);
  return f;
}

/** A copy the relay must reject: a flipped byte under a checksum, else another domain. */
function badCopy(d: Domain, good: Uint8Array): Uint8Array {
  const bad = good.slice();
  if (d.checksum) bad[bad.length - 1]! ^= 0x5a;
  else bad[4] = d.wire === 1 ? 2 : 1;
  return bad;
}

/** One connection of a consumer, as observed by the test. */
interface Incarnation {
  tag: number;
  kind: string;
  /** Sources it may receive (null: all). */
  only: number | null;
  received: number;
  /** Whether the test closed it (else the relay did, and it was read to its end). */
  closedByUs: boolean;
}

Deno.test(`stress: random producers and consumers on every relay, every frame accounted for (seed ${SEED})`, async (t) => {
  for (const d of DOMAINS) {
    await t.step(d.arg, () => stress(d, SEED + d.wire));
  }
});

async function stress(d: Domain, seed: number): Promise<void> {
  const rand = prng(seed);
  const relay = await startRelay(d.arg, {
    env: CHECK_POOLS,
    args: [
      // Every close has a line: past 20 warnings a second the relay logs them at debug.
      "--log-level",
      "debug",
      "--set",
      `relays.${d.name}.performance.max_queue_frames=2000`,
      "--set",
      `relays.${d.name}.performance.slow_consumer_timeout_ms=800`,
    ],
  });
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const deadline = Date.now() + SECONDS * 1000;
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 20) failures.push(what);
  };

  // -- producers ---------------------------------------------------------------------------
  const producers = 2 + Math.floor(rand() * 2);
  const sent = { good: 0, bad: 0, hello: 0 };
  const producing = Array.from({ length: producers }, async (_, pid) => {
    const paced = rand() < 0.5;
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    const hello = new Uint8Array(32);
    new DataView(hello.buffer).setUint32(0, 0xdeadbeef, true);
    hello.set([d.wire, 1, sourceOf(pid)], 4);
    await writeAll(conn, hello);
    sent.hello++;
    let seq = 0;
    while (Date.now() < deadline && failures.length === 0) {
      const parts: Uint8Array[] = [];
      let bytes = 0;
      const target = paced ? 1 + Math.floor(rand() * 20) : 400;
      for (let i = 0; i < target; i++) {
        const good = frameFor(d, pid, ++seq, t0);
        if (mix(seed, seq * 7 + pid) % 97 === 0) {
          parts.push(badCopy(d, good));
          sent.bad++;
        }
        parts.push(good);
        sent.good++;
        bytes += good.length;
      }
      try {
        await writeAll(conn, concatAll(parts, bytes * 2));
      } catch (e) {
        fail(`producer ${pid} was disconnected by the relay: ${(e as Error).message}`);
        break;
      }
      await delay(paced ? 1 + Math.floor(rand() * 4) : 0);
    }
    return conn;
  });

  // -- consumers ---------------------------------------------------------------------------
  const incarnations: Incarnation[] = [];
  let nextTag = 1_000_000;
  const kinds = ["fast", "pausing", "churning", "filtered", "stopping"] as const;
  const consuming = kinds.map(async (kind) => {
    while (Date.now() < deadline && failures.length === 0) {
      const only = kind === "filtered" ? sourceOf(Math.floor(rand() * producers)) : null;
      const inc: Incarnation = { tag: nextTag++, kind, only, received: 0, closedByUs: false };
      incarnations.push(inc);
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ transport: "unix", path: relay.path });
      } catch (e) {
        fail(`the relay is gone: ${(e as Error).message}`);
        break;
      }
      // A unique pattern names this connection in the relay's "subscribed" log line.
      const patterns = [only === null ? "*" : `source.${only}`, `source.${inc.tag}`];
      await writeAll(
        conn,
        new MessageBuilder({ domain: 4, source: 20 }).begin({ sequence: 0 })
          .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: 0, patterns })).build(),
      ).catch(() => {});
      // Churning consumers leave on their own; the others read until the relay, stopping at the
      // end, closes them (or cuts them off earlier), so what they read is what it delivered.
      const until = kind === "churning" ? Date.now() + 50 + rand() * 500 : deadline + 20_000;
      const stopAt = kind === "stopping" ? Date.now() + rand() * 300 : Infinity;
      const ended = await consume(d, conn, inc, {
        until,
        pauseMs: () => kind === "pausing" && rand() < 0.05 ? Math.floor(rand() * 300) : 0,
        stopAt,
        t0,
        fail,
      });
      if (!ended) {
        inc.closedByUs = true;
        conn.close();
      }
    }
  });

  const producerConns = await Promise.all(producing);
  for (const c of producerConns) c.close();

  // The live consumers read until the relay, stopping, closes them (it flushes first).
  const stopping = relay.stop();
  await Promise.all(consuming);
  const end = await stopping;
  assert.deepEqual(failures, [], `seed ${seed}: the model found differences`);
  assert.equal(end.code, 0, end.stderr.slice(-2000));

  // -- the relay's counters ----------------------------------------------------------------
  const logs = relay.logs();
  const errors = logs.filter((l) => l.level === "error");
  assert.deepEqual(errors.map((l) => l.msg), [], "no error lines (pool invariants hold)");
  const stopped = logs.find((l) => l.msg === "stopped")!;
  assert.equal(stopped.frames_forwarded, sent.good, "every good frame forwarded");
  assert.equal(stopped.frames_rejected, sent.bad, "every bad copy rejected");
  assert.equal(
    Number(stopped.frames_in),
    Number(stopped.frames_forwarded) + Number(stopped.frames_rejected) + Number(stopped.control) +
      Number(stopped.journal_refused ?? 0),
    `frames in = forwarded + rejected + control: ${JSON.stringify(stopped)}`,
  );
  const idOf = new Map<number, number>();
  for (const l of logs) {
    if (l.msg !== "subscribed") continue;
    const m = String(l.patterns).match(/source\.(\d{7})/);
    if (m !== null) idOf.set(Number(m[1]), l.conn!);
  }
  const closedLines = new Map<number, LogLine>();
  for (const l of logs) if (l.msg === "connection closed") closedLines.set(l.conn!, l);
  let checked = 0;
  for (const inc of incarnations) {
    const id = idOf.get(inc.tag);
    if (id === undefined) continue; // closed before its Subscribe was read
    const line = closedLines.get(id);
    assert.ok(line !== undefined, `no close line for conn ${id}`);
    const what = `${inc.kind} conn ${id}: ${JSON.stringify(line)}`;
    assert.equal(
      Number(line.frames_out) + Number(line.dropped) + Number(line.undelivered_frames),
      Number(line.frames_queued),
      `queued = delivered + dropped + undelivered, ${what}`,
    );
    if (!d.drops) assert.equal(line.dropped, 0, `the execution relay never drops, ${what}`);
    // +1: the Subscribe answer is a frame the relay delivered too.
    if (inc.closedByUs) {
      assert.ok(inc.received <= Number(line.frames_out), `read ≤ delivered, ${what}`);
    } else {
      assert.equal(inc.received, Number(line.frames_out), `read = delivered, ${what}`);
    }
    checked++;
  }
  assert.ok(checked >= kinds.length, `only ${checked} consumer connections checked`);
  console.log(
    `  ${d.arg}: seed ${seed}, ${producers} producers, ${sent.good} frames + ${sent.bad} bad, ` +
      `${checked} consumer connections; stalls ${stopped.stalls}, dropped ${stopped.dropped}, ` +
      `undelivered ${stopped.undelivered}`,
  );
}

/**
 * Reads one consumer connection, checking every frame against the model.
 *
 * @returns true when the relay ended the stream, false when `until` passed
 */
async function consume(
  d: Domain,
  conn: Deno.Conn,
  inc: Incarnation,
  o: {
    until: number;
    stopAt: number;
    pauseMs: () => number;
    t0: bigint;
    fail: (what: string) => void;
  },
): Promise<boolean> {
  const reader = new FrameReader({ capacity: 1 << 20 });
  const last = new Map<number, number>();
  let stopped = false;
  // Frames queued before the relay applied the Subscribe come first, unfiltered.
  let answered = false;
  for (;;) {
    if (Date.now() > o.until) return false;
    if (!stopped && Date.now() > o.stopAt) {
      stopped = true; // stops reading until the relay cuts it off (or the run ends)
      while (Date.now() < o.until) {
        await delay(20);
        if (Date.now() > o.until) return false;
        // A relay that cut it off left everything before the cut in the socket.
        if (Date.now() > o.stopAt + 2_000) break;
      }
    }
    const read = conn.read(reader.writable(1 << 16));
    const n = await Promise.race([
      read.catch(() => null),
      delay(Math.max(1, o.until - Date.now())).then(() => "timeout" as const),
    ]);
    if (n === "timeout") {
      read.catch(() => {});
      return false;
    }
    if (n === null) return true;
    reader.commit(n);
    while (reader.next()) {
      const b = reader.buffer;
      const s = reader.frameStart;
      const frame = b.subarray(s, reader.frameEnd);
      inc.received++;
      if (frame[4] === 4) {
        answered = true; // the relay's answer to the Subscribe
        continue;
      }
      const src = frame[6]!;
      const pid = src - 60;
      const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      const seq = Number(v.getBigUint64(8, true));
      if (answered && inc.only !== null && src !== inc.only) {
        o.fail(`${inc.kind}: source ${src} got through a filter for ${inc.only}`);
      }
      const expected = frameFor(d, pid, seq, o.t0);
      if (!sameBytes(frame, expected)) {
        o.fail(
          `${inc.kind}: frame (source ${src}, seq ${seq}) is not the one sent: ${
            hex(frame.subarray(0, 48))
          }`,
        );
      }
      const prev = last.get(src);
      if (prev !== undefined) {
        if (seq <= prev) o.fail(`${inc.kind}: source ${src} seq ${seq} after ${prev}`);
        else if (!d.drops && seq !== prev + 1) {
          o.fail(`${inc.kind}: source ${src} jumped ${prev} → ${seq} on a relay that never drops`);
        }
      }
      last.set(src, seq);
    }
    const pause = o.pauseMs();
    if (pause > 0) await delay(pause);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concatAll(parts: readonly Uint8Array[], room: number): Uint8Array {
  const out = new Uint8Array(room);
  let n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out.subarray(0, n);
}
