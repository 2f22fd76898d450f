import assert from "node:assert/strict";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatMicros,
  formatPerSec,
  formatStatsSummary,
  formatTop,
} from "./format.ts";
import type { ConnectionRow, RelaysResponse } from "./api.ts";
import type { RelayStats } from "../relay/stats.ts";

Deno.test("formatCount(), formatBytes(), formatPerSec(), formatMicros(), formatDuration()", () => {
  assert.equal(formatCount(0), "0");
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(111188), "111.2 KB");
  assert.equal(formatBytes(5e9), "5.0 GB");
  assert.equal(formatPerSec(3), "3.0");
  assert.equal(formatPerSec(219.56), "220");
  assert.equal(formatPerSec(5_012_000), "5,012,000");
  assert.equal(formatMicros(256), "256 µs");
  assert.equal(formatMicros(4096), "4.1 ms");
  assert.equal(formatMicros(2_500_000), "2.50 s");
  assert.equal(formatDuration(45_900), "45s");
  assert.equal(formatDuration(185_000), "3m 05s");
  assert.equal(formatDuration(7_260_000), "2h 01m");
  assert.equal(formatDuration(273_600_000), "3d 04h");
});

function stats(name: string, over: Partial<RelayStats> = {}): RelayStats {
  return {
    name,
    domain: 1,
    address: `/tmp/${name}.sock`,
    addresses: [`/tmp/${name}.sock`],
    policy: "performance",
    strict: false,
    startedAt: 0,
    uptimeMs: 65_000,
    connections: { current: 2, total: 5, refused: 1 },
    accepting: true,
    acceptErrors: 0,
    lastAcceptError: null,
    framesIn: 1258,
    bytesIn: 111188,
    framesOut: 230,
    bytesOut: 16960,
    writes: 0,
    framesForwarded: 1254,
    hello: 2,
    subscribes: 2,
    garbageBytes: 0,
    rejects: { WrongDomain: 3 },
    warnings: {},
    drops: { slow_consumer: 0, WrongDomain: 3, hello: 2 },
    slowConsumerDisconnects: 0,
    stalls: 0,
    undelivered: 0,
    stalledMs: 0,
    producerStalls: 0,
    producerStalledMs: 0,
    journal: null,
    recovery: null,
    latency: {
      count: 10,
      sumUs: 100,
      maxUs: 40,
      p50Us: 8,
      p99Us: 32,
      p999Us: 40,
      clockSkew: 0,
      buckets: [],
    },
    sources: [{
      source: 2,
      name: "KrakenCollector",
      frames: 10,
      lastSequence: "10",
      gaps: 1,
      missing: 4,
      regressions: 0,
    }],
    tlvMix: {},
    connectionsDetail: [],
    ...over,
  };
}

function row(id: number, over: Partial<ConnectionRow> = {}): ConnectionRow {
  return {
    relay: "market_data",
    id,
    kind: "accepted",
    connectedAt: 0,
    lastActivity: 59_000,
    role: "subscriber",
    patterns: ["*"],
    framesIn: 0,
    bytesIn: 0,
    framesQueued: 10,
    framesOut: 10,
    bytesOut: 740,
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

const BODY: RelaysResponse = {
  time: Date.UTC(2026, 10, 23, 14, 50, 6),
  process: {
    pid: 4242,
    uptimeSeconds: 65.2,
    rssBytes: 88_000_000,
    heapTotalBytes: 26_000_000,
    heapUsedBytes: 16_500_000,
    externalBytes: 1_500_000,
  },
  relays: [stats("market_data")],
  rates: [{
    name: "market_data",
    msgsInPerSec: 219.6,
    msgsOutPerSec: 39.9,
    bytesInPerSec: 19400,
    bytesOutPerSec: 2950,
    dropsPerSec: 0,
    rejectsPerSec: 0,
  }],
};

Deno.test("formatStatsSummary() shows counters, drops without hello, latency and sources", () => {
  const text = formatStatsSummary(BODY);
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "market_data  performance policy  up 1m 05s  2 connections (5 total, 1 refused)  /tmp/market_data.sock",
  );
  assert.equal(lines[1], "  in          1,258 frames   111.2 KB       220 msg/s");
  assert.match(text, /^ {2}drops WrongDomain 3$/m);
  assert.match(
    text,
    /^ {2}latency p50 8 µs {2}p99 32 µs {2}p99\.9 40 µs {2}max 40 µs {2}\(10 frames\)$/m,
  );
  assert.match(text, /^ {2}sources KrakenCollector seq 10 \(1 gaps, 4 missing\)$/m);
  assert.equal(
    lines.at(-1),
    "process 4242  up 1m 05s  RSS 88.0 MB  heap 16.5 MB of 26.0 MB  external 1.5 MB",
  );
});

Deno.test("formatTop() prints relay rates and the connection table in 80 columns, marking full queues", () => {
  const connections = [
    row(2, { queueBytes: 40_000_000, queuePercent: 59.6, patterns: ["tlv.1"] }),
    row(1, { role: "publisher", patterns: [], framesIn: 1234 }),
    row(3),
  ];
  const text = formatTop(BODY, { connections }, {
    url: "http://127.0.0.1:7420",
    sort: "pending",
    now: 60_000,
    rows: 2,
  });
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "torq top  http://127.0.0.1:7420  2026-11-23 14:50:06 UTC  3 conns by pending",
  );
  assert.match(lines[2]!, /^RELAY +CONNS +IN\/S +OUT\/S +IN B\/S +OUT B\/S +DROP\/S +P99 +UPTIME$/);
  assert.match(lines[3]!, /^market_data +2 +220 +39\.9 +19\.4 KB +3\.0 KB +0 +\S+ µs +1m 05s$/);
  assert.match(
    lines[5]!,
    /^CONN +FILTER +MSGS IN +MSGS OUT +PENDING +DROPS +IDLE$/,
  );
  assert.match(lines[6]!, /^market_data#2 +tlv\.1 .* 40\.0 MB 60%! /);
  assert.match(lines[7]!, /^market_data#1 +\(publisher\) +1,234 /);
  assert.equal(lines[8], "… 1 more");
  assert.equal(
    formatTop(BODY, { connections: [] }, { url: "u", sort: "id", now: 0 }).split("\n").at(-1),
    "no connections",
  );
});

Deno.test("formatTop() stays within 80 columns with big numbers and long names", () => {
  const busy = {
    ...BODY,
    relays: BODY.relays.map((r) => ({ ...r, uptimeMs: 273_600_000 })),
    rates: BODY.rates.map((r) => ({
      ...r,
      msgsInPerSec: 12_345_678,
      msgsOutPerSec: 98_765_432,
      bytesInPerSec: 790e6,
      bytesOutPerSec: 6.3e9,
      dropsPerSec: 123_456,
    })),
  };
  const connections = [
    row(1234, {
      relay: "market_data",
      patterns: ["arbitrage_signals", "tlv.32", "source.20"],
      framesIn: 9_876_543_210,
      framesOut: 1_234_567_890,
      queueBytes: 987e6,
      queuePercent: 100,
      dropped: 55_555_555,
      lastActivity: 0,
    }),
  ];
  const text = formatTop(busy, { connections }, {
    url: "http://127.0.0.1:7420",
    sort: "pending",
    now: 273_600_000,
  });
  for (const line of text.split("\n")) assert.ok(line.length <= 80, `${line.length}: ${line}`);
});
