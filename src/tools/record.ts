/**
 * `torq record`: subscribe to a relay and write every received frame with its
 * receive time to a recording file (format in `record_file.ts`), until a
 * frame count, a duration, an abort or the relay closing the connection.
 *
 * @module
 */

import type { DomainOption } from "../client/mod.ts";
import { nowNs } from "../protocol/mod.ts";
import { RecordingWriter } from "./record_file.ts";
import { connectSubscriber, gapLine, quotePatterns, type SubscriptionPlan } from "./sub.ts";
import { plural } from "../text/mod.ts";
import { writeAll } from "../io/mod.ts";

/** Options of {@linkcode runRecord}. */
export interface RecordOptions {
  /** The relay's domain. */
  domain: DomainOption;
  /** Socket path. */
  path: string;
  /** Patterns and local filter. */
  plan: SubscriptionPlan;
  /** The recording file (created or truncated). */
  file: string;
  /** Stop after this many frames. */
  count?: number | undefined;
  /** Stop after this many seconds. */
  durationS?: number | undefined;
  /** Stops recording (Ctrl-C); what was received is written. */
  signal?: AbortSignal;
}

/** What {@linkcode runRecord} did. */
export interface RecordResult {
  /** Frames written. */
  frames: number;
  /** Their bytes (without record headers). */
  bytes: number;
  /** Size of the file. */
  fileBytes: number;
  /** Sequence gaps seen. */
  gaps: number;
  /** The relay's name. */
  relay: string;
  /** Socket path. */
  address: string;
  /** Why it ended. */
  ended: "count" | "duration" | "interrupted" | "closed";
  /** The error that closed the connection when `ended` is `closed`. */
  error?: Error;
}

/**
 * Records a relay into a file: connects and subscribes, writes
 * `recording … to FILE` on stderr once the filter is in effect, then writes
 * the file header and one record per frame (in 256 KiB chunks, and whenever
 * no more frames are waiting, so little is lost if the process is killed).
 *
 * @param options relay, plan, file, limits, abort signal
 * @param err writes one status line to stderr (the start line, gaps)
 * @returns counts and why it ended
 * @throws {ConnectError} when the relay is not there
 * @throws {SubscribeError} when the subscription is refused
 * @throws {Deno.errors.NotFound} and other file errors when the file cannot be written
 * @example
 * ```ts
 * import { planSubscription } from "./sub.ts";
 * declare const path: string;
 *
 * await runRecord({ domain: "signal", path, plan: planSubscription({}), file: "rec.torq", count: 10 },
 *   (l) => console.error(l));
 * ```
 */
export async function runRecord(
  options: RecordOptions,
  err: (line: string) => void,
): Promise<RecordResult> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let file: Deno.FsFile | undefined;
  let client;
  try {
    client = await connectSubscriber({
      domain: options.domain,
      path: options.path,
      plan: options.plan,
      signal: stop.signal,
    });
    file = await Deno.open(options.file, { write: true, create: true, truncate: true });
  } catch (e) {
    options.signal?.removeEventListener("abort", onAbort);
    await client?.close();
    throw e;
  }
  const writer = new RecordingWriter({ domain: client.domain, startNs: nowNs() });
  let fileBytes = 0;
  const write = async () => {
    const chunk = writer.take();
    await writeAll(file, chunk);
    fileBytes += chunk.length;
  };
  let gaps = 0;
  client.on("gap", (e) => {
    gaps++;
    err(gapLine(e));
  });
  err(
    `recording ${client.relayName} relay at ${client.address} to ${options.file}, filter ${
      quotePatterns(client.filter ?? options.plan.patterns)
    } (Ctrl-C to stop)`,
  );
  if (options.durationS !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, options.durationS * 1000);
  }
  let ended: RecordResult["ended"] = "closed";
  let error: Error | undefined;
  try {
    await write(); // the header, even when nothing arrives
    const count = options.count;
    if (count === 0) ended = "count";
    else {
      for await (const f of client) {
        const full = writer.add(nowNs(), f.bytes);
        const done = count !== undefined && writer.frames >= count;
        if (done || full || client.stats().bufferedFrames === 0) await write();
        if (done) {
          ended = "count";
          break;
        }
      }
    }
    if (ended !== "count") {
      if (timedOut) ended = "duration";
      else if (options.signal?.aborted) ended = "interrupted";
      else error = await client.closed();
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    try {
      if (writer.pendingBytes > 0) await write();
    } finally {
      file.close();
      await client.close();
    }
  }
  return {
    frames: writer.frames,
    bytes: writer.frameBytes,
    fileBytes,
    gaps,
    relay: client.relayName,
    address: client.address,
    ended,
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * The one-line summary of `torq record`.
 *
 * @param r the result
 * @param file the file path
 * @returns e.g. `recorded 10 frames (2040 bytes, 0 gaps) from signal relay at PATH to rec.torq (2184 bytes)`
 */
export function recordSummary(r: RecordResult, file: string): string {
  return `recorded ${plural(r.frames, "frame")} (${plural(r.bytes, "byte")}, ${
    plural(r.gaps, "gap")
  }) from ${r.relay} relay at ${r.address} to ${file} (${plural(r.fileBytes, "byte")})`;
}
