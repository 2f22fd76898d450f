/**
 * Fault tests with real processes: `torq relay` in its own process, and clients
 * that are processes too where the fault is done to a process (killed mid-frame,
 * stopped and resumed, read side shut down). Every wait is bounded in time and
 * every load in count; nothing asserts a timing.
 *
 * Ordering without sleeps: the relay accepts connections in connect order, and
 * it writes its log lines synchronously while it handles a frame, so a
 * connection opened and closed after a consumer received frame x is logged
 * after anything the relay logged while handling x ({@linkcode fence}).
 *
 * `TORQ_LONG_TESTS=1` makes the churn test stream 5,000,000 frames instead of 200,000.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connect,
  connectMany,
  corrupt,
  hex,
  type LogLine,
  makeFrame,
  makeFrames,
  PROFILES,
  readFrames,
  ROOT,
  type RunningRelay,
  runTorq,
  send,
  sizedFrame,
  startRelay,
  subscribe,
} from "./_support/relay.ts";
import type { ConsumeReport } from "./_support/fault_peer.ts";
import { RelayClient } from "../src/client/mod.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodeSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { rssKb } from "../bench/_fuzz_relay.ts";
import { readJournal, verifyJournal } from "../src/relay/journal_file.ts";
import { journalRecordToJson } from "../src/tools/journal_view.ts";

const LONG = Deno.env.get("TORQ_LONG_TESTS") === "1";
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Client processes.

/** A client process (tests/_support/fault_peer.ts or python3) with its output collected. */
interface Peer {
  child: Deno.ChildProcess;
  /** Waits (bounded) for a stdout line matching `match`. */
  line(match: (l: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Sends a signal (ignored when it has ended). */
  signal(sig: Deno.Signal): void;
  /** Waits (bounded, then SIGKILL) for the process to end; its stdout and stderr. */
  end(
    timeoutMs?: number,
  ): Promise<{ status: Deno.CommandStatus; stdout: string[]; stderr: string }>;
}

function spawnPeer(program: string, args: string[]): Peer {
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  let err = "";
  const pumpOut = (async () => {
    let carry = "";
    for await (const t of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + t).split("\n");
      carry = parts.pop()!;
      out.push(...parts);
    }
    if (carry !== "") out.push(carry);
  })();
  const pumpErr = (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) err += t;
  })();
  let status: Deno.CommandStatus | null = null;
  const statusPromise = child.status.then((s) => (status = s));
  const peer: Peer = {
    child,
    async line(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const l = out.find(match);
        if (l !== undefined) return l;
        if (status !== null || Date.now() > deadline) {
          await Promise.race([pumpOut, delay(1_000)]);
          const late = out.find(match);
          if (late !== undefined) return late;
          assert.fail(
            `peer ${args[0]}: no matching line (${status ? "exited" : "timeout"}): ${err}`,
          );
        }
        await delay(5);
      }
    },
    signal(sig) {
      if (status !== null) return;
      try {
        child.kill(sig);
      } catch {
        // ended meanwhile
      }
    },
    async end(timeoutMs = 15_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        statusPromise.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (!ended) {
        peer.signal("SIGCONT");
        peer.signal("SIGKILL");
      }
      const s = await statusPromise;
      await Promise.all([pumpOut, pumpErr]);
      return { status: s, stdout: out, stderr: err };
    },
  };
  return peer;
}

/** `tests/_support/fault_peer.ts <args>` as a process. */
function denoPeer(...args: string[]): Peer {
  return spawnPeer(Deno.execPath(), ["run", "-A", "tests/_support/fault_peer.ts", ...args]);
}

const isReady = (l: string) => l === "ready";

