/**
 * Torq's market-data relay beside the minimal C relay of `../shared/perf` (the
 * physical limit of a Unix-socket relay on the machine at hand) and two
 * minimal forwarders in Deno that do the same thing two ways: with Deno's
 * async socket ops (bench/_forwarder.ts: the limit of any relay on this
 * runtime as Torq is written) and with libc's sockets through FFI from a
 * blocking epoll loop (bench/_forwarder_ffi.ts: the limit of V8 + JavaScript
 * without the async I/O layer). All are driven by the same C producer and
 * consumers, in interleaved repetitions:
 *
 * - throughput with an **unthrottled** producer (writes as fast as the socket
 *   takes its bytes, no window), 1 and 4 consumers, 64/128/512-byte frames:
 *   frames each consumer received per second, and how many it lost;
 * - latency with a **paced** producer (one frame per write, stamped with its
 *   send time) at 10 k and 100 k msg/s: p50/p99/p99.9 at the consumer. Each
 *   system is warmed first (JIT compilation skews the p99 of every JavaScript
 *   system otherwise): an unthrottled burst of `--warmup` seconds to a
 *   throwaway consumer, which ends after 1 s without a frame (the pause
 *   before the measured run).
 *
 * Ratios are taken within each repetition (same minute, same noise) and their
 * median reported: Torq / C relay, Torq / each forwarder, FFI forwarder /
 * C relay (what V8 + JavaScript cost) and ops forwarder / FFI forwarder (what
 * Deno's async socket ops cost). `--json` prints the rows and these ratios.
 *
 *   deno task bench:c [--seconds 1.5] [--reps 3] [--sizes 64,128,512] [--consumers 1,4]
 *                     [--rates 10000,100000] [--latency-seconds 2] [--warmup 1]
 *                     [--queue-frames N] [--json]
 *
 * @module
 */

import {
  buildPerfTools,
  type ConsReport,
  type PerfTools,
  type ProdReport,
  runPerf,
  startCRelay,
  waitForFile,
  waitForSocket,
} from "./_c_perf.ts";
import { torqArgs } from "./_torq.ts";
import { benchArgs } from "./_args.ts";

const HELP = `Usage: deno task bench:c -- [options]

Options:
  --seconds N          Seconds per throughput case (default 1.5)
  --reps N             Interleaved repetitions (default 3)
  --sizes LIST         Frame sizes in bytes (default 64,128,512)
  --consumers LIST     Consumer counts (default 1,4)
  --rates LIST         Paced rates of the latency cases, msg/s (default 10000,100000)
  --latency-seconds N  Seconds per latency case (default 2)
  --warmup N           Seconds of unthrottled warm-up before each latency case,
                       0 for none (default 1)
  --queue-frames N     Torq's max_queue_frames (default: the built-in 10000)
  --json               Print the results as JSON
  -h, --help           Show this help`;

const values = benchArgs("bench:c", HELP, {
  seconds: { type: "string", default: "1.5" },
  reps: { type: "string", default: "3" },
  sizes: { type: "string", default: "64,128,512" },
  consumers: { type: "string", default: "1,4" },
  rates: { type: "string", default: "10000,100000" },
  "latency-seconds": { type: "string", default: "2" },
  warmup: { type: "string", default: "1" },
  "queue-frames": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});
const list = (s: string) => s.split(",").filter((x) => x.trim() !== "").map(Number);
const SECONDS = Number(values.seconds);
const REPS = Number(values.reps);
const SIZES = list(values.sizes!);
const CONSUMERS = list(values.consumers!);
const RATES = list(values.rates!);
const LAT_SECONDS = Number(values["latency-seconds"]);
const WARMUP = Number(values.warmup);
const QUEUE = values["queue-frames"];

