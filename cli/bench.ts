/**
 * `torq bench`: a load generator in the manner of `nats bench`. Starts its own
 * relay process (or uses a running one with `--socket`), drives it with
 * producers and consumers, and reports msgs/s, MB/s, latency percentiles,
 * drops and gaps as text, JSON or CSV.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  BENCH_DOMAINS,
  type BenchDomain,
  benchFailure,
  benchJson,
  benchmark,
  type BenchProgress,
  type BenchWorkload,
  formatBenchCsv,
  formatBenchHeader,
  formatBenchRatio,
  formatBenchRun,
  formatCount,
  formatRate,
  MAX_PRODUCERS,
  MIN_BENCH_SIZE,
  ORDER_REQUEST_FRAME_SIZE,
} from "../src/tools/bench.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { configFromArgs } from "./_config.ts";

const COMMAND = "torq bench";

const HELP = `Usage: torq bench [options]

Load-generate through a relay, like 'nats bench': producers publish frames,
consumers receive them, and the report gives per-consumer and total msgs/s and
MB/s, latency percentiles (p50/p90/p99/p99.9/max), drops and sequence gaps.

The bench starts its own relay as a separate process (so it gets its own core)
on a socket in a temporary directory, and stops it and removes the directory
when done; --socket uses a running relay instead. Producers and consumers run
in the bench process, on one event loop.

Options:
  --domain D        market-data, signal or execution (default market-data)
  --producers N     Producers, each with its own connection and source byte (default 1, at most ${MAX_PRODUCERS})
  --consumers N     Consumers, each receiving every frame (default 1)
  --size BYTES      Whole message size, header included (default 64, at least ${MIN_BENCH_SIZE});
                    execution always sends ${ORDER_REQUEST_FRAME_SIZE}-byte OrderRequests (TLV 40)
  --msgs N          Publish N messages in total (split over the producers), then stop
  --duration S      Publish for S seconds (default 5)
  --rate R          Messages per second per producer; 0 = as fast as possible (default 0)
  --window N        Lossless window: frames a producer may have in flight ahead of its
                    slowest consumer (default 5000); 0 = unbounded, the market-data and
                    signal relays then drop the oldest frames of consumers that fall behind
  --direct          Run the same workload over direct Unix sockets (no relay) first, then
                    through the relay, and print the ratio
  --socket ADDRESS  Use the running relay at ADDRESS instead of starting one: a socket
                    path, tcp://HOST:PORT, or nats://HOST:PORT (the domain's subject)
  --json            Print one JSON object
  --csv             Print CSV: a header, one row per consumer and a total row
  --no-progress     No live progress line (shown only on a terminal)
  --config FILE     Configuration of the started relay (see 'torq relay --help')
  --env NAME        Environment overlay of the started relay
  --set KEY=VALUE   Override one setting of the started relay (repeatable)
  -h, --help        Show this help

Frames: market data and signal carry one ProprietaryData TLV (202) filling
--size; signal and execution frames carry CRC-32 checksums (the signal relay
verifies them, the execution relay requires them). Every producer numbers its
frames 1, 2, 3, … under its own source byte, so consumers count gaps per source.

Latency: a producer stamps a whole chunk of frames with one clock read (the
same nanosecond time in every frame's header timestamp) just before handing
the chunk to the socket; each consumer reads the clock once per read and
records receive time − header timestamp of every frame into a log-linear
histogram (1 µs buckets up to ~1 ms, 0.2 % relative above, up to 60 s).
Latency is thus "chunk handed to the socket" (after stamping and checksumming
it) to "frame read by the consumer", including waits for the bench's own event
loop. Throughput of a consumer is its frames over the time from the start to
its last frame; the total row sums over consumers. At max rate the latency is
mostly queueing (up to a window of frames waits ahead of each one); use --rate
to measure latency below saturation.

Exit status: 0 when every run completed (or Ctrl-C stopped it), 1 when a run
failed (frames stopped moving, the relay died or closed a connection, nothing
came back; one line says why, after the figures), 2 usage error.

Lossless runs need the relay to hold a window per producer: keep producers ×
window below the relay's max_queue_frames (10,000 by default), or the
execution relay disconnects the consumer and the others drop frames.

Examples:
  torq bench
  torq bench --duration 3 --consumers 4
  torq bench --domain signal --size 204 --msgs 1000000
  torq bench --domain execution --duration 3 --json
  torq bench --direct --duration 3
  torq bench --rate 100000 --producers 2 --csv
  torq bench --socket /tmp/torq/market_data.sock --window 0
  torq bench --domain signal --socket tcp://127.0.0.1:7402 --msgs 100000`;

/**
 * How to run `torq` itself: the compiled binary directly, or `deno run -A
 * cli/main.ts` when running from source.
 *
 * @returns the command and its leading arguments
 */
export function torqCommand(): string[] {
  const exe = Deno.execPath();
  const name = exe.split(/[\\/]/).pop() ?? "";
  const compiled = Deno.mainModule.includes("/deno-compile-") || !/^deno(\.exe)?$/i.test(name);
  if (compiled) return [exe];
  return [exe, "run", "-A", fileURLToPath(new URL("./main.ts", import.meta.url))];
}

