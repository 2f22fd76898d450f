// The NATS bridge against a real nats-server (tests/_support/nats.ts): two in-process relays on
// two sockets bridged through NATS, core and JetStream, a NATS restart mid-stream, bad messages
// published straight to the subject, and RelayClient over nats://. Every wait is bounded.
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Relay } from "../src/relay/relay.ts";
import { EXECUTION_LOGIC, MARKET_DATA_LOGIC, SIGNAL_LOGIC } from "../src/relay/logic.ts";
import type { RelayLogic } from "../src/relay/logic.ts";
import type { BridgeStats } from "../src/relay/stats.ts";
import { Logger } from "../src/log/logger.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodeHeader, HEADER_SIZE, readSequence } from "../src/protocol/header.ts";
import { encodeSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { RelayClient } from "../src/client/client.ts";
import type { ReceivedFrame } from "../src/client/received_frame.ts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  defaultDurableName,
  messageId,
  NatsBridge,
  type NatsBridgeDirection,
  type NatsJetStreamOptions,
} from "../src/bridge/mod.ts";
// startNatsServer() fails with the install command when nats-server is missing: never skipped.
import { type NatsServer, startNatsServer } from "./_support/nats.ts";
import { connect as connectUnix, readFrames, runTorq, startRelay } from "./_support/relay.ts";
import { prometheusText } from "../src/http/metrics.ts";
import { concat } from "../src/io/mod.ts";

const quiet = () => new Logger({ level: "error" });
/** Bound of every wait in this file, in ms. */
const WAIT_MS = 20_000;

/** Polls `cond` every 10 ms until it holds; fails with `what` after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Receives exactly `n` frames (bounded). */
async function receiveN(client: RelayClient, n: number, what: string): Promise<ReceivedFrame[]> {
  const out: ReceivedFrame[] = [];
  const deadline = Date.now() + WAIT_MS;
  while (out.length < n) {
    const f = await client.receive(Math.max(1, deadline - Date.now()));
    if (f === null) assert.fail(`${what}: received ${out.length} of ${n} frames`);
    out.push(f);
  }
  return out;
}

/** `n` frames of a relay profile: signal ArbitrageSignal (32) or execution OrderRequest (40). */
function makeFrames(domain: 2 | 3, source: number, n: number, first = 1): Uint8Array[] {
  const b = new MessageBuilder({ domain, source });
  const [type, len] = domain === 2 ? [32, 170] : [40, 32];
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const value = new Uint8Array(len);
    new DataView(value.buffer).setUint32(0, first + i, true);
    out.push(b.begin({ sequence: first + i }).addTlv(type, value).build());
  }
  return out;
}

interface Setup {
  server: NatsServer;
  dir: string;
  relays: Relay[];
  bridges: NatsBridge[];
  clients: RelayClient[];
  raw: NatsConnection[];
}

async function setup(jetstream = false, maxPayload?: number): Promise<Setup> {
  return {
    server: await startNatsServer({ jetstream, ...(maxPayload ? { maxPayload } : {}) }),
    dir: await Deno.makeTempDir({ prefix: "torq-bridge-" }),
    relays: [],
    bridges: [],
    clients: [],
    raw: [],
  };
}

async function cleanup(s: Setup): Promise<void> {
  await Promise.allSettled(s.clients.map((c) => c.close()));
  await Promise.allSettled(s.bridges.map((b) => b.stop(200)));
  await Promise.allSettled(s.relays.map((r) => r.stop(200)));
  await Promise.allSettled(s.raw.map((nc) => nc.close()));
  await s.server.stop();
  await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

async function relay(s: Setup, logic: RelayLogic, name: string): Promise<Relay> {
  const r = new Relay(
    { ...logic, socketPath: `${s.dir}/${name}.sock`, journalPath: `${s.dir}/${name}.journal` },
    { logger: quiet() },
  );
  await r.start();
  s.relays.push(r);
  return r;
}

async function bridge(
  s: Setup,
  r: Relay,
  direction: NatsBridgeDirection,
  jetstream: NatsJetStreamOptions | null = null,
  subjectTopic = false,
): Promise<NatsBridge> {
  const b = await NatsBridge.start(r, {
    servers: [s.server.url],
    direction,
    jetstream,
    subjectTopic,
    reconnectInitialMs: 50,
    reconnectMaxMs: 500,
    logger: quiet(),
  });
  s.bridges.push(b);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    b.ready,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`bridge not ready: ${b.stats().lastError}`)),
        WAIT_MS,
      );
    }),
  ]);
  clearTimeout(timer);
  return b;
}

async function client(
  s: Setup,
  r: Relay,
  options: { publishOnly?: boolean } = {},
): Promise<RelayClient> {
  const before = r.stats().connections.current;
  const c = await RelayClient.connect({
    domain: r.logic.domain,
    path: r.address,
    ...(options.publishOnly ? { publishOnly: true, source: 20 } : {}),
  });
  s.clients.push(c);
  // The relay adopts connections asynchronously: wait until this one is registered.
  await waitFor(() => r.stats().connections.current > before, "the relay to adopt a client");
  return c;
}

