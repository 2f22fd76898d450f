/**
 * The performance gate: runs `deno bench --json bench/gate_bench.ts` and
 * compares each group's speed relative to its baseline (a plain copy of the
 * same bytes, or a direct socket) with the floors committed in
 * bench/gate_floors.json. A ratio under its floor fails the gate (exit 1).
 *
 *   deno task bench:gate            check against the floors
 *   deno task bench:gate --record   measure and write new floors (0.6 × what was measured)
 *
 * The ratio of a group is baseline time / case time, each the median of
 * several `deno bench` runs' fastest quartile (p25 of the samples is not in
 * deno's JSON; `min` and `p75` are, and their mean is the robust middle used
 * here). Both sides are measured in the same run, so a slower or busier
 * machine moves both; floors sit well below what was measured (0.6 ×), so
 * only a real regression fails. Never a timing in a unit test: this is the one
 * place a slowdown fails CI.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { TORQ_RUN_OPTIONS } from "./_torq.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FLOORS = `${ROOT}bench/gate_floors.json`;
/** Floors are this fraction of what `--record` measures. */
const MARGIN = 0.6;
/** Runs of the bench file; each group's ratio is the median over them. */
const RUNS = 3;

interface BenchResult {
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: { min: number; p75: number; avg: number; n: number } }[];
}

/** What bench/gate_floors.json holds. */
interface Floors {
  /** When and where the floors were measured. */
  measured: { date: string; machine: string; runtime: string };
  /** Per group: the ratio measured then, and the floor (MARGIN × it). */
  groups: Record<string, { measured: number; floor: number }>;
}

const { values } = parseArgs({
  args: Deno.args,
  options: { record: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log("Usage: deno task bench:gate [--record]");
  Deno.exit(0);
}

async function runOnce(): Promise<{ ratios: Map<string, number>; cpu: string; runtime: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    // The relay runs with the V8 flags users run it with.
    args: [
      "bench",
      "-A",
      ...TORQ_RUN_OPTIONS.filter((o) => o.startsWith("--v8-flags")),
      "--json",
      `${ROOT}bench/gate_bench.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno bench failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    cpu: string;
    runtime: string;
    benches: BenchResult[];
  };
  const groups = new Map<string, { base?: number; cases: number[] }>();
  for (const b of report.benches) {
    const r = b.results[0]?.ok;
    if (b.group === null || r === undefined) throw new Error(`bench "${b.name}" failed`);
    const g = groups.get(b.group) ?? { cases: [] };
    const t = (r.min + r.p75) / 2;
    if (b.baseline) g.base = t;
    else g.cases.push(t);
    groups.set(b.group, g);
  }
  const ratios = new Map<string, number>();
  for (const [name, g] of groups) {
    if (g.base === undefined || g.cases.length === 0) {
      throw new Error(`group "${name}" needs one baseline and at least one case`);
    }
    ratios.set(name, g.base / Math.max(...g.cases));
  }
  return { ratios, cpu: report.cpu, runtime: report.runtime };
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await runOnce());
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratios = new Map<string, number>();
for (const name of runs[0]!.ratios.keys()) {
  ratios.set(name, median(runs.map((r) => r.ratios.get(name)!)));
}

if (values.record) {
  const floors: Floors = {
    measured: {
      date: new Date().toISOString().slice(0, 10),
      machine: `${runs[0]!.cpu}, ${navigator.hardwareConcurrency} cores`,
      runtime: runs[0]!.runtime,
    },
    groups: Object.fromEntries(
      [...ratios].map(([name, r]) => [name, {
        measured: round(r),
        floor: round(r * MARGIN),
      }]),
    ),
  };
  Deno.writeTextFileSync(FLOORS, JSON.stringify(floors, null, 2) + "\n");
  console.log(`bench:gate: wrote ${FLOORS}`);
}

const floors = JSON.parse(Deno.readTextFileSync(FLOORS)) as Floors;
let failed = 0;
const width = Math.max(...[...ratios.keys()].map((k) => k.length));
console.log(
  `bench:gate: speed relative to the baseline (higher is faster), median of ${RUNS} runs;` +
    ` floors from ${floors.measured.date} on ${floors.measured.machine}`,
);
for (const [name, r] of ratios) {
  const f = floors.groups[name];
  if (f === undefined) {
    console.log(`  ${name.padEnd(width)}  ${r.toFixed(4)}  no floor (run --record)`);
    failed++;
    continue;
  }
  const ok = r >= f.floor;
  if (!ok) failed++;
  console.log(
    `  ${name.padEnd(width)}  ${r.toFixed(4)}  floor ${f.floor.toFixed(4)} (measured ${
      f.measured.toFixed(4)
    })  ${ok ? "ok" : "SLOWER: below its floor"}`,
  );
}
for (const name of Object.keys(floors.groups)) {
  if (!ratios.has(name)) {
    console.log(`  ${name}: has a floor but no bench`);
    failed++;
  }
}
console.log(failed === 0 ? "bench:gate: ok" : `bench:gate: ${failed} group(s) failed`);
Deno.exit(failed === 0 ? 0 : 1);

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
