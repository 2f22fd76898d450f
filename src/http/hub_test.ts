import assert from "node:assert/strict";
import { Hub, type MonitoredRelay } from "./hub.ts";
import type { MessageEvent, StatsEvent } from "./api.ts";
import type { ConnectionStats, RelayStats } from "../relay/stats.ts";
import type { RejectRecord } from "../relay/rejects.ts";
import { findVector } from "../protocol/spec_vectors.ts";
import { parseHex } from "../format/hex.ts";
import { connect, startTestRelays, tradeFrames, waitFor, writeAll } from "./_testing.ts";

/** A relay whose counters the test sets. */
class FakeRelay implements MonitoredRelay {
  readonly logic: { name: string; domain: number };
  readonly address = "/nonexistent/torq-fake.sock";
  s: RelayStats;
  rejects: RejectRecord[] = [];
  sampler: ((frame: Uint8Array, relay: string) => void) | null = null;

  constructor(name: string, domain = 1) {
    this.logic = { name, domain };
    this.s = {
      name,
      domain,
      address: this.address,
      addresses: [this.address],
      policy: "performance",
      strict: false,
      startedAt: 0,
      uptimeMs: 0,
      connections: { current: 0, total: 0, refused: 0 },
      accepting: true,
      acceptErrors: 0,
      lastAcceptError: null,
      framesIn: 0,
      bytesIn: 0,
      framesOut: 0,
      bytesOut: 0,
      writes: 0,
      framesForwarded: 0,
      hello: 0,
      subscribes: 0,
      garbageBytes: 0,
      rejects: {},
      warnings: {},
      drops: { slow_consumer: 0, hello: 0 },
      slowConsumerDisconnects: 0,
      stalls: 0,
      undelivered: 0,
      stalledMs: 0,
      producerStalls: 0,
      producerStalledMs: 0,
      journal: null,
      recovery: null,
      latency: {
        count: 0,
        sumUs: 0,
        maxUs: 0,
        p50Us: 0,
        p99Us: 0,
        p999Us: 0,
        clockSkew: 0,
        buckets: buckets([0, 0, 0, 0]),
      },
      sources: [],
      tlvMix: {},
      connectionsDetail: [],
    };
  }

  stats(): RelayStats {
    return structuredClone(this.s);
  }

  recentRejects(): readonly RejectRecord[] {
    return this.rejects;
  }

  setSampler(fn: ((frame: Uint8Array, relay: string) => void) | null): void {
    this.sampler = fn;
  }
}

/** Cumulative buckets 1 µs, 8 µs, 1024 µs, +Inf from per-bucket counts. */
function buckets(counts: [number, number, number, number]): [string, number][] {
  const les = ["0.000001", "0.000008", "0.001024", "+Inf"];
  let cum = 0;
  return les.map((le, i) => [le, cum += counts[i]!]);
}

function conn(id: number, over: Partial<ConnectionStats>): ConnectionStats {
  return {
    id,
    kind: "accepted",
    connectedAt: 0,
    lastActivity: 0,
    role: "subscriber",
    patterns: ["*"],
    framesIn: 0,
    bytesIn: 0,
    framesQueued: 0,
    framesOut: 0,
    bytesOut: 0,
    writes: 0,
    rejected: 0,
    dropped: 0,
    hellos: 0,
    stalls: 0,
    stalledMs: 0,
    delivering: true,
    queueFrames: 0,
    queueBytes: 0,
    queueHighWater: 0,
    queuePercent: 0,
    garbageBytes: 0,
    readBufferBytes: 4096,
    ...over,
  };
}

Deno.test("Hub.tick() turns counter deltas into per-second rates", () => {
  let now = 10_000;
  const r = new FakeRelay("market_data");
  const hub = new Hub([r], { clock: () => now });
  r.s.framesIn = 500;
  r.s.bytesIn = 500 * 74;
  r.s.framesOut = 1000;
  r.s.bytesOut = 1000 * 74;
  r.s.drops = { slow_consumer: 4, WrongDomain: 2, hello: 9 };
  r.s.rejects = { WrongDomain: 2 };
  now += 2000;
  const e = hub.tick();
  const p = e.points[0]!;
  assert.equal(p.name, "market_data");
  assert.equal(p.t, 12_000);
  assert.equal(p.msgsInPerSec, 250);
  assert.equal(p.bytesInPerSec, 250 * 74);
  assert.equal(p.msgsOutPerSec, 500);
  assert.equal(p.bytesOutPerSec, 500 * 74);
  assert.equal(p.dropsPerSec, 3, "hello frames are not drops");
  assert.equal(p.rejectsPerSec, 1, "the rejected part of the drops");
  assert.deepEqual(hub.relaysResponse().rates[0], {
    name: "market_data",
    msgsInPerSec: 250,
    msgsOutPerSec: 500,
    bytesInPerSec: 250 * 74,
    bytesOutPerSec: 500 * 74,
    dropsPerSec: 3,
    rejectsPerSec: 1,
  });
  now += 1000;
  assert.equal(hub.tick().points[0]!.msgsInPerSec, 0, "no new frames: rate 0");
});

