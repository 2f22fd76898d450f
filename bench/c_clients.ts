/**
 * Torq's market-data relay beside the minimal C relay of `../shared/perf` (the
 * physical limit of a Unix-socket relay on the machine at hand) and a minimal
 * forwarder in Deno (bench/_forwarder.ts: the limit of any relay on this
 * runtime), all driven by the same C producer and consumers, in interleaved
 * repetitions:
 *
 * - throughput with an **unthrottled** producer (writes as fast as the socket
 *   takes its bytes, no window), 1 and 4 consumers, 64/128/512-byte frames:
 *   frames each consumer received per second, and how many it lost;
 * - latency with a **paced** producer (one frame per write, stamped with its
 *   send time) at 10 k and 100 k msg/s: p50/p99/p99.9 at the consumer.
 *
 * Ratios Torq / C relay and Torq / Deno forwarder are taken within each
 * repetition (same minute, same noise) and their median reported.
 *
 *   deno task bench:c [--seconds 1.5] [--reps 3] [--sizes 64,128,512] [--consumers 1,4]
 *                     [--rates 10000,100000] [--latency-seconds 2] [--queue-frames N]
 *                     [--json]
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
const QUEUE = values["queue-frames"];

type System = "c-relay" | "deno-fwd" | "torq-md";
const SYSTEMS: System[] = ["c-relay", "deno-fwd", "torq-md"];
const NAMES: Record<System, string> = {
  "c-relay": "C relay",
  "deno-fwd": "Deno forwarder",
  "torq-md": "Torq market data",
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
  if (system === "deno-fwd") {
    const [pub, sub] = [`${dir}/p.sock`, `${dir}/s.sock`];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_forwarder.ts", import.meta.url).pathname, pub, sub],
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
        const res = await once(tools, r, dir, 1, [
          "128",
          "1000000000",
          String(LAT_SECONDS),
          String(rate),
        ], true);
        await r.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        const c = res.cons[0]!;
        latency.push({
          rep,
          system,
          rate,
          p50: c.p50_us ?? NaN,
          p99: c.p99_us ?? NaN,
          p999: c.p999_us ?? NaN,
          max: (c as unknown as { max_us?: number }).max_us ?? NaN,
          lost: res.prod.sent - c.recv,
        });
        cells.push(`${system} p50 ${c.p50_us} p99 ${c.p99_us} p99.9 ${c.p999_us} µs`);
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
/** Torq's rate over `to`'s, per repetition. */
function ratio(size: number, consumers: number, to: System): number[] {
  const out: number[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const of = (s: System) =>
      throughput.find((x) =>
        x.rep === rep && x.system === s && x.size === size && x.consumers === consumers
      );
    const t = of("torq-md");
    const c = of(to);
    if (t && c && c.rate > 0) out.push(t.rate / c.rate);
  }
  return out;
}
if (values.json) {
  console.log(JSON.stringify({ load, throughput, latency }, null, 2));
} else {
  console.log("\nunthrottled producer, frames/s per consumer (median over reps):");
  console.log(
    "| size | consumers | C relay | Deno forwarder | Torq market data | Torq lost " +
      "| Torq / C (per rep) | Torq / C | Torq / forwarder |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---|---:|---:|");
  for (const size of SIZES) {
    for (const consumers of CONSUMERS) {
      const of = (s: System) =>
        throughput.filter((x) => x.system === s && x.size === size && x.consumers === consumers);
      const rate = (s: System) => (median(of(s).map((x) => x.rate)) / 1e6).toFixed(2) + " M";
      const rc = ratio(size, consumers, "c-relay");
      const rf = ratio(size, consumers, "deno-fwd");
      console.log(
        `| ${size} B | ${consumers} | ${rate("c-relay")} | ${rate("deno-fwd")} | ${
          rate("torq-md")
        } | ${of("torq-md").reduce((a, x) => a + x.lost, 0)} | ${
          rc.map((r) => r.toFixed(2)).join(", ")
        } | **${median(rc).toFixed(2)}×** | ${median(rf).toFixed(2)}× |`,
      );
    }
  }
  console.log("\npaced producer, 128 B, 1 consumer, latency µs (median over reps):");
  console.log("| rate | system | p50 | p99 | p99.9 | lost | p50 / C | p99 / C |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|");
  for (const rate of RATES) {
    const of = (s: System) => latency.filter((x) => x.system === s && x.rate === rate);
    const at = (s: System, k: "p50" | "p99" | "p999") => median(of(s).map((x) => x[k]));
    for (const s of SYSTEMS) {
      const vsC = (k: "p50" | "p99") =>
        s === "c-relay" ? "" : (at(s, k) / at("c-relay", k)).toFixed(2) + "×";
      console.log(
        `| ${rate} | ${NAMES[s]} | ${at(s, "p50").toFixed(1)} | ${at(s, "p99").toFixed(1)} | ${
          at(s, "p999").toFixed(1)
        } | ${of(s).reduce((a, x) => a + x.lost, 0)} | ${vsC("p50")} | ${vsC("p99")} |`,
      );
    }
  }
}
