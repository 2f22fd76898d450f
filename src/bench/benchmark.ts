/**
 * The whole `torq bench`: a temporary directory, the direct run (with
 * `--direct`), a relay of the bench's own (or a running one), the run through
 * it, and the clean-up, also when a run fails.
 *
 * @module
 */

import {
  BENCH_DOMAINS,
  type BenchReport,
  type BenchResult,
  type BenchWorkload,
  connectRelay,
  runBench,
  type RunOptions,
} from "./load.ts";
import { type RelayLogLine, RelayProcess } from "./relay_process.ts";
import { round } from "./_util.ts";

// ---------------------------------------------------------------------------------------------
// The whole `torq bench`: temp dir, relay, direct run, relay run, clean-up.

/** Options of {@linkcode benchmark}. */
export interface BenchPlan {
  /** The workload. */
  workload: BenchWorkload;
  /** A running relay's socket to use, or null to start one. */
  socket: string | null;
  /** Run the workload over direct sockets first, then through the relay. */
  direct: boolean;
  /** How to run `torq` when starting a relay (see {@linkcode RelayProcessOptions.command}). */
  command: readonly string[];
  /** Further `torq relay` arguments for a started relay. */
  relayArgs?: readonly string[];
  /** Called before each run, once its socket is known (e.g. to print its header line). */
  onStart?: (run: { system: "relay" | "direct"; socket: string; started: boolean }) => void;
  /** Called after each run with its result (relay log attached). */
  onRun?: (result: BenchResult) => void;
}

/**
 * Runs `torq bench`: makes a temporary directory, runs the direct workload
 * (with `direct`), starts a relay process unless `socket` is given, runs the
 * workload through it, stops the relay and removes the directory — also when
 * a run fails.
 *
 * @param plan workload, target, and how to start a relay
 * @param options progress, abort and bounds of each run
 * @returns the runs and, with `direct`, their ratios
 * @throws {Error} one-line messages: the relay cannot be reached or started, or does not answer
 * @example
 * ```ts
 * import { formatBenchText } from "./report.ts";
 *
 * const report = await benchmark({
 *   workload: { domain: "market-data", producers: 1, consumers: 1, size: 64, msgs: null, durationMs: 3000, rate: 0, window: 5000 },
 *   socket: null,
 *   direct: true,
 *   command: [Deno.execPath(), "run", "-A", "cli/main.ts"],
 * });
 * console.log(formatBenchText(report));
 * ```
 */
export async function benchmark(plan: BenchPlan, options: RunOptions = {}): Promise<BenchReport> {
  const w = plan.workload;
  if (plan.socket !== null) {
    // Fail fast, with one line, when nothing listens there.
    (await connectRelay(plan.socket, BENCH_DOMAINS[w.domain].wire)).close();
  }
  const dir = await Deno.makeTempDir({ prefix: "torq-bench-" });
  const runs: BenchResult[] = [];
  let relay: RelayProcess | null = null;
  try {
    if (plan.direct) {
      plan.onStart?.({ system: "direct", socket: `${dir}/direct.sock`, started: false });
      runs.push(await runBench(w, { system: "direct", dir }, options));
      plan.onRun?.(runs[0]!);
      if (options.signal?.aborted) return { runs, ratio: null };
    }
    let path = plan.socket;
    if (path === null) {
      path = `${dir}/${BENCH_DOMAINS[w.domain].relay}.sock`;
      relay = await RelayProcess.start({
        command: plan.command,
        domain: w.domain,
        socket: path,
        journal: `${dir}/execution.journal`,
        args: plan.relayArgs ?? [],
      });
    }
    plan.onStart?.({ system: "relay", socket: path, started: relay !== null });
    let result: BenchResult;
    let log: RelayLogLine[] = [];
    try {
      result = await runBench(w, { system: "relay", path, started: relay !== null }, options);
    } finally {
      if (relay !== null) {
        const exit = await relay.stop();
        relay = null;
        log = exit.log;
        if (exit.code !== 0) {
          log.push({
            level: "error",
            msg: `relay exited with ${exit.signal ?? `code ${exit.code}`}`,
          });
        }
      }
    }
    result.relayLog = log;
    runs.push(result);
    plan.onRun?.(result);
  } finally {
    if (relay !== null) await relay.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const direct = runs.find((r) => r.system === "direct");
  const through = runs.find((r) => r.system === "relay");
  const ratio = direct !== undefined && through !== undefined
    ? {
      throughput: round(
        (through.total.msgsPerSec / through.consumers) /
          Math.max(1e-9, direct.total.msgsPerSec / direct.consumers),
        3,
      ),
      p50: round(through.latency.p50Ns / Math.max(1, direct.latency.p50Ns), 3),
      p99: round(through.latency.p99Ns / Math.max(1, direct.latency.p99Ns), 3),
    }
    : null;
  return { runs, ratio };
}
