import assert from "node:assert/strict";
import { Relay, SIGNAL_LOGIC } from "../relay/mod.ts";
import type { RelayLogic } from "../relay/mod.ts";
import { Logger } from "../log/mod.ts";
import { type StreamConn, type Transport, UnixTransport } from "../transport/mod.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { encodeSubscribe, parseSubscribe } from "../protocol/subscribe.ts";
import { FrameReader } from "../protocol/frame_reader.ts";
import { walkTlvs } from "../protocol/tlv.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";
import {
  BackpressureError,
  ClientClosedError,
  ConnectError,
  type DomainOption,
  type ReceivedFrame,
  RelayClient,
  type RelayClientEventMap,
  type RelayClientOptions,
  SubscribeError,
} from "./mod.ts";

interface Tlv {
  type: number;
  value: Uint8Array;
}

/** The TLVs of a spec vector (rebuilt with fresh headers by each test). */
function tlvsOf(name: string): Tlv[] {
  const bytes = vectorBytes(name);
  return walkTlvs(bytes, 32, bytes.length).map((r) => ({ type: r.type, value: r.value.slice() }));
}

/** ArbitrageSignal (32); source 20 in the vector. */
const ARB = tlvsOf("arbitrage_signal_flash_arb");
/** SignalIdentity (20) + Economics (22); source 23 in the vector. */
const ECON = tlvsOf("multi_tlv_signal_identity_economics");

function build(b: MessageBuilder, tlvs: readonly Tlv[], sequence?: number): Uint8Array {
  b.begin(sequence === undefined ? {} : { sequence });
  for (const t of tlvs) b.addTlv(t.type, t.value);
  return b.build();
}

function firstType(f: ReceivedFrame): number {
  return f.bytes[32]!;
}

async function take(c: RelayClient, n: number, timeoutMs = 5_000): Promise<ReceivedFrame[]> {
  const out: ReceivedFrame[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const f = await c.receive(Math.max(1, deadline - Date.now()));
    if (f === null) throw new Error(`Timed out: received ${out.length} of ${n} frames`);
    out.push(f);
  }
  return out;
}

