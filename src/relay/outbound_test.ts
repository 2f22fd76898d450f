import assert from "node:assert/strict";
import { MAX_WRITE, Outbound, type OutboundOwner } from "./outbound.ts";
import { SlabPool } from "./slab.ts";
import type { StreamConn } from "../transport/transport.ts";

/** A frame of `size` bytes (at least 32): payload_size at offset 24, every other byte `fill`. */
function frame(size: number, fill: number): Uint8Array {
  const f = new Uint8Array(size).fill(fill & 0xff);
  new DataView(f.buffer).setUint32(24, size - 32, true);
  return f;
}

/** `count` frames of `size` bytes back to back, filled 1, 2, 3, … */
function frames(count: number, size: number, firstFill = 1): Uint8Array {
  const out = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) out.set(frame(size, firstFill + i), i * size);
  return out;
}

/**
 * A consumer socket the test drives: each write waits until the test lets the
 * kernel take some bytes ({@linkcode take}) or fails it ({@linkcode fail});
 * what was taken is kept in order.
 */
class ScriptedConn implements StreamConn {
  readonly #taken: Uint8Array[] = [];
  readonly writes: Uint8Array[] = [];
  #pending: { p: Uint8Array; resolve: (n: number) => void; reject: (e: Error) => void } | null =
    null;
  #waiter: (() => void) | null = null;

  read(): Promise<number | null> {
    return new Promise(() => {});
  }

  write(p: Uint8Array): Promise<number> {
    this.writes.push(p);
    return new Promise((resolve, reject) => {
      this.#pending = { p, resolve, reject };
      this.#waiter?.();
      this.#waiter = null;
    });
  }

  close(): void {}

  /** Resolves when a write is waiting. */
  async asked(): Promise<Uint8Array> {
    if (this.#pending === null) await new Promise<void>((r) => (this.#waiter = r));
    return this.#pending!.p;
  }

  /** Lets the waiting write complete with `n` bytes (all of it by default). */
  async take(n?: number): Promise<number> {
    const w = this.#pending ?? (await this.asked(), this.#pending!);
    this.#pending = null;
    const k = Math.min(n ?? w.p.length, w.p.length);
    this.#taken.push(w.p.slice(0, k));
    w.resolve(k);
    await tick();
    return k;
  }

  /** Fails the waiting write. */
  async fail(e: Error): Promise<void> {
    await this.asked();
    const w = this.#pending!;
    this.#pending = null;
    w.reject(e);
    await tick();
  }

  /** Every byte taken so far, in order. */
  get taken(): Uint8Array {
    const out = new Uint8Array(this.#taken.reduce((n, t) => n + t.length, 0));
    let at = 0;
    for (const t of this.#taken) {
      out.set(t, at);
      at += t.length;
    }
    return out;
  }

  get waiting(): boolean {
    return this.#pending !== null;
  }
}

/** Equal bytes, or a failure naming the first offset that differs (not a dump of both). */
function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i < n || actual.length !== expected.length) {
    assert.fail(
      `bytes differ at offset ${i}: got ${actual[i]} of ${actual.length}, ` +
        `expected ${expected[i]} of ${expected.length}`,
    );
  }
}

/** Lets microtasks and promise continuations run. */
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

function owner() {
  const log = {
    progressed: 0,
    failed: [] as unknown[],
    capacity: 0,
    backlog: [] as boolean[],
  };
  const o: OutboundOwner = {
    progressed: () => log.progressed++,
    writeFailed: (e) => log.failed.push(e),
    capacityFound: () => log.capacity++,
    backlog: (w) => log.backlog.push(w),
  };
  return { o, log };
}

function setUp() {
  const conn = new ScriptedConn();
  const { o, log } = owner();
  // As the relay has it: write slabs as big as the largest write, invariants checked.
  const pool = new SlabPool({ slabBytes: MAX_WRITE, check: true });
  const out = new Outbound(conn, o, pool);
  return { conn, log, pool, out };
}

Deno.test("Outbound: small runs queued in one turn leave in one write, in order, byte-exact", async () => {
  const { conn, out } = setUp();
  const all = frames(30, 64);
  // Ten runs of three frames each, as ten reads of one turn would queue them.
  for (let i = 0; i < 10; i++) out.enqueue(all, i * 192, (i + 1) * 192, 3, null);
  await conn.take();
  assert.equal(conn.writes.length, 1);
  assertBytes(conn.taken, all);
  assert.equal(out.framesOut, 30);
  assert.equal(out.writes, 1);
  assert.equal(out.pendingFrames, 0);
});

Deno.test("Outbound: a range of 64 KiB or more is written as it is, not copied", async () => {
  const { conn, out } = setUp();
  const big = frames(1024, 128); // 128 KiB
  out.enqueue(big, 0, big.length, 1024, null);
  const w = await conn.asked();
  assert.equal(w.buffer, big.buffer);
  await conn.take();
  assertBytes(conn.taken, big);
});

Deno.test("Outbound: a coalesced write holds at most MAX_WRITE bytes", async () => {
  const { conn, out } = setUp();
  const all = frames(8192, 64); // 512 KiB in 16 KiB runs
  for (let s = 0; s < all.length; s += 16_384) out.enqueue(all, s, s + 16_384, 256, null);
  while (out.pendingFrames > 0 || conn.waiting) await conn.take();
  assert.ok(conn.writes.every((w) => w.length <= MAX_WRITE));
  assert.equal(conn.writes.length, 2);
  assertBytes(conn.taken, all);
});

