/**
 * The reports of a bench: the text of `torq bench` (a header per run, a table
 * of producers and consumers, latency percentiles, the relay's own warnings),
 * the progress line, CSV and JSON.
 *
 * @module
 */

import type { BenchProgress, BenchReport, BenchResult, TotalResult } from "./load.ts";
import type { HistogramSummary } from "./histogram.ts";
import type { RelayLogLine } from "./relay_process.ts";
import { plural } from "../text/mod.ts";

// ---------------------------------------------------------------------------------------------
// Output.

/**
 * Formats a count with thousands separators: `24,512,000`.
 *
 * @param n a non-negative integer
 * @returns the text
 * @example
 * ```ts
 * formatCount(24_512_000); // "24,512,000"
 * ```
 */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Formats a rate: `4.90 M`, `512.3 K`, `845`.
 *
 * @param perSec value per second
 * @returns the text (without the unit)
 * @example
 * ```ts
 * `${formatRate(4_902_400)} msgs/s`; // "4.90 M msgs/s"
 * ```
 */
export function formatRate(perSec: number): string {
  if (perSec >= 999_995) return `${(perSec / 1e6).toFixed(2)} M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} K`;
  return `${Math.round(perSec)}`;
}

/**
 * Formats a duration given in ns: `800 ns`, `212 µs`, `1.9 ms`, `42 ms`, `1.23 s`.
 *
 * @param ns nanoseconds
 * @returns the text
 * @example
 * ```ts
 * formatNs(1_900_000); // "1.9 ms"
 * ```
 */
export function formatNs(ns: number): string {
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 999_500) return `${Math.round(ns / 1e3)} µs`;
  if (ns < 9_950_000) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns < 999_500_000) return `${Math.round(ns / 1e6)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/**
 * The header line of a run:
 * `torq bench: market-data relay (started at …), 1 producer, 1 consumer, 64 B, 5 s, max rate, lossless window 5000`.
 *
 * @param r a result (or the same fields before the run)
 * @returns the line
 */
export function formatBenchHeader(
  r: Pick<
    BenchResult,
    | "system"
    | "domain"
    | "socket"
    | "relayStarted"
    | "producers"
    | "consumers"
    | "size"
    | "msgs"
    | "durationSeconds"
    | "rate"
    | "window"
  >,
): string {
  const where = r.system === "direct"
    ? `direct Unix socket (no relay, ${r.socket})`
    : `relay (${r.relayStarted ? "started at" : "at"} ${r.socket})`;
  const size = r.domain === "execution" ? `${r.size} B OrderRequest` : `${r.size} B`;
  const amount = r.msgs !== null ? `${formatCount(r.msgs)} msgs` : `${r.durationSeconds} s`;
  const pace = r.rate > 0 ? `${formatCount(r.rate)} msgs/s per producer` : "max rate";
  const window = r.window > 0 ? `lossless window ${r.window}` : "unbounded window";
  return `torq bench: ${r.domain} ${where}, ${plural(r.producers, "producer")}, ${
    plural(r.consumers, "consumer")
  }, ${size}, ${amount}, ${pace}, ${window}`;
}

function formatLogLine(l: RelayLogLine): string {
  if (l.level === "text") return l.msg;
  const fields = Object.entries(l)
    .filter(([k]) => !["ts", "level", "msg", "relay"].includes(k))
    .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`);
  return [l.level.toUpperCase(), l.msg, ...fields].join(" ");
}

/**
 * The lines of one run, after its header: producers, consumers, total,
 * latency, and notes (stalls, errors, the relay's warnings).
 *
 * @param r the result
 * @returns the lines (indented by two spaces)
 */