function once<K extends keyof RelayClientEventMap>(
  c: RelayClient,
  type: K,
): Promise<RelayClientEventMap[K]> {
  return new Promise((resolve) => {
    const off = c.on(type, (e) => {
      off();
      resolve(e);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function startRelay(path: string, logic: RelayLogic = SIGNAL_LOGIC): Promise<Relay> {
  const relay = new Relay({ ...logic, socketPath: path, journalPath: null }, {
    logger: new Logger({ level: "error" }),
  });
  return relay.start().then(() => relay);
}

interface Ctx {
  dir: string;
  path: string;
  relay: Relay;
  connect(options?: RelayClientOptions): Promise<RelayClient>;
}

/** A real signal relay on a temporary socket; every client and the relay are closed afterwards. */
async function withRelay(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  const clients: RelayClient[] = [];
  let relay: Relay | null = null;
  try {
    relay = await startRelay(path);
    const connect = async (options: RelayClientOptions = {}) => {
      const c = await RelayClient.connect({ domain: "signal", path, ...options });
      clients.push(c);
      return c;
    };
    await fn({ dir, path, relay, connect });
  } finally {
    for (const c of clients) await c.close();
    await relay?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A transport that counts write calls (to see coalescing). */
class CountingTransport implements Transport {
  readonly kind = "unix";
  readonly #inner: UnixTransport;
  writes = 0;
  constructor(path: string) {
    this.#inner = new UnixTransport(path);
  }
  get address(): string {
    return this.#inner.address;
  }
  listen(): never {
    throw new Error("not used");
  }
  async connect(): Promise<StreamConn> {
    const conn = await this.#inner.connect();
    return {
      read: (p) => conn.read(p),
      write: (p) => {
        this.writes++;
        return conn.write(p);
      },
      close: () => conn.close(),
    };
  }
  cleanup(): void {}
}

Deno.test("RelayClient.publish() reaches every other client byte for byte, in order, not the sender", async () => {
  await withRelay(async ({ connect }) => {
    const b1 = await connect();
    const b2 = await connect();
    const pub = await connect();
    const sent: Uint8Array[] = [];
    const builder = pub.builder(20);
    for (let i = 0; i < 5; i++) sent.push(build(builder, ARB));
    sent.push(build(pub.builder(23), ECON));
    for (const f of sent) pub.publish(f);
    await pub.flush();
    for (const c of [b1, b2]) {
      const got = await take(c, sent.length);
      assert.deepEqual(got.map((f) => f.bytes), sent);
      assert.deepEqual(got.map((f) => f.sequence), [1n, 2n, 3n, 4n, 5n, 1n]);
      assert.deepEqual(got.map((f) => f.source), [20, 20, 20, 20, 20, 23]);
      assert.equal(got[0]!.relayDomain, 2);
      assert.equal(got[0]!.payloadSize, sent[0]!.length - 32);
      assert.equal(got[0]!.decode().tlvs[0]!.name, "ArbitrageSignal");
      assert.equal(got[0]!.decode(), got[0]!.decode(), "decode() is cached");
    }
    await sleep(50);
    assert.equal(pub.stats().framesIn, 0, "no echo to the sender");
    assert.equal(pub.stats().framesOut, sent.length);
    assert.equal(b1.stats().framesIn, sent.length);
  });
});

Deno.test("RelayClient.publish() coalesces a burst of 10,000 frames that arrive complete and in order", async () => {
  await withRelay(async ({ connect, path }) => {
    const sub = await connect();
    const transport = new CountingTransport(path);
    const pub = await connect({ transport });
    const builder = pub.builder(23);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 10_000; i++) {
      const f = build(builder, ECON);
      sent.push(f);
      pub.publish(f);
    }
    await pub.flush();
    assert.ok(transport.writes < 20, `10,000 frames took ${transport.writes} writes`);
    const got = await take(sub, 10_000, 20_000);
    for (let i = 0; i < sent.length; i++) {
      assert.equal(got[i]!.sequence, BigInt(i + 1));
      assert.deepEqual(got[i]!.bytes, sent[i]);
    }
    assert.equal(sub.stats().gaps, 0);
    assert.equal(pub.stats().framesOut, 10_000);
    assert.equal(pub.stats().pendingBytes, 0);
  });
});

Deno.test("RelayClient.subscribe() with tlv.32 delivers only ArbitrageSignal frames", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect();
    assert.equal(sub.filter, null);
    assert.deepEqual(await sub.subscribe(["tlv.32"]), ["tlv.32"]);
    assert.deepEqual(sub.filter, ["tlv.32"]);
    const pub = await connect();
    for (let i = 0; i < 5; i++) {
      pub.publish(build(pub.builder(23), ECON));
      pub.publish(build(pub.builder(20), ARB));
    }
    await pub.flush();
    const got = await take(sub, 5);
    assert.deepEqual(got.map(firstType), [32, 32, 32, 32, 32]);
    assert.deepEqual(got.map((f) => f.sequence), [1n, 2n, 3n, 4n, 5n]);
    // The answer frame was consumed, not yielded; nothing else arrived.
    assert.equal(sub.stats().framesIn, 1 + 5);
    assert.equal(sub.stats().bufferedFrames, 0);
  });
});

Deno.test("RelayClient.subscribe() adds and removes patterns", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect({ subscribe: ["tlv.32"] });
    assert.deepEqual(sub.filter, ["tlv.32"]);
    assert.deepEqual(await sub.subscribe(["source.23"], "add"), ["tlv.32", "source.23"]);
    const pub = await connect();
    pub.publish(build(pub.builder(23), ECON));
    pub.publish(build(pub.builder(20), ARB));
    assert.deepEqual((await take(sub, 2)).map(firstType), [20, 32]);

    assert.deepEqual(await sub.subscribe(["tlv.32"], "remove"), ["source.23"]);
    pub.publish(build(pub.builder(20), ARB));
    pub.publish(build(pub.builder(23), ECON));
    const [f] = await take(sub, 1);
    assert.equal(f!.source, 23);
    assert.equal(firstType(f!), 20);

    assert.deepEqual(await sub.subscribe([], "replace"), [], "an empty list is publish-only");
    pub.publish(build(pub.builder(23), ECON));
    await pub.flush();
    assert.equal(await sub.receive(100), null);
  });
});

Deno.test("RelayClient.subscribe() rejects a refused request with SubscribeError and keeps the filter", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect({ subscribe: ["tlv.32"] });
    const err = await sub.subscribe(["no_such_topic"]).then(
      () => assert.fail("subscribe should be refused"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SubscribeError);
    assert.equal(err.code, "SubscribeRefused");
    assert.match(err.reason, /^TopicNotFound: "no_such_topic" is not a topic of the signal relay/);
    assert.deepEqual(err.filter, ["tlv.32"]);
    assert.deepEqual(err.patterns, ["no_such_topic"]);
    assert.match(
      err.message,
      /^Cannot subscribe to \["no_such_topic"\] on the signal relay: TopicNotFound/,
    );
    assert.ok(!err.message.includes("\n"));
    assert.deepEqual(sub.filter, ["tlv.32"]);
    // The old filter still applies.
    const pub = await connect();
    pub.publish(build(pub.builder(23), ECON));
    pub.publish(build(pub.builder(20), ARB));
    assert.deepEqual((await take(sub, 1)).map(firstType), [32]);
  });
});