Deno.test("Outbound: partial writes continue where the kernel stopped and raise the capacity", async () => {
  const { conn, out, log } = setUp();
  const all = frames(100, 100);
  out.enqueue(all, 0, all.length, 100, null);
  await conn.take(3000);
  assert.equal(out.capacity, 3000);
  assert.equal(log.capacity, 1);
  await conn.take(1234);
  assert.equal(out.capacity, 3000, "a smaller partial write does not lower it");
  while (out.pendingFrames > 0 || conn.waiting) await conn.take();
  assertBytes(conn.taken, all);
  assert.equal(out.framesOut, 100);
});

Deno.test("Outbound: closing with a write in flight counts the frames the kernel took whole as delivered", async () => {
  const { conn, out } = setUp();
  const a = frames(10, 100);
  out.enqueue(a, 0, a.length, 10, null);
  await conn.asked();
  const b = frames(5, 100, 50);
  out.enqueue(b, 0, b.length, 5, null); // queued behind the write in flight
  const report = out.close();
  // The kernel takes 3.5 frames of the write in flight, after the close.
  await conn.take(350);
  const r = await report;
  assert.deepEqual(r, { queued: 15, delivered: 3, dropped: 0, undelivered: 12 });
  assert.equal(r.queued, r.delivered + r.dropped + r.undelivered);
});

Deno.test("Outbound: dropOldest keeps the newest, never the write in flight nor requested frames", async () => {
  const { conn, out } = setUp();
  const runs = Array.from({ length: 6 }, (_, i) => frames(10, 64, i * 10 + 1));
  out.enqueue(runs[0]!, 0, 640, 10, null);
  await conn.asked(); // run 0 in flight
  for (let i = 1; i < 6; i++) out.enqueue(runs[i]!, 0, 640, 10, null);
  const answer = frame(40, 0xaa);
  out.enqueueAnswer(answer);
  assert.equal(out.queuedFrames, 50);
  assert.equal(out.dropOldest(20, Infinity), 30);
  assert.equal(out.queuedFrames, 20);
  assert.equal(out.drops, 30);
  while (out.pendingFrames > 0 || conn.waiting) await conn.take();
  const want = new Uint8Array([...runs[0]!, ...runs[4]!, ...runs[5]!, ...answer]);
  assertBytes(conn.taken, want);
  const r = await out.close();
  assert.deepEqual(r, { queued: 61, delivered: 31, dropped: 30, undelivered: 0 });
});

Deno.test("Outbound: requested frames keep their place among the fan-out", async () => {
  const { conn, out } = setUp();
  const a = frames(2, 64, 1);
  const answer = frame(40, 0xaa);
  const c = frames(2, 64, 9);
  out.enqueue(a, 0, a.length, 2, null);
  await conn.asked();
  out.enqueueAnswer(answer);
  out.enqueue(c, 0, c.length, 2, null);
  assert.equal(out.answersQueued, 1);
  assert.equal(out.queuedFrames, 2, "an answer is not counted against the queue limit");
  while (out.pendingFrames > 0 || conn.waiting) await conn.take();
  assertBytes(conn.taken, new Uint8Array([...a, ...answer, ...c]));
  assert.equal(out.answersQueued, 0);
});

Deno.test("Outbound: the owner hears of a backlog behind the write in flight, and of its end", async () => {
  const { conn, out, log } = setUp();
  const a = frames(4, 64);
  out.enqueue(a, 0, 128, 2, null);
  await conn.asked();
  assert.ok(!log.backlog.includes(true), "nothing waits behind the write yet");
  out.enqueue(a, 128, 256, 2, null);
  assert.equal(log.backlog.at(-1), true);
  await conn.take(); // the writer takes the backlog into its next write
  assert.equal(log.backlog.at(-1), false);
  await conn.take();
  assert.ok(log.progressed >= 2);
});

Deno.test("Outbound: a failed write is reported once and what was queued is undelivered", async () => {
  const { conn, out, log } = setUp();
  const a = frames(10, 64);
  out.enqueue(a, 0, 320, 5, null);
  await conn.asked();
  out.enqueue(a, 320, 640, 5, null);
  await conn.take(100); // one frame and a half of the first write
  await conn.fail(new Deno.errors.BrokenPipe("gone"));
  assert.equal(log.failed.length, 1);
  // Settled with the failure: a close has no write to wait for, and the slab is free.
  assert.equal(out.inflightBytes, 0);
  const r = await out.close();
  assert.deepEqual(r, { queued: 10, delivered: 1, dropped: 0, undelivered: 9 });
});

Deno.test("Outbound: every slab reference is given back, whatever closes first", async () => {
  const { conn, out, pool } = setUp();
  const buf = frames(2048, 64); // 128 KiB, handed over whole (like an adopted read buffer)
  const slab = pool.adopt(buf);
  out.enqueue(buf, 0, 65_536, 1024, slab);
  out.enqueue(buf, 65_536, buf.length, 1024, slab);
  assert.equal(slab.refs, 3);
  await conn.asked();
  const report = out.close(); // one write in flight, one entry freed by the close
  assert.equal(slab.refs, 2, "the queued entry's reference went with the close");
  await conn.take(1000);
  await report;
  assert.equal(slab.refs, 1, "the write's reference went once it settled");
  slab.release(); // the adopter's own: the buffer goes back to the pool (checked mode)
  assert.equal(slab.refs, 0);
  assert.deepEqual(pool.takeBuffer(buf.length), buf.fill(0xee));
});

Deno.test("Outbound: nothing is queued after close", async () => {
  const { out } = setUp();
  const r = out.close();
  const a = frames(1, 64);
  out.enqueue(a, 0, 64, 1, null);
  out.enqueueAnswer(a);
  assert.deepEqual(await r, { queued: 0, delivered: 0, dropped: 0, undelivered: 0 });
  assert.equal(out.pendingFrames, 0);
});
