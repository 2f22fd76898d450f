import assert from "node:assert/strict";
import { escapeLabelValue, METRICS_CONTENT_TYPE, prometheusText } from "./metrics.ts";
import { createApp } from "./app.ts";
import { Hub } from "./hub.ts";
import {
  connect,
  readBytes,
  startTestRelays,
  tradeFrames,
  waitFor,
  writeAll,
  wrongDomainFrame,
} from "./_testing.ts";
import type { RelayStats } from "../relay/stats.ts";
import type { ServiceRow } from "./api.ts";

/** One parsed sample line. */
interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What a tiny parser of the text format reads back. */
interface Parsed {
  samples: ParsedSample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

/** A small parser of the Prometheus text format, strict enough to catch bad escaping. */
function parseExposition(text: string): Parsed {
  const out: Parsed = { samples: [], help: new Map(), type: new Map() };
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      const map = meta[1] === "HELP" ? out.help : out.type;
      assert.ok(!map.has(meta[2]!), `${meta[1]} of ${meta[2]} appears once`);
      map.set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `sample line parses: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest.length > 0) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      assert.ok(l !== null, `labels parse: ${JSON.stringify(m[2])}`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c) => c === "n" ? "\n" : c);
      rest = rest.slice(l[0].length);
    }
    const v = m[3]!;
    const value = v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v);
    assert.ok(v === "NaN" || !Number.isNaN(value), `value parses: ${v}`);
    out.samples.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`. */
function valueOf(p: Parsed, name: string, labels: Record<string, string>): number {
  const hits = p.samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.equal(hits.length, 1, `one sample ${name}${JSON.stringify(labels)}, got ${hits.length}`);
  return hits[0]!.value;
}

function fakeStats(over: Partial<RelayStats> = {}): RelayStats {
  return {
    name: "signal",
    domain: 2,
    address: "/tmp/x.sock",
    addresses: ["/tmp/x.sock"],
    policy: "standard",
    strict: true,
    startedAt: 1,
    uptimeMs: 2500,
    connections: { current: 1, total: 3, refused: 0 },
    accepting: true,
    acceptErrors: 0,
    lastAcceptError: null,
    framesIn: 10,
    bytesIn: 740,
    framesOut: 20,
    bytesOut: 1480,
    writes: 0,
    framesForwarded: 10,
    hello: 1,
    subscribes: 0,
    garbageBytes: 0,
    rejects: {},
    warnings: {},
    drops: { slow_consumer: 0, hello: 1 },
    slowConsumerDisconnects: 0,
    stalls: 0,
    undelivered: 0,
    stalledMs: 0,
    producerStalls: 0,
    producerStalledMs: 0,
    journal: null,
    recovery: null,
    latency: {
      count: 3,
      sumUs: 30,
      maxUs: 16,
      p50Us: 8,
      p99Us: 16,
      p999Us: 16,
      clockSkew: 0,
      buckets: [["0.000001", 0], ["0.000008", 2], ["0.000016", 3], ["+Inf", 3]],
    },
    sources: [],
    tlvMix: {},
    connectionsDetail: [],
    ...over,
  };
}

Deno.test("escapeLabelValue() escapes backslash, quote and newline", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain"), "plain");
});

Deno.test("prometheusText() writes HELP and TYPE once per family and parses back", () => {
  const text = prometheusText([
    fakeStats(),
    fakeStats({ name: 'odd "name"\\x\n', domain: 1, framesIn: 7 }),
  ]);
  const p = parseExposition(text);
  for (const s of p.samples) {
    const family = s.name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(p.type.has(s.name) || p.type.get(family) === "histogram", `TYPE of ${s.name}`);
  }
  assert.equal(p.type.get("torq_frames_in_total"), "counter");
  assert.equal(p.type.get("torq_connections"), "gauge");
  assert.equal(p.type.get("torq_latency_seconds"), "histogram");
  assert.equal(valueOf(p, "torq_frames_in_total", { relay: "signal", domain: "signal" }), 10);
  assert.equal(
    valueOf(p, "torq_frames_in_total", { relay: 'odd "name"\\x\n', domain: "market_data" }),
    7,
  );
  assert.equal(valueOf(p, "torq_uptime_seconds", { relay: "signal" }), 2.5);
  assert.equal(valueOf(p, "torq_latency_seconds_bucket", { relay: "signal", le: "+Inf" }), 3);
  assert.equal(valueOf(p, "torq_latency_seconds_sum", { relay: "signal" }), 0.00003);
  assert.equal(valueOf(p, "torq_drops_total", { relay: "signal", reason: "hello" }), 1);
});

Deno.test("GET /metrics counts real traffic: frames in, drops by reason, latency", async (t) => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays);
  const app = createApp(hub);
  const md = env.relay("market_data");
  const consumer = await connect(md);
  const producer = await connect(md);
  try {
    await waitFor("the consumer to be accepted", () => md.stats().connections.current === 2);
    const n = 25;
    await writeAll(producer, tradeFrames(n));
    await readBytes(consumer, n * 74);
    await writeAll(producer, wrongDomainFrame());
    await waitFor("the wrong-domain frame", () => md.stats().framesIn === n + 1);

    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
    const p = parseExposition(await res.text());
    const md1 = { relay: "market_data", domain: "market_data" };

    await t.step("frames and bytes in equal what was sent", () => {
      assert.equal(valueOf(p, "torq_frames_in_total", md1), n + 1);
      assert.equal(valueOf(p, "torq_bytes_in_total", md1), n * 74 + wrongDomainFrame().length);
      assert.equal(valueOf(p, "torq_frames_forwarded_total", md1), n);
      assert.equal(valueOf(p, "torq_frames_out_total", md1), n);
      assert.equal(valueOf(p, "torq_bytes_out_total", md1), n * 74);
    });
    await t.step("drops and rejects by reason", () => {
      assert.equal(valueOf(p, "torq_drops_total", { ...md1, reason: "WrongDomain" }), 1);
      assert.equal(valueOf(p, "torq_drops_total", { ...md1, reason: "slow_consumer" }), 0);
      assert.equal(valueOf(p, "torq_drops_total", { ...md1, reason: "hello" }), 0);
      assert.equal(valueOf(p, "torq_rejects_total", { ...md1, code: "WrongDomain" }), 1);
    });
    await t.step("connections and queues", () => {
      assert.equal(valueOf(p, "torq_connections", md1), 2);
      assert.equal(valueOf(p, "torq_connections_total", md1), 2);
      assert.equal(valueOf(p, "torq_connections_refused_total", md1), 0);
      const queues = p.samples.filter((s) =>
        s.name === "torq_queue_depth_bytes" && s.labels.relay === "market_data"
      );
      assert.equal(queues.length, 2);
      assert.ok(queues.every((q) => q.labels.conn !== undefined && q.value >= 0));
    });
    await t.step("latency histogram counts every accepted frame", () => {
      assert.equal(valueOf(p, "torq_latency_seconds_count", md1), n);
      assert.equal(valueOf(p, "torq_latency_seconds_bucket", { ...md1, le: "+Inf" }), n);
      const buckets = p.samples.filter((s) =>
        s.name === "torq_latency_seconds_bucket" && s.labels.relay === "market_data"
      );
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, "buckets are cumulative");
      }
    });
    await t.step("the process's memory, matching what Deno reports", () => {
      const rss = valueOf(p, "process_resident_memory_bytes", {});
      const heapUsed = valueOf(p, "torq_process_heap_used_bytes", {});
      const heapTotal = valueOf(p, "torq_process_heap_total_bytes", {});
      // Same process: the figures are of the size Deno reports now (within 2x, not zero).
      const now = Deno.memoryUsage();
      assert.ok(rss > now.rss / 2 && rss < now.rss * 2, `rss ${rss} vs ${now.rss}`);
      assert.ok(heapUsed > 0 && heapUsed <= heapTotal, `heap ${heapUsed} of ${heapTotal}`);
      assert.ok(valueOf(p, "torq_process_external_bytes", {}) > 0);
    });
    await t.step("sequence health per source", () => {
      const src = { ...md1, source: "KrakenCollector" };
      assert.equal(valueOf(p, "torq_sequence_gaps_total", src), 0);
      assert.equal(valueOf(p, "torq_sequence_missing_total", src), 0);
    });
    await t.step("every relay appears, the execution relay with its journal", () => {
      for (const relay of ["market_data", "signal", "execution"]) {
        assert.ok(valueOf(p, "torq_uptime_seconds", { relay }) >= 0);
      }
      assert.equal(valueOf(p, "torq_journal_records_total", { relay: "execution" }), 0);
    });
  } finally {
    consumer.close();
    producer.close();
    await env.stop();
  }
});