Deno.test("Hub.tick() computes each second's latency from the bucket deltas", () => {
  let now = 0;
  const r = new FakeRelay("signal", 2);
  const hub = new Hub([r], { clock: () => now });
  // Before: 1000 samples at ≤ 1 µs, which must not weigh on the next second.
  r.s.latency.buckets = buckets([1000, 0, 0, 0]);
  now += 1000;
  let p = hub.tick().points[0]!;
  assert.deepEqual([p.p50Us, p.p99Us, p.p999Us], [1, 1, 1]);
  // This second: 90 at ≤ 8 µs, 9 at ≤ 1024 µs, 1 above.
  r.s.latency.buckets = buckets([1000, 90, 9, 1]);
  r.s.latency.maxUs = 5000;
  now += 1000;
  p = hub.tick().points[0]!;
  assert.deepEqual([p.p50Us, p.p99Us, p.p999Us], [8, 1024, 5000]);
  now += 1000;
  p = hub.tick().points[0]!;
  assert.deepEqual([p.p50Us, p.p99Us, p.p999Us], [0, 0, 0], "no samples that second");
});

Deno.test("Hub keeps at most historyPoints timeline points per relay", () => {
  let now = 0;
  const a = new FakeRelay("market_data");
  const b = new FakeRelay("signal", 2);
  const hub = new Hub([a, b], { clock: () => now, historyPoints: 5 });
  for (let i = 0; i < 8; i++) {
    now += 1000;
    hub.tick();
  }
  const tl = hub.timeline();
  assert.deepEqual(Object.keys(tl.timeline), ["market_data", "signal"]);
  assert.deepEqual(tl.timeline.market_data!.map((p) => p.t), [4000, 5000, 6000, 7000, 8000]);
  assert.deepEqual(hub.timeline({ relay: "signal", seconds: 2 }).timeline, {
    signal: hub.timeline().timeline.signal!.slice(-2),
  });
  assert.deepEqual(hub.timeline({ seconds: 0 }).timeline.signal, []);
});

Deno.test("Hub.tick() sends stats events without connection detail to listeners", () => {
  const r = new FakeRelay("market_data");
  r.s.connectionsDetail = [conn(1, {})];
  const hub = new Hub([r]);
  const got: StatsEvent[] = [];
  const off = hub.subscribe({ stats: (e) => got.push(e) });
  hub.tick();
  off();
  hub.tick();
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.relays[0]!.connectionsDetail, []);
  assert.equal(hub.latest()?.points.length, 1);
});

Deno.test("Hub.connections() sorts rows by the asked key and order", async (t) => {
  const a = new FakeRelay("market_data");
  const b = new FakeRelay("signal", 2);
  a.s.connectionsDetail = [
    conn(1, { queueBytes: 10, framesIn: 5, lastActivity: 30 }),
    conn(2, { queueBytes: 900, framesIn: 1, lastActivity: 10 }),
  ];
  b.s.connectionsDetail = [conn(1, { queueBytes: 50, framesIn: 9, dropped: 4, lastActivity: 20 })];
  const hub = new Hub([a, b]);
  const order = (q: Parameters<Hub["connections"]>[0]) =>
    hub.connections(q).connections.map((c) => `${c.relay}/${c.id}`);
  await t.step("pending (queue bytes) descending by default", () => {
    assert.deepEqual(order({}), ["market_data/2", "signal/1", "market_data/1"]);
  });
  await t.step("msgs_in ascending", () => {
    assert.deepEqual(order({ sort: "msgs_in", order: "asc" }), [
      "market_data/2",
      "market_data/1",
      "signal/1",
    ]);
  });
  await t.step("last_activity, limit", () => {
    assert.deepEqual(order({ sort: "last_activity", limit: 2 }), ["market_data/1", "signal/1"]);
  });
  await t.step("id ascending by default, ties by relay", () => {
    assert.deepEqual(order({ sort: "id" }), ["market_data/1", "signal/1", "market_data/2"]);
  });
  await t.step("one relay", () => {
    assert.deepEqual(order({ relay: "signal" }), ["signal/1"]);
  });
});

