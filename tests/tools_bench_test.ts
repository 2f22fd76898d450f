/**
 * `torq bench` end to end: the real CLI as a subprocess with small workloads,
 * against a relay it starts itself, a relay started here (`--socket`), and
 * direct sockets. Numbers are checked for sanity and consistency only; no
 * timing threshold is asserted. Every subprocess run is bounded.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import {
  type BenchResult,
  CSV_COLUMNS,
  formatCount,
  formatNs,
  formatRate,
  RelayProcess,
  runBench,
} from "../src/bench/mod.ts";

import { startRelay, TORQ_RUN } from "./_support/relay.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `torq <args>` to completion; killed (and failed) after `timeoutMs`. */
async function torq(args: string[], timeoutMs = 60_000): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const text = new TextDecoder();
    const run = {
      code: out.code,
      stdout: text.decode(out.stdout),
      stderr: text.decode(out.stderr),
    };
    assert.ok(!killed, `torq ${args.join(" ")} did not end within ${timeoutMs} ms:\n${run.stderr}`);
    return run;
  } finally {
    clearTimeout(timer);
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `text` (e.g. a relay's socket path). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes(text)) pids.push(Number(e.name));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** Checks one run's figures: lossless delivery, sane rates and ordered percentiles. */
function assertLossless(r: BenchResult, sent: number, consumers: number): void {
  assert.equal(r.sent, sent);
  assert.equal(r.stalled, false);
  assert.equal(r.consumerStats.length, consumers);
  for (const c of r.consumerStats) {
    assert.equal(c.msgs, sent, `consumer ${c.id} received ${c.msgs} of ${sent}`);
    assert.equal(c.drops, 0);
    assert.equal(c.gaps, 0);
    assert.equal(c.outOfOrder, 0);
    assert.equal(c.disconnected, false);
    assert.equal(c.bytes, sent * r.size);
    assert.ok(c.msgsPerSec > 0 && c.mbPerSec > 0);
    assert.equal(c.latency.count, sent);
    assert.ok(c.latency.p50Ns <= c.latency.p99Ns && c.latency.p99Ns <= c.latency.maxNs);
  }
  assert.equal(r.total.msgs, sent * consumers);
  assert.equal(r.total.drops, 0);
  assert.ok(r.total.msgsPerSec > 0);
  const l = r.latency;
  assert.equal(l.count, sent * consumers);
  assert.ok(l.minNs <= l.p50Ns, `min ${l.minNs} > p50 ${l.p50Ns}`);
  assert.ok(l.p50Ns <= l.p90Ns && l.p90Ns <= l.p99Ns && l.p99Ns <= l.p999Ns);
  assert.ok(l.p999Ns <= l.maxNs);
  assert.ok(l.maxNs > 0);
  for (const p of r.producerStats) assert.ok(p.msgsPerSec > 0 && p.error === undefined);
}

/** The bench's relay is gone: its temporary directory removed, no process mentions its socket. */
function assertCleanedUp(r: BenchResult): void {
  assert.ok(!exists(r.socket), `${r.socket} left behind`);
  assert.ok(!exists(dirname(r.socket)), `${dirname(r.socket)} left behind`);
  assert.deepEqual(processesMentioning(r.socket), [], "a relay process is still running");
}

for (const domain of ["market-data", "signal"] as const) {
  Deno.test(`torq bench ${domain} --count 20000 --consumers 2 --json: lossless through a started relay`, async () => {
    const run = await torq([
      "bench",
      domain,
      "--count",
      "20000",
      "--consumers",
      "2",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r: BenchResult = JSON.parse(run.stdout);
    assert.equal(r.system, "relay");
    assert.equal(r.domain, domain);
    assert.equal(r.relayStarted, true);
    assert.equal(r.size, 64);
    assert.equal(r.window, 5000);
    assertLossless(r, 20_000, 2);
    assert.deepEqual(r.relayLog, []);
    assertCleanedUp(r);
  });
}

Deno.test("torq bench execution --count 5000: 66-byte OrderRequests pass the audit relay", async () => {
  const run = await torq(["bench", "execution", "--count", "5000", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const r: BenchResult = JSON.parse(run.stdout);
  assert.equal(r.domain, "execution");
  assert.equal(r.size, 66);
  assertLossless(r, 5000, 1);
  // Rejected frames (bad sequence, checksum, timestamp) would show in the relay's log.
  assert.deepEqual(r.relayLog, []);
  assertCleanedUp(r);
});

Deno.test("torq bench --direct --count 20000: a direct run, a relay run and their ratio", async () => {
  const run = await torq(["bench", "--direct", "--count", "20000", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const out: { direct: BenchResult; relay: BenchResult; ratio: Record<string, number> } = JSON
    .parse(run.stdout);
  assert.equal(out.direct.system, "direct");
  assert.equal(out.relay.system, "relay");
  assertLossless(out.direct, 20_000, 1);
  assertLossless(out.relay, 20_000, 1);
  for (const k of ["throughput", "p50", "p99"]) assert.ok(out.ratio[k]! > 0, `ratio ${k}`);
  assertCleanedUp(out.relay);
  assert.ok(!exists(dirname(out.direct.socket)));
});

Deno.test("torq bench (text) prints a header, rows, latency percentiles and no progress line", async () => {
  const run = await torq(["bench", "--count", "5000", "--producers", "2", "--consumers", "2"]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.match(
    lines[0]!,
    /^torq bench: market-data relay \(started at \/.+\.sock\), 2 producers, 2 consumers, 64 B, 5,000 msgs, max rate, lossless window 5000$/,
  );
  assert.match(lines[1]!, /^ {2}producer 1 +2,500 msgs +[\d.]+ [KM ]?\s*msgs\/s +[\d.]+ MB\/s$/);
  assert.match(lines[3]!, /^ {2}consumer 1 +5,000 msgs .* drops 0 {2}gaps 0$/);
  assert.match(lines[5]!, /^ {2}total +10,000 msgs /);
  assert.match(
    lines[6]!,
    /^ {2}latency +p50 \S+ [nµm]?s {2}p90 .* p99 .* p99\.9 .* max \S+ [nµm]?s$/,
  );
  assert.equal(lines.length, 7, run.stdout);
  assert.ok(!run.stdout.includes("\x1b"), "no terminal escapes when stdout is not a terminal");
});

Deno.test("torq bench --csv prints a header, a row per consumer and a total row", async () => {
  const run = await torq(["bench", "--count", "4000", "--consumers", "3", "--csv"]);
  assert.equal(run.code, 0, run.stderr);
  const rows = run.stdout.trimEnd().split("\n").map((l) => l.split(","));
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  assert.equal(rows.length, 5);
  const col = (row: string[], name: string) => row[CSV_COLUMNS.indexOf(name)]!;
  assert.deepEqual(rows.slice(1).map((r) => col(r, "row")), [
    "consumer 1",
    "consumer 2",
    "consumer 3",
    "total",
  ]);
  for (const r of rows.slice(1, 4)) {
    assert.equal(col(r, "system"), "relay");
    assert.equal(col(r, "msgs"), "4000");
    assert.equal(col(r, "drops"), "0");
    assert.ok(Number(col(r, "msgs_per_sec")) > 0);
    assert.ok(Number(col(r, "p50_us")) <= Number(col(r, "max_us")));
  }
  assert.equal(col(rows[4]!, "msgs"), "12000");
});

Deno.test("torq bench --socket uses a running relay and leaves it running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_bench_test_" });
  const relay = await RelayProcess.start({
    command: [Deno.execPath(), ...TORQ_RUN],
    domain: "signal",
    socket: `${dir}/s.sock`,
    journal: `${dir}/execution.journal`,
  });
  try {
    const run = await torq([
      "bench",
      "signal",
      "--socket",
      `${dir}/s.sock`,
      "--count",
      "3000",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r: BenchResult = JSON.parse(run.stdout);
    assert.equal(r.relayStarted, false);
    assert.equal(r.socket, `${dir}/s.sock`);
    assertLossless(r, 3000, 1);
    assert.ok(!relay.exited, "the bench stopped a relay it did not start");
    assert.ok(exists(`${dir}/s.sock`));
  } finally {
    const exit = await relay.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert.equal(exit.code, 0);
    assert.deepEqual(exit.log, []);
  }
});

Deno.test("torq bench --socket at a missing path exits 1 with one line", async () => {
  const run = await torq(["bench", "--socket", "/nonexistent/torq/x.sock", "--count", "10"]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  assert.match(
    lines[0]!,
    /^torq bench: Cannot connect to a relay at \/nonexistent\/torq\/x\.sock: /,
  );
});

Deno.test("torq bench --socket tcp://HOST:PORT benches a relay over TCP", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const relay = await startRelay("market-data", {
    args: ["--set", `relays.market_data.transport.port=${port}`],
  });
  try {
    const run = await torq([
      "bench",
      "--socket",
      `tcp://127.0.0.1:${port}`,
      "--msgs",
      "3000",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r: BenchResult = JSON.parse(run.stdout);
    assert.equal(r.socket, `tcp://127.0.0.1:${port}`);
    assertLossless(r, 3000, 1);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq bench exits 1 with one line when the relay dies mid-run", async () => {
  const relay = await startRelay("market-data");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, "bench", "--socket", relay.path, "--duration", "30"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    // The header line comes when the run starts; let frames flow, then kill the relay.
    let out = "";
    while (!out.includes("torq bench: market-data relay")) {
      const r = await stdout.read();
      if (r.done) break;
      out += r.value;
    }
    await new Promise((r) => setTimeout(r, 300));
    await relay.stop("SIGKILL");
    for (;;) {
      const r = await stdout.read();
      if (r.done) break;
      out += r.value;
    }
    const status = await child.status;
    const err = await stderr;
    assert.equal(status.code, 1, `exit ${status.code}\n${out}\n${err}`);
    const lines = err.trimEnd().split("\n");
    assert.equal(lines.length, 1, err);
    assert.match(lines[0]!, /^torq bench: the relay run failed: /);
    assert.match(out, /note .*(connection ended|write failed|stopped)/, out);
  } finally {
    clearTimeout(killer);
    await relay.stop();
  }
});

Deno.test("torq bench rejects bad options with a usage error", async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [["system"], /unknown domain "system": use market-data, signal or execution/],
    [
      ["sgnal"],
      /unknown domain "sgnal": use market-data, signal or execution; did you mean "signal"\?/,
    ],
    [["--count", "10", "--duration", "1"], /--count or --duration, not both/],
    [["--json", "--csv"], /--json or --csv, not both/],
    [["--size", "20"], /option '--size' expects a whole number of at least 34, got "20"/],
    [
      ["--size", "70000"],
      /option '--size' expects a whole number from 34 to 65,536 \(the relay's max_message_size\)/,
    ],
    [["execution", "--size", "100"], /--size does not apply to execution/],
    [["--producers", "0"], /option '--producers' expects a whole number from 1 to \d+, got "0"/],
    [["--rate", "fast"], /option '--rate' expects a number from 0 to 1,000,000,000, got "fast"/],
    [["--frob"], /unknown option '--frob'/],
    [["--duraton", "1"], /unknown option '--duraton'; did you mean "--duration"\?/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const run = await torq(["bench", ...args], 20_000);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, pattern);
      assert.match(run.stderr, /\(see 'torq bench --help'\)\n$/);
    });
  }
});

Deno.test("torq bench still takes --msgs and --domain for a release, with one notice each", async () => {
  const run = await torq(["bench", "--domain", "sig", "--msgs", "2000", "--json"], 20_000);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).domain, "signal");
  assert.deepEqual(run.stderr.trimEnd().split("\n"), [
    "torq bench: warning: --domain is deprecated: give the domain as an argument, e.g. 'torq bench signal'",
    "torq bench: warning: '--msgs' is deprecated; use '--count' (the old spelling goes away in the next release)",
    "torq bench: warning: domain \"sig\" is deprecated; use 'signal' (the old spelling goes away in the next release)",
  ]);
});

Deno.test("torq bench --help documents the options and how latency is measured", async () => {
  const run = await torq(["bench", "--help"], 20_000);
  assert.equal(run.code, 0);
  for (
    const opt of [
      "--producers",
      "--consumers",
      "--size",
      "--count",
      "--duration",
      "--rate",
      "DOMAIN",
      "--socket",
      "--json",
      "--csv",
      "--direct",
      "--window",
      "--[no-]progress",
    ]
  ) {
    assert.ok(run.stdout.includes(opt), `help lacks ${opt}`);
  }
  assert.match(run.stdout, /one clock read/);
  assert.match(run.stdout, /Examples:\n {2}torq bench\n/);
});

Deno.test("runBench() over direct sockets: several producers, per-source sequences, no loss", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_bench_test_" });
  try {
    const r = await runBench(
      {
        domain: "signal",
        producers: 3,
        consumers: 2,
        size: 300, // extended TLV form
        msgs: 3001,
        durationMs: 0,
        rate: 0,
        window: 100,
      },
      { system: "direct", dir },
    );
    assert.deepEqual(r.producerStats.map((p) => [p.source, p.msgs]), [[20, 1001], [21, 1000], [
      22,
      1000,
    ]]);
    assertLossless(r, 3001, 2);
    assert.equal(r.relayLog.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runBench() with --rate paces producers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_bench_test_" });
  try {
    const r = await runBench(
      {
        domain: "market-data",
        producers: 1,
        consumers: 1,
        size: 64,
        msgs: null,
        durationMs: 300,
        rate: 1000,
        window: 5000,
      },
      { system: "direct", dir },
    );
    // About 300 frames in 300 ms; no exact bound (timers and load vary), but far
    // fewer than an unpaced producer sends, and all of them delivered.
    assert.ok(r.sent > 0 && r.sent <= 302, `sent ${r.sent}`);
    assertLossless(r, r.sent, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatCount(), formatRate() and formatNs() read well", () => {
  assert.equal(formatCount(24_512_000), "24,512,000");
  assert.equal(formatCount(999), "999");
  assert.equal(formatRate(4_902_400), "4.90 M");
  assert.equal(formatRate(512_340), "512.3 K");
  assert.equal(formatRate(845.4), "845");
  assert.equal(formatNs(800), "800 ns");
  assert.equal(formatNs(212_400), "212 µs");
  assert.equal(formatNs(1_900_000), "1.9 ms");
  assert.equal(formatNs(42_000_000), "42 ms");
  assert.equal(formatNs(1_234_000_000), "1.23 s");
});
