/**
 * Connections that come and go or hold on without doing anything: short-lived
 * producers on a busy relay, clients trickling bytes, consumers that stopped
 * reading while traffic is light, idle connections. Real `torq relay`
 * processes, Unix and TCP sockets.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  close,
  concat,
  connect,
  connectMany,
  makeFrame,
  makeFrames,
  PROFILES,
  readFrames,
  type RunningRelay,
  send,
  seqOf,
  startRelay,
} from "./_support/relay.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The relay's TCP address, from its `listening` line (`transport.port=0` picks one). */
function tcpPort(relay: RunningRelay): number {
  const line = relay.logs().find((l) => l.msg === "listening")!;
  const m = String(line.address).match(/tcp:\/\/127\.0\.0\.1:(\d+)/);
  assert.ok(m !== null, `no TCP address in ${JSON.stringify(line)}`);
  return Number(m[1]);
}

for (const transport of ["unix", "tcp"] as const) {
  Deno.test(`connections: 300 short-lived producers (${transport}) on a busy relay lose no frame`, async () => {
    const p = PROFILES[0]!;
    const relay = await startRelay(p.arg, {
      args: transport === "tcp" ? ["--set", "relays.market_data.transport.port=0"] : [],
    });
    const port = transport === "tcp" ? tcpPort(relay) : 0;
    const dial = () =>
      transport === "tcp"
        ? Deno.connect({ hostname: "127.0.0.1", port })
        : Deno.connect({ transport: "unix", path: relay.path });
    const [consumer, busy] = await connectMany(relay.path, 2);
    let flooding = true;
    try {
      // The busy producer keeps every other connection a target of fan-out writes.
      const flood = (async () => {
        const block = concat(makeFrames(p, 200, { source: 7 }));
        while (flooding) {
          await send(busy!, block);
          await delay(1);
        }
      })();
      const N = 300;
      const mine = makeFrames(p, N, { source: 9 });
      for (let i = 0; i < N; i += 10) {
        // Ten at a time: connect, send one frame, close at once (no hello: a consumer
        // until its frame is read, so the relay's writes to it fail as it goes away).
        await Promise.all(
          mine.slice(i, i + 10).map(async (f) => {
            const c = await dial();
            try {
              let off = 0;
              while (off < f.length) off += await c.write(f.subarray(off));
            } finally {
              c.close();
            }
          }),
        );
      }
      flooding = false;
      await flood;
      // Every one of the 300 frames reaches the consumer (in any order: 300 connections).
      const seen = new Set<number>();
      const deadline = Date.now() + 20_000;
      while (seen.size < N && Date.now() < deadline) {
        for (const f of await readFrames(consumer!, 1, 20_000)) if (f[6] === 9) seen.add(seqOf(f));
      }
      assert.equal(seen.size, N, `${seen.size} of ${N} short-lived producers' frames arrived`);
    } finally {
      flooding = false;
      await close(consumer!, busy!);
      await relay.stop();
      await assertAllClosed();
    }
  });
}

Deno.test("connections: clients trickling bytes are closed after partial_frame_timeout_ms; a real client then gets a slot", async () => {
  const p = PROFILES[1]!;
  const relay = await startRelay(p.arg, {
    args: [
      "--set",
      "relays.signal.performance.max_connections=10",
      "--set",
      "relays.signal.performance.partial_frame_timeout_ms=800",
    ],
  });
  const tricklers = await connectMany(relay.path, 10);
  try {
    // Each sends a frame one byte every 100 ms: never complete within 800 ms.
    const frame = makeFrame(p, 1);
    const trickling = tricklers.map(async (c) => {
      for (let i = 0; i < frame.length; i++) {
        try {
          await c.write(frame.subarray(i, i + 1));
        } catch {
          return; // closed by the relay
        }
        await delay(100);
      }
    });
    for (let id = 0; id < 10; id++) {
      const line = await relay.waitForLog(
        (l) => l.msg === "connection closed" && l.conn === id,
        10_000,
      );
      assert.match(String(line.reason), /^partial frame held for \d+ ms \(\d+ bytes\)$/);
    }
    await Promise.all(trickling);
    // Slots are free again: a consumer and a producer are served.
    const [consumer, producer] = await connectMany(relay.path, 2);
    try {
      const f = makeFrame(p, 7);
      await send(producer!, f);
      assert.deepEqual(await readFrames(consumer!, 1), [f]);
    } finally {
      await close(consumer!, producer!);
    }
  } finally {
    await close(...tricklers);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("connections: a consumer that stopped reading at light traffic is closed after write_stall_timeout_ms; a quiet one is not", async () => {
  const p = PROFILES[2]!;
  const relay = await startRelay(p.arg, {
    args: ["--set", "relays.execution.performance.write_stall_timeout_ms=1000"],
  });
  // stopped = conn 0 (never reads), quiet = conn 1 (a publisher: nothing is written to it),
  // reader = conn 2, producer = conn 3
  const stopped = await connect(relay.path);
  const quiet = await connect(relay.path);
  await send(quiet, makeFrame(p, 1, { source: 41 }).subarray(0, 32).fill(0, 8, 32));
  const [reader, producer] = await connectMany(relay.path, 2);
  try {
    // Enough bytes to fill the stopped consumer's socket, far below its queue limit.
    const frames = makeFrames(p, 6000);
    await send(producer!, concat(frames));
    assert.equal((await readFrames(reader!, 6000, 20_000)).length, 6000);
    const line = await relay.waitForLog(
      (l) => l.msg === "connection closed" && l.conn === 0,
      10_000,
    );
    assert.match(String(line.reason), /^slow consumer: no write completed for 1000 ms$/);
    assert.equal(
      Number(line.frames_out) + Number(line.undelivered_frames),
      Number(line.frames_queued),
    );
    await delay(1500);
    assert.equal(
      relay.logs().find((l) => l.msg === "connection closed" && l.conn === 1),
      undefined,
      "a connection with nothing queued for it is not closed",
    );
  } finally {
    await close(stopped, quiet, reader!, producer!);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("connections: idle_timeout_ms closes connections that neither send nor read; off by default", async () => {
  const p = PROFILES[0]!;
  const relay = await startRelay(p.arg, {
    args: ["--set", "relays.market_data.performance.idle_timeout_ms=500"],
  });
  const idle = await connect(relay.path);
  try {
    const line = await relay.waitForLog(
      (l) => l.msg === "connection closed" && l.conn === 0,
      10_000,
    );
    assert.match(String(line.reason), /^idle: nothing read or written for 500 ms$/);
  } finally {
    await close(idle);
    await relay.stop();
  }
  const quiet = await startRelay(p.arg);
  const c = await connect(quiet.path);
  try {
    await delay(2500);
    assert.equal(quiet.logs().find((l) => l.msg === "connection closed"), undefined);
  } finally {
    await close(c);
    await quiet.stop();
    await assertAllClosed();
  }
});
