/**
 * Security on one host: who may reach a relay's socket, what one local client
 * can make a relay spend, and what the HTTP API shows without its token.
 *
 * Limits already enforced by tests/relay_test.ts and not repeated here:
 * `max_message_size` (one byte over loses sync), `max_connections` (further
 * connections closed at once, a freed slot is usable), `max_garbage_bytes`
 * (the connection is closed), `max_queue_frames` (drop oldest / disconnect /
 * backpressure). This file adds the socket directory rules, socket modes,
 * `max_queue_bytes`, the memory a partial frame may hold, and the cost of
 * Subscribe requests.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkSocketDir, UnixTransport } from "../src/transport/unix.ts";
import { TransportError } from "../src/transport/transport.ts";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connect,
  connectMany,
  makeFrame,
  makeFrames,
  PROFILES,
  readFrames,
  readToEnd,
  runTorq,
  send,
  sizedFrame,
  startRelay,
  subscribe,
} from "./_support/relay.ts";
import { rssKb } from "../bench/_fuzz_relay.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodeSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { HEADER_SIZE, sealChecksum } from "../src/protocol/header.ts";
import { MAX_FILTER_PATTERNS, Relay } from "../src/relay/relay.ts";
import { SIGNAL_LOGIC } from "../src/relay/logic.ts";
import { Logger } from "../src/log/logger.ts";
import { loadConfig } from "../src/config/mod.ts";
import { HttpConn, rawGet, startTorq } from "./_support/http.ts";

const IS_ROOT = Deno.uid() === 0;

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "torq_sec_" });
}

/** Listens with a UnixTransport and closes again; the error when it refuses. */
async function tryListen(
  path: string,
  options: { allowForeignDir?: boolean } = {},
): Promise<TransportError | null> {
  const t = new UnixTransport(path, options);
  try {
    const l = await t.listen();
    l.close();
    t.cleanup();
    return null;
  } catch (e) {
    if (e instanceof TransportError) return e;
    throw e;
  }
}

// =============================================================================================
// The socket directory.