export function formatBenchRun(r: BenchResult): string[] {
  const rows: Array<{ label: string; msgs: number; rate: number; mb: number; tail: string }> = [];
  for (const p of r.producerStats) {
    rows.push({
      label: `producer ${p.id}`,
      msgs: p.msgs,
      rate: p.msgsPerSec,
      mb: p.mbPerSec,
      tail: "",
    });
  }
  for (const c of r.consumerStats) {
    let tail = `drops ${formatCount(c.drops)}  gaps ${formatCount(c.gaps)}`;
    if (c.outOfOrder > 0) tail += `  out of order ${formatCount(c.outOfOrder)}`;
    rows.push({
      label: `consumer ${c.id}`,
      msgs: c.msgs,
      rate: c.msgsPerSec,
      mb: c.mbPerSec,
      tail,
    });
  }
  rows.push({
    label: "total",
    msgs: r.total.msgs,
    rate: r.total.msgsPerSec,
    mb: r.total.mbPerSec,
    tail: "",
  });
  const lw = Math.max(8, ...rows.map((x) => x.label.length));
  const mw = Math.max(...rows.map((x) => formatCount(x.msgs).length));
  const rw = Math.max(...rows.map((x) => formatRate(x.rate).length));
  const bw = Math.max(...rows.map((x) => x.mb.toFixed(1).length));
  const lines = rows.map((x) =>
    `  ${x.label.padEnd(lw)}  ${formatCount(x.msgs).padStart(mw)} msgs  ${
      formatRate(x.rate).padStart(rw)
    } msgs/s  ${x.mb.toFixed(1).padStart(bw)} MB/s${x.tail === "" ? "" : `  ${x.tail}`}`
  );
  const l = r.latency;
  lines.push(
    l.count === 0
      ? `  ${"latency".padEnd(lw)}  no frames received`
      : `  ${"latency".padEnd(lw)}  p50 ${formatNs(l.p50Ns)}  p90 ${formatNs(l.p90Ns)}  p99 ${
        formatNs(l.p99Ns)
      }  p99.9 ${formatNs(l.p999Ns)}  max ${formatNs(l.maxNs)}`,
  );
  const notes: string[] = [];
  if (r.aborted) notes.push("stopped early (interrupted)");
  if (r.stalled) notes.push("stopped: frames stopped moving");
  if (r.system === "relay" && r.sent > 0 && r.total.msgs === 0) {
    notes.push("no frame came back through the relay (is --domain the relay's domain?)");
  }
  for (const p of r.producerStats) if (p.error) notes.push(`producer ${p.id}: ${p.error}`);
  for (const c of r.consumerStats) {
    if (c.error) notes.push(`consumer ${c.id}: ${c.error}`);
    else if (c.disconnected) {
      notes.push(
        `consumer ${c.id}: its connection ended before the run did${
          r.system === "relay" ? " (closed by the relay)" : ""
        }`,
      );
    }
  }
  for (const n of notes) lines.push(`  ${"note".padEnd(lw)}  ${n}`);
  const shown = r.relayLog.slice(0, 8);
  for (const [i, line] of shown.entries()) {
    lines.push(`  ${(i === 0 ? "relay log" : "").padEnd(lw)}  ${formatLogLine(line)}`);
  }
  if (r.relayLog.length > shown.length) {
    lines.push(`  ${"".padEnd(lw)}  … ${r.relayLog.length - shown.length} more lines`);
  }
  return lines;
}

/**
 * The whole text report: each run's header and lines, and with a direct run
 * the relay-vs-direct ratios.
 *
 * @param report the report
 * @returns the text (no trailing newline)
 * @example
 * ```ts
 * import { benchmark, type BenchPlan } from "./benchmark.ts";
 * declare const plan: BenchPlan;
 *
 * console.log(formatBenchText(await benchmark(plan)));
 * ```
 */
export function formatBenchText(report: BenchReport): string {
  const out: string[] = [];
  for (const r of report.runs) out.push(formatBenchHeader(r), ...formatBenchRun(r));
  const ratio = formatBenchRatio(report);
  if (ratio !== null) out.push(ratio);
  return out.join("\n");
}

