/**
 * The C producer and consumer of `../shared/perf` (and its minimal C relay),
 * built with gcc into a temporary directory: the same clients the benchmarks
 * drive, for tests that need a producer or a consumer faster than the relay.
 *
 * @module
 */

import { sharedPath } from "../tests/_support/shared.ts";

/** Where the sources are (the workplace's shared folder; see tests/_support/shared.ts). */
export const PERF_DIR: string = sharedPath("perf");

/** The built programs. */
export interface PerfTools {
  /** `prod <raw> <addr> <size> <count> <seconds> <rate> [batch]`. */
  prod: string;
  /** `cons <raw> <addr> <idle_ms> <max_s> <lat> <ready_file> [listen] [tag]`. */
  cons: string;
  /** `relay <pub.sock> <sub.sock> [hwm]`. */
  relay: string;
  /** The build directory (remove it when done). */
  dir: string;
}

/** A producer's report. */
export interface ProdReport {
  /** Frames written (the end marker not counted). */
  sent: number;
  /** Seconds spent writing. */
  elapsed_s: number;
  /** sent / elapsed_s. */
  rate: number;
}

/** A consumer's report. */
export interface ConsReport {
  /** Its tag. */
  tag: string;
  /** Frames received (the end marker not counted). */
  recv: number;
  /** Frames with a bad magic. */
  bad: number;
  /** Frames a second between its first and last frame. */
  rate: number;
  /** Latency percentiles in µs (with lat = 1). */
  p50_us?: number;
  /** 99th percentile (µs). */
  p99_us?: number;
  /** 99.9th percentile (µs). */
  p999_us?: number;
}

/**
 * Builds prod, cons and relay with `gcc -O2`.
 *
 * @returns the paths of the programs
 * @throws Error naming the missing compiler or the failed build
 */
export async function buildPerfTools(): Promise<PerfTools> {
  const dir = await Deno.makeTempDir({ prefix: "torq_cperf_" });
  for (const name of ["prod", "cons", "relay"]) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("gcc", {
        args: ["-O2", "-o", `${dir}/${name}`, `${PERF_DIR}/${name}.c`],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new Error(
        `Cannot build ${PERF_DIR}/${name}.c: gcc is not installed (apt-get install gcc)`,
        { cause: e },
      );
    }
    if (!out.success) {
      throw new Error(`Cannot build ${name}.c: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return { prod: `${dir}/prod`, cons: `${dir}/cons`, relay: `${dir}/relay`, dir };
}

/** A C program running, with its one JSON report line at the end. */
export interface PerfProcess<T> {
  /** The process. */
  child: Deno.ChildProcess;
  /** Resolves to its report when it exits. */
  report: Promise<T>;
}

/**
 * Starts one of the programs and parses the JSON line it prints at the end.
 *
 * @param program path
 * @param args its arguments
 * @returns the running process and its report
 */
export function runPerf<T>(program: string, args: string[]): PerfProcess<T> {
  const child = new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).spawn();
  const report = child.output().then((out) => {
    const text = new TextDecoder().decode(out.stdout);
    const line = text.split("\n").find((l) => l.startsWith("{"));
    if (line === undefined) {
      throw new Error(
        `${program} ${args.join(" ")} printed no report (exit ${out.code}): ${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    return JSON.parse(line) as T;
  });
  return { child, report };
}

/**
 * Waits for a consumer's ready file (it is connected).
 *
 * @param path the ready file
 * @param timeoutMs bound
 */
export async function waitForFile(path: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      Deno.statSync(path);
      return;
    } catch {
      if (Date.now() > until) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * Waits until a Unix socket exists at `path` (a server is listening there).
 *
 * @param path the socket's path
 * @param timeoutMs bound
 * @throws Error when it does not appear in time
 */
export async function waitForSocket(path: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (Deno.lstatSync(path).isSocket) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The minimal C relay running. */
export interface CRelay {
  /** Producers connect here (`unix:` not prefixed). */
  producerPath: string;
  /** Consumers connect here. */
  consumerPath: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Ends it (it keeps no state) and removes its sockets. */
  stop(): Promise<void>;
}

/**
 * Starts `relay <dir>/<prefix>p.sock <dir>/<prefix>s.sock [hwm]` and waits
 * until both sockets listen.
 *
 * @param relay the built relay's path ({@linkcode PerfTools.relay})
 * @param dir a directory for its two sockets
 * @param options `hwmBytes`: the per-consumer queue above which it stops
 *   reading producers (the relay's default 4 MiB when absent); `prefix` of
 *   the socket names, to run several in one directory
 * @returns the running relay
 * @example
 * ```ts
 * const tools = await buildPerfTools();
 * const relay = await startCRelay(tools.relay, tools.dir);
 * // producers: relay.producerPath; consumers: relay.consumerPath
 * await relay.stop();
 * ```
 */
export async function startCRelay(
  relay: string,
  dir: string,
  options: { hwmBytes?: number; prefix?: string } = {},
): Promise<CRelay> {
  const prefix = options.prefix ?? "";
  const producerPath = `${dir}/${prefix}p.sock`;
  const consumerPath = `${dir}/${prefix}s.sock`;
  const child = new Deno.Command(relay, {
    args: [
      producerPath,
      consumerPath,
      ...(options.hwmBytes === undefined ? [] : [String(options.hwmBytes)]),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // It binds the producers' socket first, then the consumers'.
    await waitForSocket(consumerPath);
  } catch (e) {
    child.kill("SIGKILL");
    await child.status;
    throw e;
  }
  return {
    producerPath,
    consumerPath,
    child,
    stop: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      for (const p of [producerPath, consumerPath]) await Deno.remove(p).catch(() => {});
    },
  };
}
