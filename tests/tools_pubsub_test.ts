/**
 * Integration tests of `torq sub`, `torq pub`, `torq record` and `torq replay`:
 * real relay processes (tests/_support/relay.ts) and the real CLI as
 * subprocesses. Every wait is bounded; nothing asserts timings.
 */

import assert from "node:assert/strict";
import {
  assertFrames,
  close,
  connect,
  expectSilence,
  helloFrame,
  makeFrame,
  makeFrames,
  PROFILES,
  readFrames,
  ROOT,
  send,
  startRelay,
  subscribe,
  TORQ_RUN,
  tradeFrame,
} from "./_support/relay.ts";
import { toHex, vectorBytes } from "./_support/vectors.ts";
import { readRecording } from "../src/tools/record_file.ts";
import { concat } from "../src/io/mod.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";

const SIGNAL_PROFILE = PROFILES[1]!;
const ARB = vectorBytes("arbitrage_signal_flash_arb");
const MULTI_SIGNAL = vectorBytes("multi_tlv_signal_identity_economics");
const TRADE = vectorBytes("trade_kraken_btc_usd");
const QUOTE = vectorBytes("quote_coinbase_eth_usd");
const FIXTURE = `${ROOT}tests/fixtures/signal_two_vectors.torq`;
const WAIT_MS = 15_000;

interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** A `torq` subprocess with its output collected as it comes. */
interface Torq {
  /** Waits (bounded) for a stderr line matching `re`; fails with the output when none comes. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal. */
  kill(signal: Deno.Signal): void;
  /** Waits (bounded, then SIGKILL) for the exit and returns the output. */
  finish(timeoutMs?: number): Promise<Finished>;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function spawnTorq(args: string[], stdin?: Uint8Array): Torq {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    void w.write(stdin).then(() => w.close()).catch(() => {});
  }
  let stdout = "";
  let stderr = "";
  const collect = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const pumps = Promise.all([
    collect(child.stdout, (t) => (stdout += t)),
    collect(child.stderr, (t) => (stderr += t)),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let finished: Promise<Finished> | null = null;
  const torq: Torq = {
    async waitForStderr(re, timeoutMs = WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = stderr.split("\n").find((l) => re.test(l));
        if (line !== undefined) return line;
        if (exited || Date.now() > deadline) {
          const r = await torq.finish(1_000);
          assert.fail(
            `torq ${args.join(" ")}: no stderr line matching ${re} (${
              exited ? `exited ${r.code}` : `within ${timeoutMs} ms`
            })\nstderr:\n${r.stderr}\nstdout:\n${r.stdout.slice(0, 2000)}`,
          );
        }
        await delay(10);
      }
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // ended
      }
    },
    finish(timeoutMs = WAIT_MS) {
      finished ??= (async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          status.then(() => true),
          new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (!ended) torq.kill("SIGKILL");
        const s = await status;
        await pumps;
        return { code: ended ? s.code : -1, stdout, stderr };
      })();
      return finished;
    },
  };
  return torq;
}

async function runTorq(args: string[], stdin?: Uint8Array): Promise<Finished> {
  return await spawnTorq(args, stdin).finish();
}

/** Starts `torq sub|record ...` and waits until its subscription is in effect. */
async function subscribed(args: string[]): Promise<Torq> {
  const t = spawnTorq(args);
  await t.waitForStderr(/^(subscribed to|recording) /);
  return t;
}