async function consumeReport(peer: Peer): Promise<ConsumeReport> {
  const { stdout, stderr } = await peer.end();
  const line = stdout.find((l) => l.startsWith("{"));
  assert.ok(line !== undefined, `consumer printed no report: ${stderr}`);
  return JSON.parse(line);
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/**
 * Waits until the relay has logged everything it logged before now: a connection
 * opened and closed now is logged after it. `id` is that connection's accept number.
 */
async function fence(relay: RunningRelay, id: number): Promise<void> {
  const c = await connect(relay.path);
  await close(c);
  await relay.waitForLog((l) => l.msg === "connection closed" && l.conn === id, 10_000);
}

/** Frames written to `conn` before the answer to a Subscribe that changes nothing. */
async function drainToFence(conn: Deno.Conn, frames: number): Promise<Uint8Array[]> {
  const req = new MessageBuilder({ domain: 4, source: 20 }).begin({ sequence: 0 })
    .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: 1, patterns: [] })).build();
  await send(conn, req);
  const out: Uint8Array[] = [];
  for (let i = 0; i <= frames; i++) {
    const [f] = await readFrames(conn, 1);
    if (f![4] === 4 && f![32] === SUBSCRIBE_TLV) return out;
    out.push(f!);
  }
  assert.fail(`more than ${frames} frames before the fence answer`);
}

/** The journal's records in their JSON view; the journal must hold whole records only. */
function journalLines(path: string): Record<string, unknown>[] {
  const [file] = verifyJournal(path, { rotated: false });
  assert.equal(file!.error, null);
  assert.deepEqual(
    [file!.corrupt, file!.tornTail],
    [[], null],
    "the journal holds whole records only",
  );
  return [...readJournal(path, { rotated: false })].map((r) => ({ ...journalRecordToJson(r) }));
}

const closedLine = (conn: number) => (l: LogLine) =>
  l.msg === "connection closed" && l.conn === conn;