function bridgeStats(r: Relay): BridgeStats {
  const b = r.stats().bridges?.[0];
  assert.ok(b !== undefined, "relay stats list the bridge");
  return b;
}

/** Bounded check that nothing more arrives. */
async function expectNothing(c: RelayClient, ms = 300): Promise<void> {
  const f = await c.receive(ms);
  assert.equal(f, null, "no further frame arrives");
}

Deno.test({
  name: "NatsBridge: two relays bridged both ways deliver identical bytes in order, once each way",
  async fn() {
    const s = await setup();
    try {
      const a = await relay(s, SIGNAL_LOGIC, "a");
      const b = await relay(s, SIGNAL_LOGIC, "b");
      const ba = await bridge(s, a, "both");
      const bb = await bridge(s, b, "both");
      const raw = await connect({ servers: s.server.url });
      s.raw.push(raw);
      let onSubject = 0;
      raw.subscribe("torq.signals", {
        callback: () => {
          onSubject++;
        },
      });
      await raw.flush();
      const consA = await client(s, a);
      const consB = await client(s, b);
      const prodA = await client(s, a, { publishOnly: true });
      const prodB = await client(s, b, { publishOnly: true });
      const n = 300;

      const fromA = makeFrames(2, 20, n);
      for (const f of fromA) prodA.publish(f);
      await prodA.flush();
      const gotB = await receiveN(consB, n, "B's consumer, frames from A");
      assert.deepEqual(concat(gotB.map((f) => f.bytes)), concat(fromA));

      const fromB = makeFrames(2, 21, n);
      for (const f of fromB) prodB.publish(f);
      await prodB.flush();
      const gotA = await receiveN(consA, 2 * n, "A's consumer, A's frames then B's");
      assert.deepEqual(concat(gotA.map((f) => f.bytes)), concat([...fromA, ...fromB]));
      const restB = await receiveN(consB, n, "B's consumer, B's own frames");
      assert.deepEqual(concat(restB.map((f) => f.bytes)), concat(fromB));

      // No loop: each frame crossed NATS exactly once and nothing came back.
      await expectNothing(consA);
      await expectNothing(consB);
      await raw.flush();
      assert.equal(onSubject, 2 * n, "messages on the subject");
      const sa = ba.stats();
      const sb = bb.stats();
      assert.deepEqual([sa.published, sa.received, sb.published, sb.received], [n, n, n, n]);
      assert.deepEqual([sa.dropped, sb.dropped, sa.missing, sb.missing], [0, 0, 0, 0]);
      assert.equal(a.stats().framesForwarded, 2 * n);
      assert.equal(b.stats().framesForwarded, 2 * n);
      assert.deepEqual(bridgeStats(a), sa);
      assert.ok(
        prometheusText([a.stats()]).includes(
          'torq_bridge_published_total{relay="signal",domain="signal",bridge="nats",' +
            `subject="torq.signals",direction="both"} ${n}\n`,
        ),
      );
      const conn = a.stats().connectionsDetail.find((c) => c.kind === "bridge:nats");
      assert.equal(conn?.framesIn, n);
      assert.equal(conn?.framesOut, n);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "NatsBridge: a relay echoing frames does not make two bridged relays loop",
  async fn() {
    const s = await setup();
    try {
      // echo = true makes relay A write B's frames back to the bridge they came from; the bridge
      // recognises them and does not publish them again, so B's consumers see each frame once.
      const a = await relay(s, { ...SIGNAL_LOGIC, echo: true }, "a");
      const b = await relay(s, SIGNAL_LOGIC, "b");
      const ba = await bridge(s, a, "both");
      const bb = await bridge(s, b, "both");
      const consA = await client(s, a);
      const consB = await client(s, b);
      const prodB = await client(s, b, { publishOnly: true });
      const frames = makeFrames(2, 21, 10);
      for (const f of frames) prodB.publish(f);
      await prodB.flush();
      const atA = await receiveN(consA, 10, "A's consumer");
      assert.deepEqual(concat(atA.map((f) => f.bytes)), concat(frames));
      const atB = await receiveN(consB, 10, "B's consumer");
      assert.deepEqual(concat(atB.map((f) => f.bytes)), concat(frames));
      await expectNothing(consB);
      await expectNothing(consA);
      assert.equal(bb.stats().received, 0);
      assert.equal(ba.stats().published, 0);
      assert.equal(ba.stats().skippedOwn, 10);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name:
    "NatsBridge: subject_topic publishes to <prefix>.<domain>.<topic>, and an inbound bridge takes both forms",
  async fn() {
    const s = await setup();
    try {
      const a = await relay(s, SIGNAL_LOGIC, "a");
      const b = await relay(s, SIGNAL_LOGIC, "b");
      await bridge(s, a, "out", null, true);
      await bridge(s, b, "in");
      const nc = await connect({ servers: s.server.url });
      s.raw.push(nc);
      const subjects: string[] = [];
      nc.subscribe("torq.signals.>", { callback: (_e, m) => void subjects.push(m.subject) });
      await nc.flush();
      const consB = await client(s, b);
      const prodA = await client(s, a, { publishOnly: true }); // source 20: ArbitrageStrategy
      const frames = makeFrames(2, 20, 3);
      for (const f of frames) prodA.publish(f);
      await prodA.flush();
      const atB = await receiveN(consB, 3, "B's consumer");
      assert.deepEqual(concat(atB.map((f) => f.bytes)), concat(frames));
      await waitFor(() => subjects.length === 3, "three messages on the topic subject");
      assert.deepEqual(subjects, Array(3).fill("torq.signals.arbitrage_signals"));
    } finally {
      await cleanup(s);
    }
  },
});

/**
 * Sends `total` frames from `prod` paced in small batches, killing NATS (kill -9)
 * after `killAt` frames and starting it again after `downFrames` more; after the restart
 * it waits for both bridges and, with `sync`, sends one frame at a time until one
 * arrives at `cons` (the receiving subscription is back) before sending the rest.
 */
async function sendThroughRestart(
  s: Setup,
  frames: readonly Uint8Array[],
  prod: RelayClient,
  options: {
    killAt: number;
    downFrames: number;
    bridges: NatsBridge[];
    sync: ((sent: number) => boolean) | null;
  },
): Promise<void> {
  let i = 0;
  const send = async (upTo: number, batch: number) => {
    while (i < upTo) {
      const end = Math.min(upTo, i + batch);
      for (; i < end; i++) prod.publish(frames[i]!);
      await prod.flush();
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await send(options.killAt, 20);
  await s.server.kill("SIGKILL");
  await waitFor(() => options.bridges.every((b) => !b.connected), "the bridges to see NATS down");
  await send(options.killAt + options.downFrames, 20);
  await s.server.restart();
  await waitFor(() => options.bridges.every((b) => b.connected), "the bridges to reconnect");
  if (options.sync !== null) {
    const deadline = Date.now() + WAIT_MS;
    const sync = options.sync;
    const start = i;
    while (!sync(start)) {
      if (Date.now() > deadline) assert.fail("no frame crossed NATS after the restart");
      await send(i + 1, 1);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await send(frames.length, 20);
}

Deno.test({
  name: "NatsBridge: core NATS killed (-9) mid-stream: every lost frame is counted on both sides",
  async fn() {
    const s = await setup();
    try {
      const a = await relay(s, SIGNAL_LOGIC, "a");
      const b = await relay(s, SIGNAL_LOGIC, "b");
      const ba = await bridge(s, a, "out");
      const bb = await bridge(s, b, "in");
      const cons = await client(s, b);
      const prod = await client(s, a, { publishOnly: true });
      const total = 1500;
      const frames = makeFrames(2, 20, total);
      const got: ReceivedFrame[] = [];
      const reading = (async () => {
        for await (const f of cons) {
          got.push(f);
          if (f.sequence === BigInt(total)) break;
        }
      })();
      await sendThroughRestart(s, frames, prod, {
        killAt: 500,
        downFrames: 300,
        bridges: [ba, bb],
        sync: (sent) => got.some((f) => f.sequence > BigInt(sent)),
      });
      await waitFor(() => got.at(-1)?.sequence === BigInt(total), "the last frame at B");
      await reading;
      await waitFor(() => ba.stats().pending === 0, "A's bridge to settle");
      const sa = ba.stats();
      const sb = bb.stats();
      // Sender: every frame the relay handed to the bridge is published, unconfirmed or dropped.
      assert.equal(sa.published + sa.unconfirmed + sa.dropped, total, JSON.stringify(sa));
      assert.ok(sa.dropped > 0, "frames written while NATS was down are dropped and counted");
      // Receiver: what arrived plus the sequence gaps is everything sent.
      assert.equal(sb.received, got.length);
      assert.equal(sb.received + sb.missing, total, JSON.stringify(sb));
      assert.ok(sb.missing >= sa.dropped, "what the sender dropped is missing at the receiver");
      assert.ok(sa.reconnects >= 1 && sb.reconnects >= 1);
      if (Deno.env.get("TORQ_TEST_VERBOSE")) console.log("core restart", sa, sb);
      // Order is kept: sequences only go up.
      for (let k = 1; k < got.length; k++) assert.ok(got[k]!.sequence > got[k - 1]!.sequence);
      for (const f of got) {
        assert.deepEqual(f.bytes, frames[Number(f.sequence) - 1], `frame ${f.sequence}`);
      }
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name:
    "NatsBridge: JetStream killed (-9) mid-stream delivers every execution frame once, in order",
  async fn() {
    const s = await setup(true);
    try {
      const a = await relay(s, EXECUTION_LOGIC, "a");
      const b = await relay(s, EXECUTION_LOGIC, "b");
      const js: NatsJetStreamOptions = { storage: "file", ackTimeoutMs: 1000 };
      // The receiving side first: its durable consumer starts with new messages.
      const bb = await bridge(s, b, "in", js);
      const ba = await bridge(s, a, "out", js);
      const cons = await client(s, b);
      const prod = await client(s, a, { publishOnly: true });
      const total = 1500;
      const frames = makeFrames(3, 40, total);
      const got: ReceivedFrame[] = [];
      const reading = (async () => {
        for await (const f of cons) {
          got.push(f);
          if (got.length === total) break;
        }
      })();
      await sendThroughRestart(s, frames, prod, {
        killAt: 500,
        downFrames: 300,
        bridges: [ba, bb],
        sync: null,
      });
      await waitFor(() => got.length === total, `all ${total} frames at B (got ${got.length})`);
      await reading;
      await expectNothing(cons);
      assert.deepEqual(concat(got.map((f) => f.bytes)), concat(frames));
      const sa = ba.stats();
      const sb = bb.stats();
      if (Deno.env.get("TORQ_TEST_VERBOSE")) console.log("jetstream restart", sa, sb);
      assert.equal(sa.mode, "jetstream");
      assert.equal(sa.published, total, JSON.stringify(sa));
      assert.deepEqual([sa.pending, sa.dropped], [0, 0]);
      assert.equal(sb.received, total, JSON.stringify(sb));
      assert.equal(sb.missing, 0);
      assert.equal(b.stats().framesForwarded, total);
      assert.deepEqual(b.stats().rejects, {});
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "NatsBridge: JetStream: a frame the stream stored twice reaches the relay once",
  async fn() {
    // A publisher whose publish acknowledgements were lost (nats-server killed with -9) publishes
    // the frames again after the restart; the stream's duplicate window did not survive the
    // kill, so it stores them a second time under new sequences. Simulated here by publishing
    // the copies without a Nats-Msg-Id, which the stream cannot recognise either.
    const s = await setup(true);
    try {
      const b = await relay(s, EXECUTION_LOGIC, "b");
      const bb = await bridge(s, b, "in", { storage: "file", ackTimeoutMs: 1000 });
      const cons = await client(s, b);
      const raw = await connect({ servers: s.server.url });
      s.raw.push(raw);
      const js = jetstream(raw);
      const frames = makeFrames(3, 40, 4);
      const [f1, f2, f3, f4] = frames as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
      for (const f of [f1, f2, f3]) await js.publish("torq.execution", f, { msgID: messageId(f) });
      for (const f of [f2, f3]) await js.publish("torq.execution", f);
      await js.publish("torq.execution", f4, { msgID: messageId(f4) });

      const got = await receiveN(cons, 4, "B's consumer");
      await expectNothing(cons);
      assert.deepEqual(concat(got.map((f) => f.bytes)), concat(frames));
      const sb = bb.stats();
      assert.deepEqual([sb.received, sb.duplicates, sb.missing], [4, 2, 0], JSON.stringify(sb));
      assert.equal(b.stats().framesForwarded, 4);
      assert.deepEqual(b.stats().rejects, {});
      // Every message is acknowledged, the copies too: the consumer has nothing to redeliver.
      const jsm = await jetstreamManager(raw);
      const durable = defaultDurableName(b.logic.name, b.address);
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const info = await jsm.consumers.info("TORQ_EXECUTION", durable);
        if (info.num_ack_pending === 0 && info.num_pending === 0) break;
        if (Date.now() > deadline) assert.fail(`unacknowledged messages: ${JSON.stringify(info)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name:
    "NatsBridge: JetStream durables are one per relay instance; a durable in use elsewhere is refused",
  async fn() {
    const s = await setup(true);
    try {
      const js: NatsJetStreamOptions = { storage: "memory", ackTimeoutMs: 1000 };
      // Two execution relays on one host with the default durable: each reads the whole stream.
      const b = await relay(s, EXECUTION_LOGIC, "b");
      const c = await relay(s, EXECUTION_LOGIC, "c");
      await bridge(s, b, "in", js);
      const bc = await bridge(s, c, "in", js);
      const consB = await client(s, b);
      const consC = await client(s, c);
      // Two more with the same configured durable: the second is refused, with one line.
      const d = await relay(s, EXECUTION_LOGIC, "d");
      const e = await relay(s, EXECUTION_LOGIC, "e");
      await bridge(s, d, "in", { ...js, durable: "shared" });
      const lines: string[] = [];
      const be = await NatsBridge.start(e, {
        servers: [s.server.url],
        direction: "in",
        jetstream: { ...js, durable: "shared" },
        reconnectInitialMs: 50,
        reconnectMaxMs: 300,
        logger: new Logger({ level: "warn", sink: (l) => void lines.push(l) }),
      });
      s.bridges.push(be);
      await waitFor(() => be.state === "refused", "the second reader of 'shared' to be refused");
      assert.match(
        String(be.stats().lastError),
        new RegExp(
          `"shared" of stream TORQ_EXECUTION is in use by the execution relay at ${d.address}`,
        ),
      );
      const consD = await client(s, d);
      const consE = await client(s, e);

      const a = await relay(s, EXECUTION_LOGIC, "a");
      await bridge(s, a, "out", js);
      const prod = await client(s, a, { publishOnly: true });
      const frames = makeFrames(3, 40, 200);
      for (const f of frames) prod.publish(f);
      await prod.flush();
      for (const [cons, name] of [[consB, "B"], [consC, "C"], [consD, "D"]] as const) {
        const got = await receiveN(cons, 200, `relay ${name}'s consumer`);
        assert.deepEqual(concat(got.map((f) => f.bytes)), concat(frames), name);
      }
      await expectNothing(consE);
      assert.equal(be.stats().received, 0);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /not reading: durable consumer "shared".*give each relay its own/);

      // Once D's bridge stops, E takes the durable over and reads what comes next.
      const bd = s.bridges.find((x) => x.relay === d)!;
      await bd.stop(200);
      await waitFor(() => be.state === "connected", "E to read the durable");
      const more = makeFrames(3, 40, 5, 201);
      for (const f of more) prod.publish(f);
      await prod.flush();
      const got = await receiveN(consE, 5, "relay E's consumer");
      assert.deepEqual(concat(got.map((f) => f.bytes)), concat(more));
      // C reads them through its own durable, in its own time: count once its consumer has them.
      const gotC = await receiveN(consC, 5, "relay C's consumer");
      assert.deepEqual(concat(gotC.map((f) => f.bytes)), concat(more));
      assert.equal(bc.stats().received, 205);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "NatsBridge: a relay that disconnects its stalled bridge gets it back; losses are counted",
  async fn() {
    const s = await setup();
    try {
      // A tiny queue and the disconnect policy: a bus that stops answering stalls the bridge's
      // flush, the relay's queue for it overflows, and the relay closes the bridge connection.
      const lines: string[] = [];
      const a = new Relay(
        {
          ...SIGNAL_LOGIC,
          slowConsumer: "disconnect",
          maxQueueFrames: 20,
          socketPath: `${s.dir}/a.sock`,
        },
        { logger: new Logger({ level: "warn", sink: (line) => void lines.push(line) }) },
      );
      await a.start();
      s.relays.push(a);
      const b = await relay(s, SIGNAL_LOGIC, "b");
      const ba = await bridge(s, a, "out");
      const bb = await bridge(s, b, "in");
      const cons = await client(s, b);
      const prod = await client(s, a, { publishOnly: true });
      const frames = makeFrames(2, 20, 205);
      s.server.pause(true);
      try {
        // Ten writes: the first is in flight to the stalled bus, the others queue up.
        for (let i = 0; i < 200; i += 20) {
          for (const f of frames.slice(i, i + 20)) prod.publish(f);
          await prod.flush();
          // One relay read per write: each write becomes one chunk for the bridge.
          await waitFor(() => a.stats().framesIn >= i + 21, "relay A to read the write");
        }
        await waitFor(
          () => a.stats().slowConsumerDisconnects >= 1,
          "the relay to drop the bridge",
        );
      } finally {
        s.server.pause(false);
      }
      await waitFor(
        () => a.stats().connectionsDetail.some((c) => c.kind === "bridge:nats"),
        "the bridge to attach again",
      );
      for (const f of frames.slice(200)) prod.publish(f);
      await prod.flush();
      const got: ReceivedFrame[] = [];
      const deadline = Date.now() + WAIT_MS;
      while (got.at(-1)?.sequence !== 205n) {
        const f = await cons.receive(Math.max(1, deadline - Date.now()));
        if (f === null) assert.fail(`frame 205 did not arrive (got ${got.length} frames)`);
        got.push(f);
      }
      assert.deepEqual(got.slice(-5).map((f) => f.bytes), frames.slice(200));
      await waitFor(() => ba.stats().pending === 0, "A's bridge to settle");
      // Relay A logs what it could not deliver to the bridge (its queue, and the write in flight,
      // which the bridge finished publishing: counted on both sides); the bridge counts what the
      // relay forwarded while it was detached. Every frame is accounted for at least once.
      const undelivered = lines
        .filter((l) => l.includes("connection closed") && l.includes("slow consumer"))
        .reduce((n, l) => n + Number(/undelivered_frames=(\d+)/.exec(l)?.[1] ?? 0), 0);
      assert.ok(undelivered > 0, lines.join("\n"));
      const sa = ba.stats();
      assert.ok(
        sa.published + sa.unconfirmed + sa.dropped + undelivered >= 205,
        JSON.stringify(sa),
      );
      // The receiver's count is exact: what arrived plus the sequence gaps.
      assert.equal(bb.stats().received + bb.stats().missing, 205);
      assert.equal(bb.stats().received, got.length);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "NatsBridge: bad messages from NATS are refused or rejected and never reach consumers",
  async fn() {
    const s = await setup(false, 4 * 1024 * 1024);
    try {
      const b = await relay(s, SIGNAL_LOGIC, "b");
      await bridge(s, b, "in");
      const cons = await client(s, b);
      const raw = await connect({ servers: s.server.url });
      s.raw.push(raw);
      const [good1, bad, good2] = makeFrames(2, 20, 3);
      const badChecksum = bad!.slice();
      badChecksum[HEADER_SIZE + 10]! ^= 0xff;
      const hello = new Uint8Array(HEADER_SIZE);
      encodeHeader({ relayDomain: 2, source: 20 }, hello);
      const subscribe = new MessageBuilder({ domain: 2, source: 20 }).begin().addTlv(
        SUBSCRIBE_TLV,
        encodeSubscribe({ mode: 0, patterns: [] }),
      ).build();
      const wrongDomain = makeFrames(3, 40, 1)[0]!;
      const cut = good2!.subarray(0, good2!.length - 5);
      raw.publish("torq.signals", good1!);
      raw.publish("torq.signals", new TextEncoder().encode("garbage, not a frame"));
      raw.publish("torq.signals", badChecksum);
      raw.publish("torq.signals", hello);
      raw.publish("torq.signals", subscribe);
      raw.publish("torq.signals", wrongDomain);
      raw.publish("torq.signals", cut);
      // 2 MB: garbage, and a "frame" whose payload_size says so.
      raw.publish("torq.signals", new Uint8Array(2_000_000).fill(0xee));
      const big = new Uint8Array(2_000_000);
      encodeHeader({ relayDomain: 2, source: 20, payloadSize: big.length - HEADER_SIZE }, big);
      raw.publish("torq.signals", big);
      raw.publish("torq.signals", good2!);
      await raw.flush();
      const got = await receiveN(cons, 2, "B's consumer");
      assert.deepEqual(got.map((f) => f.bytes), [good1, good2]);
      await expectNothing(cons);
      const st = b.stats();
      assert.equal(st.rejects.ChecksumMismatch, 1);
      // Another domain's frame is refused by the bridge: it is not within the relay's limits.
      assert.equal(st.rejects.WrongDomain, undefined);
      assert.equal(
        bridgeStats(b).refused,
        7,
        "garbage, hello, Subscribe, other domain, cut frame, 2 MB garbage, 2 MB frame",
      );
      assert.equal(bridgeStats(b).received, 3);
      const conn = st.connectionsDetail.find((c) => c.kind === "bridge:nats");
      assert.equal(conn?.rejected, 1);
      // Only the bridge's own hello (direction in: publish-only) reached the relay.
      assert.deepEqual([conn?.role, conn?.hellos], ["publisher", 1]);
    } finally {
      await cleanup(s);
    }
  },
});

/**
 * A message that claims to be one frame of `total` bytes (header + zeros) over a
 * relay's `max_message_size`, with `tail` written at its end and `inside` at offset 1,000.
 */
function oversized(
  domain: number,
  total: number,
  tail: Uint8Array,
  inside?: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(total);
  encodeHeader({ relayDomain: domain, source: 20, payloadSize: total - HEADER_SIZE }, m);
  if (inside !== undefined) m.set(inside, 1000);
  m.set(tail, total - tail.length);
  return m;
}

Deno.test({
  name: "NatsBridge: a message over max_message_size can neither forge frames nor swallow the next",
  async fn() {
    const s = await setup();
    try {
      const sig = await relay(s, SIGNAL_LOGIC, "sig");
      const md = await relay(s, MARKET_DATA_LOGIC, "md");
      await bridge(s, sig, "in");
      await bridge(s, md, "in");
      const consSig = await client(s, sig);
      const consMd = await client(s, md);
      const forger = await connect({ servers: s.server.url });
      const producer = await connect({ servers: s.server.url });
      s.raw.push(forger, producer);

      // Signal: a fake header in the message's last 32 bytes claims the next two frames.
      const good = makeFrames(2, 21, 3);
      const fake = new Uint8Array(HEADER_SIZE);
      encodeHeader({
        relayDomain: 2,
        source: 66,
        payloadSize: good[0]!.length + good[1]!.length,
      }, fake);
      forger.publish("torq.signals", oversized(2, SIGNAL_LOGIC.maxMessageSize + 100, fake));
      await forger.flush();
      for (const f of good) producer.publish("torq.signals", f);
      await producer.flush();
      const got = await receiveN(consSig, 3, "the signal consumer");
      assert.deepEqual(got.map((f) => f.bytes), good);
      await expectNothing(consSig);
      assert.equal(bridgeStats(sig).refused, 1);
      assert.deepEqual(sig.stats().rejects, {});

      // Market data: a whole frame (source 66) embedded in an oversized message.
      const embedded = new MessageBuilder({ domain: 1, source: 66 }).begin({ sequence: 1 })
        .addTlv(1, new Uint8Array(40)).build();
      forger.publish(
        "torq.market_data",
        oversized(1, MARKET_DATA_LOGIC.maxMessageSize + 1000, new Uint8Array(0), embedded),
      );
      await forger.flush();
      const trade = new MessageBuilder({ domain: 1, source: 2 }).begin({ sequence: 1 })
        .addTlv(1, new Uint8Array(40)).build();
      producer.publish("torq.market_data", trade);
      await producer.flush();
      const [first] = await receiveN(consMd, 1, "the market-data consumer");
      assert.deepEqual(first!.bytes, trade, "the embedded frame is not forwarded");
      await expectNothing(consMd);
      assert.equal(bridgeStats(md).refused, 1);
      assert.equal(md.stats().garbageBytes, 0, "nothing of the message reached the relay");
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "RelayClient over nats:// reads a relay bridged out and writes to one bridged in",
  async fn() {
    const s = await setup();
    try {
      const a = await relay(s, SIGNAL_LOGIC, "a");
      const b = await relay(s, SIGNAL_LOGIC, "b");
      await bridge(s, a, "out");
      await bridge(s, b, "in");
      const viaNats = await RelayClient.connect({ domain: "signal", path: s.server.url });
      s.clients.push(viaNats);
      assert.equal(viaNats.address, s.server.url);
      const prodA = await client(s, a, { publishOnly: true });
      const frames = makeFrames(2, 20, 5);
      for (const f of frames) prodA.publish(f);
      await prodA.flush();
      const got = await receiveN(viaNats, 5, "the NATS client");
      assert.deepEqual(got.map((f) => f.bytes), frames);

      // Subscribe patterns are applied on the client's side.
      assert.deepEqual(await viaNats.subscribe(["source.21"]), ["source.21"]);
      const other = makeFrames(2, 21, 2, 100);
      prodA.publish(makeFrames(2, 20, 1, 50)[0]!);
      for (const f of other) prodA.publish(f);
      await prodA.flush();
      const filtered = await receiveN(viaNats, 2, "the filtered NATS client");
      assert.deepEqual(filtered.map((f) => f.bytes), other);
      await expectNothing(viaNats);

      // Publishing through NATS reaches relay B's consumers.
      const consB = await client(s, b);
      const pub = await RelayClient.connect({
        domain: "signal",
        path: s.server.url,
        publishOnly: true,
        source: 22,
      });
      s.clients.push(pub);
      const mine = makeFrames(2, 22, 3);
      for (const f of mine) pub.publish(f);
      await pub.flush();
      const atB = await receiveN(consB, 3, "B's consumer");
      assert.deepEqual(atB.map((f) => f.bytes), mine);
      assert.equal(readSequence(atB[2]!.bytes, 0), 3n);
    } finally {
      await cleanup(s);
    }
  },
});

Deno.test({
  name: "torq relay with relays.<name>.bridge.nats enabled bridges two relay processes",
  async fn() {
    const server = await startNatsServer();
    const set = (
      key: string,
      value: string,
    ) => ["--set", `relays.signal.bridge.nats.${key}=${value}`];
    const args = (direction: string) => [
      ...set("enabled", "true"),
      ...set("servers", `[${server.url}]`),
      ...set("direction", direction),
    ];
    const a = await startRelay("signal", { args: args("out") });
    const b = await startRelay("signal", { args: args("in") });
    try {
      for (const r of [a, b]) {
        await r.waitForLog((l) => l.msg === "connected" && l.bridge === "nats");
      }
      const cons = await connectUnix(b.path);
      const prod = await connectUnix(a.path);
      const hello = new Uint8Array(HEADER_SIZE);
      encodeHeader({ relayDomain: 2, source: 20 }, hello);
      await prod.write(hello);
      // Relay B adopts the consumer's connection asynchronously: let it settle first.
      await new Promise((r) => setTimeout(r, 100));
      const frames = makeFrames(2, 20, 20);
      await prod.write(concat(frames));
      const got = await readFrames(cons, 20);
      assert.deepEqual(got, frames);
      cons.close();
      prod.close();
    } finally {
      const [ra, rb] = [await a.stop(), await b.stop()];
      await server.stop();
      assert.equal(ra.code, 0);
      assert.equal(rb.code, 0);
      assert.match(ra.stderr, /"msg":"bridge stopped".*"published":20/);
      assert.match(rb.stderr, /"msg":"bridge stopped".*"received":20/);
    }
  },
});

/** GETs a path of a relay's HTTP API (`torq relay --http`), bounded. */
async function httpGet(base: string, path: string): Promise<string> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return await res.text();
}

Deno.test("torq relay whose bridge NATS refuses (credentials) keeps relaying, retries and says why", async (t) => {
  const server = await startNatsServer({ user: "torq", password: "right" });
  const dir = await Deno.makeTempDir({ prefix: "torq-bridge-auth-" });
  /** Starts `torq relay signal --config F --http 127.0.0.1:0` with these bridge credentials. */
  const start = async (name: string, credentials: string[]) => {
    const config = `${dir}/${name}.yaml`;
    await Deno.writeTextFile(
      config,
      [
        "relays:",
        "  signal:",
        "    bridge:",
        "      nats:",
        "        enabled: true",
        `        servers: [${server.url}]`,
        "        direction: both",
        "        reconnect_initial_ms: 20",
        "        reconnect_max_ms: 100",
        ...credentials.map((c) => `        ${c}`),
        "",
      ].join("\n"),
    );
    const relay = await startRelay("signal", {
      args: ["--config", config, "--http", "127.0.0.1:0"],
    });
    const deadline = Date.now() + WAIT_MS;
    let url: string | undefined;
    while (url === undefined) {
      url = relay.stdoutLines().map((l) => /^dashboard: (http:\/\/\S+?)\/?$/.exec(l)?.[1])
        .find((u) => u !== undefined);
      if (url !== undefined) break;
      if (Date.now() > deadline) assert.fail(`no dashboard line: ${relay.stdoutLines()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { relay, url };
  };
  try {
    const cases: [string, string[]][] = [
      ["wrong password", ["user: torq", "password: wrong"]],
      ["a token where a user is required", ["token: not-a-user"]],
      ["no credentials", []],
    ];
    for (const [what, credentials] of cases) {
      await t.step(what, async () => {
        const { relay, url } = await start(what.replaceAll(" ", "_"), credentials);
        try {
          // One clear line: which servers, why.
          const line = await relay.waitForLog(
            (l) => l.msg === "cannot connect to NATS, retrying",
            WAIT_MS,
          );
          assert.equal(line.servers, server.url);
          assert.match(String(line.error), /Authorization Violation/);
          // It retries with its backoff: failures mount while the relay keeps running.
          let bridge: BridgeStats | undefined;
          const poll = async () => {
            const body = JSON.parse(await httpGet(url, "/api/relays"));
            bridge = body.relays[0].bridges[0];
          };
          const deadline = Date.now() + WAIT_MS;
          while ((bridge?.connectFailures ?? 0) < 3) {
            assert.ok(!relay.exited(), `the relay exited:\n${relay.stderrLines().join("\n")}`);
            if (Date.now() > deadline) assert.fail(`no retries: ${JSON.stringify(bridge)}`);
            await poll();
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.equal(bridge!.connected, false);
          assert.equal(bridge!.state, "connecting");
          assert.match(String(bridge!.lastError), /Authorization Violation/);
          // Logged once per distinct reason, then every tenth attempt.
          const lines = relay.logs().filter((l) => l.msg === "cannot connect to NATS, retrying");
          assert.ok(
            lines.length <= 1 + Math.floor(bridge!.connectFailures / 10),
            `${lines.length} lines for ${bridge!.connectFailures} attempts`,
          );

          const metrics = await httpGet(url, "/metrics");
          const labels =
            'relay="signal",domain="signal",bridge="nats",subject="torq.signals",direction="both"';
          assert.ok(metrics.includes(`torq_bridge_connected{${labels}} 0\n`), metrics);
          assert.ok(metrics.includes(`torq_bridge_state{${labels},state="connecting"} 1\n`));
          assert.ok(metrics.includes(`torq_bridge_state{${labels},state="connected"} 0\n`));
          const failures = Number(
            new RegExp(`torq_bridge_connect_failures_total\\{${labels}\\} (\\d+)`).exec(metrics)
              ?.[1],
          );
          assert.ok(failures >= 3, metrics);

          const stats = await runTorq(["stats", "--http", url]);
          assert.equal(stats.code, 0, stats.stderr);
          assert.match(
            stats.stdout,
            /bridge nats ⇄ torq\.signals \(core\) connecting: Authorization Violation \(\d+ failed attempts\)/,
          );

          // The relay itself is unaffected: a producer's frames reach a consumer.
          const cons = await connectUnix(relay.path);
          const prod = await connectUnix(relay.path);
          const hello = new Uint8Array(HEADER_SIZE);
          encodeHeader({ relayDomain: 2, source: 20 }, hello);
          await prod.write(hello);
          await new Promise((r) => setTimeout(r, 100));
          const frames = makeFrames(2, 20, 5);
          await prod.write(concat(frames));
          assert.deepEqual(await readFrames(cons, 5), frames);
          cons.close();
          prod.close();
        } finally {
          const r = await relay.stop();
          assert.equal(r.code, 0, r.stderr);
          assert.doesNotMatch(r.stderr, /Uncaught|ECONNRESET/);
        }
      });
    }
    await t.step("the right password connects (control)", async () => {
      const { relay, url } = await start("right", ["user: torq", "password: right"]);
      try {
        await relay.waitForLog((l) => l.msg === "connected" && l.bridge === "nats", WAIT_MS);
        const body = JSON.parse(await httpGet(url, "/api/relays"));
        const bridge: BridgeStats = body.relays[0].bridges[0];
        assert.deepEqual([bridge.connected, bridge.state, bridge.lastError], [
          true,
          "connected",
          null,
        ]);
      } finally {
        const r = await relay.stop();
        assert.equal(r.code, 0, r.stderr);
      }
    });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