/**
 * The relay-vs-direct line of a `--direct` report:
 * `relay vs direct: throughput 0.41× (…), p50 latency 3.2× (…), p99 2.1× (…)`.
 *
 * @param report the report
 * @returns the line, or null without both runs
 */
export function formatBenchRatio(report: BenchReport): string | null {
  const d = report.runs.find((r) => r.system === "direct");
  const t = report.runs.find((r) => r.system === "relay");
  if (report.ratio === null || d === undefined || t === undefined) return null;
  const per = (r: BenchResult) => r.total.msgsPerSec / r.consumers;
  return `relay vs direct: throughput ${report.ratio.throughput.toFixed(2)}× (${
    formatRate(per(t))
  } vs ${formatRate(per(d))} msgs/s per consumer), p50 latency ${report.ratio.p50.toFixed(1)}× (${
    formatNs(t.latency.p50Ns)
  } vs ${formatNs(d.latency.p50Ns)}), p99 ${report.ratio.p99.toFixed(1)}× (${
    formatNs(t.latency.p99Ns)
  } vs ${formatNs(d.latency.p99Ns)})`;
}

/** Column names of {@linkcode formatBenchCsv}. */
export const CSV_COLUMNS: readonly string[] = [
  "system",
  "domain",
  "row",
  "producers",
  "consumers",
  "size",
  "msgs",
  "bytes",
  "seconds",
  "msgs_per_sec",
  "mb_per_sec",
  "drops",
  "gaps",
  "p50_us",
  "p90_us",
  "p99_us",
  "p999_us",
  "max_us",
];

/**
 * CSV: a header, then per run one row per consumer and a total row.
 * Latencies in µs with three decimals (ns exact).
 *
 * @param report the report
 * @returns the CSV text (no trailing newline)
 */
export function formatBenchCsv(report: BenchReport): string {
  const us = (ns: number) => (ns / 1000).toFixed(3);
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of report.runs) {
    // One row: who, the run's shape, the figures (a consumer's or the total) and latency.
    const row = (who: string, f: TotalResult, l: HistogramSummary) =>
      [
        r.system,
        r.domain,
        who,
        r.producers,
        r.consumers,
        r.size,
        f.msgs,
        f.bytes,
        f.seconds,
        f.msgsPerSec,
        f.mbPerSec,
        f.drops,
        f.gaps,
        us(l.p50Ns),
        us(l.p90Ns),
        us(l.p99Ns),
        us(l.p999Ns),
        us(l.maxNs),
      ].join(",");
    for (const c of r.consumerStats) lines.push(row(`consumer ${c.id}`, c, c.latency));
    lines.push(row("total", r.total, r.latency));
  }
  return lines.join("\n");
}

/**
 * The `--json` value: the single run's result, or `{direct, relay, ratio}`.
 *
 * @param report the report
 * @returns a JSON-serialisable value
 */
export function benchJson(report: BenchReport): unknown {
  if (report.runs.length === 1) return report.runs[0];
  return {
    direct: report.runs.find((r) => r.system === "direct") ?? null,
    relay: report.runs.find((r) => r.system === "relay") ?? null,
    ratio: report.ratio,
  };
}

/**
 * The live progress line of a text run (shown on a terminal only).
 *
 * @param p the sample
 * @returns one line, without a newline
 * @example
 * ```ts
 * formatBenchProgress({ system: "relay", elapsedMs: 1500, sent: 2e6, received: 2e6, msgsPerSec: 1.3e6 });
 * // "  relay  1.5 s  sent 2,000,000  received 2,000,000  1.30M msgs/s per consumer"
 * ```
 */
export function formatBenchProgress(p: BenchProgress): string {
  return `  ${p.system}  ${(p.elapsedMs / 1000).toFixed(1)} s  sent ${
    formatCount(p.sent)
  }  received ${formatCount(p.received)}  ${formatRate(p.msgsPerSec)} msgs/s per consumer`;
}
