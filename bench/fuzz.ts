/**
 * `deno task fuzz`: a coverage-minded fuzzer for the decoder, the FrameReader
 * and the relay's per-frame code (in process), then for live `torq relay`
 * processes of each domain. Exits 1 when anything but a `FrameError` was
 * thrown, an invariant broke, a canary was missed or a relay died.
 *
 * ```
 * deno task fuzz --seconds 60
 * deno task fuzz --frames 10000000 --relay-frames 300000 --seed 7
 * deno task fuzz --frames 20000 --relay-frames 0 --json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CoreFuzzReport, fuzzCore } from "./_fuzz_core.ts";
import { formatRelayReport, fuzzRelay, type RelayFuzzReport } from "./_fuzz_relay.ts";
import type { RelayArg } from "../tests/_support/relay.ts";

const HELP = `Usage: deno task fuzz [options]

Options:
  --frames N          Mutants through the decoder and FrameReader (default 1,000,000
                      unless --seconds is given)
  --seconds S         Stop the in-process stage after S seconds
  --seed N            Seed (default 1); a seed and a frame count give the same run
  --relay-frames N    Mutants through each live relay (default 20,000; 0 skips the stage)
  --relay-seconds S   Stop each live-relay stage after S seconds
  --domains LIST      Relays to fuzz (default market-data,signal,execution)
  --batch N           Mutants per live-relay batch (default 500)
  --json              Print the reports as JSON
  -h, --help          Show this help`;

/**
 * The in-process report as printable lines.
 *
 * @param r the report
 * @returns text
 * @example
 * ```ts
 * console.log(formatCoreReport(fuzzCore({ frames: 1_000 }).report));
 * ```
 */
export function formatCoreReport(r: CoreFuzzReport): string {
  const kv = (o: Record<string, number>) =>
    Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ") ||
    "none";
  const rate = r.elapsedMs > 0 ? Math.round(r.framesTried / (r.elapsedMs / 1000)) : 0;
  return [
    `decoder + FrameReader + relay policies: ${r.framesTried} mutants (${
      (r.bytesTried / 1e6).toFixed(1)
    } MB), seed ${r.seed}, ${(r.elapsedMs / 1000).toFixed(1)} s (${rate}/s)`,
    `  crashes (thrown, not a FrameError): ${r.crashes}; invariant failures: ${r.invariantFailures}`,
    `  decoder: ok ${r.decoder.ok}; errors by code: ${kv(r.decoder.errors)}`,
    `  FrameReader: ${r.reader.frames} frames, ${r.reader.garbageBytes} garbage bytes, sync lost by: ${
      kv(r.reader.losses)
    }; largest buffer ${r.reader.largestBufferBytes} bytes`,
    ...Object.entries(r.policies).map(([p, v]) => `  policy ${p}: ${kv(v)}`),
    `  Subscribe records: ${kv(r.subscribes)}`,
    `  coverage: ${r.coverage.features} features, corpus ${r.coverage.seeds} seeds → ${r.coverage.corpus}`,
    ...r.findings.slice(0, 10).map((f) =>
      `  FINDING ${f.target}: ${f.error}\n    input ${f.input}`
    ),
  ].join("\n");
}

/**
 * Runs the fuzzer from the command line.
 *
 * @param args command-line arguments
 * @returns the exit code
 * @example
 * ```ts
 * await main(["--frames", "20000", "--relay-frames", "0"]); // 0 when nothing crashed
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      frames: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string", default: "1" },
      "relay-frames": { type: "string", default: "20000" },
      "relay-seconds": { type: "string" },
      domains: { type: "string", default: "market-data,signal,execution" },
      batch: { type: "string", default: "500" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const num = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text.replaceAll("_", "").replaceAll(",", ""));
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got "${text}"`);
    return n;
  };
  const seed = num("seed", values.seed)!;
  const seconds = num("seconds", values.seconds);
  const frames = num("frames", values.frames) ?? (seconds === undefined ? 1_000_000 : undefined);
  const relayFrames = num("relay-frames", values["relay-frames"])!;
  const relaySeconds = num("relay-seconds", values["relay-seconds"]);
  const batch = num("batch", values.batch)!;
  const domains = values.domains.split(",").map((d) => d.trim()) as RelayArg[];

  const progress = (r: CoreFuzzReport) => {
    if (!values.json) {
      console.error(
        `  … ${r.framesTried} mutants, ${r.crashes} crashes, ${r.invariantFailures} invariant failures, ${r.coverage.features} features`,
      );
    }
  };
  const { report: core, corpus } = fuzzCore({
    seed,
    ...(frames === undefined ? {} : { frames }),
    ...(seconds === undefined ? {} : { seconds }),
    onProgress: progress,
  });
  if (!values.json) console.log(formatCoreReport(core));

  const relays: RelayFuzzReport[] = [];
  if (relayFrames > 0 || relaySeconds !== undefined) {
    for (const domain of domains) {
      const r = await fuzzRelay({
        domain,
        seed,
        corpus,
        batch,
        ...(relaySeconds === undefined ? { frames: relayFrames } : { seconds: relaySeconds }),
      });
      relays.push(r);
      if (!values.json) console.log(formatRelayReport(r));
    }
  }
  if (values.json) console.log(JSON.stringify({ core, relays }, null, 2));
  const failed = core.crashes > 0 || core.invariantFailures > 0 ||
    relays.some((r) =>
      !r.relayAlive || r.problems.length > 0 || r.forwardedInvalid > 0 ||
      r.consumerGarbageBytes > 0 || r.exitCode !== 0
    );
  if (!values.json) console.log(failed ? "FAILED" : "ok: no crash, every relay alive");
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