Deno.test("RelayClient.connect() with a refused initial subscribe throws and closes", async () => {
  await withRelay(async ({ path }) => {
    await assert.rejects(
      RelayClient.connect({ domain: "signal", path, subscribe: ["no_such_topic"] }),
      (e: unknown) => e instanceof SubscribeError && e.code === "SubscribeRefused",
    );
  });
});

Deno.test("RelayClient with publishOnly receives nothing but can publish", async () => {
  await withRelay(async ({ connect }) => {
    const quiet = await connect({ publishOnly: true });
    const listener = await connect();
    const pub = await connect();
    pub.publish(build(pub.builder(20), ARB));
    quiet.publish(build(quiet.builder(23), ECON));
    const got = await take(listener, 2);
    assert.deepEqual(got.map((f) => f.source).sort(), [20, 23]);
    await sleep(50);
    assert.equal(quiet.stats().framesIn, 0);
    assert.equal(await quiet.receive(10), null);
    assert.equal(quiet.stats().framesOut, 1, "one published frame");
    assert.equal(quiet.stats().controlFramesOut, 1, "the hello");
  });
});

Deno.test("RelayClient emits gap and duplicate events per source", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect();
    const gaps: RelayClientEventMap["gap"][] = [];
    const dups: RelayClientEventMap["duplicate"][] = [];
    sub.on("gap", (e) => gaps.push(e));
    sub.on("duplicate", (e) => dups.push(e));
    const pub = await connect();
    const b20 = pub.builder(20);
    const b23 = pub.builder(23);
    const seqs20 = [1, 2, 3, 7, 7, 0, 8, 5];
    for (const s of seqs20) pub.publish(build(b20, ARB, s));
    pub.publish(build(b23, ECON, 100)); // first frame of another source: no gap
    pub.publish(build(b23, ECON, 101));
    const got = await take(sub, seqs20.length + 2);
    assert.deepEqual(got.map((f) => f.sequence), [...seqs20.map(BigInt), 100n, 101n]);
    assert.deepEqual(gaps, [{ source: 20, expected: 4n, got: 7n, missing: 3n }]);
    assert.deepEqual(dups, [
      { source: 20, last: 7n, got: 7n },
      { source: 20, last: 8n, got: 5n },
    ]);
    const stats = sub.stats();
    assert.equal(stats.gaps, 1);
    assert.equal(stats.duplicates, 2);
  });
});

Deno.test("RelayClient applies local type, source and predicate filters", async () => {
  await withRelay(async ({ connect }) => {
    const byType = await connect({ filter: { types: [[30, 39]] } });
    const bySource = await connect({ filter: { sources: [23] } });
    const byPredicate = await connect({ filter: { predicate: (f) => f.sequence % 2n === 0n } });
    const pub = await connect();
    for (let i = 0; i < 3; i++) {
      pub.publish(build(pub.builder(23), ECON));
      pub.publish(build(pub.builder(20), ARB));
    }
    const t = await take(byType, 3);
    assert.deepEqual(t.map(firstType), [32, 32, 32]);
    const s = await take(bySource, 3);
    assert.deepEqual(s.map((f) => f.source), [23, 23, 23]);
    const p = await take(byPredicate, 2);
    assert.deepEqual(p.map((f) => f.sequence), [2n, 2n]);
    await sleep(50);
    assert.equal(byType.stats().filtered, 3);
    assert.equal(byPredicate.stats().filtered, 4);
    assert.equal(byPredicate.stats().bufferedFrames, 0);
  });
});

