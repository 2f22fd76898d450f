/**
 * RelayClient recovery (PROTOCOL.md 7.9, D-37) against real `torq relay`
 * processes: `recover()` by sequence while a producer keeps sending, a
 * market-data snapshot, the automatic mode filling a slow-consumer drop and a
 * reconnect, the partial event, the relay's refusal (status 3) and a relay with
 * recovery off. Every wait is bounded and waits for events, not delays.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  close,
  concat,
  connect,
  makeFrames,
  PROFILES,
  readFrames,
  send,
  startRelay,
  tradeFrame,
} from "./_support/relay.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import {
  type ClientStats,
  type PartialEvent,
  type ReceivedFrame,
  type RecoveredEvent,
  RecoveryError,
  RelayClient,
  type RelayClientOptions,
} from "../src/client/mod.ts";

const SIGNAL = PROFILES[1]!;
const EXECUTION = PROFILES[2]!;
const WAIT_MS = 30_000;

/** Reads frames until `done` says so (bounded); fails with what arrived when the bound passes. */
async function readUntil(
  client: RelayClient,
  done: (frames: ReceivedFrame[]) => boolean,
  timeoutMs = WAIT_MS,
): Promise<ReceivedFrame[]> {
  const out: ReceivedFrame[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(out)) {
    const f = await client.receive(Math.max(1, deadline - Date.now()));
    if (f === null) {
      assert.fail(
        `received ${out.length} frames, the last ${out.at(-1)?.sequence}, then nothing (${
          JSON.stringify(client.stats())
        })`,
      );
    }
    out.push(f);
  }
  return out;
}

/** The sequences of `frames` are exactly `from`, `from + 1`, … `to`. */
function assertConsecutive(frames: readonly ReceivedFrame[], from: number, to: number): void {
  const seqs = frames.map((f) => Number(f.sequence));
  const wrong = seqs.findIndex((q, i) => q !== from + i);
  assert.equal(
    wrong,
    -1,
    `frame ${wrong} has sequence ${seqs[wrong]}, expected ${from + wrong} (around: ${
      seqs.slice(Math.max(0, wrong - 3), wrong + 4).join(", ")
    })`,
  );
  assert.equal(seqs.length, to - from + 1, `${seqs.length} frames, expected ${from}–${to}`);
}

/**
 * A producer on a raw socket that sends frames `from`…`total` of `profile` in
 * batches of 100, 1 ms apart.
 */