Deno.test("Hub.rejects() merges relays oldest first and keeps the last `limit`", () => {
  const a = new FakeRelay("market_data");
  const b = new FakeRelay("signal", 2);
  const rec = (time: number): RejectRecord => ({
    time,
    conn: 1,
    code: "WrongDomain",
    message: "m",
    offset: 4,
    expected: "1",
    actual: "2",
    head: "efbeadde",
  });
  a.rejects = [rec(1), rec(5)];
  b.rejects = [rec(3)];
  const hub = new Hub([a, b]);
  assert.deepEqual(hub.rejects().rejects.map((r) => `${r.relay}@${r.time}`), [
    "market_data@1",
    "signal@3",
    "market_data@5",
  ]);
  assert.deepEqual(hub.rejects({ limit: 1 }).rejects.map((r) => r.time), [5]);
  assert.deepEqual(hub.rejects({ relay: "signal" }).rejects.map((r) => r.time), [3]);
});

Deno.test("Hub.health() reports a relay that does not accept connections", async () => {
  const hub = new Hub([new FakeRelay("market_data")], { probeTimeoutMs: 2000 });
  const h = await hub.health();
  assert.equal(h.status, "unavailable");
  assert.equal(h.relays[0]!.accepting, false);
  assert.equal(h.relays[0]!.reason, "no such socket");
});

Deno.test("Hub with real relays: health, samplers and decoded messages", async (t) => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays, { intervalMs: 60_000, recentMessages: 3 });
  hub.start();
  const md = env.relay("market_data");
  const consumer = await connect(md);
  const producer = await connect(md);
  try {
    await t.step("every relay accepts a connection", async () => {
      const h = await hub.health();
      assert.equal(h.status, "ok");
      assert.deepEqual(h.relays.map((r) => [r.name, r.accepting]), [
        ["market_data", true],
        ["signal", true],
        ["execution", true],
      ]);
    });
    await t.step("a forwarded frame comes back decoded to listeners", async () => {
      const got: MessageEvent[] = [];
      const off = hub.subscribe({ message: (e) => got.push(e) });
      await waitFor("the consumer", () => md.stats().connections.current >= 2);
      await writeAll(producer, tradeFrames(1));
      await waitFor("a message event", () => got.length > 0);
      off();
      const m = got[0]!;
      assert.equal(m.relay, "market_data");
      const decoded = m.decoded as { header: { source_name: string }; tlvs: { name: string }[] };
      assert.equal(decoded.header.source_name, "KrakenCollector");
      assert.equal(decoded.tlvs[0]!.name, "Trade");
      assert.equal(hub.messages().length, 1);
    });
    await t.step("stop() removes the samplers and closes listeners", () => {
      let closed = false;
      hub.subscribe({ close: () => closed = true });
      hub.stop();
      assert.equal(closed, true);
      assert.equal(hub.listenerCount, 0);
    });
  } finally {
    hub.stop();
    consumer.close();
    producer.close();
    await env.stop();
  }
});

Deno.test("Hub keeps only the last recentMessages decoded messages", async () => {
  const r = new FakeRelay("market_data");
  const hub = new Hub([r], { intervalMs: 60_000, recentMessages: 2 });
  hub.start();
  try {
    const frame = tradeFrames(3);
    for (let i = 0; i < 3; i++) r.sampler!(frame.slice(i * 74, i * 74 + 74), "market_data");
    await waitFor("three messages decoded", () => hub.messages().length === 2);
    const prices = hub.messages().map((m) =>
      (m.decoded as { tlvs: { fields: { price: string } }[] }).tlvs[0]!.fields.price
    );
    assert.deepEqual(prices, ["4512350000001", "4512350000002"]);
  } finally {
    hub.stop();
  }
});

Deno.test("Hub reports an undecodable sample as an error object", async () => {
  const r = new FakeRelay("market_data");
  const hub = new Hub([r], { intervalMs: 60_000 });
  hub.start();
  try {
    const bad = tradeFrames(1);
    bad[33] = 200; // the Trade TLV's length now runs past the payload
    r.sampler!(bad, "market_data");
    await waitFor("the message", () => hub.messages().length === 1);
    const decoded = hub.messages()[0]!.decoded as { error?: { code: string } };
    assert.equal(typeof decoded.error?.code, "string");
  } finally {
    hub.stop();
  }
});

