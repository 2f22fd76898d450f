/**
 * `torq bench`: a load generator in the manner of `nats bench`. Starts its own
 * relay process (or uses a running one with `--socket`), drives it with
 * producers and consumers, and reports msgs/s, MB/s, latency percentiles,
 * drops and gaps as text, JSON or CSV.
 *
 * @module
 */

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
  formatBenchProgress,
  formatBenchRatio,
  formatBenchRun,
  MAX_PRODUCERS,
  MIN_BENCH_SIZE,
  ORDER_REQUEST_FRAME_SIZE,
} from "../src/bench/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { torqCommand } from "../src/stack/mod.ts";
import type { RelayDomainName } from "../src/config/mod.ts";
import { CliError, Exit, printOut, UsageError } from "./_args.ts";
import { countOption } from "./_options.ts";
import { defineCommand, describeNumber, relayDomainArg } from "./_command.ts";
import { CONFIG_SOURCE_OPTIONS, configFromArgs } from "./_config.ts";

const COMMAND = "torq bench";

/** `torq bench`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Load-generate through a relay, like 'nats bench': producers publish frames, consumers
receive them, and the report gives per-consumer and total msgs/s and MB/s, latency percentiles
(p50/p90/p99/p99.9/max), drops and sequence gaps.

The bench starts its own relay as a separate process (so it gets its own core) on a socket in a
temporary directory, and stops it and removes the directory when done; --socket uses a running
relay instead. Producers and consumers run in the bench process, on one event loop.`,
  positionals: [{
    key: "domain",
    name: "DOMAIN",
    type: "domain",
    optional: true,
    help: "market-data, signal or execution (default market-data)",
  }],
  options: {
    producers: {
      type: "number",
      value: "N",
      integer: true,
      min: 1,
      max: MAX_PRODUCERS,
      default: 1,
      help: "Producers, each with its own connection and source byte",
    },
    consumers: {
      type: "number",
      value: "N",
      integer: true,
      min: 1,
      max: 500,
      default: 1,
      help: "Consumers, each receiving every frame",
    },
    size: {
      type: "number",
      value: "BYTES",
      integer: true,
      min: MIN_BENCH_SIZE,
      help: `Whole message size, header included (default 64); execution always sends ` +
        `${ORDER_REQUEST_FRAME_SIZE}-byte OrderRequests (TLV 40)`,
    },
    count: {
      ...countOption("Publish N messages in total (split over the producers), then stop"),
      aliases: ["msgs"],
    },
    duration: {
      type: "number",
      value: "S",
      min: 0.001,
      max: 86_400,
      help: "Publish for S seconds (default 5)",
    },
    rate: {
      type: "number",
      value: "R",
      min: 0,
      max: 1e9,
      default: 0,
      help: "Messages per second per producer; 0 = as fast as possible",
    },
    window: {
      type: "number",
      value: "N",
      integer: true,
      min: 0,
      max: 1e9,
      default: 5000,
      help: "Lossless window: frames a producer may have in flight ahead of its slowest " +
        "consumer; 0 = unbounded, the market-data and signal relays then drop the oldest frames " +
        "of consumers that fall behind",
    },
    direct: {
      type: "boolean",
      help: "Run the same workload over direct Unix sockets (no relay) first, then through the " +
        "relay, and print the ratio",
    },
    socket: {
      type: "string",
      value: "ADDRESS",
      help: "Use the running relay at ADDRESS instead of starting one: a socket path, " +
        "tcp://HOST:PORT, or nats://HOST:PORT (the domain's subject)",
    },
    json: { type: "boolean", help: "Print one JSON object" },
    csv: { type: "boolean", help: "Print CSV: a header, one row per consumer and a total row" },
    progress: {
      type: "boolean",
      negatable: true,
      default: true,
      help: "A live progress line (shown only on a terminal)",
    },
    domain: {
      type: "string",
      value: "D",
      help: "The domain (old spelling)",
      deprecated: "give the domain as an argument, e.g. 'torq bench signal'",
    },
    ...CONFIG_SOURCE_OPTIONS,
  },
  sections: [{
    title: "How it measures",
    body: `Frames: market data and signal carry one ProprietaryData TLV (202) filling
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

Lossless runs need the relay to hold a window per producer: keep producers ×
window below the relay's max_queue_frames (10,000 by default), or the
execution relay disconnects the consumer and the others drop frames.`,
  }],
  exits: {
    0: "every run completed (or Ctrl-C stopped it)",
    1: "a run failed (frames stopped moving, the relay died or closed a connection, nothing " +
      "came back; one line says why, after the figures) or the relay could not start",
  },
  examples: [
    "torq bench",
    "torq bench --duration 3 --consumers 4",
    "torq bench signal --size 204 --count 1000000",
    "torq bench execution --duration 3 --json",
    "torq bench --direct --duration 3",
    "torq bench --rate 100000 --producers 2 --csv",
    "torq bench --socket /tmp/torq/market_data.sock --window 0",
    "torq bench signal --socket tcp://127.0.0.1:7402 --count 100000",
  ],
  run: ({ options, args, warn }) => runBench(options, args.domain, warn),
});

const encoder = new TextEncoder();

async function runBench(
  values: {
    producers: number;
    consumers: number;
    size?: number | undefined;
    count?: number | undefined;
    duration?: number | undefined;
    rate: number;
    window: number;
    direct: boolean;
    socket?: string | undefined;
    json: boolean;
    csv: boolean;
    progress: boolean;
    domain?: string | undefined;
    config?: string | undefined;
    env?: string | undefined;
    set: string[];
  },
  domainArg: RelayDomainName | undefined,
  warn: (message: string) => void,
): Promise<number> {
  if (values.domain !== undefined && domainArg !== undefined) {
    throw new UsageError(COMMAND, "give the domain once, as an argument");
  }
  const relay = domainArg ??
    (values.domain === undefined ? "market_data" : relayDomainArg(COMMAND, values.domain, warn));
  const domain = relay.replace("_", "-");
  const d = domain as BenchDomain;
  const info = BENCH_DOMAINS[d];
  if (values.json && values.csv) throw new UsageError(COMMAND, "use --json or --csv, not both");
  if (values.count !== undefined && values.duration !== undefined) {
    throw new UsageError(COMMAND, "use --count or --duration, not both");
  }
  const relayArgs = [
    ...(values.config === undefined ? [] : ["--config", values.config]),
    ...(values.env === undefined ? [] : ["--env", values.env]),
    ...values.set.flatMap((s) => ["--set", s]),
  ];
  if (values.socket !== undefined && relayArgs.length > 0) {
    throw new UsageError(
      COMMAND,
      "--config, --env and --set apply to a started relay, not --socket",
    );
  }
  // The effective configuration of the relay the bench would start: its size
  // limit and queue length.
  const config = configFromArgs(values);
  const section = config.relays[info.relay];
  const maxSize = section.validation.max_message_size;
  const producers = values.producers;
  const consumers = values.consumers;
  if (values.size !== undefined && values.size > maxSize) {
    const rule = { integer: true, min: MIN_BENCH_SIZE, max: maxSize };
    throw new UsageError(
      COMMAND,
      `option '--size' expects ${
        describeNumber(rule)
      } (the relay's max_message_size), got ${values.size}`,
    );
  }
  let size = values.size ?? 64;
  if (info.fixedSize !== null) {
    if (values.size !== undefined && size !== info.fixedSize) {
      throw new UsageError(
        COMMAND,
        `--size does not apply to execution: it sends ${info.fixedSize}-byte OrderRequests`,
      );
    }
    size = info.fixedSize;
  }
  const msgs = values.count ?? null;
  const duration = values.duration ?? 5;
  const rate = values.rate;
  const window = values.window;
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

  const tty = text && values.progress && Deno.stdout.isTerminal();
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
    progressShown = false;
  };
  const onProgress = (p: BenchProgress) => {
    Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${formatBenchProgress(p)}`));
    progressShown = true;
  };

  using interrupt = interruptOnSignals();
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
      { signal: interrupt.signal, ...(tty ? { onProgress } : {}) },
    );
  } catch (e) {
    clearProgress();
    throw new CliError(e instanceof Error ? e.message : String(e));
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