function assertOk(r: Finished, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstderr:\n${r.stderr}`);
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

Deno.test("torq pub --vector --count 3 reaches torq sub --count 3 --hex byte for byte", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--count",
      "3",
      "--hex",
    ]);
    const pub = await runTorq([
      "pub",
      "signal",
      "--socket",
      relay.path,
      "--vector",
      "arbitrage_signal_flash_arb",
      "--count",
      "3",
    ]);
    assertOk(pub, "pub");
    assert.equal(pub.stdout, "");
    assert.deepEqual(lines(pub.stderr), [
      `published 3 frames (612 bytes) to signal relay at ${relay.path}`,
    ]);
    const r = await sub.finish();
    assertOk(r, "sub");
    assert.deepEqual(lines(r.stdout), [toHex(ARB), toHex(ARB), toHex(ARB)]);
    const err = lines(r.stderr);
    assert.equal(
      err[0],
      `subscribed to signal relay at ${relay.path}, filter ["*"] (Ctrl-C to stop)`,
    );
    assert.equal(
      err.at(-1),
      `received 3 frames (612 bytes), 0 gaps from signal relay at ${relay.path}`,
    );
  } finally {
    await relay.stop();
  }
});

Deno.test("torq pub refused at max_connections exits 1 with one line, never 'published'", async () => {
  const relay = await startRelay("signal", {
    args: ["--set", "relays.signal.performance.max_connections=1"],
  });
  try {
    // The first connection takes the one slot (the relay accepts in order): every later one
    // is accepted and closed at once.
    const holder = await connect(relay.path);
    await send(holder, helloFrame());
    for (let run = 0; run < 3; run++) {
      const r = await runTorq([
        "pub",
        "signal",
        "--socket",
        relay.path,
        "--vector",
        "arbitrage_signal_flash_arb",
      ]);
      assert.equal(r.code, 1, `run ${run}: exit ${r.code}\n${r.stderr}`);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^torq pub: Cannot (connect to signal relay at ${relay.path}: it closed the connection at once|publish 1 frame: connection closed by the signal relay at ${relay.path}).*\\n$`,
        ),
      );
    }
    close(holder);
  } finally {
    const r = await relay.stop();
    assert.match(r.stderr, /refusing connection: max_connections reached/);
  }
});

Deno.test("torq sub --count 10 on a busy market-data relay gets its subscription answered", async () => {
  // Relay side of issue 15 item 4: a Subscribe answer must never be dropped with the data that
  // overflows a consumer's queue (the client also writes an unanswered request again).
  const relay = await startRelay("market-data", {
    args: ["--set", "relays.market_data.performance.max_queue_frames=200"],
  });
  // Two producers writing as fast as the relay reads (bounded: 60 s at most).
  const producers = [await connect(relay.path), await connect(relay.path)];
  let flooding = true;
  const batch = concat(makeFrames(PROFILES[0]!, 4_000));
  const flood = Promise.all(producers.map(async (producer) => {
    await send(producer, helloFrame());
    const deadline = Date.now() + 60_000;
    while (flooding && Date.now() < deadline) await send(producer, batch);
  }));
  try {
    for (let run = 0; run < 3; run++) {
      const r = await runTorq(["sub", "market-data", "--socket", relay.path, "--count", "10"]);
      assertOk(r, `sub run ${run}`);
      assert.match(lines(r.stderr).at(-1)!, /^received 10 frames /);
    }
  } finally {
    flooding = false;
    await flood.catch(() => {});
    for (const p of producers) close(p);
    await relay.stop();
  }
});

Deno.test("torq sub --json prints one line per frame, equal to torq decode --json", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--count",
      "2",
      "--json",
    ]);
    const stdin = concat([ARB, MULTI_SIGNAL]);
    assertOk(await runTorq(["pub", "signal", "--socket", relay.path, "-"], stdin), "pub -");
    const r = await sub.finish();
    assertOk(r, "sub");
    const got = lines(r.stdout);
    assert.equal(got.length, 2, r.stdout);
    for (const [i, frame] of [ARB, MULTI_SIGNAL].entries()) {
      const decoded = await runTorq(["decode", "--json", toHex(frame)]);
      assertOk(decoded, "decode");
      assert.deepEqual(JSON.parse(got[i]!), JSON.parse(decoded.stdout));
    }
  } finally {
    await relay.stop();
  }
});