type System = "c-relay" | "deno-fwd" | "ffi-fwd" | "torq-md";
const SYSTEMS: System[] = ["c-relay", "deno-fwd", "ffi-fwd", "torq-md"];
const NAMES: Record<System, string> = {
  "c-relay": "C relay",
  "deno-fwd": "Deno forwarder (ops)",
  "ffi-fwd": "Deno forwarder (FFI)",
  "torq-md": "Torq market data",
};
/** The forwarders' scripts and the flags they run with (see bench/_forwarder_ffi.ts for its). */
const FORWARDERS: Record<"deno-fwd" | "ffi-fwd", { script: string; flags: string[] }> = {
  "deno-fwd": { script: "./_forwarder.ts", flags: [] },
  "ffi-fwd": {
    script: "./_forwarder_ffi.ts",
    flags: ["--v8-flags=--no-concurrent-recompilation,--no-concurrent-sparkplug"],
  },
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A relay running: where producers and consumers connect. */
interface Running {
  pub: string;
  sub: string;
  stop(): Promise<string>;
}

async function start(system: System, tools: PerfTools, dir: string): Promise<Running> {
  if (system === "c-relay") {
    const relay = await startCRelay(tools.relay, dir);
    return {
      pub: `unix:${relay.producerPath}`,
      sub: `unix:${relay.consumerPath}`,
      stop: async () => {
        await relay.stop();
        return "";
      },
    };
  }
  if (system === "deno-fwd" || system === "ffi-fwd") {
    const [pub, sub] = [`${dir}/p.sock`, `${dir}/s.sock`];
    const { script, flags } = FORWARDERS[system];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...flags, new URL(script, import.meta.url).pathname, pub, sub],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    await waitForSocket(pub);
    await waitForSocket(sub);
    return {
      pub: `unix:${pub}`,
      sub: `unix:${sub}`,
      stop: async () => {
        child.kill("SIGTERM");
        await child.status;
        return "";
      },
    };
  }
  const path = `${dir}/md.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: torqArgs([
      "relay",
      "market-data",
      "--socket",
      path,
      "--log-format",
      "json",
      ...(QUEUE === undefined
        ? []
        : ["--set", `relays.market_data.performance.max_queue_frames=${QUEUE}`]),
    ]),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  await waitForSocket(path);
  return {
    pub: `unix:${path}`,
    sub: `unix:${path}`,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      return await stderr;
    },
  };
}

/** One case: consumers connect, then the producer runs; their reports. */
async function once(
  tools: PerfTools,
  r: Running,
  dir: string,
  consumers: number,
  prodArgs: string[],
  lat: boolean,
): Promise<{ prod: ProdReport; cons: ConsReport[] }> {
  const cons: Promise<ConsReport>[] = [];
  for (let i = 0; i < consumers; i++) {
    const ready = `${dir}/ready-${crypto.randomUUID().slice(0, 8)}`;
    cons.push(
      runPerf<ConsReport>(tools.cons, [
        "raw",
        r.sub,
        "1000",
        "60",
        lat ? "1" : "0",
        ready,
        "0",
        `c${i}`,
      ]).report,
    );
    await waitForFile(ready);
  }
  await sleep(100); // the relay has accepted them
  const prod = await runPerf<ProdReport>(tools.prod, ["raw", r.pub, ...prodArgs]).report;
  return { prod, cons: await Promise.all(cons) };
}

/**
 * Warms a relay for a latency case: an unthrottled burst of WARMUP seconds of
 * 128-byte frames to a throwaway consumer, which ends after 1 s without a
 * frame, the pause before the measured run.
 */
async function warmUp(tools: PerfTools, r: Running, dir: string): Promise<void> {
  await once(tools, r, dir, 1, ["128", "1000000000", String(WARMUP), "0"], false);
}

interface Throughput {
  rep: number;
  system: System;
  size: number;
  consumers: number;
  sent: number;
  /** Frames a second each consumer received, averaged over consumers. */
  rate: number;
  lost: number;
  stalls?: number;
  dropped?: number;
}
interface Latency {
  rep: number;
  system: System;
  rate: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  lost: number;
}

const tools = await buildPerfTools();
const throughput: Throughput[] = [];
const latency: Latency[] = [];
const log = (s: string) => {
  if (!values.json) console.log(s);
};
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3);
log(`bench:c: load average at start ${load.join(" ")}`);
try {
  for (let rep = 1; rep <= REPS; rep++) {
    for (const size of SIZES) {
      for (const consumers of CONSUMERS) {
        const cells: string[] = [];
        for (const system of SYSTEMS) {
          const dir = await Deno.makeTempDir({ prefix: "torq-benchc-" });
          const r = await start(system, tools, dir);
          const res = await once(tools, r, dir, consumers, [
            String(size),
            "1000000000",
            String(SECONDS),
            "0",
          ], false);
          const log = await r.stop();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
          const stopped = log.split("\n").filter((l) => l.includes('"stopped"')).map((l) =>
            JSON.parse(l)
          )[0] as Record<string, number> | undefined;
          const rate = res.cons.reduce((a, c) => a + c.recv, 0) / res.cons.length /
            res.prod.elapsed_s;
          const row: Throughput = {
            rep,
            system,
            size,
            consumers,
            sent: res.prod.sent,
            rate: Math.round(rate),
            lost: res.cons.reduce((a, c) => a + (res.prod.sent - c.recv), 0),
            ...(stopped ? { stalls: stopped.stalls, dropped: stopped.dropped } : {}),
          };
          throughput.push(row);
          cells.push(
            `${system} ${(rate / 1e6).toFixed(2)}M${row.lost > 0 ? ` (lost ${row.lost})` : ""}`,
          );
        }
        log(`rep ${rep} ${String(size).padStart(3)} B ×${consumers}: ${cells.join("  ")}`);
      }
    }
    for (const rate of RATES) {
      const cells: string[] = [];
      for (const system of SYSTEMS) {
        const dir = await Deno.makeTempDir({ prefix: "torq-benchc-" });
        const r = await start(system, tools, dir);
        if (WARMUP > 0) await warmUp(tools, r, dir);
        const res = await once(tools, r, dir, 1, [
          "128",
          "1000000000",
          String(LAT_SECONDS),
          String(rate),
        ], true);
        await r.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        const c = res.cons[0]!;
        const lost = res.prod.sent - c.recv;
        latency.push({
          rep,
          system,
          rate,
          p50: c.p50_us ?? NaN,
          p99: c.p99_us ?? NaN,
          p999: c.p999_us ?? NaN,
          max: (c as unknown as { max_us?: number }).max_us ?? NaN,
          lost,
        });
        cells.push(
          `${system} p50 ${c.p50_us} p99 ${c.p99_us} p99.9 ${c.p999_us} µs${
            lost > 0 ? ` (lost ${lost})` : ""
          }`,
        );
      }
      log(`rep ${rep} latency ${rate} msg/s: ${cells.join("  ")}`);
    }
  }
} finally {
  await Deno.remove(tools.dir, { recursive: true }).catch(() => {});
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) / 2]!
    : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One system's value over another's in each repetition, and their median. */
interface Ratio {
  per_rep: number[];
  median: number;
}
/** The ratios reported, as [numerator, denominator]. */
type Pair = readonly [System, System];
const THROUGHPUT_RATIOS: Pair[] = [
  ["torq-md", "c-relay"],
  ["torq-md", "deno-fwd"],
  ["torq-md", "ffi-fwd"],
  ["ffi-fwd", "c-relay"],
  ["deno-fwd", "ffi-fwd"],
];
const LATENCY_RATIOS: Pair[] = [
  ["deno-fwd", "c-relay"],
  ["ffi-fwd", "c-relay"],
  ["torq-md", "c-relay"],
  ["deno-fwd", "ffi-fwd"],
  ["torq-md", "ffi-fwd"],
];
const pairName = ([a, b]: Pair) => `${a}/${b}`;

/** `value` of `num` over that of `den` within each repetition of one case's rows. */
function ratio<T extends { rep: number; system: System }>(
  rows: T[],
  [num, den]: Pair,
  value: (row: T) => number,
): Ratio {
  const perRep: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const a = rows.find((x) => x.rep === rep && x.system === num);
    const b = rows.find((x) => x.rep === rep && x.system === den);
    if (a && b && value(b) > 0 && Number.isFinite(value(a))) perRep.push(value(a) / value(b));
  }
  return { per_rep: perRep, median: median(perRep) };
}
const bySystem = <T>(f: (s: System) => T) =>
  Object.fromEntries(SYSTEMS.map((s) => [s, f(s)])) as Record<System, T>;

const summary = {
  throughput: SIZES.flatMap((size) =>
    CONSUMERS.map((consumers) => {
      const rows = throughput.filter((x) => x.size === size && x.consumers === consumers);
      const of = (s: System) => rows.filter((x) => x.system === s);
      return {
        size,
        consumers,
        rate: bySystem((s) => median(of(s).map((x) => x.rate))),
        lost: bySystem((s) => of(s).reduce((a, x) => a + x.lost, 0)),
        ratios: Object.fromEntries(
          THROUGHPUT_RATIOS.map((p) => [pairName(p), ratio(rows, p, (x) => x.rate)]),
        ),
      };
    })
  ),
  latency: RATES.map((rate) => {
    const rows = latency.filter((x) => x.rate === rate);
    const at = (k: "p50" | "p99" | "p999") => (s: System) =>
      median(rows.filter((x) => x.system === s).map((x) => x[k]));
    return {
      rate,
      p50: bySystem(at("p50")),
      p99: bySystem(at("p99")),
      p999: bySystem(at("p999")),
      lost: bySystem((s) => rows.filter((x) => x.system === s).reduce((a, x) => a + x.lost, 0)),
      ratios: Object.fromEntries(
        LATENCY_RATIOS.map((p) => [pairName(p), {
          p50: ratio(rows, p, (x) => x.p50),
          p99: ratio(rows, p, (x) => x.p99),
        }]),
      ),
    };
  }),
};

if (values.json) {
  console.log(JSON.stringify({ load, warmup_s: WARMUP, throughput, latency, summary }, null, 2));
} else {
  const x = (r: Ratio | undefined) => r === undefined ? "" : r.median.toFixed(2) + "×";
  console.log("\nunthrottled producer, frames/s per consumer (median over reps):");
  console.log(
    "| size | consumers | C relay | ops forwarder | FFI forwarder | Torq market data | Torq lost " +
      "| Torq / C (per rep) | Torq / C | Torq / ops fwd | Torq / FFI fwd | FFI fwd / C " +
      "| ops fwd / FFI fwd |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
  for (const t of summary.throughput) {
    const rate = (s: System) => (t.rate[s] / 1e6).toFixed(2) + " M";
    const r = (a: System, b: System) => t.ratios[pairName([a, b])];
    console.log(
      `| ${t.size} B | ${t.consumers} | ${rate("c-relay")} | ${rate("deno-fwd")} | ${
        rate("ffi-fwd")
      } | ${rate("torq-md")} | ${t.lost["torq-md"]} | ${
        r("torq-md", "c-relay")!.per_rep.map((v) => v.toFixed(2)).join(", ")
      } | **${x(r("torq-md", "c-relay"))}** | ${x(r("torq-md", "deno-fwd"))} | ${
        x(r("torq-md", "ffi-fwd"))
      } | ${x(r("ffi-fwd", "c-relay"))} | ${x(r("deno-fwd", "ffi-fwd"))} |`,
    );
  }
  console.log(
    "\npaced producer, 128 B, 1 consumer, latency µs (median over reps; ratios: median of " +
      "per-rep ratios):",
  );
  console.log(
    "| rate | system | p50 | p99 | p99.9 | lost | p50 / C | p99 / C | p50 / FFI fwd | p99 / FFI fwd |",
  );
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const l of summary.latency) {
    for (const s of SYSTEMS) {
      const vs = (to: System, k: "p50" | "p99") => x(l.ratios[pairName([s, to])]?.[k]);
      console.log(
        `| ${l.rate} | ${NAMES[s]} | ${l.p50[s].toFixed(1)} | ${l.p99[s].toFixed(1)} | ${
          l.p999[s].toFixed(1)
        } | ${l.lost[s]} | ${vs("c-relay", "p50")} | ${vs("c-relay", "p99")} | ${
          vs("ffi-fwd", "p50")
        } | ${vs("ffi-fwd", "p99")} |`,
      );
    }
  }
}