function int(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      COMMAND,
      `${name} must be an integer from ${formatCount(min)} to ${formatCount(max)}, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return n;
}

function num(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replaceAll("_", ""));
  if (!Number.isFinite(n) || n < min || n > max || text.trim() === "") {
    throw new UsageError(
      COMMAND,
      `${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

const encoder = new TextEncoder();

/**
 * Runs `torq bench`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code: 0
 * @throws {CliError} when a run failed (see `benchFailure()`)
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        domain: { type: "string", default: "market-data" },
        producers: { type: "string" },
        consumers: { type: "string" },
        size: { type: "string" },
        msgs: { type: "string" },
        duration: { type: "string" },
        rate: { type: "string" },
        window: { type: "string" },
        direct: { type: "boolean", default: false },
        socket: { type: "string" },
        json: { type: "boolean", default: false },
        csv: { type: "boolean", default: false },
        "no-progress": { type: "boolean", default: false },
        config: { type: "string" },
        env: { type: "string" },
        set: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  if (positionals.length > 0) {
    throw new UsageError(COMMAND, `unexpected argument '${positionals[0]}'`);
  }
  const domain = values.domain as string;
  if (!Object.hasOwn(BENCH_DOMAINS, domain)) {
    throw new UsageError(
      COMMAND,
      `unknown domain ${JSON.stringify(domain)}: use market-data, signal or execution`,
    );
  }
  const d = domain as BenchDomain;
  const info = BENCH_DOMAINS[d];
  if (values.json && values.csv) throw new UsageError(COMMAND, "use --json or --csv, not both");
  if (values.msgs !== undefined && values.duration !== undefined) {
    throw new UsageError(COMMAND, "use --msgs or --duration, not both");
  }
  const relayArgs = [
    ...(values.config === undefined ? [] : ["--config", values.config]),
    ...(values.env === undefined ? [] : ["--env", values.env]),
    ...(values.set ?? []).flatMap((s) => ["--set", s]),
  ];
  if (values.socket !== undefined && relayArgs.length > 0) {
    throw new UsageError(
      COMMAND,
      "--config, --env and --set apply to a started relay, not --socket",
    );
  }
  // The effective configuration of the relay the bench would start: its size
  // limit and queue length.
  const config = configFromArgs({
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values.env === undefined ? {} : { env: values.env }),
    ...(values.set === undefined ? {} : { set: values.set }),
  });
  const section = config.relays[info.relay];
  const maxSize = section.validation.max_message_size;
  const producers = int("--producers", values.producers, 1, MAX_PRODUCERS) ?? 1;
  const consumers = int("--consumers", values.consumers, 1, 500) ?? 1;
  let size = int("--size", values.size, MIN_BENCH_SIZE, maxSize) ?? 64;
  if (info.fixedSize !== null) {
    if (values.size !== undefined && size !== info.fixedSize) {
      throw new UsageError(
        COMMAND,
        `--size does not apply to execution: it sends ${info.fixedSize}-byte OrderRequests`,
      );
    }
    size = info.fixedSize;
  }
  const msgs = int("--msgs", values.msgs, 1, Number.MAX_SAFE_INTEGER) ?? null;
  const duration = num("--duration", values.duration, 0.001, 86_400) ?? 5;
  const rate = num("--rate", values.rate, 0, 1e9) ?? 0;
  const window = int("--window", values.window, 0, 1e9) ?? 5000;
  const workload: BenchWorkload = {
    domain: d,
    producers,
    consumers,
    size,
    msgs,
    durationMs: duration * 1000,
    rate,
    window,
  };
  const text = !values.json && !values.csv;
  if (
    values.socket === undefined && window > 0 &&
    producers * window > section.performance.max_queue_frames
  ) {
    console.error(
      `torq bench: note: ${producers} producers × window ${window} exceed the relay's max_queue_frames (${section.performance.max_queue_frames}); consumers may lose frames or be disconnected`,
    );
  }

  const tty = text && !values["no-progress"] && Deno.stdout.isTerminal();
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
    progressShown = false;
  };
  const onProgress = (p: BenchProgress) => {
    const line = `  ${p.system}  ${(p.elapsedMs / 1000).toFixed(1)} s  sent ${
      formatCount(p.sent)
    }  received ${formatCount(p.received)}  ${formatRate(p.msgsPerSec)} msgs/s per consumer`;
    Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}`));
    progressShown = true;
  };

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let report;
  try {
    report = await benchmark(
      {
        workload,
        socket: values.socket ?? null,
        direct: values.direct,
        command: torqCommand(),
        relayArgs,
        onStart: ({ system, socket, started }) => {
          if (!text) return;
          clearProgress();
          console.log(formatBenchHeader({
            system,
            domain: d,
            socket,
            relayStarted: started,
            producers,
            consumers,
            size,
            msgs,
            durationSeconds: msgs === null ? duration : null,
            rate,
            window,
          }));
        },
        onRun: (r) => {
          if (!text) return;
          clearProgress();
          console.log(formatBenchRun(r).join("\n"));
        },
      },
      { signal: controller.signal, ...(tty ? { onProgress } : {}) },
    );
  } catch (e) {
    clearProgress();
    throw new CliError(e instanceof Error ? e.message : String(e));
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  clearProgress();
  if (values.json) await printOut(JSON.stringify(benchJson(report), null, 2));
  else if (values.csv) await printOut(formatBenchCsv(report));
  else {
    const ratio = formatBenchRatio(report);
    if (ratio !== null) await printOut(ratio);
  }
  // A failed run is a failure of the command: one line, exit 1 (the figures are printed above).
  const failure = report.runs.map(benchFailure).find((f) => f !== null);
  if (failure !== undefined) throw new CliError(failure);
  return Exit.OK;
}