Deno.test("Hub adds the 8.5 dashboard JSON to a sampled ArbitrageSignal", async () => {
  const r = new FakeRelay("signal", 2);
  const hub = new Hub([r], { intervalMs: 60_000 });
  hub.start();
  try {
    r.sampler!(parseHex(findVector("arbitrage_signal_flash_arb")!.hex), "signal");
    await waitFor("the message", () => hub.messages().length === 1);
    const m = hub.messages()[0]!;
    assert.equal(m.relay, "signal");
    assert.equal(m.arbitrage?.msg_type, "arbitrage_opportunity");
    assert.equal(typeof m.arbitrage?.signal_id, "string");
    assert.equal((m.decoded as { tlvs: { name: string }[] }).tlvs[0]!.name, "ArbitrageSignal");
  } finally {
    hub.stop();
  }
});

Deno.test("Hub.health() probes a host:port address over TCP", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept();
  const r = new FakeRelay("market_data");
  Object.defineProperty(r, "address", { value: `127.0.0.1:${port}` });
  try {
    const h = await new Hub([r]).health();
    assert.equal(h.status, "ok");
    (await accepted).close();
  } finally {
    listener.close();
  }
});

Deno.test("Hub.replace() follows a restarted relay under its name; its timeline continues", () => {
  let now = 0;
  const old = new FakeRelay("signal", 2);
  const hub = new Hub([old], { clock: () => now });
  hub.start();
  try {
    old.s.framesIn = 100;
    now += 1000;
    hub.tick();
    assert.ok(old.sampler !== null, "the old relay is tapped");
    const next = new FakeRelay("signal", 2);
    next.s.framesIn = 7; // a new relay's counters start over
    assert.equal(hub.replace(next), true);
    assert.equal(old.sampler, null, "the old relay's tap is removed");
    assert.ok(next.sampler !== null, "the new one is tapped");
    assert.deepEqual(hub.relays, [next]);
    next.s.framesIn = 27;
    now += 1000;
    assert.equal(hub.tick().points[0]!.msgsInPerSec, 20, "rates from the new counters");
    assert.equal(hub.timeline().timeline["signal"]!.length, 2);
    assert.equal(hub.replace(new FakeRelay("other")), false);
  } finally {
    hub.stop();
  }
});

Deno.test("Hub.setServices() puts the services in stats events and services()", () => {
  const hub = new Hub([new FakeRelay("signal", 2)], { clock: () => 0 });
  assert.deepEqual(hub.services(), []);
  assert.equal(hub.tick().services, undefined, "no services: no key");
  const rows = [{
    name: "feed",
    state: "running" as const,
    pid: 42,
    startedAt: 0,
    restarts: 1,
    lastExit: null,
    reason: null,
    command: "torq demo pipeline --stage feed",
    log: "/tmp/torq/feed.log",
  }];
  hub.setServices(() => rows);
  assert.deepEqual(hub.services(), rows);
  assert.deepEqual(hub.tick().services, rows);
});

Deno.test("Hub.health() is no client: relays count no connection for it and log nothing", async () => {
  const lines: string[] = [];
  const env = await startTestRelays({ sink: (line) => void lines.push(line) });
  let now = 0;
  const hub = new Hub(env.relays, { clock: () => now });
  try {
    for (let i = 0; i < 3; i++) {
      now += 5_000; // past the answer cache: a new check each time, as a dashboard polls
      assert.equal((await hub.health()).status, "ok");
    }
    // A real client is counted, so the counters above are live.
    const client = await connect(env.relay("signal"));
    await waitFor("the client", () => env.relay("signal").stats().connections.total === 1);
    client.close();
    assert.deepEqual(env.relays.map((r) => r.stats().connections.total), [0, 1, 0]);
    await waitFor(
      "the close to be logged",
      () => lines.some((l) => l.includes("connection closed")),
    );
    assert.equal(lines.filter((l) => l.includes("connection closed")).length, 1, lines.join("\n"));
  } finally {
    await env.stop();
  }
});

Deno.test("Hub.health() tells a stale socket file from a listening socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq-health-" });
  try {
    const path = `${dir}/stale.sock`;
    // A process listening on the socket, then killed: its socket file stays behind.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } }); setInterval(() => {}, 1000);`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const r = new FakeRelay("market_data");
    Object.defineProperty(r, "address", { value: path });
    try {
      await waitFor("the listener", () => {
        try {
          return Deno.statSync(path).isSocket === true;
        } catch {
          return false;
        }
      });
      assert.equal((await new Hub([r]).health()).status, "ok");
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    assert.ok(Deno.statSync(path).isSocket === true, "the socket file stays behind");
    const h = await new Hub([r]).health();
    assert.equal(h.status, "unavailable");
    assert.match(h.relays[0]!.reason!, /nothing listens on the socket|Connection refused/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