function producer(conn: Deno.Conn, total: number, profile = SIGNAL, from = 1) {
  const batch = 100;
  let sent = from - 1;
  let stop = false;
  const done = (async () => {
    while (!stop && sent < total) {
      const n = Math.min(batch, total - sent);
      await send(conn, concat(makeFrames(profile, n, { first: sent + 1 })));
      sent += n;
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    get sent() {
      return sent;
    },
    done,
    stop() {
      stop = true;
      return done;
    },
  };
}

async function until(what: string, ok: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function clientOn(path: string, options: RelayClientOptions = {}): Promise<RelayClient> {
  return RelayClient.connect({ domain: "signal", path, ...options });
}

Deno.test("RelayClient.recover() by sequence while the producer keeps sending: every missed frame, in order, once, then live", async () => {
  const relay = await startRelay("signal");
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  const TOTAL = 12_000;
  const p = producer(raw, TOTAL);
  try {
    const first = await clientOn(relay.path);
    clients.push(first);
    const seen = await readUntil(first, (f) => f.length >= 1000);
    const k = Number(seen.at(-1)!.sequence);
    await first.close(); // killed mid-stream
    // The producer goes on while the consumer is away.
    await until("the producer to send on", () => p.sent >= k + 3000);

    // Back with a subscription: live frames are queued before the request is even written.
    const again = await clientOn(relay.path, { subscribe: ["*"] });
    clients.push(again);
    const r = await again.recover({ source: SIGNAL.source, after: BigInt(k) });
    assert.equal(r.status, "complete");
    assert.equal(r.first, BigInt(k + 1));
    assert.ok(r.frames >= 3000, `replayed ${r.frames}`);
    assert.ok(r.delivered > 0 && r.delivered <= r.frames);

    const after = await readUntil(again, (f) => f.at(-1)?.sequence === BigInt(TOTAL));
    assertConsecutive(after, k + 1, TOTAL);
    const stats = again.stats();
    assert.equal(stats.gaps, 0);
    assert.equal(stats.duplicates, 0);
    assert.equal(stats.recoveries, 1);
  } finally {
    await p.stop();
    for (const c of clients) await c.close();
    await close(raw);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient.recover({ snapshot }) on market data: the last value of every instrument first, then every live frame once", async () => {
  const relay = await startRelay("market-data");
  // The relay accepts in order: a witness connected first is there before any frame.
  const witness = await connect(relay.path);
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  const INSTRUMENTS = 50;
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const sent: Uint8Array[] = [];
  for (let i = 1; i <= 8000; i++) sent.push(tradeFrame(b, i, 1 + (i * 7) % INSTRUMENTS));
  const assetOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(34, true);
  let writing: Promise<void> = Promise.resolve();
  try {
    // 5,000 frames before the joiner comes; the witness proves the relay has them all.
    await Promise.all([send(raw, concat(sent.slice(0, 5000))), readFrames(witness, 5000)]);
    const joiner = await RelayClient.connect({ domain: "market_data", path: relay.path });
    clients.push(joiner);
    // The producer goes on while the joiner asks.
    writing = (async () => {
      for (let i = 5000; i < 8000; i += 100) {
        await send(raw, concat(sent.slice(i, i + 100)));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const r = await joiner.recover({ snapshot: true });
    assert.equal(r.status, "complete");
    assert.equal(r.frames, INSTRUMENTS, "one last value per instrument");
    const got = await readUntil(joiner, (f) => f.at(-1)?.sequence === 8000n);
    await writing;

    const seqs = got.map((f) => Number(f.sequence));
    for (let i = 1; i < seqs.length; i++) {
      assert.ok(seqs[i]! > seqs[i - 1]!, `in order, once: ${seqs[i - 1]} then ${seqs[i]}`);
    }
    // After the snapshot's point every frame arrives.
    const cut = Number(r.last);
    assertConsecutive(got.filter((f) => f.sequence > r.last), cut + 1, 8000);
    // As of that point the joiner holds the last value of every instrument, byte for byte.
    const expected = new Map<number, Uint8Array>();
    for (const f of sent.slice(0, cut)) expected.set(assetOf(f), f);
    const held = new Map<number, Uint8Array>();
    for (const f of got.filter((f) => f.sequence <= r.last)) held.set(assetOf(f.bytes), f.bytes);
    assert.equal(held.size, INSTRUMENTS);
    for (const [asset, f] of expected) {
      assert.deepEqual(held.get(asset), f, `the last value of instrument ${asset}`);
    }
    assert.equal(joiner.stats().gaps, 0, "a snapshot's skipped sequences are not gaps");
  } finally {
    await writing.catch(() => {});
    for (const c of clients) await c.close();
    await close(raw, witness);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient.recover({ snapshot }): two producers sharing a source value each keep their last values", async () => {
  const relay = await startRelay("market-data");
  const [witness, a, b] = [
    await connect(relay.path),
    await connect(relay.path),
    await connect(relay.path),
  ];
  const clients: RelayClient[] = [];
  try {
    // Two feeds, both source 2, both numbering 1–5 (PROTOCOL.md 7.9 warns of this).
    const fa = Array.from(
      { length: 5 },
      (_, i) => tradeFrame(new MessageBuilder({ domain: 1, source: 2 }), i + 1, 1 + i),
    );
    const fb = Array.from(
      { length: 5 },
      (_, i) => tradeFrame(new MessageBuilder({ domain: 1, source: 2 }), i + 1, 6 + i),
    );
    await send(a, concat(fa));
    await send(b, concat(fb));
    await readFrames(witness, 10);
    const joiner = await RelayClient.connect({ domain: "market_data", path: relay.path });
    clients.push(joiner);
    const r = await joiner.recover({ snapshot: true });
    assert.equal(r.frames, 10);
    assert.equal(r.delivered, 10);
    const got = await readUntil(joiner, (f) => f.length === 10);
    const key = (x: Uint8Array) => Array.from(x).join(",");
    assert.deepEqual(new Set(got.map((f) => key(f.bytes))), new Set([...fa, ...fb].map(key)));
  } finally {
    for (const c of clients) await c.close();
    await close(a, b, witness);
    await relay.stop();
    await assertAllClosed();
  }
});

/**
 * A signal relay with room for 1,000 queued frames per consumer, and a
 * consumer (`options`, `listen` adds its listeners) that has seen the first 10
 * frames and then stops reading (past 16 KiB) while 20,000 more pass: the
 * relay drops the oldest of its queue. Then it reads up to the last frame.
 *
 * @returns what it read and its counters
 */
async function afterADrop(
  options: RelayClientOptions,
  listen: (client: RelayClient) => void,
): Promise<{ got: ReceivedFrame[]; stats: ClientStats }> {
  const relay = await startRelay("signal", {
    args: [
      "--set",
      "relays.signal.performance.max_queue_frames=1000",
      "--set",
      "relays.signal.performance.slow_consumer_timeout_ms=60000",
    ],
  });
  // The relay accepts in order: a witness connected first is there before any frame.
  const witness = await connect(relay.path);
  const raw = await connect(relay.path);
  let slow: RelayClient | undefined;
  const TOTAL = 20_000;
  try {
    // Subscribed: the answer proves the relay has accepted it before any frame is sent.
    slow = await clientOn(relay.path, { ...options, maxBufferedBytes: 16_384, subscribe: ["*"] });
    listen(slow);
    // It sees the stream start (a client cannot know of frames before its first one).
    await send(raw, concat(makeFrames(SIGNAL, 10)));
    await until("the first frames", () => slow!.stats().framesIn >= 10);
    // A witness that keeps reading gets everything: the relay has then handled every frame.
    await Promise.all([producer(raw, TOTAL, SIGNAL, 11).done, readFrames(witness, TOTAL, WAIT_MS)]);
    await relay.waitForLog((l) => l.msg === "slow consumer: dropped oldest frames", WAIT_MS);
    const got = await readUntil(slow, (f) => f.at(-1)?.sequence === BigInt(TOTAL));
    assertConsecutive(got, 1, TOTAL);
    return { got, stats: slow.stats() };
  } finally {
    await slow?.close();
    await close(raw, witness);
    await relay.stop();
    await assertAllClosed();
  }
}

Deno.test("RelayClient recovery 'auto' fills a slow-consumer drop from the relay's window, in order, once", async () => {
  const recovered: RecoveredEvent[] = [];
  const { stats } = await afterADrop(
    { recovery: "auto" },
    (c) => c.on("recovered", (e) => recovered.push(e)),
  );
  assert.equal(stats.gaps, 0, "every gap was filled");
  assert.equal(stats.duplicates, 0);
  assert.ok(recovered.length >= 1 && recovered.every((e) => e.reason === "gap"));
  assert.ok(stats.recoveredFrames > 0);
});

Deno.test("RelayClient: a gap listener that calls recover() gets the missing frames before the frame that showed the gap", async () => {
  let gaps = 0;
  const { stats } = await afterADrop({}, (c) =>
    c.on("gap", (e) => {
      gaps++;
      void c.recover({ source: e.source, after: e.expected - 1n, upTo: e.got - 1n });
    }));
  assert.ok(gaps >= 1, "the drop was seen as a gap");
  assert.equal(stats.recoveries, gaps);
  assert.equal(stats.duplicates, 0);
});

Deno.test("RelayClient recovery 'auto' after a reconnect: the execution relay disconnected it, it gets every frame it missed", async () => {
  const relay = await startRelay("execution", {
    args: ["--set", "relays.execution.performance.max_queue_frames=1000"],
  });
  // The relay accepts in order: a witness connected first is there before any frame.
  const witness = await connect(relay.path);
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  const TOTAL = 20_000;
  try {
    const slow = await RelayClient.connect({
      domain: "execution",
      path: relay.path,
      reconnect: { initialMs: 20, maxMs: 200 },
      recovery: "auto",
      maxBufferedBytes: 8192,
      subscribe: ["*"],
    });
    clients.push(slow);
    const events: string[] = [];
    slow.on("disconnect", () => events.push("disconnect"));
    slow.on("reconnect", () => events.push("reconnect"));
    slow.on("recovered", (e) => events.push(`recovered:${e.reason}`));
    await send(raw, concat(makeFrames(EXECUTION, 10)));
    await until("the first frames", () => slow.stats().framesIn >= 10);
    await Promise.all([
      producer(raw, TOTAL, EXECUTION, 11).done,
      readFrames(witness, TOTAL, WAIT_MS),
    ]);
    await relay.waitForLog((l) => /^slow consumer/.test(String(l.reason ?? "")), WAIT_MS);

    const got = await readUntil(slow, (f) => f.at(-1)?.sequence === BigInt(TOTAL));
    assertConsecutive(got, 1, TOTAL);
    assert.deepEqual(events, ["disconnect", "reconnect", "recovered:reconnect"]);
    assert.equal(slow.stats().gaps, 0);
    assert.equal(slow.stats().duplicates, 0);
  } finally {
    for (const c of clients) await c.close();
    await close(raw, witness);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient.recover() from a start the window no longer holds: a partial event naming the source, the first lost and the window start", async () => {
  const relay = await startRelay("signal", {
    args: ["--set", "relays.signal.recovery.window_frames=1000"],
  });
  // The relay accepts in order: a witness connected first is there before any frame.
  const witness = await connect(relay.path);
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  try {
    await Promise.all([send(raw, concat(makeFrames(SIGNAL, 5000))), readFrames(witness, 5000)]);
    const late = await clientOn(relay.path);
    clients.push(late);
    const partial: PartialEvent[] = [];
    late.on("partial", (e) => partial.push(e));
    const r = await late.recover({ source: SIGNAL.source, after: 10n });
    assert.equal(r.status, "partial");
    assert.ok(r.windowStart > 11n, `window starts at ${r.windowStart}`);
    assert.equal(r.first, r.windowStart);
    assert.equal(BigInt(r.frames), 5000n - r.windowStart + 1n);
    assert.deepEqual(partial, [{
      source: SIGNAL.source,
      firstLost: 11n,
      windowStart: r.windowStart,
      auto: false,
    }]);
    // What the window does hold still arrives, in order.
    const got = await readUntil(late, (f) => f.at(-1)?.sequence === 5000n);
    assertConsecutive(got, Number(r.windowStart), 5000);
    assert.equal(late.stats().partialRecoveries, 1);
  } finally {
    for (const c of clients) await c.close();
    await close(raw, witness);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient.recover() refused by the relay (status 3) rejects with a RecoveryError naming the relay's reason; the client goes on", async () => {
  const relay = await startRelay("signal");
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  try {
    const c = await clientOn(relay.path);
    clients.push(c);
    const err = await c.recover({ source: SIGNAL.source, after: 100n, upTo: 50n }).then(
      () => assert.fail("resolved"),
      (e) => e,
    );
    assert.ok(err instanceof RecoveryError, String(err));
    assert.equal(err.code, "RecoveryRefused");
    assert.equal(
      err.reason,
      "MalformedRecovery: current_sequence 50 is below last_sequence 100",
    );
    assert.equal(
      err.message,
      `Cannot recover source 20 after 100 up to 50 from the signal relay at ${relay.path}: MalformedRecovery: current_sequence 50 is below last_sequence 100`,
    );
    // Nothing else changed: frames published now arrive.
    await send(raw, concat(makeFrames(SIGNAL, 5)));
    assertConsecutive(await readUntil(c, (f) => f.length === 5), 1, 5);
  } finally {
    for (const c of clients) await c.close();
    await close(raw);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient.recover() on a relay with recovery off rejects with RecoveryTimeout and hands over what it held", async () => {
  const relay = await startRelay("signal", {
    args: ["--set", "relays.signal.recovery.enabled=false"],
  });
  const raw = await connect(relay.path);
  const clients: RelayClient[] = [];
  try {
    const c = await clientOn(relay.path, { recoveryTimeoutMs: 500, subscribe: ["*"] });
    clients.push(c);
    const asking = c.recover({ source: SIGNAL.source, after: 0n });
    // Frames that arrive meanwhile are held, then handed over when the request is given up.
    await send(raw, concat(makeFrames(SIGNAL, 5)));
    const err = await asking.then(() => assert.fail("resolved"), (e) => e);
    assert.ok(err instanceof RecoveryError, String(err));
    assert.equal(err.code, "RecoveryTimeout");
    assert.match(
      err.message,
      /no answer within 500 ms \(is recovery\.enabled off on the relay\?\)$/,
    );
    assertConsecutive(await readUntil(c, (f) => f.length === 5), 1, 5);
  } finally {
    for (const c of clients) await c.close();
    await close(raw);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("RelayClient refuses recovery where no relay can answer: publish-only, and 'auto' with publishOnly", async () => {
  const relay = await startRelay("signal");
  try {
    const pub = await clientOn(relay.path, { publishOnly: true });
    try {
      const err = await pub.recover({ snapshot: true }).then(
        () => assert.fail("resolved"),
        (e) => e,
      );
      assert.ok(err instanceof RecoveryError);
      assert.equal(err.code, "RecoveryUnavailable");
    } finally {
      await pub.close();
    }
    await assert.rejects(
      clientOn(relay.path, { publishOnly: true, recovery: "auto" }),
      /Cannot create relay client with recovery "auto": the client is publish-only/,
    );
  } finally {
    await relay.stop();
    await assertAllClosed();
  }
});