Deno.test("UnixTransport.listen(): the socket directory rules", async (t) => {
  const dir = await tempDir();
  try {
    await t.step("a missing directory is created 0750, the socket bound 0660", async () => {
      const path = `${dir}/new/x.sock`;
      const tr = new UnixTransport(path);
      const l = await tr.listen();
      try {
        assert.equal(Deno.statSync(`${dir}/new`).mode! & 0o7777, 0o750);
        assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o660);
      } finally {
        l.close();
        tr.cleanup();
      }
    });

    await t.step("an own directory writable only by its owner is used", async () => {
      await Deno.mkdir(`${dir}/own`, { mode: 0o700 });
      assert.equal(await tryListen(`${dir}/own/x.sock`), null);
    });

    await t.step("a symbolic link is refused (the link is not followed)", async () => {
      await Deno.mkdir(`${dir}/real`, { mode: 0o700 });
      await Deno.symlink(`${dir}/real`, `${dir}/link`);
      const e = await tryListen(`${dir}/link/x.sock`);
      assert.equal(e?.reason, "unsafe_dir");
      assert.match(e!.message, /is a symbolic link; refusing to use it/);
      assert.throws(() => Deno.lstatSync(`${dir}/real/x.sock`), Deno.errors.NotFound);
      assert.equal(await tryListen(`${dir}/link/x.sock`, { allowForeignDir: true }), null);
    });

    // Who can write decides the wording: 0777 is writable by everyone, not "by its group".
    const writers: [number, string][] = [
      [0o770, "its group"],
      [0o730, "its group"],
      [0o707, "others"],
      [0o777, "others"],
    ];
    for (const [mode, who] of writers) {
      await t.step(
        `a directory of mode ${mode.toString(8)} (writable by ${who}) is refused`,
        async () => {
          const d = `${dir}/w${mode.toString(8)}`;
          await Deno.mkdir(d);
          await Deno.chmod(d, mode);
          const e = await tryListen(`${d}/x.sock`);
          assert.equal(e?.reason, "unsafe_dir");
          assert.ok(
            e!.message.includes(
              `is writable by ${who} (mode 0${mode.toString(8)}) without the sticky bit`,
            ),
            e!.message,
          );
          assert.equal(await tryListen(`${d}/x.sock`, { allowForeignDir: true }), null);
        },
      );
    }

    await t.step("a sticky world-writable directory (like /tmp) is used", async () => {
      const d = `${dir}/sticky`;
      await Deno.mkdir(d);
      await Deno.chmod(d, 0o1777);
      assert.equal(await tryListen(`${d}/x.sock`), null);
      // /tmp itself (root's, sticky): a socket straight in it, as `--socket /tmp/x.sock` does.
      if (Deno.statSync("/tmp").mode! & 0o1000) {
        assert.equal(await tryListen(`/tmp/torq_sec_${Deno.pid}.sock`), null);
      }
    });

    await t.step("a directory owned by another user is refused", async () => {
      let d: string;
      if (IS_ROOT) {
        d = `${dir}/theirs`;
        await Deno.mkdir(d, { mode: 0o755 });
        await Deno.chown(d, 65534, 65534);
      } else {
        d = "/usr"; // root's, not sticky: refused before anything is written there
      }
      const e = await tryListen(`${d}/x.sock`);
      assert.equal(e?.reason, "unsafe_dir");
      assert.match(e!.message, /is owned by uid \d+, not by this user \(uid \d+\)/);
      if (IS_ROOT) assert.equal(await tryListen(`${d}/x.sock`, { allowForeignDir: true }), null);
    });

    await t.step("checkSocketDir(): the rules as a table", () => {
      const info = (o: Partial<Deno.FileInfo>) =>
        ({ isSymlink: false, isDirectory: true, ...o }) as Deno.FileInfo;
      const ok: [string, Partial<Deno.FileInfo>, number | null][] = [
        ["own 0750", { uid: 1000, mode: 0o40750 }, 1000],
        ["own 0700", { uid: 1000, mode: 0o40700 }, 1000],
        ["root's sticky 1777", { uid: 0, mode: 0o41777 }, 1000],
        ["own sticky 1777", { uid: 1000, mode: 0o41777 }, 1000],
        ["uid unknown: ownership not judged", { uid: 5, mode: 0o40755 }, null],
      ];
      for (const [name, i, uid] of ok) {
        assert.doesNotThrow(() => checkSocketDir("/d", info(i), uid), name);
      }
      const bad: [string, Partial<Deno.FileInfo>, RegExp][] = [
        ["symlink", { isSymlink: true, uid: 1000, mode: 0o120777 }, /symbolic link/],
        ["a file", { isDirectory: false, uid: 1000, mode: 0o100644 }, /not a directory/],
        ["another user's", { uid: 1001, mode: 0o40750 }, /owned by uid 1001/],
        ["another user's sticky", { uid: 1001, mode: 0o41777 }, /owned by uid 1001/],
        ["group-writable", { uid: 1000, mode: 0o40770 }, /writable by its group/],
        ["world-writable", { uid: 1000, mode: 0o40757 }, /writable by others/],
        ["writable by all", { uid: 1000, mode: 0o40777 }, /writable by others \(mode 0777\)/],
      ];
      for (const [name, i, why] of bad) {
        assert.throws(() => checkSocketDir("/d", info(i), 1000), why, name);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq relay: refuses an unsafe socket directory with one line; allow_foreign_dir overrides", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/real`, { mode: 0o700 });
    await Deno.symlink(`${dir}/real`, `${dir}/link`);
    const socket = `${dir}/link/signals.sock`;
    const r = await runTorq(["relay", "signal", "--socket", socket]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /Cannot start the signal relay: socket directory .* is a symbolic link/,
    );
    const relay = await startRelay("signal", {
      socket,
      args: ["--set", "relays.signal.transport.allow_foreign_dir=true"],
    });
    const res = await relay.stop();
    assert.equal(res.code, 0, res.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq relay: transport.socket_mode sets the socket's permissions (e.g. 0640 for a group)", async () => {
  const relay = await startRelay("market-data", {
    args: ["--set", "relays.market_data.transport.socket_mode=0o640"],
  });
  try {
    assert.equal(Deno.lstatSync(relay.path).mode! & 0o777, 0o640);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq relay: a socket mode writable by others is refused with one line; allow_world_socket allows it", async (t) => {
  for (const mode of ["0777", "0666", "0662"]) {
    await t.step(`socket_mode ${mode} is refused`, async () => {
      const dir = await tempDir();
      try {
        const socket = `${dir}/signals.sock`;
        const set = `relays.signal.transport.socket_mode=${mode}`;
        const r = await runTorq(["relay", "signal", "--socket", socket, "--set", set]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(
          r.stderr,
          `torq relay: Cannot start the signal relay: socket mode ${mode} would make ${socket} ` +
            "writable by others, so any local user could publish and subscribe; refusing it " +
            '(use "0660" and a group, or set transport.allow_world_socket)\n',
        );
        assert.throws(() => Deno.lstatSync(socket), Deno.errors.NotFound, "no socket is left");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
  await t.step("allow_world_socket: true binds it, with a warning", async () => {
    const relay = await startRelay("signal", {
      args: [
        "--set",
        "relays.signal.transport.socket_mode=0666",
        "--set",
        "relays.signal.transport.allow_world_socket=true",
      ],
    });
    try {
      assert.equal(Deno.lstatSync(relay.path).mode! & 0o777, 0o666);
      const warning = await relay.waitForLog((l) => l.level === "warn" && l.socket_mode === "0666");
      assert.match(warning.msg, /writable by others: every local user may publish and subscribe/);
    } finally {
      assert.equal((await relay.stop()).code, 0);
    }
  });
  await t.step("torq up refuses it too, before anything listens", async () => {
    const dir = await tempDir();
    try {
      const r = await runTorq([
        "up",
        "--socket-dir",
        dir,
        "--http",
        "127.0.0.1:0",
        "--set",
        "relays.execution.transport.socket_mode=0o777",
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^torq up: Cannot start the relays: socket mode 0777 would make .*execution\.sock writable by others/,
      );
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "every socket was removed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("torq relay execution: a sequence gap near 2^64 is logged exactly", async () => {
  const p = PROFILES[2]!;
  const relay = await startRelay(p.arg);
  const [consumer, pr] = await connectMany(relay.path, 2);
  try {
    const first = makeFrame(p, 1);
    // The same source jumps to 2^64 − 1: a gap of 2^64 − 3, which a number would round.
    const last = makeFrame(p, 2);
    new DataView(last.buffer).setBigUint64(8, 0xffff_ffff_ffff_ffffn, true);
    new DataView(last.buffer).setUint32(28, 0, true);
    sealChecksum(last, 0);
    await send(pr!, first, last);
    assertFrames(await readFrames(consumer!, 1), [first]);
    const line = await relay.waitForLog((l) => l.code === "SequenceGap");
    assert.match(
      String(line.error),
      /^Sequence gap of 18446744073709551613 before 18446744073709551615 from source 40, limit 100$/,
    );
    assert.doesNotMatch(relay.stderrLines().join("\n"), /18446744073709552000|e\+19/);
  } finally {
    await close(consumer!, pr!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

// =============================================================================================
// What one client can make the relay hold.

Deno.test("torq relay: partial frames cost at most about 2 × max_message_size per connection", async () => {
  const p = PROFILES[1]!; // signal: max_message_size 32,768, read buffer 32,768
  const N = 200;
  const relay = await startRelay(p.arg, {
    args: ["--set", `relays.signal.performance.max_connections=${N + 10}`],
  });
  const [consumer] = await connectMany(relay.path, 1);
  const tricklers: Deno.UnixConn[] = [];
  try {
    const warm = makeFrame(p, 1);
    const [pr] = await connectMany(relay.path, 1);
    await send(pr!, warm);
    assertFrames(await readFrames(consumer!, 1), [warm]);
    await close(pr!);
    const before = rssKb(relay.child.pid);
    // Each announces the largest allowed frame and sends only its first 100 bytes.
    const frames = Array.from({ length: N }, (_, i) => sizedFrame(p, 1, p.maxMessageSize - i));
    for (const f of frames) {
      const c = await connect(relay.path);
      tricklers.push(c);
      await send(c, makeHello(), f.subarray(0, 100));
    }
    // A fence: the relay has read every trickler's bytes once this answer arrives after them.
    assert.deepEqual((await subscribe(consumer!, [], "add")).patterns, ["*"]);
    const held = rssKb(relay.child.pid) - before;
    const bound = (N * 2 * p.maxMessageSize) / 1024 + 32 * 1024; // kB, with 32 MB for the runtime
    assert.ok(held < bound, `holding ${N} partial frames grew RSS by ${held} kB (bound ${bound})`);
    // They were held, not dropped: completing them delivers them.
    for (let i = 0; i < N; i++) await send(tricklers[i]!, frames[i]!.subarray(100));
    const got = await readFrames(consumer!, N, 20_000);
    assert.deepEqual(
      got.map((f) => f.length).sort((a, b) => a - b),
      frames.map((f) => f.length).sort((a, b) => a - b),
    );
    console.log(`  ${N} partial ${p.maxMessageSize}-byte frames held: RSS +${held} kB`);
  } finally {
    await close(consumer!, ...tricklers);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

/** A hello: the trickler is publish-only, so nothing is queued for it. */
function makeHello(): Uint8Array {
  return makeFrame(PROFILES[1]!, 1).slice(0, HEADER_SIZE).fill(0, 8);
}

Deno.test("torq relay execution: max_queue_bytes disconnects a stalled consumer by bytes", async () => {
  const p = PROFILES[2]!;
  const relay = await startRelay(p.arg, {
    args: [
      "--set",
      "relays.execution.performance.max_queue_frames=1000000",
      "--set",
      "relays.execution.performance.max_queue_bytes=65536",
    ],
  });
  const [stalled, fast, pr] = await connectMany(relay.path, 3);
  try {
    const isCut = (l: { msg: string; conn?: number; reason?: unknown }) =>
      l.msg === "connection closed" && l.conn === 0 && /^slow consumer/.test(String(l.reason));
    let seq = 1;
    while (!relay.logs().some(isCut)) {
      assert.ok(seq < 2_000, "never disconnected");
      const frames = Array.from({ length: 10 }, () => sizedFrame(p, seq++, 8_192));
      await send(pr!, concat(frames));
      assertFrames(await readFrames(fast!, 10), frames, "fast consumer");
    }
    const cut = relay.logs().find(isCut)!;
    assert.match(String(cut.reason), /queue over its limit \(\d+ frames, \d+ bytes\)/);
    assert.ok(Number(cut.undelivered_frames) > 0);
    await readToEnd(stalled!);
  } finally {
    await close(stalled!, fast!, pr!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

function subscribeFrame(patterns: string[], mode = 0): Uint8Array {
  return new MessageBuilder({ domain: 4, source: 20 }).begin({ sequence: 0 })
    .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode, patterns })).build();
}

Deno.test("torq relay: a filter holds at most 1,024 patterns whose answer fits one record", async () => {
  const relay = await startRelay("market-data");
  const [c] = await connectMany(relay.path, 1);
  try {
    const many = Array.from({ length: MAX_FILTER_PATTERNS + 1 }, (_, i) => `p${i}`);
    const refused = await subscribe(c!, many);
    assert.deepEqual(refused.patterns, ["*"], "the filter is unchanged");
    assert.match(refused.error ?? "", /MalformedSubscribe: the filter would hold 1025 patterns/);
    const fits = await subscribe(c!, many.slice(0, MAX_FILTER_PATTERNS));
    assert.equal(fits.patterns.length, MAX_FILTER_PATTERNS);
    // Adding long patterns until the answer would not fit a Subscribe record: refused, never cut.
    await subscribe(c!, ["*"]);
    let n = 0;
    for (;;) {
      const long = Array.from({ length: 100 }, (_, i) => `${n + i}`.padEnd(255, "x"));
      const a = await subscribe(c!, long, "add");
      if (a.error !== undefined) {
        assert.match(a.error, /limit 1024 patterns in 65531 bytes/);
        break;
      }
      n += 100;
      assert.ok(n < 1_000, "never refused");
    }
    assert.ok(!relay.exited());
  } finally {
    await close(c!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

Deno.test("torq relay: a client that sends Subscribes and never reads is a slow consumer, and logs stay few", async () => {
  const relay = await startRelay("execution", {
    args: ["--set", "relays.execution.performance.max_queue_frames=100"],
  });
  const [spammer, other, pr] = await connectMany(relay.path, 3);
  try {
    const req = subscribeFrame(["*"]);
    const block = concat(Array.from({ length: 1_000 }, () => req));
    let sent = 0;
    try {
      while (sent < 100_000) {
        await send(spammer!, block);
        sent += 1_000;
        if (relay.logs().some((l) => l.msg === "connection closed" && l.conn === 0)) break;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset)) {
        throw e;
      }
    }
    const cut = await relay.waitForLog((l) => l.msg === "connection closed" && l.conn === 0);
    assert.match(String(cut.reason), /^slow consumer: queue over its limit/);
    const subscribeLines = relay.logs().filter((l) => l.msg === "subscribed" && l.conn === 0);
    assert.ok(subscribeLines.length <= 10 + 30, `${subscribeLines.length} "subscribed" lines`);
    // Others are served.
    const frames = makeFrames(PROFILES[2]!, 5);
    await send(pr!, concat(frames));
    assertFrames(await readFrames(other!, 5), frames);
  } finally {
    await close(spammer!, other!, pr!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

Deno.test("torq relay: a flood of 100,000 hellos is never forwarded; memory stays bounded; others are served", async () => {
  const p = PROFILES[0]!;
  const relay = await startRelay(p.arg);
  const [consumer, flooder, producer] = await connectMany(relay.path, 3);
  try {
    const warm = makeFrame(p, 1);
    await send(producer!, warm);
    assertFrames(await readFrames(consumer!, 1), [warm]);
    const before = rssKb(relay.child.pid);
    const block = concat(Array.from({ length: 10_000 }, () => makeHello()));
    for (let i = 0; i < 10; i++) await send(flooder!, block);
    const frames = makeFrames(p, 5, { first: 2 });
    await send(producer!, concat(frames));
    assertFrames(await readFrames(consumer!, 5), frames, "only the producer's frames arrive");
    assert.deepEqual(
      (await subscribe(consumer!, [], "add")).patterns,
      ["*"],
      "nothing else queued",
    );
    const grown = rssKb(relay.child.pid) - before;
    assert.ok(grown < 32 * 1024, `RSS grew by ${grown} kB`);
    assert.ok(!relay.exited());
  } finally {
    await close(consumer!, flooder!, producer!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

Deno.test("torq relay: 100,000 patterns in 100 Subscribes are capped at 1,024, answered, and cost little", async () => {
  const p = PROFILES[0]!; // market data: topics are discovered, so any name is a pattern
  const relay = await startRelay(p.arg);
  const [spammer, consumer, producer] = await connectMany(relay.path, 3);
  try {
    const before = rssKb(relay.child.pid);
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const patterns = Array.from({ length: 1_000 }, (_, j) => `topic_${i}_${j}`);
      const answer = await subscribe(spammer!, patterns, i === 0 ? "replace" : "add");
      if (answer.error !== undefined) {
        refused++;
        assert.match(answer.error, /MalformedSubscribe: the filter would hold \d+ patterns/);
      }
      assert.ok(answer.patterns.length <= MAX_FILTER_PATTERNS, `${answer.patterns.length}`);
    }
    assert.equal(refused, 99, "every request past the cap is refused");
    const frames = makeFrames(p, 3);
    await send(producer!, concat(frames));
    assertFrames(await readFrames(consumer!, 3), frames, "others are served");
    const grown = rssKb(relay.child.pid) - before;
    assert.ok(grown < 32 * 1024, `RSS grew by ${grown} kB`);
  } finally {
    await close(spammer!, consumer!, producer!);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

// =============================================================================================
// HTTP.

Deno.test("http: binds to loopback by default", () => {
  const listen = loadConfig().http.listen;
  const host = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  assert.ok(["127.0.0.1", "localhost", "::1"].includes(host), listen);
});

Deno.test("http: with a token, nothing but health is served without it", async () => {
  let http: typeof import("../src/http/app.ts");
  let hubs: typeof import("../src/http/hub.ts");
  try {
    http = await import("../src/http/app.ts");
    hubs = await import("../src/http/hub.ts");
  } catch (e) {
    console.log(`  src/http is not usable (${(e as Error).message}): skipped`);
    return;
  }
  const dir = await tempDir();
  const relay = new Relay(
    { ...SIGNAL_LOGIC, socketPath: `${dir}/signals.sock` },
    { logger: new Logger({ sink: () => {} }) },
  );
  await relay.start();
  try {
    const hub = new hubs.Hub([relay]);
    const app = http.createApp(hub, { token: "s3cret-token" });
    const paths = [
      "/",
      "/metrics",
      "/api/relays",
      "/api/connections",
      "/api/rejects",
      "/api/timeline",
      "/api/tlv-types",
      "/api/stream",
      "/assets/app.js",
      "/assets/style.css",
      "/assets/favicon.svg",
      "/no/such/route",
    ];
    for (const path of paths) {
      for (const auth of [undefined, "Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token"]) {
        const res = await app.request(
          path,
          auth === undefined ? {} : { headers: { Authorization: auth } },
        );
        assert.equal(res.status, 401, `${path} with ${auth}`);
        assert.deepEqual(Object.keys(await res.json()), ["error"], path);
      }
    }
    const ok = await app.request("/api/relays", {
      headers: { Authorization: "Bearer s3cret-token" },
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // /healthz: status and, per relay, whether it accepts; no counters, no connections.
    const health = await (await app.request("/healthz")).json();
    assert.deepEqual(Object.keys(health).sort(), ["relays", "status"]);
    for (const r of health.relays) {
      for (const k of Object.keys(r)) {
        assert.ok(["name", "address", "accepting", "reason"].includes(k), k);
      }
    }
    hub.closeListeners();
  } finally {
    await relay.stop(0);
    await Deno.remove(dir, { recursive: true });
  }
  // The comparison is by value, whatever the lengths (it hashes both sides, then compares in constant time).
  fc.assert(
    fc.property(fc.string(), fc.string(), (a, b) => http.tokenMatches(a, b) === (a === b)),
    { numRuns: 500, seed: 11 },
  );
});

Deno.test("torq up: DNS rebinding: another site's Host gets 403 on loopback, no data; loopback names and http.allowed_hosts pass", async () => {
  const up = await startTorq((dir) => [
    "up",
    "--socket-dir",
    dir,
    "--http",
    "127.0.0.1:0",
    "--demo",
    "--set",
    "http.allowed_hosts=[torq.internal]",
  ]);
  try {
    // The attack: a page of attacker.test, its name re-pointed at 127.0.0.1, reads the API
    // with its own Host. The old server answered 200 and streamed decoded execution orders.
    for (const path of ["/api/stream", "/api/relays", "/metrics", "/", "/healthz"]) {
      const r = await rawGet(up.port, path, { Host: `attacker.test:${up.port}` });
      assert.equal(r.status, 403, path);
      assert.match(r.body, /Forbidden: this server answers to localhost, 127\.0\.0\.1 and \[::1\]/);
      assert.doesNotMatch(r.body, /OrderRequest|relays"|torq_frames/);
    }
    for (
      const host of [
        `localhost:${up.port}`,
        `127.0.0.1:${up.port}`,
        `[::1]:${up.port}`,
        "torq.internal",
      ]
    ) {
      const r = await rawGet(up.port, "/api/relays", { Host: host });
      assert.equal(r.status, 200, host);
    }
  } finally {
    assert.equal((await up.stop()).code, 0);
  }
});

Deno.test("torq up --http: path traversal, oversized URLs and headers are refused; the server serves on", async () => {
  const up = await startTorq((dir) => ["up", "--socket-dir", dir, "--http", "127.0.0.1:0"]);
  try {
    for (
      const path of [
        "/assets/../../../../etc/passwd",
        "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/%00",
      ]
    ) {
      const r = await rawGet(up.port, path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /root:/, path);
    }
    const longUrl = await rawGet(up.port, `/${"a".repeat(20_000)}`);
    assert.equal(longUrl.status, 414);
    const bigHeaders = await rawGet(up.port, "/healthz", {
      Host: "127.0.0.1",
      ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`X-Big-${i}`, "v".repeat(300)])),
    });
    assert.equal(bigHeaders.status, 431);
    assert.equal((await rawGet(up.port, "/healthz")).status, 200);
  } finally {
    assert.equal((await up.stop()).code, 0);
  }
});

Deno.test("torq up --http: 500 event-stream clients are served within the cap; the rest get 503; all recover", async () => {
  const up = await startTorq((dir) => [
    "up",
    "--socket-dir",
    dir,
    "--http",
    "127.0.0.1:0",
    "--set",
    "http.max_connections=400",
  ]);
  const streams: HttpConn[] = [];
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 500; i++) {
      const c = await HttpConn.open(up.port);
      streams.push(c);
      await c.send("GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      statuses.push((await c.head()).status);
    }
    assert.equal(statuses.filter((s) => s === 200).length, 400);
    assert.equal(statuses.filter((s) => s === 503).length, 100);
    for (const c of streams.splice(0)) c.close();
    // The server notices them go and serves again.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await rawGet(up.port, "/healthz")).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200);
  } finally {
    for (const c of streams) c.close();
    assert.equal((await up.stop()).code, 0);
  }
});
