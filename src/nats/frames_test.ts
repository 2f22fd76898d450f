import assert from "node:assert/strict";
import fc from "fast-check";
import { MessageBuilder } from "../protocol/builder.ts";
import type { Msg } from "@nats-io/transport-node";
import {
  FrameSplitter,
  hasOrigin,
  isNatsAddress,
  NatsFrameConn,
  natsMessageProblem,
  natsSubject,
  newOriginId,
  ORIGIN_HEADER,
  originHeaders,
  originLine,
  parseNatsServers,
} from "./frames.ts";
import { TransportError } from "../transport/transport.ts";
import { concat } from "../io/mod.ts";

function frames(n: number, size = 40): Uint8Array[] {
  const b = new MessageBuilder({ domain: 2, source: 20 });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(b.begin({ sequence: i + 1 }).addTlv(200, new Uint8Array(size + (i % 7))).build());
  }
  return out;
}

Deno.test("natsSubject() names each domain as PROTOCOL.md 7.12 does", () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((d) => natsSubject("torq", d)),
    ["torq.market_data", "torq.signals", "torq.execution", "torq.system"],
  );
  assert.equal(natsSubject("site1.torq", 3), "site1.torq.execution");
  assert.throws(() => natsSubject("torq", 5), RangeError);
});

Deno.test("parseNatsServers() splits and checks nats:// addresses", () => {
  assert.deepEqual(parseNatsServers("nats://127.0.0.1:4222, nats://h2:4223"), [
    "nats://127.0.0.1:4222",
    "nats://h2:4223",
  ]);
  assert.ok(isNatsAddress("nats://127.0.0.1:4222"));
  assert.ok(!isNatsAddress("/tmp/torq/signals.sock"));
  assert.throws(() => parseNatsServers("nats://"), TransportError);
  assert.throws(() => parseNatsServers("tcp://127.0.0.1:1"), /is not a NATS address/);
});

Deno.test("newOriginId() returns 16 hex digits, different each time", () => {
  const a = newOriginId();
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.notEqual(a, newOriginId());
});

Deno.test("FrameSplitter.split() yields the same frames for any split of the stream", () => {
  const all = frames(20);
  const stream = concat(all);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }),
      (cuts) => {
        const points = [0, ...cuts.sort((x, y) => x - y), stream.length];
        const s = new FrameSplitter();
        const got: Uint8Array[] = [];
        for (let i = 1; i < points.length; i++) {
          s.split(stream.subarray(points[i - 1], points[i]), (f) => got.push(f.slice()));
        }
        assert.deepEqual(got, all);
        assert.equal(s.carried, 0);
      },
    ),
  );
});

Deno.test("FrameSplitter.split() hands whole frames of a chunk as zero-copy views", () => {
  const all = frames(3);
  const chunk = concat(all);
  const seen: Uint8Array[] = [];
  assert.equal(new FrameSplitter().split(chunk, (f) => seen.push(f)), 3);
  assert.ok(seen.every((f) => f.buffer === chunk.buffer));
});

Deno.test("FrameSplitter.split() rejects a stream that is not at a frame boundary", () => {
  assert.throws(
    () => new FrameSplitter().split(new Uint8Array(40), () => {}),
    /no magic at offset 0/,
  );
});

Deno.test("NatsFrameConn.read() packs whole frames and splits one larger than the buffer", async () => {
  const [a, b] = frames(2, 100);
  const conn = new NatsFrameConn();
  conn.push(a!);
  conn.push(b!);
  assert.equal(conn.queuedFrames, 2);
  const buf = new Uint8Array(a!.length + 10);
  const parts: Uint8Array[] = [];
  while (conn.queuedFrames > 0) {
    const n = await conn.read(buf);
    parts.push(buf.slice(0, n!));
  }
  assert.deepEqual(parts.map((p) => p.length), [a!.length + 10, b!.length - 10]);
  assert.deepEqual(concat(parts), concat([a!, b!]));
  assert.equal(conn.queuedBytes, 0);
});

Deno.test("NatsFrameConn runs onHanded once the reader comes back, and on close", async () => {
  const [a, b] = frames(2);
  const handed: number[] = [];
  const conn = new NatsFrameConn();
  conn.push(a!, () => handed.push(1));
  const buf = new Uint8Array(4096);
  assert.equal(await conn.read(buf), a!.length);
  assert.equal(handed.length, 0, "not before the reader processed the read");
  conn.push(b!, () => handed.push(2));
  await conn.read(buf);
  assert.deepEqual(handed, [1]);
  conn.close();
  assert.deepEqual(handed, [1, 2]);
  assert.equal(await conn.read(buf), null);
});