Deno.test("RelayClient.connect() to a missing socket throws a one-line ConnectError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  try {
    const path = `${dir}/missing.sock`;
    const err = await RelayClient.connect({ domain: "signal", path }).then(
      () => assert.fail("connect should fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, "ConnectFailed");
    assert.equal(err.reason, "no_socket");
    assert.equal(
      err.message,
      `Cannot connect to signal relay at ${path}: no such socket (is 'torq relay signal' running?)`,
    );
    const md = await RelayClient.connect({ path }).catch((e: unknown) => e);
    assert.ok(md instanceof ConnectError);
    assert.match(
      md.message,
      /^Cannot connect to market-data relay at .*\(is 'torq relay market-data' running\?\)$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient reconnects to a restarted relay, restores its filter and sends what was buffered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  let relay: Relay | null = await startRelay(path);
  let relay2: Relay | null = null;
  const clients: RelayClient[] = [];
  try {
    const client = await RelayClient.connect({
      domain: "signal",
      path,
      reconnect: { initialMs: 200, maxMs: 1_000 },
      subscribe: ["tlv.32"],
    });
    clients.push(client);
    const down = once(client, "disconnect");
    await relay.stop();
    relay = null;
    const d = await down;
    assert.equal(d.willReconnect, true);
    assert.equal(client.connected, false);

    // Published while down: buffered, written after the reconnect.
    const buffered = build(client.builder(23), ECON);
    client.publish(buffered);
    const up = once(client, "reconnect");

    relay2 = await startRelay(path);
    const watcher = await RelayClient.connect({ domain: "signal", path });
    clients.push(watcher);
    const r = await up;
    assert.ok(r.attempt >= 1);
    assert.deepEqual(r.filter, ["tlv.32"]);
    assert.equal(client.connected, true);
    assert.equal(client.stats().reconnects, 1);

    const [f] = await take(watcher, 1);
    assert.deepEqual(f!.bytes, buffered);

    const pub = await RelayClient.connect({ domain: "signal", path });
    clients.push(pub);
    pub.publish(build(pub.builder(23), ECON));
    pub.publish(build(pub.builder(20), ARB));
    const got = await take(client, 1);
    assert.equal(firstType(got[0]!), 32, "the tlv.32 filter was restored");
  } finally {
    for (const c of clients) await c.close();
    await relay?.stop();
    await relay2?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient.connect() takes a domain by name or wire value, names its relay after it, refuses others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  try {
    const path = `${dir}/missing.sock`;
    const named: [DomainOption, string][] = [
      ["market_data", "market-data"],
      ["signal", "signal"],
      ["execution", "execution"],
      ["system", "system"],
      [1, "market-data"],
      [3, "execution"],
    ];
    for (const [domain, relay] of named) {
      const err = await RelayClient.connect({ domain, path }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError, String(domain));
      assert.ok(
        err.message.startsWith(`Cannot connect to ${relay} relay at ${path}: `),
        err.message,
      );
    }
    // Names outside the table (an Object.prototype key, the CLI's spelling) and numbers outside 1–4.
    for (const domain of ["toString", "market-data", 0, 5, 1.5]) {
      await assert.rejects(
        RelayClient.connect({ domain: domain as DomainOption, path }),
        (e: unknown) =>
          e instanceof RangeError &&
          /^Cannot create relay client: domain .* (is unknown|is not 1–4)$/.test(e.message),
        String(domain),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient gives up after maxAttempts and closes with a ConnectError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  const relay = await startRelay(path);
  let client: RelayClient | null = null;
  try {
    client = await RelayClient.connect({
      domain: "signal",
      path,
      reconnect: { initialMs: 5, maxAttempts: 2 },
    });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e.error));
    await relay.stop();
    const err = await client.closed();
    assert.ok(err instanceof ConnectError);
    assert.equal(err.attempts, 2);
    assert.equal(
      err.message,
      `Cannot reconnect to signal relay at ${path} after 2 attempts: no such socket (is 'torq relay signal' running?)`,
    );
    assert.deepEqual(errors, [err]);
    assert.equal(await client.receive(), null, "the iterator has ended");
    assert.throws(() => client!.publish(build(client!.builder(), ECON)), ClientClosedError);
  } finally {
    await client?.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient ends without reconnect when the relay goes away", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  const relay = await startRelay(path);
  let client: RelayClient | null = null;
  try {
    client = await RelayClient.connect({ domain: "signal", path });
    const frames: ReceivedFrame[] = [];
    const loop = (async () => {
      for await (const f of client) frames.push(f);
    })();
    await relay.stop();
    await loop;
    const err = await client.closed();
    assert.ok(err instanceof Error);
    assert.match(err.message, /closed by the signal relay/);
    await assert.rejects(client.subscribe(["tlv.32"]), ClientClosedError);
  } finally {
    await client?.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient.publish() throws BackpressureError above maxPendingBytes until drain()", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect();
    const pub = await connect({ maxPendingBytes: 1_000 });
    const frame = build(pub.builder(23), ECON); // 84 bytes
    let accepted = 0;
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        pub.publish(frame);
        accepted++;
      } catch (e) {
        err = e;
      }
    }
    assert.ok(err instanceof BackpressureError);
    assert.equal(err.code, "Backpressure");
    assert.equal(accepted, Math.floor(1_000 / frame.length));
    assert.equal(err.limit, 1_000);
    await pub.drain();
    assert.ok(pub.stats().pendingBytes <= 500);
    await pub.publishAndFlush(frame);
    await take(sub, accepted + 1);
  });
});

Deno.test("RelayClient.close() flushes, ends the iterator and refuses further use", async () => {
  await withRelay(async ({ connect, path }) => {
    const sub = await connect();
    const pub = await RelayClient.connect({ domain: "signal", path });
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) frames.push(build(pub.builder(20), ARB));
    for (const f of frames) pub.publish(f);
    await pub.close();
    await pub.close(); // idempotent
    assert.equal(pub.isClosed, true);
    assert.equal(await pub.closed(), undefined);
    assert.throws(
      () => pub.publish(frames[0]!),
      (e: unknown) => e instanceof ClientClosedError && e.code === "ClientClosed",
    );
    await assert.rejects(pub.subscribe(["*"]), ClientClosedError);
    const got = await take(sub, 100);
    assert.deepEqual(got.map((f) => f.bytes), frames);

    const loop = (async () => {
      let n = 0;
      for await (const _ of sub) n++;
      return n;
    })();
    await sub.close();
    assert.equal(await loop, 0);
  });
});

Deno.test("RelayClient supports await using and an abort signal", async () => {
  await withRelay(async ({ path }) => {
    const ac = new AbortController();
    let seen: RelayClient;
    {
      await using c = await RelayClient.connect({ domain: "signal", path, signal: ac.signal });
      seen = c;
      assert.equal(c.connected, true);
    }
    assert.equal(seen.isClosed, true);
    const c2 = await RelayClient.connect({ domain: "signal", path, signal: ac.signal });
    ac.abort();
    assert.equal(await c2.closed(), undefined);
    await c2.close();
    await assert.rejects(RelayClient.connect({ domain: "signal", path, signal: ac.signal }));
  });
});

Deno.test("RelayClient.publish() refuses bytes that are not exactly one frame", async () => {
  await withRelay(async ({ connect }) => {
    const pub = await connect();
    const frame = build(pub.builder(20), ARB);
    assert.throws(() => pub.publish(frame.subarray(0, 40)), { code: "IncompleteFrame" });
    const two = new Uint8Array(frame.length + 1);
    two.set(frame);
    assert.throws(() => pub.publish(two), { code: "TrailingBytes" });
    assert.throws(() => pub.publish(new Uint8Array(32)), { code: "InvalidMagic" });
  });
});

Deno.test("RelayClient pauses reading above maxBufferedBytes and resumes as frames are read", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect({ maxBufferedBytes: 2_000 });
    const pub = await connect();
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 5_000; i++) {
      const f = build(pub.builder(23), ECON);
      sent.push(f);
      pub.publish(f);
    }
    await pub.flush();
    await sleep(50);
    const buffered = sub.stats().bufferedFrames;
    assert.ok(buffered < 5_000, `reading should pause, ${buffered} frames buffered`);
    const got = await take(sub, 5_000, 20_000);
    assert.deepEqual(got.map((f) => f.bytes), sent);
  });
});