Deno.test("torq sub (default --decode) prints the torq decode text of each frame", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed(["sub", "signal", "--socket", relay.path, "--count", "1"]);
    assertOk(
      await runTorq(["pub", "signal", "--socket", relay.path, "--hex", toHex(MULTI_SIGNAL)]),
      "pub --hex",
    );
    const r = await sub.finish();
    assertOk(r, "sub");
    const decoded = await runTorq(["decode", toHex(MULTI_SIGNAL)]);
    assert.equal(r.stdout, decoded.stdout);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq sub --subscribe tlv.1 on market data receives Trades but not Quotes", async () => {
  const relay = await startRelay("market-data");
  try {
    const sub = await subscribed([
      "sub",
      "market-data",
      "--socket",
      relay.path,
      "--subscribe",
      "tlv.1",
      "--count",
      "2",
      "--hex",
    ]);
    assert.match(await sub.waitForStderr(/^subscribed/), /filter \["tlv\.1"\]/);
    const hex = [QUOTE, TRADE, QUOTE, TRADE].map(toHex).join(" ");
    assertOk(await runTorq(["pub", "market-data", "--socket", relay.path, "--hex", hex]), "pub");
    const r = await sub.finish();
    assertOk(r, "sub");
    assert.deepEqual(lines(r.stdout), [toHex(TRADE), toHex(TRADE)]);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq sub --types subscribes to tlv.N and filters locally", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--types",
      "20",
      "--source",
      "23",
      "--count",
      "1",
      "--hex",
    ]);
    assert.match(await sub.waitForStderr(/^subscribed/), /filter \["tlv\.20", "source\.23"\]/);
    // ArbitrageSignal (type 32, source 20) matches neither; the multi-TLV signal matches both
    const hex = [ARB, MULTI_SIGNAL].map(toHex).join("");
    assertOk(await runTorq(["pub", "signal", "--socket", relay.path, "--hex", hex]), "pub");
    const r = await sub.finish();
    assertOk(r, "sub");
    assert.deepEqual(lines(r.stdout), [toHex(MULTI_SIGNAL)]);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq sub reports sequence gaps per source as they happen", async () => {
  const relay = await startRelay("signal");
  const conn = await connect(relay.path);
  try {
    const sub = await subscribed([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--count",
      "4",
      "--hex",
    ]);
    const frames = [1, 2, 5, 6].map((s) => makeFrame(SIGNAL_PROFILE, s));
    await send(conn, helloFrame(), ...frames);
    const r = await sub.finish();
    assertOk(r, "sub");
    assert.deepEqual(lines(r.stdout), frames.map(toHex));
    const err = lines(r.stderr);
    assert.ok(err.includes("⚠ gap on source 20: expected 3, got 5 (2 missing)"), r.stderr);
    assert.equal(
      err.at(-1),
      `received 4 frames (816 bytes), 1 gap from signal relay at ${relay.path}`,
    );
  } finally {
    await close(conn);
    await relay.stop();
  }
});

Deno.test("torq sub --snapshot on market data prints the last value of every instrument, then live", async () => {
  const relay = await startRelay("market-data");
  // Connected first, the witness is accepted before any frame (the relay accepts in order).
  const witness = await connect(relay.path);
  const producer = await connect(relay.path);
  try {
    const b = new MessageBuilder({ domain: 1, source: 2 });
    // 100 trades over 10 instruments: the last values are sequences 91–100.
    const before = Array.from({ length: 100 }, (_, i) => tradeFrame(b, i + 1, 1 + i % 10));
    await send(producer, concat(before));
    await readFrames(witness, before.length);
    const sub = spawnTorq([
      "sub",
      "market-data",
      "--socket",
      relay.path,
      "--snapshot",
      "--count",
      "15",
      "--hex",
    ]);
    await sub.waitForStderr(/^snapshot: /);
    const live = Array.from({ length: 5 }, (_, i) => tradeFrame(b, 101 + i, 1 + i));
    await send(producer, concat(live));
    const r = await sub.finish();
    assertOk(r, "sub --snapshot");
    assert.deepEqual(lines(r.stdout), [...before.slice(90), ...live].map(toHex));
    assert.deepEqual(lines(r.stderr).slice(1), [
      "snapshot: 10 frames (sequences 91–100) from the market-data relay",
      `received 15 frames (1110 bytes), 0 gaps from market-data relay at ${relay.path}`,
    ]);
  } finally {
    await close(producer);
    await close(witness);
    await relay.stop();
  }
});