/** Tries to mount a tmpfs (root only); returns false when not permitted. */
async function mountTmpfs(dir: string, options: string): Promise<boolean> {
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", options, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

async function run(program: string, ...args: string[]): Promise<boolean> {
  const r = await new Deno.Command(program, { args, stdout: "null", stderr: "null" }).output();
  return r.success;
}

// =============================================================================================
// A producer killed mid-frame.

for (const p of PROFILES) {
  Deno.test(`faults: torq relay ${p.arg} discards the partial frame of a producer SIGKILLed mid-frame`, async () => {
    const relay = await startRelay(p.arg);
    const [consumer] = await connectMany(relay.path, 1); // conn 0
    const f = makeFrame(p, 1, { tag: 0x31 });
    const half = f.subarray(0, f.length >> 1);
    const peer = denoPeer("half", relay.path, hex(half)); // conn 1
    try {
      await peer.line(isReady);
      peer.signal("SIGKILL");
      await peer.end();
      const line = await relay.waitForLog(closedLine(1), 10_000);
      assert.equal(line.reason, "disconnected mid-frame");
      assert.equal(line.partial_bytes, half.length);
      // Other clients are unaffected: a new producer's frames arrive, and nothing else.
      const [pr] = await connectMany(relay.path, 1);
      const frames = makeFrames(p, 20, { tag: 0x32 });
      await send(pr!, concat(frames));
      assertFrames(await readFrames(consumer!, 20), frames);
      assert.deepEqual((await subscribe(consumer!, [], "add")).patterns, ["*"]);
      await close(pr!);
    } finally {
      await peer.end();
      await close(consumer!);
      assert.equal((await relay.stop()).code, 0);
      await assertAllClosed();
    }
  });
}

// =============================================================================================
// A consumer stopped (SIGSTOP) while frames flow, then resumed (SIGCONT).

/** Sends `count` frames from `first` in one write and waits until `fast` has them all. */
async function step(
  pr: Deno.Conn,
  fast: Deno.Conn,
  frames: Uint8Array[],
): Promise<void> {
  await send(pr, concat(frames));
  const got = await readFrames(fast, frames.length);
  assertFrames(got, frames, "fast consumer");
}

Deno.test("faults: market data drops the oldest frames of a SIGSTOPped consumer, counted; it continues after SIGCONT", async () => {
  const p = PROFILES[0]!;
  const relay = await startRelay(p.arg, {
    args: [
      "--set",
      "relays.market_data.performance.max_queue_frames=1000",
      "--set",
      "relays.market_data.performance.slow_consumer_timeout_ms=600000",
    ],
  });
  const END = 999_999_999; // sequence of the end marker (another source: no gap in the main one)
  const peer = denoPeer("consume", relay.path, String(END)); // conn 0
  const conns: Deno.Conn[] = [];
  try {
    await peer.line(isReady);
    conns.push(...await connectMany(relay.path, 2)); // fast = conn 1, producer = conn 2
    const [fast, pr] = conns;
    peer.signal("SIGSTOP");
    const isDrop = (l: LogLine) => l.msg === "slow consumer: dropped oldest frames" && l.conn === 0;
    let sent = 0;
    let dropsAt = -1;
    while (dropsAt < 0 || sent < dropsAt + 5_000) {
      assert.ok(sent < 1_000_000, `no drops logged after ${sent} frames`);
      await step(pr!, fast!, makeFrames(p, 500, { first: sent + 1 }));
      sent += 500;
      if (dropsAt < 0 && relay.logs().some(isDrop)) dropsAt = sent;
    }
    peer.signal("SIGCONT");
    // It continues: frames sent after the resume reach it, then the end marker.
    for (let i = 0; i < 4; i++) {
      await step(pr!, fast!, makeFrames(p, 500, { first: sent + 1 }));
      sent += 500;
    }
    await step(pr!, fast!, [makeFrame(p, END, { source: 5 })]);
    const out = await consumeReport(peer);
    const main = out.frames - 1;
    assert.equal(out.garbageBytes, 0);
    assert.equal(out.duplicates, 0, "order kept");
    assert.ok(out.missing > 0, "frames were dropped for the stalled consumer");
    assert.equal(main + out.missing, sent, "received + dropped = sent (the last frame arrived)");
    const closed = await relay.waitForLog(closedLine(0), 10_000);
    assert.equal(closed.dropped, out.missing, "the relay's drop count is the consumer's gap count");
    assert.match(String(closed.reason), /^disconnected/);
    assert.ok(
      relay.logs().every((l) => !/slow consumer/.test(l.msg) || l.conn === 0),
      "no other consumer overflowed",
    );
  } finally {
    peer.signal("SIGCONT");
    await peer.end();
    await close(...conns);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

Deno.test("faults: execution disconnects a SIGSTOPped consumer; sent = delivered + undelivered + rejected", async () => {
  const p = PROFILES[2]!;
  const relay = await startRelay(p.arg, {
    args: ["--set", "relays.execution.performance.max_queue_frames=50"],
  });
  const checker = denoPeer("consume", relay.path); // conn 0, reads to the end of the stream
  const conns: Deno.Conn[] = [];
  try {
    await checker.line(isReady);
    conns.push(...await connectMany(relay.path, 2)); // fast = conn 1, producer = conn 2
    const [fast, pr] = conns;
    let nextId = 3;
    checker.signal("SIGSTOP");
    const isCut = (l: LogLine) =>
      l.msg === "connection closed" && l.conn === 0 && /^slow consumer/.test(String(l.reason));
    let good = 0;
    let bad = 0;
    // One frame per step, fenced, so the producer stops right after the frame that cut the checker.
    while (!relay.logs().some(isCut)) {
      assert.ok(good < 2_000, `the stalled checker was not disconnected after ${good} frames`);
      if (good % 5 === 4) {
        await send(pr!, corrupt(sizedFrame(p, good + 1, 8_192))); // rejected: ChecksumMismatch
        bad++;
      }
      const f = sizedFrame(p, good + 1, 8_192);
      await send(pr!, f);
      good++;
      assertFrames(await readFrames(fast!, 1), [f], "fast consumer");
      await fence(relay, nextId++);
    }
    checker.signal("SIGCONT");
    const out = await checker.end().then(({ stdout }) =>
      JSON.parse(stdout.find((l) => l.startsWith("{"))!) as ConsumeReport
    );
    const cut = relay.logs().find(isCut)!;
    assert.match(String(cut.reason), /queue over its limit/);
    const undelivered = Number(cut.undelivered_frames);
    assert.ok(undelivered > 0, JSON.stringify(cut));
    assert.equal(cut.dropped, 0, "the execution relay never drops silently");
    // The checker got a gap-free prefix, then the end of the stream.
    assert.ok(out.eof);
    assert.equal(out.garbageBytes, 0);
    assert.equal(out.first, 1);
    assert.equal(out.missing, 0);
    assert.equal(out.duplicates, 0);
    assert.equal(out.last, out.frames);
    assert.equal(out.frames, cut.frames_out, "what the relay says it delivered is what arrived");
    assert.equal(out.frames + undelivered, good, "delivered + undelivered = accepted");
    const lines = journalLines(relay.journal).filter((l) => l.conn === 2);
    const pass = lines.filter((l) => l.result === "PASS").length;
    const fail = lines.filter((l) => l.result === "FAIL").length;
    assert.equal(pass, good, "one PASS line per accepted frame");
    assert.equal(fail, bad, "one FAIL line per rejected frame");
    assert.equal(
      good + bad,
      out.frames + undelivered + fail,
      "sent = delivered + undelivered + rejected",
    );
  } finally {
    checker.signal("SIGCONT");
    await checker.end();
    await close(...conns);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

// =============================================================================================
// A consumer that shut down its read side.

Deno.test("faults: a consumer that shut down its read side stops being written on the first failed write, and is read to its end; others unaffected", async () => {
  const p = PROFILES[1]!;
  const relay = await startRelay(p.arg);
  const script = [
    "import socket, sys, time",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    "s.connect(sys.argv[1])",
    "s.shutdown(socket.SHUT_RD)",
    "print('ready', flush=True)",
    "time.sleep(120)",
  ].join("\n");
  const peer = spawnPeer("python3", ["-c", script, relay.path]); // conn 0
  const conns: Deno.Conn[] = [];
  try {
    await peer.line(isReady);
    conns.push(...await connectMany(relay.path, 2)); // consumer = conn 1, producer = conn 2
    const [consumer, pr] = conns;
    const frames = makeFrames(p, 100);
    await send(pr!, concat(frames));
    assertFrames(await readFrames(consumer!, 100), frames);
    const stopped = await relay.waitForLog(
      (l) => l.msg === "delivery stopped" && l.conn === 0,
      10_000,
    );
    assert.match(String(stopped.reason), /^write failed/);
    // The relay is unaffected: more frames flow, and the half-shut client costs nothing more.
    const more = makeFrames(p, 100, { first: 101 });
    await send(pr!, concat(more));
    assertFrames(await readFrames(consumer!, 100), more);
    assert.deepEqual((await subscribe(consumer!, [], "add")).patterns, ["*"]);
    // It is closed when it goes away, and what it was not sent is counted.
    peer.signal("SIGKILL");
    const line = await relay.waitForLog(closedLine(0), 10_000);
    assert.match(String(line.reason), /^write failed: .*, then disconnected$/);
    assert.equal(
      Number(line.frames_out) + Number(line.undelivered_frames),
      Number(line.frames_queued),
    );
  } finally {
    peer.signal("SIGKILL");
    await peer.end();
    await close(...conns);
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});

// =============================================================================================
// The relay restarted under load; RelayClients reconnect.

Deno.test("faults: the relay restarted under load; RelayClients reconnect and every lost frame is a counted gap", async () => {
  const p = PROFILES[0]!;
  const first = await startRelay(p.arg);
  let second: RunningRelay | null = null;
  const reconnect = { initialMs: 20, maxMs: 200, maxAttempts: 200 };
  const consumer = await RelayClient.connect({ path: first.path, reconnect });
  const producer = await RelayClient.connect({ path: first.path, reconnect, publishOnly: true });
  let missing = 0n;
  let duplicates = 0;
  consumer.on("gap", (e) => (missing += e.missing));
  consumer.on("duplicate", () => duplicates++);
  let received = 0;
  let last = 0n;
  const reading = (async () => {
    for await (const f of consumer) {
      if (f.source !== p.source) continue;
      received++;
      last = f.sequence;
    }
  })();
  const waitFor = async (what: string, cond: () => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await delay(5);
    }
  };
  const TOTAL = 6_000;
  let sent = 0;
  const publish = async (n: number, flush = true) => {
    for (const f of makeFrames(p, n, { first: sent + 1 })) producer.publish(f);
    sent += n;
    if (flush) await producer.flush();
  };
  try {
    for (let i = 0; i < 10; i++) await publish(200);
    await waitFor("frames before the restart", () => received >= 1_000);
    first.child.kill("SIGTERM"); // graceful: stops accepting, flushes queues, exits
    // While it stops: written now, or kept by the client and written after it reconnects
    // (not awaited: that needs the second relay).
    await publish(500, false);
    const status = await first.child.status;
    assert.equal(status.code, 0);
    second = await startRelay(p.arg, { socket: first.path });
    await waitFor(
      "both clients reconnected",
      () => consumer.stats().reconnects >= 1 && producer.stats().reconnects >= 1,
    );
    while (sent < TOTAL) await publish(250);
    await waitFor(`the last frame (${TOTAL})`, () => last === BigInt(TOTAL));
    assert.equal(duplicates, 0, "no frame twice");
    assert.equal(BigInt(received) + missing, BigInt(TOTAL), "received + counted gaps = published");
    console.log(
      `  relay restart: ${TOTAL} published, ${received} received, ${missing} lost (counted as gaps), reconnects: consumer ${consumer.stats().reconnects}, producer ${producer.stats().reconnects}`,
    );
  } finally {
    await producer.close();
    await consumer.close();
    await reading;
    await second?.stop();
    await first.stop();
  }
});

// =============================================================================================
// The audit journal cannot be written.

Deno.test("faults: a full audit journal makes the execution relay refuse frames, with one error line", async () => {
  const p = PROFILES[2]!;
  const dir = await Deno.makeTempDir({ prefix: "torq_fault_" });
  const mnt = `${dir}/small`;
  await Deno.mkdir(mnt);
  const tmpfs = await mountTmpfs(mnt, "size=64k");
  const journal = tmpfs ? `${mnt}/execution.journal` : "/dev/full";
  const relay = await startRelay(p.arg, { args: ["--journal", journal] });
  const conns: Deno.Conn[] = [];
  try {
    conns.push(...await connectMany(relay.path, 2)); // consumer = conn 0, producer = conn 1
    const [consumer, pr] = conns;
    let seq = 1;
    let sent = 0;
    let delivered = 0;
    let fullBatches = 0;
    /** One batch, then fences on both connections: how many of its frames were forwarded. */
    const batch = async (n: number) => {
      const frames = makeFrames(p, n, { first: seq });
      seq += n;
      await send(pr!, concat(frames));
      sent += n;
      await drainToFence(pr!, 0); // the producer's fence: the batch was handled
      const got = await drainToFence(consumer!, n);
      assertFrames(got, frames.slice(0, got.length), "forwarded frames");
      delivered += got.length;
      return got.length;
    };
    while (fullBatches < 3) {
      assert.ok(sent < 20_000, "the journal never filled");
      if ((await batch(50)) === 0) fullBatches++;
    }
    const errors = relay.logs().filter((l) => l.level === "error");
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.msg, "refusing frames: audit journal write failed");
    assert.match(String(errors[0]!.error), /No space left on device|os error 28/);
    const refused = sent - delivered;
    assert.ok(refused >= 150);
    if (tmpfs) {
      // Forwarded if and only if journaled: the journal holds exactly the delivered frames.
      const lines = journalLines(journal).filter((l) => l.result !== "CONTROL"); // the fences' Subscribes
      assert.equal(lines.filter((l) => l.result === "PASS").length, delivered);
      assert.equal(lines.length, delivered, "no record of a refused frame");
      // Room again: frames flow again, and the relay says so once.
      assert.ok(await run("mount", "-o", "remount,size=4m", mnt));
      assert.equal(await batch(50), 50);
      const back = await relay.waitForLog((l) => l.msg === "audit journal writable again");
      assert.equal(back.refused_frames, refused);
    } else {
      assert.equal(delivered, 0, "/dev/full: nothing can be journaled, nothing is forwarded");
    }
    await close(...conns.splice(0));
    const r = await relay.stop();
    assert.equal(r.code, 0, r.stderr);
    const stopped = relay.logs().find((l) => l.msg === "stopped")!;
    assert.equal(stopped.journal_refused, refused, "counted as JournalUnavailable");
  } finally {
    await close(...conns);
    await relay.stop();
    if (tmpfs) await run("umount", mnt);
    await Deno.remove(dir, { recursive: true });
    await assertAllClosed();
  }
});

Deno.test("faults: an unwritable audit journal at start: the execution relay refuses to start, one line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "torq_fault_" });
  const ro = `${dir}/ro`;
  await Deno.mkdir(ro);
  const isRoot = Deno.uid() === 0;
  const mounted = isRoot && await mountTmpfs(ro, "ro,size=64k");
  if (!isRoot) await Deno.chmod(ro, 0o555);
  try {
    const cases: [string, string, RegExp][] = [
      ["the path is a directory", dir, /Is a directory|os error 21/],
      [
        mounted ? "a read-only file system" : "a read-only directory",
        `${ro}/execution.journal`,
        /Read-only file system|Permission denied|os error (30|13)/,
      ],
    ];
    if (!mounted && isRoot) {
      cases.pop(); // root writes anywhere without a read-only mount
      console.log("  (mount not permitted: the read-only case is skipped)");
    }
    for (const [name, journal, why] of cases) {
      await t.step(name, async () => {
        const socket = `${dir}/x.sock`;
        const r = await runTorq(["relay", "execution", "--socket", socket, "--journal", journal]);
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /cannot open audit journal/);
        assert.match(lines[0]!, why);
        assert.throws(() => Deno.lstatSync(socket), Deno.errors.NotFound, "no socket left");
      });
    }
  } finally {
    if (mounted) await run("umount", ro);
    if (!isRoot) await Deno.chmod(ro, 0o755);
    await Deno.remove(dir, { recursive: true });
  }
});

// =============================================================================================
// 1,000 clients connecting and disconnecting while frames flow.

Deno.test(`faults: 1,000 short-lived clients churn while ${LONG ? "5,000,000" : "200,000"} frames flow; the consumer gets them all`, async () => {
  const p = PROFILES[0]!;
  const TOTAL = LONG ? 5_000_000 : 200_000;
  const BLOCK = 1_000;
  const WINDOW = 8_000; // below max_queue_frames (10,000): the consumer can never overflow
  // Room for every churned client at once: the relay may see their ends late while busy.
  // At debug level every close is logged: warnings beyond the relay's budget come as debug lines.
  // The replay window is off: it keeps frames by design (bounded; see recovery_test.ts), and
  // this test measures what the churn itself leaves behind.
  const relay = await startRelay(p.arg, {
    args: [
      "--set",
      "relays.market_data.performance.max_connections=2000",
      "--log-level",
      "debug",
      "--set",
      "relays.market_data.recovery.enabled=false",
    ],
  });
  const [consumer, pr] = await connectMany(relay.path, 2); // conn 0, conn 1
  const fdsBefore = relay.openFds();
  const rssBefore = rssKb(relay.child.pid);
  // One block of 64-byte frames (source 99, no checksum), its sequences rewritten per send.
  const template = concat(makeFrames(p, BLOCK, { source: 99, checksum: false }));
  const size = template.length / BLOCK;
  const view = new DataView(template.buffer);
  let received = 0;
  let bad = 0;
  const reading = (async () => {
    const reader = new FrameReader({ capacity: 1 << 20 });
    while (received < TOTAL) {
      const n = await consumer!.read(reader.writable(1 << 18));
      if (n === null) break;
      reader.commit(n);
      while (reader.next()) {
        const b = reader.buffer;
        const s = reader.frameStart;
        const seq = (b[s + 8]! | (b[s + 9]! << 8) | (b[s + 10]! << 16)) + b[s + 11]! * 16777216;
        if (seq !== received + 1) bad++;
        received++;
      }
    }
  })();
  let churned = 0;
  const churn = (async () => {
    const hello = makeFrame(p, 1).subarray(0, 32).slice();
    hello.fill(0, 8, 32);
    const halfFrame = makeFrame(p, 1).subarray(0, 50);
    const garbage = new Uint8Array(300).fill(0x42);
    const subscribeRequest = new MessageBuilder({ domain: 4, source: 20 }).begin({ sequence: 0 })
      .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: 0, patterns: ["tlv.200"] })).build();
    const worker = async () => {
      while (churned < 1_000) {
        const k = churned++;
        const c = await connect(relay.path);
        try {
          if (k % 5 === 1) await send(c, hello);
          else if (k % 5 === 2) await send(c, halfFrame);
          else if (k % 5 === 3) await send(c, garbage);
          else if (k % 5 === 4) await send(c, subscribeRequest);
        } catch (e) {
          if (!(e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset)) {
            throw e;
          }
        } finally {
          await close(c);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  })().then(() => null, (e: unknown) => e); // awaited below; a failure is rethrown there
  try {
    let sent = 0;
    const deadline = Date.now() + (LONG ? 600_000 : 60_000);
    while (sent < TOTAL) {
      while (sent - received > WINDOW) {
        assert.ok(Date.now() < deadline, `stalled: ${received} of ${sent} received`);
        await delay(1);
      }
      for (let i = 0; i < BLOCK; i++) view.setUint32(i * size + 8, sent + i + 1, true);
      await send(pr!, template);
      sent += BLOCK;
    }
    const churnError = await churn;
    if (churnError !== null) throw churnError;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      reading,
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error(`received ${received} of ${TOTAL}`)), 60_000)
      ),
    ]);
    clearTimeout(timer);
    assert.equal(received, TOTAL, "lossless");
    assert.equal(bad, 0, "in order, no gap");
    assert.equal(churned >= 1_000, true);
    // Every churned connection was closed and its resources freed.
    const closes = () => relay.logs().filter((l) => l.msg === "connection closed").length;
    const until = Date.now() + 20_000;
    while (closes() < 1_000 && Date.now() < until) await delay(10);
    assert.equal(closes(), 1_000, "every churned connection closed");
    // Churned clients that never read overflow and are warned about, but not one line each.
    const warnings = relay.logs().filter((l) =>
      l.msg === "connection closed" && l.level === "warn"
    );
    const seconds = (Date.parse(relay.logs().at(-1)!.ts) - Date.parse(relay.logs()[0]!.ts)) / 1000;
    assert.ok(
      warnings.length <= 20 * (Math.ceil(seconds) + 1),
      `${warnings.length} close warnings in ${seconds} s (at most 20 a second)`,
    );
    // (The runtime opens a couple of descriptors lazily once data flows: a little slack.)
    const fds = relay.openFds();
    assert.ok(fds <= fdsBefore + 4, `descriptors: ${fdsBefore} before, ${fds} after`);
    // (Churned clients that never read may overflow; the counting consumer never does.)
    assert.ok(
      relay.logs().every((l) => !/slow consumer/.test(l.msg) || l.conn !== 0),
      "the consumer never overflowed",
    );
    const rssAfter = rssKb(relay.child.pid);
    // What the churn took comes back: the relay lets its buffers go a second after (its tidy
    // pass); V8 frees them at its next collection, which an idle process runs within about
    // 30 s (its memory reducer), and the allocator returns them at its 10 s trim.
    const settled = Date.now() + 60_000;
    let rssSettled = rssAfter;
    while (rssSettled > rssBefore + 32_768 && Date.now() < settled) {
      await delay(500);
      rssSettled = rssKb(relay.child.pid);
    }
    console.log(
      `  churn: ${TOTAL} frames lossless with 1,000 clients churning; relay RSS ${rssBefore} → ${rssAfter} → ${rssSettled} kB`,
    );
    assert.ok(
      rssSettled <= rssBefore + 32_768,
      `RSS came back within 32 MiB of ${rssBefore} kB: ${rssSettled} kB`,
    );
  } finally {
    await close(consumer!, pr!);
    await churn;
    await reading.catch(() => {});
    assert.equal((await relay.stop()).code, 0);
    await assertAllClosed();
  }
});