/** A silent peer on a temporary socket standing in for a relay. */
async function withFakeRelay(
  fn: (path: string, peer: () => Promise<Deno.Conn>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/fake.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  try {
    await fn(path, async () => {
      const c = await listener.accept();
      conns.push(c);
      return c;
    });
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed by the test
      }
    }
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function answerFrame(patterns: string[], sequence: number): Uint8Array {
  const b = new MessageBuilder({ domain: 4, source: 81 });
  return b.begin({ sequence }).addTlv(113, encodeSubscribe({ mode: 0, patterns })).build();
}

Deno.test("RelayClient.subscribe() times out when no answer comes and consumes a late answer", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path, subscribeTimeoutMs: 50 });
    try {
      const server = await accepted;
      const err = await client.subscribe(["tlv.32"]).catch((e: unknown) => e);
      assert.ok(err instanceof SubscribeError);
      assert.equal(err.code, "SubscribeTimeout");
      assert.equal(
        err.message,
        `Cannot subscribe to ["tlv.32"] on the signal relay at ${path}: no answer within 50 ms`,
      );
      // The request reached the peer as one Subscribe frame of the signal domain.
      const req = new Uint8Array(256);
      const n = (await server.read(req))!;
      assert.equal(req[4], 2);
      assert.equal(req[32], 113);
      assert.equal(n, 32 + 2 + 4 + 1 + "tlv.32".length);
      // A late answer is consumed (never yielded) and updates the filter.
      const data = build(new MessageBuilder({ domain: 2, source: 20 }), ARB, 1);
      await server.write(answerFrame(["tlv.32"], 9));
      await server.write(data);
      const [f] = await take(client, 1);
      assert.deepEqual(f!.bytes, data);
      assert.deepEqual(client.filter, ["tlv.32"]);
      assert.equal(client.stats().framesIn, 2);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient re-frames frames split across reads and skips garbage", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path });
    try {
      const server = await accepted;
      const b = new MessageBuilder({ domain: 2, source: 20 });
      const frames = [build(b, ARB), build(b, ARB), build(b, ARB)];
      const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0) + 7);
      let off = 0;
      stream.set(frames[0]!, off);
      off += frames[0]!.length;
      stream.set([1, 2, 3, 4, 5, 6, 7], off); // garbage between frames
      off += 7;
      stream.set(frames[1]!, off);
      off += frames[1]!.length;
      stream.set(frames[2]!, off);
      for (let i = 0; i < stream.length; i += 13) {
        await server.write(stream.subarray(i, Math.min(i + 13, stream.length)));
        await sleep(0);
      }
      const got = await take(client, 3);
      assert.deepEqual(got.map((f) => f.bytes), frames);
      assert.equal(client.stats().garbageBytes, 7);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient sends a subscribe made while reconnecting after restoring the old filter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  let relay: Relay | null = await startRelay(path);
  const clients: RelayClient[] = [];
  try {
    const client = await RelayClient.connect({
      domain: "signal",
      path,
      reconnect: { initialMs: 50 },
      subscribe: ["source.23"],
    });
    clients.push(client);
    const down = once(client, "disconnect");
    await relay.stop();
    await down;
    const pending = client.subscribe(["tlv.32"], "add");
    relay = await startRelay(path);
    assert.deepEqual(await pending, ["source.23", "tlv.32"]);
    assert.deepEqual(client.filter, ["source.23", "tlv.32"]);
    const pub = await RelayClient.connect({ domain: "signal", path });
    clients.push(pub);
    pub.publish(build(pub.builder(22), ECON)); // neither source 23 nor TLV 32: filtered by the relay
    pub.publish(build(pub.builder(20), ARB));
    pub.publish(build(pub.builder(23), ECON));
    const got = await take(client, 2);
    assert.deepEqual(got.map((f) => f.source), [20, 23]);
  } finally {
    for (const c of clients) await c.close();
    await relay?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient can be closed from a disconnect listener while reconnect is on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  const relay = await startRelay(path);
  let client: RelayClient | null = null;
  try {
    client = await RelayClient.connect({
      domain: "signal",
      path,
      reconnect: { initialMs: 10_000 },
    });
    const c = client;
    const closing = new Promise<void>((resolve) =>
      c.on("disconnect", () => void c.close().then(() => resolve()))
    );
    const started = Date.now();
    await relay.stop();
    await closing;
    assert.ok(Date.now() - started < 5_000, "close() does not wait for the reconnect delay");
    assert.equal(await c.closed(), undefined);
    assert.equal(c.stats().reconnects, 0);
  } finally {
    await client?.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** One Subscribe request a {@linkcode answeringPeer} read. */
interface SeenRequest {
  mode: number;
  patterns: string[];
}

/**
 * Plays a relay's control plane on a fake peer: reads frames, keeps the
 * filter as a relay does, and answers each Subscribe unless `answer(i)` says
 * `drop` (or gives a promise: answer once it resolves). Answers leave in
 * request order. Data frames are counted.
 */
function answeringPeer(
  conn: Deno.Conn,
  answer: (i: number, req: SeenRequest) => "answer" | "drop" | Promise<void> = () => "answer",
): { requests: SeenRequest[]; dataFrames: () => number; done: Promise<void> } {
  const requests: SeenRequest[] = [];
  let data = 0;
  let filter: string[] = ["*"];
  const reader = new FrameReader();
  // Answers leave in request order, as a relay's do: a delayed one holds back the ones after it.
  let last = Promise.resolve();
  const reply = (patterns: string[], hold: Promise<void> | null) => {
    last = last.then(async () => {
      if (hold !== null) await hold;
      try {
        await conn.write(answerFrame(patterns, 1));
      } catch {
        // client gone
      }
    });
  };
  const done = (async () => {
    try {
      for (;;) {
        const n = await conn.read(reader.writable(65_536));
        if (n === null) return;
        reader.commit(n);
        while (reader.next()) {
          const f = reader.buffer.subarray(reader.frameStart, reader.frameEnd);
          if (f.length === 32) continue;
          const [rec] = walkTlvs(f, 32, f.length);
          if (rec?.type !== 113) {
            data++;
            continue;
          }
          const req = parseSubscribe(rec.value);
          const seen = { mode: req.mode, patterns: [...req.patterns] };
          const i = requests.push(seen) - 1;
          if (req.mode === 0) filter = [...new Set(req.patterns)];
          else if (req.mode === 1) filter = [...new Set([...filter, ...req.patterns])];
          else filter = filter.filter((p) => !req.patterns.includes(p));
          const what = answer(i, seen);
          if (what !== "drop") reply([...filter], what === "answer" ? null : what);
        }
      }
    } catch {
      // closed
    }
  })();
  return { requests, dataFrames: () => data, done };
}

Deno.test("RelayClient.subscribe() gets its answer although the relay dropped one, and later subscribes work", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path, subscribeTimeoutMs: 5_000 });
    try {
      // The relay drops its first answer (as a drop-oldest queue may): the request is written
      // again and the answer to that one settles it.
      const p = answeringPeer(await accepted, (i) => i === 0 ? "drop" : "answer");
      assert.deepEqual(await client.subscribe(["tlv.32"]), ["tlv.32"]);
      assert.ok(p.requests.length >= 2, "the request was written again");
      assert.deepEqual(await client.subscribe(["source.20"], "add"), ["tlv.32", "source.20"]);
      assert.deepEqual(client.filter, ["tlv.32", "source.20"]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient.subscribe(): a lost answer is settled by the answer to the next request", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path, subscribeTimeoutMs: 5_000 });
    try {
      answeringPeer(await accepted, (i) => i === 0 ? "drop" : "answer");
      const first = client.subscribe(["tlv.1"]);
      const second = client.subscribe(["tlv.2"], "add");
      // The relay read the first request before the second: both settle with the filter now in effect.
      assert.deepEqual(await first, ["tlv.1", "tlv.2"]);
      assert.deepEqual(await second, ["tlv.1", "tlv.2"]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient.subscribe(): a late answer to a request that timed out does not answer the next one", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path, subscribeTimeoutMs: 1_000 });
    try {
      // The answers to ["tlv.1"] are held until ["tlv.2"] arrives, then sent before its answer
      // (a relay answers in order): they come after the first request timed out.
      let release!: () => void;
      const held = new Promise<void>((r) => release = r);
      const p = answeringPeer(await accepted, (_i, req) => {
        if (req.patterns[0] === "tlv.1") return held;
        release();
        return "answer";
      });
      await assert.rejects(
        client.subscribe(["tlv.1"]),
        (e: unknown) => e instanceof SubscribeError && e.code === "SubscribeTimeout",
      );
      assert.deepEqual(await client.subscribe(["tlv.2"]), ["tlv.2"]);
      assert.deepEqual(p.requests.at(-1)?.patterns, ["tlv.2"]);
      assert.deepEqual(client.filter, ["tlv.2"]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient.confirm() proves the relay read what was published; disconnect says what is unconfirmed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  const relay = await startRelay(path);
  const watcher = await RelayClient.connect({ domain: "signal", path });
  const pub = await RelayClient.connect({ domain: "signal", path, publishOnly: true });
  try {
    const frame = build(pub.builder(23), ECON);
    for (let i = 0; i < 100; i++) pub.publish(build(pub.builder(23), ECON));
    await pub.confirm();
    assert.equal(pub.stats().framesOut, 100);
    assert.equal(pub.stats().unconfirmedFrames, 0);
    assert.equal(pub.filter, null, "a confirmation does not change the filter");
    for (let i = 0; i < 50; i++) pub.publish(build(pub.builder(23), ECON));
    await pub.flush();
    assert.equal(pub.stats().unconfirmedFrames, 50);
    assert.equal(pub.stats().unconfirmedBytes, 50 * frame.length);
    await take(watcher, 150);
    const down = once(pub, "disconnect");
    await relay.stop();
    const d = await down;
    // The relay did read them, but nothing told the client so: they are reported as unconfirmed.
    assert.deepEqual(
      [d.unconfirmedFrames, d.unconfirmedBytes, d.pendingFrames, d.pendingBytes],
      [50, 50 * frame.length, 0, 0],
    );
    assert.equal(pub.stats().unconfirmedAtDisconnect, 50);
    await assert.rejects(pub.confirm(), ClientClosedError);
  } finally {
    await watcher.close();
    await pub.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient.confirm() rejects when the relay closes the connection instead of reading it", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path, publishOnly: true });
    try {
      // A relay at max_connections accepts and closes at once.
      (await accepted).close();
      client.publish(build(client.builder(23), ECON));
      const err = await client.confirm().catch((e: unknown) => e);
      assert.ok(err instanceof ClientClosedError, String(err));
      assert.match(err.message, /closed by the signal relay/);
      assert.match(String((await client.closed())?.message), /closed by the signal relay/);
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient.close() drains for a bounded time and reports what it discarded", async () => {
  await withFakeRelay(async (path, peer) => {
    const accepted = peer();
    const client = await RelayClient.connect({ domain: "signal", path });
    try {
      await accepted; // a peer that never reads: the kernel's buffers fill, then nothing moves
      const frame = build(client.builder(23), ECON);
      const n = Math.floor(16_000_000 / frame.length);
      for (let i = 0; i < n; i++) client.publish(build(client.builder(23), ECON));
      const report = await client.close({ timeoutMs: 100 });
      const s = client.stats();
      assert.ok(report.discardedFrames > 0, JSON.stringify(report));
      assert.equal(report.discardedFrames, s.discardedFrames);
      assert.equal(report.discardedBytes, report.discardedFrames * frame.length);
      // Every published frame is either written whole or discarded, and bytes agree with frames.
      assert.equal(s.framesOut + s.discardedFrames, n);
      assert.equal(s.bytesOut, s.framesOut * frame.length);
      assert.equal(s.pendingBytes, 0);
      await assert.rejects(client.flush(), ClientClosedError);
      assert.deepEqual(await client.close(), report, "idempotent");
    } finally {
      await client.close();
    }
  });
});

Deno.test("RelayClient reports a producer's restart once, not a duplicate per frame", async () => {
  await withRelay(async ({ connect }) => {
    const sub = await connect();
    const dups: RelayClientEventMap["duplicate"][] = [];
    const restarts: RelayClientEventMap["restart"][] = [];
    sub.on("duplicate", (e) => dups.push(e));
    sub.on("restart", (e) => restarts.push(e));
    const pub = await connect({ publishOnly: true });
    const b = new MessageBuilder({ domain: 2, source: 23 });
    for (let s = 1; s <= 3000; s++) pub.publish(build(b, ECON, s));
    // The producer restarts its numbering at 100 (not at 1).
    for (let s = 100; s <= 200; s++) pub.publish(build(b, ECON, s));
    await take(sub, 3101, 20_000);
    assert.deepEqual(dups, []);
    assert.deepEqual(restarts, [{ source: 23, last: 3000n, got: 100n }]);
    assert.equal(sub.stats().restarts, 1);
  });
});

Deno.test("RelayClient after a reconnect: a producer numbering anew is one restart event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_client_" });
  const path = `${dir}/s.sock`;
  let relay = await startRelay(path);
  const clients: RelayClient[] = [];
  try {
    const sub = await RelayClient.connect({
      domain: "signal",
      path,
      reconnect: { initialMs: 50, maxMs: 200 },
    });
    clients.push(sub);
    const events: string[] = [];
    sub.on("duplicate", (e) => events.push(`duplicate ${e.got}`));
    sub.on("restart", (e) => events.push(`restart ${e.got}`));
    sub.on("gap", (e) => events.push(`gap ${e.got}`));
    const b = new MessageBuilder({ domain: 2, source: 23 });
    const pub = await RelayClient.connect({ domain: "signal", path, publishOnly: true });
    clients.push(pub);
    for (let s = 1; s <= 500; s++) pub.publish(build(b, ECON, s));
    await take(sub, 500);
    const up = once(sub, "reconnect");
    await relay.stop();
    relay = await startRelay(path);
    await up;
    // The producer came back too, numbering from 400: a fresh stream for the reconnected client.
    const pub2 = await RelayClient.connect({ domain: "signal", path, publishOnly: true });
    clients.push(pub2);
    for (let s = 400; s <= 450; s++) pub2.publish(build(b, ECON, s));
    await take(sub, 51);
    // Without the reconnect rule these would be 51 duplicates (400 … 450 are all below 500).
    assert.deepEqual(events, ["restart 400"]);
  } finally {
    for (const c of clients) await c.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