Deno.test("NatsFrameConn.takeUnread() returns unread frames whole after close", async () => {
  const [a, b] = frames(2, 100);
  const conn = new NatsFrameConn();
  const ack = () => {};
  conn.push(a!, ack);
  conn.push(b!);
  await conn.read(new Uint8Array(10)); // a read in part
  conn.close();
  const rest = conn.takeUnread();
  assert.deepEqual(rest.map(([f]) => f), [a, b]);
  assert.equal(rest[0]![1], ack);
  assert.equal(conn.queuedBytes, 0);
});

Deno.test("NatsFrameConn: a pending read ends with null on close; push() respects its bound", async () => {
  const [a] = frames(1);
  const conn = new NatsFrameConn({ maxQueuedBytes: a!.length });
  assert.ok(conn.push(a!));
  assert.ok(!conn.push(a!), "over maxQueuedBytes");
  await conn.read(new Uint8Array(4096));
  const pending = conn.read(new Uint8Array(16));
  conn.close();
  assert.equal(await pending, null);
  assert.ok(!conn.push(a!), "closed");
  await assert.rejects(conn.write(a!), /closed/);
});

Deno.test("NatsFrameConn yields its preamble first and hands writes to the publisher", async () => {
  const [hello, a] = frames(2);
  const written: Uint8Array[] = [];
  const conn = new NatsFrameConn({ preamble: [hello!], write: (c) => void written.push(c) });
  const buf = new Uint8Array(4096);
  assert.equal(await conn.read(buf), hello!.length);
  assert.equal(await conn.write(a!), a!.length);
  assert.deepEqual(written, [a]);
});

Deno.test("originHeaders() encodes once; hasOrigin() finds the line in raw or parsed headers", () => {
  const h = originHeaders("0123456789abcdef");
  const encode = (h as unknown as { encode(): Uint8Array }).encode;
  const block = encode.call(h);
  assert.equal(encode.call(h), block, "the same bytes every time");
  assert.match(new TextDecoder().decode(block), /^NATS\/1\.0\r\nTorq-Origin: 0123456789abcdef\r\n/);
  const raw = new Uint8Array([...block, 1, 2, 3]);
  const rawMsg = (hdr: number) => ({ _msg: { hdr }, _rdata: raw }) as unknown as Msg;
  const line = originLine("0123456789abcdef");
  assert.ok(hasOrigin(rawMsg(block.length), line, "0123456789abcdef"));
  assert.ok(!hasOrigin(rawMsg(block.length), originLine("ffffffffffffffff"), "ffffffffffffffff"));
  assert.ok(!hasOrigin(rawMsg(-1), line, "0123456789abcdef"), "no headers");
  const parsed = { headers: { get: (k: string) => k === ORIGIN_HEADER ? "x1" : "" } };
  assert.ok(hasOrigin(parsed as unknown as Msg, originLine("x1"), "x1"));
  assert.ok(!hasOrigin(parsed as unknown as Msg, originLine("x2"), "x2"));
});

Deno.test("natsMessageProblem() accepts exactly one frame within the limits and names every other case", () => {
  const [frame] = frames(1, 100);
  const ok = frame!;
  const limits = { maxMessageSize: ok.length, domain: 2 };
  assert.equal(natsMessageProblem(ok, limits), null);
  const with_ = (i: number, v: number) => {
    const b = ok.slice();
    b[i] = v;
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ["short", ok.subarray(0, 31), "31 bytes, shorter than a header"],
    ["no magic", with_(0, 0), "no magic at offset 0"],
    ["version", with_(5, 2), "version 2, expected 1"],
    [
      "cut",
      ok.subarray(0, ok.length - 1),
      `payload_size says ${ok.length} bytes, the message has ${ok.length - 1}`,
    ],
    [
      "two frames",
      concat([ok, ok]),
      `payload_size says ${ok.length} bytes, the message has ${2 * ok.length}`,
    ],
    ["domain", with_(4, 3), "relay_domain 3, expected 2"],
  ];
  for (const [what, b, reason] of cases) assert.equal(natsMessageProblem(b, limits), reason, what);
  assert.equal(
    natsMessageProblem(ok, { maxMessageSize: ok.length - 1 }),
    `${ok.length} bytes, over the limit of ${ok.length - 1}`,
  );
  // Without limits: any domain, up to 1 MiB.
  assert.equal(natsMessageProblem(with_(4, 3)), null);
});