Deno.test("torq sub --from SEQ --source S prints the frames after SEQ the relay holds, then live; a start it no longer holds is partial", async () => {
  const relay = await startRelay("signal", {
    args: ["--set", "relays.signal.recovery.window_frames=100"],
  });
  // Connected first, the witness is accepted before any frame (the relay accepts in order).
  const witness = await connect(relay.path);
  const producer = await connect(relay.path);
  try {
    const sent = makeFrames(SIGNAL_PROFILE, 60);
    await send(producer, concat(sent.slice(0, 50)));
    await readFrames(witness, 50);
    // A consumer that handled up to 20 comes back.
    const sub = spawnTorq([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--from",
      "20",
      "--source",
      "20",
      "--count",
      "40",
      "--hex",
    ]);
    await sub.waitForStderr(/^recovered /);
    await send(producer, concat(sent.slice(50)));
    const r = await sub.finish();
    assertOk(r, "sub --from");
    assert.deepEqual(lines(r.stdout), sent.slice(20).map(toHex));
    assert.deepEqual(lines(r.stderr).slice(1), [
      "recovered 30 frames of source 20 after sequence 20 (sequences 21–50) from the signal relay, complete",
      `received 40 frames (8160 bytes), 0 gaps from signal relay at ${relay.path}`,
    ]);

    // 200 more: the window (100 frames) no longer holds sequence 21.
    await send(producer, concat(makeFrames(SIGNAL_PROFILE, 200, { first: 61 })));
    await readFrames(witness, 210);
    const late = await runTorq([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--from",
      "20",
      "--source",
      "20",
      "--count",
      "1",
      "--hex",
    ]);
    assertOk(late, "sub --from (partial)");
    assert.match(
      lines(late.stderr)[1]!,
      /^recovered \d+ frames of source 20 after sequence 20 \(sequences (\d+)–260\) from the signal relay, partial: the window starts at \1, 21–\d+ are lost$/,
    );
  } finally {
    await close(producer);
    await close(witness);
    await relay.stop();
  }
});

Deno.test("torq sub exits 0 on SIGINT with a one-line summary", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed(["sub", "signal", "--socket", relay.path]);
    sub.kill("SIGINT");
    const r = await sub.finish();
    assertOk(r, "sub");
    assert.equal(r.stdout, "");
    assert.deepEqual(lines(r.stderr).slice(1), [
      `received 0 frames (0 bytes), 0 gaps from signal relay at ${relay.path}`,
    ]);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq sub --rate-graph prints rate lines instead of frames", async () => {
  const relay = await startRelay("signal");
  try {
    const sub = await subscribed([
      "sub",
      "signal",
      "--socket",
      relay.path,
      "--rate-graph",
      "--count",
      "2",
    ]);
    const hex = toHex(ARB).repeat(2);
    assertOk(await runTorq(["pub", "signal", "--socket", relay.path, "--hex", hex]), "pub");
    const r = await sub.finish();
    assertOk(r, "sub");
    for (const l of lines(r.stdout)) {
      assert.match(l, /^\d\d:\d\d:\d\d +\d+ msg\/s +[\d.]+ [KM]?B\/s/);
    }
    assert.ok(!r.stdout.includes("efbeadde"));
  } finally {
    await relay.stop();
  }
});

