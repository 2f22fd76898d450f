// Integration tests of `torq demo arbitrage`, `torq demo pipeline` and
// `torq mock-relay`: real processes, real relays, real sockets in temporary
// directories. Every wait is bounded; no test asserts a timing.
import assert from "node:assert/strict";
import { RelayClient } from "../src/client/client.ts";
import type { ReceivedFrame } from "../src/client/received_frame.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { coin, VenueId } from "../src/protocol/instrument_id.ts";
import { decodeMessage } from "../src/protocol/message.ts";
import type { PayloadFields } from "../src/protocol/payloads.ts";
import { DEMO_PAIRS, DEMO_VENUES, DemoArbitrageGenerator } from "../src/demo/arbitrage.ts";
import { hex, ROOT, runTorq, startRelay, TORQ_RUN } from "./_support/relay.ts";
import { readJournal } from "../src/relay/journal_file.ts";
import { journalRecordToJson } from "../src/tools/journal_view.ts";

const WAIT_MS = 15_000;
const Q8 = 100_000_000n;

// ---------------------------------------------------------------------------------------------
// Helpers

/** Receives `n` frames from a client, failing the test when they do not come in time. */
async function collect(
  client: RelayClient,
  n: number,
  timeoutMs = WAIT_MS,
): Promise<ReceivedFrame[]> {
  const out: ReceivedFrame[] = [];
  const it = client[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<"timeout">((res) => {
        timer = setTimeout(() => res("timeout"), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if (r === "timeout") {
      assert.fail(`received ${out.length} of ${n} frames within ${timeoutMs} ms`);
    }
    if (r.done) assert.fail(`the connection ended after ${out.length} of ${n} frames`);
    out.push(r.value);
  }
  return out;
}

/** A `torq` process with its output read line by line. */
interface Spawned {
  child: Deno.ChildProcess;
  out: string[];
  err: string[];
  /**
   * Waits (bounded) until `n` stdout lines (default 1) match `re`; fails the
   * test with the output otherwise.
   */
  waitFor(re: RegExp, n?: number, timeoutMs?: number): Promise<string>;
  /** Waits (bounded) for the exit; SIGKILL after the bound. */
  status(timeoutMs?: number): Promise<Deno.CommandStatus>;
  /** Signals the process and waits for it (bounded). */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

function spawnTorq(args: string[]): Spawned {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, lines: string[]) => {
    let carry = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + text).split("\n");
      carry = parts.pop()!;
      lines.push(...parts);
    }
    if (carry !== "") lines.push(carry);
  };
  const pumps = Promise.all([pump(child.stdout, out), pump(child.stderr, err)]);
  let done: Deno.CommandStatus | null = null;
  const statusPromise = child.status.then(async (s) => {
    await pumps;
    done = s;
    return s;
  });
  const status = async (timeoutMs = WAIT_MS) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = await Promise.race([
      statusPromise,
      new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (s !== null) return s;
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
    await statusPromise;
    assert.fail(
      `torq ${args.join(" ")} did not exit within ${timeoutMs} ms; stdout:\n${
        out.join("\n")
      }\nstderr:\n${err.join("\n")}`,
    );
  };
  return {
    child,
    out,
    err,
    waitFor: async (re, n = 1, timeoutMs = WAIT_MS) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = out.filter((l) => re.test(l));
        if (hits.length >= n) return hits[n - 1]!;
        if (done !== null || Date.now() > deadline) {
          assert.fail(
            `no stdout line matching ${re} from torq ${args.join(" ")}; stdout:\n${
              out.join("\n")
            }\nstderr:\n${err.join("\n")}`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    status,
    stop: async (signal: Deno.Signal = "SIGINT") => {
      if (done === null) {
        try {
          child.kill(signal);
        } catch {
          // ended
        }
      }
      return await status();
    },
  };
}

/** Starts `torq up --socket-dir <tmp>` and waits until it says the relays run. */
async function startUp(): Promise<{ dir: string; up: Spawned; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "torq_demo_test_" });
  // Port 0: the HTTP front of another `torq up` (a parallel test) may hold the default port.
  const up = spawnTorq(["up", "--socket-dir", dir, "--set", "http.listen=127.0.0.1:0"]);
  try {
    await up.waitFor(/^torq up: 3 relays running/);
  } catch (e) {
    await up.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  return {
    dir,
    up,
    stop: async () => {
      try {
        const s = await up.stop("SIGTERM");
        assert.equal(s.code, 0, up.err.join("\n"));
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

function big(f: PayloadFields, name: string): bigint {
  const v = f[name];
  assert.equal(typeof v, "bigint", `${name} is ${String(v)}`);
  return v as bigint;
}

/** Asserts one demo ArbitrageSignal frame against 5.4 and 8.2. */
function checkSignal(frame: ReceivedFrame): PayloadFields {
  const msg = decodeMessage(frame.bytes);
  assert.equal(msg.checksumStatus, "ok");
  assert.equal(msg.header.relayDomain, 2);
  assert.equal(msg.header.source, 20);
  assert.equal(msg.tlvs.length, 1);
  const t = msg.tlvs[0]!;
  assert.equal(t.type, 32);
  assert.equal(t.length, 170);
  const f = t.fields!;
  assert.equal(f.strategy_id, 21);
  assert.equal(f.chain_id, 137);
  const ts = big(f, "timestamp_ns");
  assert.equal(big(f, "signal_id"), ts);
  assert.equal(msg.header.timestamp, ts);
  assert.equal(f.valid_until, Number(ts / 1_000_000_000n) + 300);
  const bps = Number(f.spread_bps);
  assert.ok(bps >= 10 && bps <= 300, `spread ${bps} bps`);
  assert.equal(f.priority, Math.min(bps * 10, 65_535));
  assert.equal(f.slippage_tolerance_bps, 50);
  assert.equal(f.max_gas_price_gwei, 100);
  assert.ok(DEMO_VENUES.includes(Number(f.source_venue)));
  assert.ok(DEMO_VENUES.includes(Number(f.target_venue)));
  assert.notEqual(f.source_venue, f.target_venue);
  assert.ok(DEMO_PAIRS.some((p) => p.tokenIn === f.token_in && p.tokenOut === f.token_out));
  const capital = big(f, "required_capital_usd_q8");
  const expected = big(f, "expected_profit_usd_q8");
  const fees = big(f, "dex_fees_usd_q8");
  const gas = big(f, "gas_cost_usd_q8");
  const slippage = big(f, "slippage_usd_q8");
  assert.ok(capital >= 1_000n * Q8 && capital <= 10_000n * Q8, `capital ${capital}`);
  assert.equal(expected * 10_000n, capital * BigInt(bps), "expected = size × spread, exactly");
  assert.equal(fees * 1_000n, capital * 3n, "fees = 0.3 % of size, exactly");
  assert.ok(gas >= 5n * Q8 && gas <= 20n * Q8, `gas ${gas}`);
  assert.ok(slippage * 1_000n >= capital && slippage * 200n <= capital, `slippage ${slippage}`);
  assert.equal(big(f, "net_profit_usd_q8"), expected - fees - gas - slippage);
  return f;
}

// ---------------------------------------------------------------------------------------------
// torq demo arbitrage

Deno.test("torq demo arbitrage sends consistent ArbitrageSignals that a subscriber receives", async () => {
  const relay = await startRelay("signal");
  const sub = await RelayClient.connect({
    domain: "signal",
    path: relay.path,
    subscribe: ["tlv.32"],
  });
  try {
    const r = await runTorq(
      ["demo", "arbitrage", "--socket", relay.path, "--count", "5", "--rate", "50", "--seed", "7"],
      30_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const frames = await collect(sub, 5);
    const gen = new DemoArbitrageGenerator(7);
    frames.forEach((frame, i) => {
      assert.equal(frame.sequence, BigInt(i + 1));
      const f = checkSignal(frame);
      const o = gen.next(); // --seed 7 is the generator's seed 7
      assert.equal(f.net_profit_usd_q8, o.netProfitQ8);
      assert.equal(f.source_pool, o.sourcePool);
    });
    const lines = r.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 3), [
      "🚀 Starting demo arbitrage data generator",
      `📡 Connecting to signal relay at ${relay.path}`,
      "✅ Connected to signal relay",
    ]);
    const sent = lines.filter((l) => l.startsWith("📊"));
    assert.equal(sent.length, 5);
    for (const l of sent) {
      assert.match(
        l,
        /^📊 Sent arbitrage opportunity: (WMATIC|WETH|WBTC|LINK)\/USDC \$-?\d+\.\d\d profit \(-?\d+\.\d\d%\)$/,
      );
    }
    assert.equal(lines.at(-1), `Sent 5 arbitrage signals to ${relay.path} (seed 7)`);
    assert.equal(r.stderr, "");
  } finally {
    await sub.close();
    await relay.stop();
  }
});

Deno.test("torq demo arbitrage --fixed-clock gives identical bytes for the same seed", async () => {
  const relay = await startRelay("signal");
  const sub = await RelayClient.connect({
    domain: "signal",
    path: relay.path,
    subscribe: ["tlv.32"],
  });
  try {
    const runs: ReceivedFrame[][] = [];
    for (let i = 0; i < 2; i++) {
      const r = await runTorq(
        [
          "demo",
          "arbitrage",
          "--socket",
          relay.path,
          "--count",
          "4",
          "--rate",
          "50",
          "--seed",
          "11",
          "--fixed-clock",
        ],
        30_000,
      );
      assert.equal(r.code, 0, r.stderr);
      runs.push(await collect(sub, 4));
    }
    assert.deepEqual(runs[1]!.map((f) => hex(f.bytes)), runs[0]!.map((f) => hex(f.bytes)));
    const first = decodeMessage(runs[0]![0]!.bytes);
    assert.equal(first.header.timestamp, 1_700_000_000_000_000_000n);
  } finally {
    await sub.close();
    await relay.stop();
  }
});

const JSON_FIELDS = [
  "msg_type",
  "type",
  "timestamp",
  "timestamp_iso",
  "pair",
  "token_a",
  "token_b",
  "pool_a",
  "pool_b",
  "dex_buy",
  "dex_sell",
  "buyExchange",
  "sellExchange",
  "estimated_profit",
  "net_profit_usd",
  "max_trade_size",
  "required_capital_usd",
  "spread",
  "spread_percent",
  "profit_percent",
  "net_profit_percent",
  "gas_fee_usd",
  "dex_fees_usd",
  "slippage_cost_usd",
  "slippage_tolerance",
  "max_gas_price_gwei",
  "valid_until",
  "priority",
  "executable",
  "strategy_id",
  "signal_id",
  "chain_id",
].sort();

Deno.test("torq demo arbitrage --json prints one 8.5 dashboard object per signal", async () => {
  const relay = await startRelay("signal");
  try {
    const r = await runTorq(
      [
        "demo",
        "arbitrage",
        "--socket",
        relay.path,
        "--count",
        "3",
        "--rate",
        "50",
        "--seed",
        "7",
        "--json",
      ],
      30_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const objects = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(objects.length, 3);
    for (const o of objects) {
      assert.deepEqual(Object.keys(o).sort(), JSON_FIELDS);
      assert.equal(o.msg_type, "arbitrage_opportunity");
      assert.equal(o.chain_id, 137);
      assert.equal(typeof o.signal_id, "string");
      assert.equal(typeof o.net_profit_usd, "number");
      assert.match(o.pair, /^0x[0-9a-f]{6}\.\.\.[0-9a-f]{4}\/0x2791bc\.\.\.4174$/);
      assert.ok(["QuickSwap", "SushiSwap", "Uniswap V3"].includes(o.dex_buy));
      assert.equal(o.executable, true);
      const sum = o.estimated_profit - o.dex_fees_usd - o.gas_fee_usd - o.slippage_cost_usd;
      assert.ok(Math.abs(sum - o.net_profit_usd) < 1e-6);
    }
    assert.match(r.stderr, /^🚀 Starting demo arbitrage data generator\n/);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq demo arbitrage without a relay exits 1 with the one-line connect error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_demo_test_" });
  try {
    const path = `${dir}/signals.sock`;
    const r = await runTorq(["demo", "arbitrage", "--socket", path, "--count", "1"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `❌ Error: Cannot connect to signal relay at ${path}: no such socket (is 'torq relay signal' running?)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq demo arbitrage stops on SIGINT with a summary", async () => {
  const relay = await startRelay("signal");
  try {
    const p = spawnTorq([
      "demo",
      "arbitrage",
      "--socket",
      relay.path,
      "--rate",
      "20",
      "--seed",
      "1",
    ]);
    await p.waitFor(/^📊 Sent arbitrage opportunity/);
    const s = await p.stop("SIGINT");
    assert.equal(s.code, 0, p.err.join("\n"));
    assert.ok(p.out.includes("👋 Stopping demo generator"), p.out.join("\n"));
    assert.match(p.out.at(-1)!, /^Sent \d+ arbitrage signals? to .* \(seed 1\)$/);
  } finally {
    await relay.stop();
  }
});

Deno.test("torq demo and torq mock-relay print help with examples", async (t) => {
  for (
    const args of [
      ["demo", "--help"],
      ["demo", "arbitrage", "--help"],
      ["demo", "pipeline", "-h"],
      [
        "mock-relay",
        "--help",
      ],
    ]
  ) {
    await t.step(args.join(" "), async () => {
      const r = await runTorq(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: torq /);
      assert.match(r.stdout, /\nExamples:\n/);
    });
  }
  const bad = await runTorq(["demo", "arbitrage", "--rate", "0"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trimEnd().split("\n").length, 1);
  const stage = await runTorq(["demo", "pipeline", "--stage", "feed,oracle"]);
  assert.equal(stage.code, 2);
  assert.equal(
    stage.stderr.trim(),
    `torq demo pipeline: option '--stage' needs stages among feed, strategy, portfolio, consumer, got "oracle" (see 'torq demo pipeline --help')`,
  );
  const venue = await runTorq(["demo", "pipeline", "--stage", "feed", "--venue", "binance"]);
  assert.equal(venue.code, 2);
  assert.match(venue.stderr, /option '--venue' expects kraken or coinbase, got "binance"/);
});

// ---------------------------------------------------------------------------------------------
// torq demo pipeline

Deno.test("torq demo pipeline carries trades to signals to orders through torq up", async () => {
  const relays = await startUp();
  const exec = await RelayClient.connect({
    domain: "execution",
    path: `${relays.dir}/execution.sock`,
    subscribe: ["tlv.40"],
  });
  try {
    const r = await runTorq(
      [
        "demo",
        "pipeline",
        "--socket-dir",
        relays.dir,
        "--count",
        "60",
        "--rate",
        "200",
        "--seed",
        "3",
      ],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const summary =
      /^Pipeline: 60 trades, (\d+) signals, (\d+) orders sent, (\d+) orders received$/m
        .exec(r.stdout);
    assert.ok(summary !== null, r.stdout);
    const [signals, sent, received] = summary.slice(1).map(Number) as [number, number, number];
    assert.ok(signals > 0, "the seeded walk diverges");
    assert.equal(sent, 2 * signals);
    assert.equal(received, sent);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("📈 trade")).length, 60);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("📊 signal")).length, signals);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("🧾 order")).length, sent);

    // An independent consumer of the execution relay sees the same orders.
    const orders = await collect(exec, sent);
    orders.forEach((f, i) => {
      const msg = decodeMessage(f.bytes);
      assert.equal(msg.checksumStatus, "ok");
      assert.equal(msg.header.relayDomain, 3);
      assert.equal(msg.header.source, 40);
      assert.equal(msg.header.sequence, BigInt(i + 1));
      const o = msg.tlvs[0]!.fields!;
      assert.equal(o.order_id, i + 1);
      assert.equal(o.asset_id, coin(VenueId.Kraken, "BTC-USD").assetId);
      assert.ok([101, 102].includes(Number(o.venue_id)));
      assert.ok(big(o, "quantity") > 0n);
      assert.equal(Number(o.order_flags) & 1, i % 2, "buy leg, then sell leg");
    });
    // The execution relay's journal passed every order.
    const journal = [...readJournal(`${relays.dir}/execution.journal`)]
      .filter((r) => r.result !== "CONTROL").map((r) => journalRecordToJson(r));
    const mine = journal.filter((j) => j.source === 40);
    assert.equal(mine.length, sent);
    assert.ok(mine.every((j) => j.result === "PASS"), JSON.stringify(mine));
  } finally {
    await exec.close();
    await relays.stop();
  }
});

Deno.test("torq demo pipeline without relays exits 1 with the one-line connect error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_demo_test_" });
  try {
    const r = await runTorq(["demo", "pipeline", "--socket-dir", dir, "--count", "5"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `❌ Error: Cannot connect to execution relay at ${dir}/execution.sock: no such socket (is 'torq relay execution' running?)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// torq mock-relay

function trade(): Uint8Array {
  return new MessageBuilder({ domain: 1, source: 2 }).begin().addPayload(1, {
    asset_id: coin(VenueId.Kraken, "BTC-USD").assetId,
    price: 4_512_350_000_000n,
    volume: 12_345_678n,
    execution_timestamp_ns: 1_700_000_000_000_000_000n,
    venue_id: VenueId.Kraken,
    asset_type: 51,
    reserved: 0,
    side: 0,
  }).build();
}

Deno.test("torq mock-relay --count 20 emits Trades and Quotes and reports what a client sends", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_mock_test_" });
  const path = `${dir}/sub/md.sock`;
  const mock = spawnTorq([
    "mock-relay",
    "--socket",
    path,
    "--count",
    "20",
    "--rate",
    "20",
    "--seed",
    "1",
  ]);
  let client: RelayClient | undefined;
  try {
    await mock.waitFor(/^📡 Waiting for connections\.\.\.$/);
    assert.equal(mock.out[0], `🚀 Mock MarketDataRelay started on ${path}`);
    client = await RelayClient.connect({ domain: "market_data", path });
    client.publish(trade());
    await client.flush();
    const frames = await collect(client, 20);
    const kinds = frames.map((f, i) => {
      const msg = decodeMessage(f.bytes);
      assert.equal(msg.checksumStatus, "ok");
      assert.equal(msg.header.relayDomain, 1);
      assert.equal(msg.header.source, 99);
      assert.equal(msg.header.sequence, BigInt(i + 1));
      const t = msg.tlvs[0]!;
      const symbol = ["BTC-USD", "ETH-USD"][i % 2]!;
      assert.equal(t.fields!.asset_id, coin(VenueId.Kraken, symbol).assetId);
      assert.equal(t.fields!.venue_id, VenueId.Kraken);
      return t.name;
    });
    assert.deepEqual(kinds.slice(0, 4), ["Trade", "Trade", "Quote", "Quote"]);
    assert.equal(kinds.filter((k) => k === "Trade").length, 10);
    assert.equal(kinds.filter((k) => k === "Quote").length, 10);
    const s = await mock.status();
    assert.equal(s.code, 0, mock.err.join("\n"));
    assert.ok(mock.out.includes("✅ Client connected"), mock.out.join("\n"));
    assert.ok(mock.out.includes("📨 Received 74 bytes (1 frame: Trade×1)"), mock.out.join("\n"));
    assert.equal(mock.out.at(-1), "Sent 20 messages to 1 client, received 1 frame (74 bytes)");
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound, "socket removed");
  } finally {
    await client?.close();
    await mock.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq mock-relay stops on SIGINT with a summary and refuses a live socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_mock_test_" });
  const path = `${dir}/md.sock`;
  const mock = spawnTorq([
    "mock-relay",
    "--socket",
    path,
    "--symbols",
    "SOL-USD",
    "--venue",
    "coinbase",
  ]);
  try {
    await mock.waitFor(/^📡 Waiting for connections\.\.\.$/);
    const second = await runTorq(["mock-relay", "--socket", path, "--count", "1"]);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `❌ Error: Cannot start mock relay: another relay is already listening on ${path}\n`,
    );
    // Like a relay, the mock answers a Subscribe and sends only what matches.
    const client = await RelayClient.connect({ domain: "market_data", path, subscribe: ["tlv.2"] });
    assert.deepEqual(client.filter, ["tlv.2"]);
    for (const f of await collect(client, 3)) {
      const t = decodeMessage(f.bytes).tlvs[0]!;
      assert.equal(t.name, "Quote");
      assert.equal(t.fields!.asset_id, coin(VenueId.Coinbase, "SOL-USD").assetId);
    }
    await client.close();
    // The second mock-relay's liveness probe was a client too.
    await mock.waitFor(/^👋 Client disconnected$/, 2);
    const s = await mock.stop("SIGINT");
    assert.equal(s.code, 0, mock.err.join("\n"));
    assert.ok(mock.out.includes("👋 Shutting down mock relay"), mock.out.join("\n"));
    assert.match(
      mock.out.at(-1)!,
      /^Sent \d+ messages to 2 clients, received 1 frame \(\d+ bytes\)$/,
    );
  } finally {
    await mock.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq demo arbitrage beside torq up --demo: its own source, no sequence gaps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_demo_side_" });
  const up = spawnTorq(["up", "--demo", "--socket-dir", dir, "--http", "127.0.0.1:0"]);
  try {
    const url = /dashboard: (http:\/\/\S+)/.exec(await up.waitFor(/^dashboard: http/))![1]!;
    type Source = { source: number; frames: number; gaps: number; regressions: number };
    const signalSources = async (): Promise<Source[]> => {
      const body = await (await fetch(`${url}api/relays`)).json() as {
        relays: { name: string; sources: Source[] }[];
      };
      return body.relays.find((r) => r.name === "signal")!.sources;
    };
    const until = async (what: string, ok: (s: Source[]) => boolean): Promise<Source[]> => {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const s = await signalSources();
        if (ok(s)) return s;
        if (Date.now() > deadline) {
          assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // The built-in demo's strategy has sent signals before the standalone demo starts.
    await until("the built-in demo's signals", (s) => s.some((x) => x.frames > 0));
    const r = await runTorq([
      "demo",
      "arbitrage",
      "--socket-dir",
      dir,
      "--count",
      "5",
      "--rate",
      "50",
      "--seed",
      "1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Sent 5 arbitrage signals to ${dir}/signals\\.sock`));
    const sources = await until(
      "the standalone demo's 5 signals and more of the built-in demo's",
      (s) =>
        s.find((x) => x.source === 20)?.frames === 5 &&
        s.some((x) => x.source === 23 && x.frames > 1),
    );
    assert.deepEqual(
      sources.map((s) => [s.source, s.gaps, s.regressions]).sort(),
      [[20, 0, 0], [23, 0, 0]],
    );
  } finally {
    await up.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
