/**
 * Recovery served by the relay (PROTOCOL.md 7.9, D-37): a late joiner's
 * snapshot of last values, a restarted consumer's retransmit by sequence, a
 * start older than the window (partial), the execution relay's window refilled
 * from its journal after kill -9, and malformed requests. Real `torq relay`
 * processes and raw Unix sockets; replayed frames are compared byte for byte.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connect,
  connectMany,
  makeFrames,
  PROFILES,
  readFrames,
  runTorq,
  send,
  seqOf,
  startRelay,
  tradeFrame,
  withPayload,
} from "./_support/relay.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { rssKb } from "../bench/_fuzz_relay.ts";
import { decodePayload, encodePayload } from "../src/protocol/payloads.ts";
import { walkTlvs } from "../src/protocol/tlv.ts";

const CHECK_POOLS = { TORQ_CHECK_POOLS: "1" };
const show = (x: unknown) => JSON.stringify(x, (_, v) => typeof v === "bigint" ? String(v) : v);

/** A RecoveryRequest (TLV 110) frame. */
function recoveryRequest(o: {
  after?: bigint;
  upTo?: bigint;
  source?: number;
  type?: number;
  domain?: number;
  value?: Uint8Array;
}): Uint8Array {
  const value = o.value ?? encodePayload(110, {
    last_sequence: o.after ?? 0n,
    current_sequence: o.upTo ?? 0n,
    consumer_id: o.source ?? 0,
    request_type: o.type ?? 0,
  });
  const head = new MessageBuilder({ domain: o.domain ?? 4, source: 60 }).begin({ sequence: 0 })
    .addTlv(110, new Uint8Array(24)).build();
  // Built by hand: the builder refuses a wrong length, and a malformed request is a test case.
  return withPayload(head, Uint8Array.of(110, value.length, ...value));
}

interface Response {
  status: number;
  frames: number;
  first: bigint;
  last: bigint;
  windowStart: bigint;
  error?: string;
}

function responseOf(frame: Uint8Array): Response | null {
  if (frame[4] !== 4) return null;
  const tlvs = walkTlvs(frame, 32, frame.length);
  const r = tlvs.find((t) => t.type === 111);
  if (r === undefined) return null;
  const f = decodePayload(111, r.value) as Record<string, number | bigint>;
  const err = tlvs.find((t) => t.type === 102);
  return {
    status: Number(f.status),
    frames: Number(f.frames),
    first: BigInt(f.first_sequence!),
    last: BigInt(f.last_sequence!),
    windowStart: BigInt(f.window_start_sequence!),
    ...(err === undefined ? {} : { error: new TextDecoder().decode(err.value) }),
  };
}

/** Reads frames until the RecoveryResponse: the frames before it, and it. */
async function untilResponse(
  conn: Deno.Conn,
  timeoutMs = 20_000,
): Promise<{ before: Uint8Array[]; response: Response }> {
  const before: Uint8Array[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [f] = await readFrames(conn, 1, Math.max(1, deadline - Date.now()));
    const r = responseOf(f!);
    if (r !== null) return { before, response: r };
    before.push(f!);
  }
}