Deno.test("GET /metrics counts the journal's records and the rejected frames over its bound", async () => {
  const env = await startTestRelays();
  const app = createApp(new Hub(env.relays));
  const ex = env.relay("execution");
  const producer = await connect(ex);
  try {
    // 150 market-data trades on the execution relay: 150 WrongDomain rejects in one read batch;
    // the journal stores 100 (its per-second bound) and counts the other 50.
    await writeAll(producer, tradeFrames(150));
    await waitFor("the 150 frames", () => ex.stats().framesIn === 150);
    const p = parseExposition(await (await app.request("/metrics")).text());
    const execution = { relay: "execution", domain: "execution" };
    assert.equal(valueOf(p, "torq_journal_records_total", execution), 100);
    assert.equal(valueOf(p, "torq_journal_suppressed_total", { ...execution, result: "FAIL" }), 50);
    assert.equal(
      valueOf(p, "torq_journal_suppressed_total", { ...execution, result: "CONTROL" }),
      0,
    );
    // The file header (48 bytes for "execution"), then 100 records: 24 + "WrongDomain" + the frame.
    assert.equal(valueOf(p, "torq_journal_bytes_total", execution), 48 + 100 * (24 + 11 + 74));
    assert.equal(valueOf(p, "torq_journal_failures_total", execution), 0);
  } finally {
    producer.close();
    await env.stop();
  }
});

Deno.test("prometheusText() writes the supervised services' restarts and states", () => {
  const service = (name: string, state: ServiceRow["state"], restarts: number): ServiceRow => ({
    name,
    state,
    pid: state === "running" ? 42 : null,
    startedAt: null,
    restarts,
    lastExit: null,
    reason: null,
    command: name,
    log: `/tmp/${name}.log`,
  });
  const p = parseExposition(prometheusText([fakeStats()], undefined, [
    service("feed", "running", 2),
    service("strategy", "failed", 5),
  ]));
  assert.equal(p.type.get("torq_service_restarts_total"), "counter");
  assert.equal(p.type.get("torq_service_up"), "gauge");
  assert.equal(valueOf(p, "torq_service_restarts_total", { service: "feed" }), 2);
  assert.equal(valueOf(p, "torq_service_restarts_total", { service: "strategy" }), 5);
  assert.equal(valueOf(p, "torq_service_up", { service: "feed" }), 1);
  assert.equal(valueOf(p, "torq_service_up", { service: "strategy" }), 0);
  assert.equal(valueOf(p, "torq_service_failed", { service: "strategy" }), 1);
  assert.ok(!prometheusText([fakeStats()]).includes("torq_service_"), "no services, no families");
});