Deno.test("torq pub refuses a frame of another domain unless --force", async () => {
  const r = await runTorq([
    "pub",
    "signal",
    "--socket",
    "/nonexistent/x.sock",
    "--vector",
    "trade_kraken_btc_usd",
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.deepEqual(lines(r.stderr), [
    "torq pub: refusing to publish: frame 1 has relay_domain 1 (market_data), the signal relay takes domain 2 (signal) only; --force sends it anyway",
  ]);
  // with --force it gets as far as connecting
  const forced = await runTorq([
    "pub",
    "signal",
    "--socket",
    "/nonexistent/x.sock",
    "--vector",
    "trade_kraken_btc_usd",
    "--force",
  ]);
  assert.equal(forced.code, 1);
  assert.match(forced.stderr, /^torq pub: Cannot connect to signal relay/);
});

Deno.test("torq record then torq replay reproduce identical frames in order", async () => {
  const relay = await startRelay("signal");
  const producer = await connect(relay.path);
  let consumer: Deno.Conn | undefined;
  const file = `${relay.dir}/rec.torq`;
  try {
    const frames = makeFrames(SIGNAL_PROFILE, 5);
    const rec = await subscribed([
      "record",
      "signal",
      "--socket",
      relay.path,
      "-o",
      file,
      "--count",
      "5",
    ]);
    await send(producer, helloFrame(), ...frames);
    const r = await rec.finish();
    assertOk(r, "record");
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    assert.equal(
      lines(r.stderr).at(-1),
      `recorded 5 frames (${bytes} bytes, 0 gaps) from signal relay at ${relay.path} to ${file} (${
        24 + bytes + 5 * 12
      } bytes)`,
    );
    const recorded = [...readRecording(await Deno.readFile(file))];
    assertFrames(recorded.map((x) => x.frame), frames, "recorded");

    // connected after the recording, so it sees the replay only
    consumer = await connect(relay.path);
    await subscribe(consumer, ["*"]);
    const replay = await runTorq(["replay", file, "--socket", relay.path, "--rate", "max"]);
    assertOk(replay, "replay");
    assert.match(
      lines(replay.stderr)[0]!,
      new RegExp(
        `^replayed 5 frames \\(${bytes} bytes\\) from .*rec\\.torq to signal relay at .* in [\\d.]+ s$`,
      ),
    );
    assertFrames(await readFrames(consumer, 5), frames, "replayed");

    const decoded = await runTorq(["decode", "--file", file]);
    assertOk(decoded, "decode --file");
    assert.equal(decoded.stdout.match(/^header: 204 bytes, 1 TLV$/gm)?.length, 5);
    assert.match(decoded.stdout, /^frame 5 at offset 816$/m);
  } finally {
    await close(producer, ...(consumer === undefined ? [] : [consumer]));
    await relay.stop();
  }
});

Deno.test("the committed recording fixture decodes and replays (original spacing)", async () => {
  const decoded = await runTorq(["decode", "--file", FIXTURE]);
  assertOk(decoded, "decode --file");
  assert.match(decoded.stdout, /ArbitrageSignal \(type 32\)/);
  assert.match(decoded.stdout, /SignalIdentity \(type 20\)/);
  assert.deepEqual(
    decoded.stdout.match(/^frame \d at offset \d+$/gm),
    ["frame 1 at offset 0", "frame 2 at offset 204"],
  );

  const relay = await startRelay("signal");
  const consumer = await connect(relay.path);
  try {
    await subscribe(consumer, ["*"]);
    const replay = await runTorq(["replay", FIXTURE, "--to", "signal", "--socket", relay.path]);
    assertOk(replay, "replay");
    assertFrames(await readFrames(consumer, 2), [ARB, MULTI_SIGNAL], "replayed fixture");
  } finally {
    await close(consumer);
    await relay.stop();
  }
});

Deno.test("torq decode --file decodes every complete record of a torn recording, then reports the tail", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_rec_test_" });
  try {
    const bytes = await Deno.readFile(FIXTURE);
    await Deno.writeFile(`${dir}/cut.torq`, bytes.subarray(0, bytes.length - 10));
    const r = await runTorq(["decode", "--json", "--file", `${dir}/cut.torq`]);
    assert.equal(r.code, 1);
    // The first record is intact: it is decoded as if it were the whole file.
    const whole = await runTorq(["decode", "--json", toHex(ARB)]);
    assert.equal(r.stdout, whole.stdout);
    assert.deepEqual(lines(r.stderr), [
      `torq decode: TruncatedRecord: Cannot read record 1 at offset 240: its frame needs 84 bytes, 74 remain; the 1 complete record before it was read (${dir}/cut.torq)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq replay of a torn recording sends every complete record, then reports the tail", async () => {
  const relay = await startRelay("signal");
  const dir = await Deno.makeTempDir({ prefix: "torq_rec_test_" });
  try {
    const bytes = await Deno.readFile(FIXTURE);
    // 50 bytes short, as in the report: the second record (84 bytes) is torn.
    await Deno.writeFile(`${dir}/cut.torq`, bytes.subarray(0, bytes.length - 50));
    const consumer = await connect(relay.path);
    await subscribe(consumer, ["*"]);
    const r = await runTorq(["replay", `${dir}/cut.torq`, "--socket", relay.path, "--rate", "max"]);
    assert.equal(r.code, 1, r.stderr);
    const err = lines(r.stderr);
    assert.equal(err.length, 2, r.stderr);
    assert.match(
      err[0]!,
      new RegExp(`^replayed 1 frame \\(204 bytes\\) from ${dir}/cut\\.torq to signal relay`),
    );
    assert.equal(
      err[1],
      `torq replay: TruncatedRecord: Cannot read record 1 at offset 240: its frame needs 84 bytes, 34 remain; the 1 complete record before it was read (${dir}/cut.torq)`,
    );
    assertFrames(await readFrames(consumer, 1), [ARB]);
    close(consumer);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq replay checks frames by the target relay's policy and reports those it would refuse", async () => {
  const relay = await startRelay("signal");
  const dir = await Deno.makeTempDir({ prefix: "torq_rec_test_" });
  try {
    const bytes = (await Deno.readFile(FIXTURE)).slice();
    // Flip one payload byte of the second record (offset 240 + 12 header + 32 frame header).
    bytes[240 + 12 + 40]! ^= 0x01;
    await Deno.writeFile(`${dir}/flipped.torq`, bytes);
    const consumer = await connect(relay.path);
    await subscribe(consumer, ["*"]);
    const r = await runTorq([
      "replay",
      `${dir}/flipped.torq`,
      "signal",
      "--socket",
      relay.path,
      "--rate",
      "max",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const err = lines(r.stderr);
    assert.equal(err.length, 2, r.stderr);
    assert.match(err[0]!, /^replayed 1 frame \(204 bytes\)/);
    assert.equal(
      err[1],
      "torq replay: 1 frame was not sent: the signal relay's standard policy would refuse 1 of 2 frames: ChecksumMismatch ×1 (first: record 1); --force sends them anyway",
    );
    assertFrames(await readFrames(consumer, 1), [ARB]);
    // --force sends it: the relay itself refuses it, and the replay no longer pretends otherwise.
    const forced = await runTorq([
      "replay",
      `${dir}/flipped.torq`,
      "--socket",
      relay.path,
      "--rate",
      "max",
      "--force",
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assertFrames(await readFrames(consumer, 1), [ARB]);
    await expectSilence(consumer);
    close(consumer);
    const stopped = await relay.stop();
    assert.match(stopped.stderr, /ChecksumMismatch/);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq replay refuses another domain's frames and an empty selection in one line", async () => {
  const wrong = await runTorq([
    "replay",
    FIXTURE,
    "market-data",
    "--socket",
    "/nonexistent/x.sock",
  ]);
  assert.equal(wrong.code, 1);
  assert.deepEqual(lines(wrong.stderr), [
    "torq replay: Cannot replay: frame 1 of the replay has relay_domain 2 (signal), the market-data relay takes domain 1 (market_data) only; --force sends it anyway",
  ]);
  const late = await runTorq([
    "replay",
    FIXTURE,
    "--socket",
    "/nonexistent/x.sock",
    "--from",
    "2099-01-01T00:00:00Z",
  ]);
  assert.equal(late.code, 1);
  assert.deepEqual(lines(late.stderr), [
    "torq replay: Cannot replay: none of the recording's 2 frames is at or after --from",
  ]);
});

Deno.test("torq replay --to and a short domain name still work for a release, with a notice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_oldspell_" });
  try {
    const path = `${dir}/none.sock`;
    const old = await runTorq(["replay", FIXTURE, "--to", path]);
    assert.equal(old.code, 1);
    assert.deepEqual(lines(old.stderr), [
      "torq replay: warning: --to is deprecated: give the domain as an argument ('torq replay FILE signal') and a socket with --socket",
      `torq replay: Cannot connect to signal relay at ${path}: no such socket (is 'torq relay signal' running?)`,
    ]);
    const short = await runTorq(["record", "sig", "--socket", path, "-o", `${dir}/r.torq`]);
    assert.equal(short.code, 1);
    assert.deepEqual(lines(short.stderr), [
      "torq record: warning: domain \"sig\" is deprecated; use 'signal' (the old spelling goes away in the next release)",
      `torq record: Cannot connect to signal relay at ${path}: no such socket (is 'torq relay signal' running?)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every tool exits 1 with one line when the relay is not running", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "torq_norelay_" });
  const path = `${dir}/none.sock`;
  try {
    const cases: [string, string[]][] = [
      ["sub", ["sub", "signal", "--socket", path]],
      ["pub", ["pub", "signal", "--socket", path, "--vector", "arbitrage_signal_flash_arb"]],
      ["record", ["record", "signal", "--socket", path, "-o", `${dir}/r.torq`]],
      ["replay", ["replay", FIXTURE, "--socket", path]],
    ];
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const r = await runTorq(args);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, "");
        assert.deepEqual(lines(r.stderr), [
          `torq ${name}: Cannot connect to signal relay at ${path}: no such socket (is 'torq relay signal' running?)`,
        ]);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sub, pub, record and replay --help show usage and examples", async () => {
  for (const cmd of ["sub", "pub", "record", "replay"]) {
    const r = await runTorq([cmd, "--help"]);
    assertOk(r, `${cmd} --help`);
    assert.match(r.stdout, new RegExp(`^Usage: torq ${cmd} `));
    assert.match(r.stdout, /\nExamples:\n {2}torq /);
    assert.match(r.stdout, /--socket PATH/);
  }
});

Deno.test("usage errors exit 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["sub"],
      /^torq sub: missing DOMAIN: market-data, signal or execution \(see 'torq sub --help'\)\n/,
    ],
    [
      ["sub", "sgnal"],
      /^torq sub: unknown domain "sgnal": use market-data, signal or execution; did you mean "signal"\?/,
    ],
    [
      ["sub", "signal", "--count", "-3"],
      /^torq sub: option '--count' expects a positive whole number, got "-3"/,
    ],
    [
      ["record", "signal", "--subscrbe", "x"],
      /^torq record: unknown option '--subscrbe'; did you mean "--subscribe"\?/,
    ],
    [["sub", "signal", "--hex", "--json"], /^torq sub: choose one of --decode, --hex and --json/],
    [["sub", "signal", "--types", "abc"], /^torq sub: Cannot parse type "abc"/],
    [["pub", "signal"], /^torq pub: missing input/],
    [["record", "signal"], /^torq record: missing -o FILE/],
    [
      ["sub", "signal", "--from", "10"],
      /^torq sub: --from needs --source: whose sequence is it \(e\.g\. --source 20\)\?/,
    ],
    [
      ["sub", "signal", "--from", "10", "--source", "20-21"],
      /^torq sub: --from needs one source: --source 20-21 names several/,
    ],
    [
      ["sub", "signal", "--from", "ten", "--source", "20"],
      /^torq sub: Cannot parse sequence "ten": expected a whole number 0 or more/,
    ],
    [
      ["sub", "signal", "--from", "18446744073709551616", "--source", "20"],
      /^torq sub: Cannot parse sequence "18446744073709551616": it is above 2\^64 - 1/,
    ],
    [
      ["sub", "signal", "--snapshot", "--from", "1", "--source", "20"],
      /^torq sub: choose one of --snapshot and --from/,
    ],
    [
      ["replay", FIXTURE, "signal", "--rate", "fast"],
      /^torq replay: Cannot parse rate "fast"/,
    ],
    [["replay", FIXTURE, "nowhere"], /^torq replay: unknown domain "nowhere"/],
  ];
  for (const [args, re] of cases) {
    const r = await runTorq(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
