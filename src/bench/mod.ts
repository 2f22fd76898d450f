/**
 * The bench engine of `torq bench` and of the scripts in `bench/`: load
 * generation through a relay or over direct sockets ({@linkcode benchmark},
 * {@linkcode runBench}), a relay process of the bench's own
 * ({@linkcode RelayProcess}), latency histograms ({@linkcode Histogram}) and
 * the text, CSV and JSON reports.
 *
 * @example
 * ```ts
 * import { benchmark, formatBenchText } from "./mod.ts";
 *
 * const report = await benchmark({
 *   workload: {
 *     domain: "signal", producers: 1, consumers: 1, size: 64,
 *     msgs: 100_000, durationMs: 0, rate: 0, window: 5000,
 *   },
 *   socket: null,
 *   direct: false,
 *   command: [Deno.execPath(), "run", "-A", "cli/main.ts"],
 * });
 * console.log(formatBenchText(report));
 * ```
 *
 * @module
 */

export {
  BENCH_DOMAINS,
  benchFailure,
  connectRelay,
  MAX_PRODUCERS,
  MIN_BENCH_SIZE,
  ORDER_REQUEST_FRAME_SIZE,
  runBench,
} from "./load.ts";
export type {
  BenchDomain,
  BenchDomainInfo,
  BenchProgress,
  BenchRatio,
  BenchReport,
  BenchResult,
  BenchTarget,
  BenchWorkload,
  ConsumerResult,
  ProducerResult,
  RunOptions,
  TotalResult,
} from "./load.ts";
export { RelayProcess } from "./relay_process.ts";
export type { RelayExit, RelayLogLine, RelayProcessOptions } from "./relay_process.ts";
export { benchmark } from "./benchmark.ts";
export type { BenchPlan } from "./benchmark.ts";
export {
  benchJson,
  CSV_COLUMNS,
  formatBenchCsv,
  formatBenchHeader,
  formatBenchProgress,
  formatBenchRatio,
  formatBenchRun,
  formatBenchText,
  formatCount,
  formatNs,
  formatRate,
} from "./report.ts";
export { Histogram } from "./histogram.ts";
export type { HistogramOptions, HistogramSummary } from "./histogram.ts";