Deno.test("recovery: a late joiner's snapshot holds the last value of every instrument, then every later frame once", async () => {
  const relay = await startRelay("market-data", { env: CHECK_POOLS });
  const [witness, producer] = await connectMany(relay.path, 2);
  let joiner: Deno.UnixConn | undefined;
  try {
    const b = new MessageBuilder({ domain: 1, source: 2 });
    const INSTRUMENTS = 500;
    const sent: Uint8Array[] = [];
    const last = new Map<number, Uint8Array>();
    for (let i = 0; i < 50_000; i++) {
      const asset = 1 + (i * 7919) % INSTRUMENTS;
      const f = tradeFrame(b, i + 1, asset, i);
      sent.push(f);
      last.set(asset, f);
    }
    // The witness reads while the producer writes: the relay has then handled every frame.
    const [, seen] = await Promise.all([
      send(producer!, concat(sent)),
      readFrames(witness!, sent.length, 30_000),
    ]);
    assertFrames(seen, sent, "witness");

    joiner = await connect(relay.path);
    await send(joiner, recoveryRequest({ type: 1 }));
    const { before, response } = await untilResponse(joiner);
    assert.equal(response.status, 0);
    assert.equal(response.frames, INSTRUMENTS);
    assert.equal(before.length, INSTRUMENTS);
    const held = new Map<number, Uint8Array>();
    for (const f of before) held.set(new DataView(f.buffer).getUint32(32 + 2, true), f);
    for (const [asset, f] of last) {
      assert.deepEqual(held.get(asset), f, `the last value of instrument ${asset}`);
    }

    const later = makeFrames(PROFILES[0]!, 10_000, { first: 50_001, source: 2 });
    const [, live] = await Promise.all([
      send(producer!, concat(later)),
      readFrames(joiner, later.length),
      readFrames(witness!, later.length),
    ]);
    assertFrames(live, later, "live frames after the snapshot");
  } finally {
    if (joiner !== undefined) await close(joiner);
    await close(witness!, producer!);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("recovery: a consumer restarted mid-stream gets every frame it missed, in order, once; an older start is partial", async () => {
  const p = PROFILES[1]!;
  const relay = await startRelay(p.arg, {
    env: CHECK_POOLS,
    args: ["--set", "relays.signal.recovery.window_frames=4000"],
  });
  const first = await connect(relay.path);
  const producer = await connect(relay.path);
  let restarted: Deno.UnixConn | undefined;
  let older: Deno.UnixConn | undefined;
  let sending = true;
  let sent = 0;
  try {
    // The producer keeps sending while the consumer is gone and comes back.
    const producing = (async () => {
      while (sending && sent < 60_000) {
        await send(producer, concat(makeFrames(p, 100, { first: sent + 1 })));
        sent += 100;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const got = await readFrames(first, 1000);
    const k = seqOf(got.at(-1)!);
    await close(first); // killed mid-stream

    restarted = await connect(relay.path);
    await send(restarted, recoveryRequest({ source: p.source, after: BigInt(k) }));
    const { before, response } = await untilResponse(restarted);
    assert.equal(response.status, 0, show(response));
    // Live frames may precede the request; the replay is what it asked for, in order.
    const replay = before.slice(before.length - response.frames);
    assert.deepEqual(replay.map(seqOf), replay.map((_, i) => k + 1 + i), "replayed in order");
    if (replay.length > 0) {
      assert.equal(response.first, BigInt(k + 1));
      assert.equal(BigInt(seqOf(replay.at(-1)!)), response.last);
    }
    for (const f of before.slice(0, before.length - response.frames)) {
      assert.ok(
        seqOf(f) <= Number(response.last),
        "a live frame before the answer is replayed too",
      );
    }
    // Live traffic follows the answer with no gap and no duplicate.
    const next = replay.length > 0 ? Number(response.last) + 1 : k + 1;
    const after = await readFrames(restarted, 500);
    assert.deepEqual(after.map(seqOf), after.map((_, i) => next + i));

    // A start the window no longer holds: status 1, and where the window starts.
    while (sent < 10_000) await new Promise((r) => setTimeout(r, 10));
    older = await connect(relay.path);
    await send(older, recoveryRequest({ source: p.source, after: 10n }));
    const partial = await untilResponse(older);
    assert.equal(partial.response.status, 1, show(partial.response));
    assert.ok(
      partial.response.windowStart > 11n,
      `window starts at ${partial.response.windowStart}`,
    );
    assert.equal(partial.response.first, partial.response.windowStart);
    assert.ok(partial.response.frames <= 4000);
    sending = false;
    await producing;
  } finally {
    sending = false;
    await close(first, producer);
    if (restarted !== undefined) await close(restarted);
    if (older !== undefined) await close(older);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("recovery: after kill -9 the execution relay refills its window from the journal and replays what came before", async () => {
  const p = PROFILES[2]!;
  const dir = await Deno.makeTempDir({ prefix: "torq_recovery_" });
  const journal = `${dir}/execution.journal`;
  const frames = makeFrames(p, 3000);
  try {
    const before = await startRelay(p.arg, { args: ["--journal", journal] });
    const [consumer, producer] = await connectMany(before.path, 2);
    let received: Uint8Array[] = [];
    try {
      // Under load: the relay is killed while frames still arrive.
      const writing = send(producer!, concat(frames)).catch(() => {});
      received = await readFrames(consumer!, 2000, 20_000);
      await before.stop("SIGKILL");
      await writing;
    } finally {
      await close(consumer!, producer!);
    }
    const after = await startRelay(p.arg, { args: ["--journal", journal], env: CHECK_POOLS });
    try {
      const refilled = await after.waitForLog((l) =>
        l.msg === "recovery: window refilled from the journal"
      );
      assert.ok(Number(refilled.frames) >= received.length, show(refilled));
      const verify = await runTorq(["journal", "verify", journal]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      const c = await connect(after.path);
      try {
        await send(c, recoveryRequest({ source: p.source, after: 0n, domain: 3 }));
        const { before: replay, response } = await untilResponse(c);
        assert.equal(response.status, 0);
        assert.equal(response.frames, Number(refilled.frames));
        assertFrames(replay, frames.slice(0, replay.length), "replayed from the journal");
        assert.ok(replay.length >= received.length, "every frame a consumer got before the crash");
      } finally {
        await close(c);
      }
    } finally {
      await after.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await assertAllClosed();
  }
});

Deno.test("recovery: malformed requests are answered with status 3, counted, and change nothing else", async () => {
  const p = PROFILES[0]!;
  const relay = await startRelay(p.arg, { env: CHECK_POOLS });
  const [asker, other, producer] = await connectMany(relay.path, 3);
  try {
    const cases: [string, Uint8Array, RegExp][] = [
      ["short", recoveryRequest({ value: new Uint8Array(20) }), /length is 20, expected 24/],
      ["request_type", recoveryRequest({ type: 5 }), /request_type is 5/],
      ["range", recoveryRequest({ after: 100n, upTo: 50n }), /current_sequence 50 is below/],
      ["consumer_id", recoveryRequest({ source: 300 }), /consumer_id is 300/],
    ];
    for (const [what, req, reason] of cases) {
      await send(asker!, req);
      const { before, response } = await untilResponse(asker!);
      assert.deepEqual(before, [], what);
      assert.equal(response.status, 3, what);
      assert.equal(response.frames, 0, what);
      assert.match(response.error ?? "", /^MalformedRecovery: /, what);
      assert.match(response.error ?? "", reason, what);
    }
    // Nothing else changed: both consumers get what follows.
    const f = makeFrames(p, 5);
    await send(producer!, concat(f));
    assertFrames(await readFrames(asker!, 5), f, "the asker");
    assertFrames(await readFrames(other!, 5), f, "another consumer");
  } finally {
    await close(asker!, other!, producer!);
    await relay.stop();
    await assertAllClosed();
  }
  const stopped = relay.logs().find((l) => l.msg === "stopped")!;
  assert.equal(stopped.recovery_malformed, 4);
  assert.equal(stopped.recovery_requests, 4);
});

Deno.test("recovery: the window pins the bytes it counts: runs of 20 KiB from 256 KiB reads do not keep whole read buffers", async () => {
  // A read buffer handed over whole (a run over 16 KiB) and kept by the window for long would
  // pin 256 KiB for a 20 KiB run: 60 MB of such runs held ~315 MB before, ~135 MB now.
  const relay = await startRelay("market-data", { env: CHECK_POOLS });
  try {
    const b = new MessageBuilder({ domain: 1, source: 2 });
    const frame = b.begin({ sequence: 1 }).addTlv(200, new Uint8Array(1000)).build();
    const repeat = (n: number) => concat(Array.from({ length: n }, () => frame));
    const producer = await connect(relay.path);
    // Big writes first: the relay's reads grow to 256 KiB.
    for (let i = 0; i < 20; i++) await send(producer, repeat(400));
    // Then 20-frame writes, one at a time: each read is one ~20 KiB run.
    const chunk = repeat(20);
    for (let i = 0; i < 2_500; i++) {
      await send(producer, chunk);
      await new Promise((r) => setTimeout(r, 1));
    }
    await close(producer);
    const stats = await relay.waitForLog((l) => l.msg === "connection closed");
    assert.equal(stats.frames_in, 20 * 400 + 2_500 * 20);
    await new Promise((r) => setTimeout(r, 1500)); // a tidy pass
    const rss = rssKb(relay.child.pid);
    // The window holds at most 64 MiB of frames (it holds ~57 MB here); the idle relay ~80 MB.
    assert.ok(rss < 200 * 1024, `relay RSS ${rss} kB with a ~57 MB window`);
  } finally {
    await relay.stop();
    await assertAllClosed();
  }
});
