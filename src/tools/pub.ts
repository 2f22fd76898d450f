/**
 * `torq pub`: frames from hex, from the JSON shape of `torq encode`, from the
 * spec's worked examples (embedded, see `vectors_data.ts`) or from stdin;
 * the domain check against the target relay; and paced publishing through a
 * {@linkcode RelayClient} ({@linkcode publishPaced}, shared with `torq replay`).
 *
 * @module
 */

import { BackpressureError, ClientClosedError, type RelayClient } from "../client/mod.ts";
import {
  checkFrameStart,
  domainName,
  ErrorCode,
  findVector,
  FrameError,
  frameStartError,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  readPayloadSize,
  SPEC_VECTORS,
  Status,
} from "../protocol/mod.ts";
import { encodeMessagesJson, looksLikeHex, parseHex } from "../format/mod.ts";
import { nextTurn, sleep } from "../io/mod.ts";
import { plural } from "../text/mod.ts";

/**
 * Splits back-to-back frames (as on a relay stream) into one view per frame.
 * Each frame's start is checked (magic, version, payload_size) and it must be
 * complete; its content is not validated (a relay's policy does that).
 *
 * @param bytes concatenated frames
 * @returns views of `bytes`, one per frame
 * @throws {FrameError} for a bad frame start or an incomplete last frame (offset absolute)
 * @example
 * ```ts
 * import { concat } from "../io/mod.ts";
 * declare const a: Uint8Array, b: Uint8Array;
 *
 * splitFrames(concat([a, b])).length; // 2
 * ```
 */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length === 0) {
    throw new FrameError(ErrorCode.HeaderTooShort, "Cannot read frames: the input is empty", {
      offset: 0,
      expected: HEADER_SIZE,
      actual: 0,
    });
  }
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    const status = checkFrameStart(bytes, off, bytes.length, MAX_PAYLOAD_SIZE);
    if (status !== Status.OK) throw frameStartError(status, bytes, off, bytes.length);
    const end = off + HEADER_SIZE + readPayloadSize(bytes, off);
    out.push(bytes.subarray(off, end));
    off = end;
  }
  return out;
}

/** Where `torq pub` takes its frames from (exactly one). */
export type PubInput =
  | { kind: "hex"; text: string }
  | { kind: "json"; value: unknown }
  | { kind: "vector"; name: string }
  | { kind: "bytes"; bytes: Uint8Array };

/**
 * The frames of a `torq pub` input: hex text, parsed JSON in the
 * `torq encode --json` shape (one object or an array), a worked example by
 * name, or stdin bytes (hex text or raw frames, detected).
 *
 * @param input the input
 * @returns the frames
 * @throws {HexParseError} for bad hex
 * @throws {MessageJsonError} for JSON that does not describe a message
 * @throws {FrameError} for bytes that are not whole frames
 * @throws {RangeError} for an unknown vector name (the message lists the names)
 * @example
 * ```ts
 * pubFrames({ kind: "vector", name: "arbitrage_signal_flash_arb" })[0]!.length; // 204
 * ```
 */
export function pubFrames(input: PubInput): Uint8Array[] {
  switch (input.kind) {
    case "hex":
      return splitFrames(parseHex(input.text));
    case "json":
      return splitFrames(encodeMessagesJson(input.value));
    case "vector": {
      const v = findVector(input.name);
      if (v === undefined) {
        throw new RangeError(
          `Cannot find vector "${input.name}": known vectors are ${
            SPEC_VECTORS.map((x) => x.name).join(", ")
          }`,
        );
      }
      return [parseHex(v.hex)];
    }
    case "bytes":
      return splitFrames(
        looksLikeHex(input.bytes) ? parseHex(new TextDecoder().decode(input.bytes)) : input.bytes,
      );
  }
}

/**
 * The first frame whose header domain is not the relay's, as a readable
 * refusal (a relay drops such frames as `WrongDomain`).
 *
 * @param frames the frames
 * @param domain the relay's wire domain (1–4)
 * @param relay the relay's name for the message, e.g. `signal`
 * @returns the refusal line, or `null` when every frame belongs to the relay
 * @example
 * ```ts
 * declare const trade: Uint8Array; // a market-data frame
 *
 * wrongDomain([trade], 2, "signal");
 * // "frame 1 has relay_domain 1 (market_data), the signal relay takes domain 2 (signal) only; --force sends it anyway"
 * ```
 */
export function wrongDomain(
  frames: readonly Uint8Array[],
  domain: number,
  relay: string,
): string | null {
  for (let i = 0; i < frames.length; i++) {
    const d = frames[i]![4]!;
    if (d !== domain) {
      return `frame ${i + 1} has relay_domain ${d} (${
        domainName(d) ?? "invalid"
      }), the ${relay} relay takes domain ${domain} (${
        domainName(domain) ?? "invalid"
      }) only; --force sends it anyway`;
    }
  }
  return null;
}

/** One frame to publish and when, in ms after the start (`undefined` = at once). */
export interface ScheduledFrame {
  /** Exactly one frame. */
  frame: Uint8Array;
  /** Publish time in ms after the first frame's, or undefined for as fast as possible. */
  atMs?: number | undefined;
}

/** What {@linkcode publishPaced} did. */
export interface PublishResult {
  /** Frames published, flushed, and read by the relay (confirmed by a round trip). */
  frames: number;
  /** Their bytes. */
  bytes: number;
  /** Wall time from the first publish to the final flush, ms. */
  elapsedMs: number;
  /** Whether it stopped because of the abort signal. */
  interrupted: boolean;
}

/**
 * Publishes frames at their scheduled times (relative to the start), waiting
 * out backpressure, then flushes and confirms that the relay read them (a
 * round trip): a relay that closed the connection instead, e.g. one at
 * `max_connections`, is an error, not a success. Frames scheduled within a
 * millisecond of now are published without sleeping, so high rates are kept
 * on average.
 *
 * @param client a connected client
 * @param frames frames with optional times
 * @param signal stops publishing (what was published is still flushed)
 * @returns counts, time, whether interrupted
 * @throws {Error} when the connection is lost before the relay confirmed reading every frame
 * @example
 * ```ts
 * import type { RelayClient } from "../client/mod.ts";
 * declare const client: RelayClient;
 * declare const frame: Uint8Array;
 *
 * await publishPaced(client, [{ frame }, { frame, atMs: 100 }]);
 * ```
 */
export async function publishPaced(
  client: RelayClient,
  frames: Iterable<ScheduledFrame>,
  signal?: AbortSignal,
): Promise<PublishResult> {
  let n = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (const { frame, atMs } of frames) {
    if (signal?.aborted) break;
    if (atMs !== undefined) {
      const wait = t0 + atMs - performance.now();
      if (wait >= 1) await sleep(wait, signal);
      if (signal?.aborted) break;
    } else if ((n & 4095) === 4095) {
      // let the writer, signal handlers and timers run during a long burst
      await nextTurn();
    }
    for (;;) {
      try {
        client.publish(frame);
        break;
      } catch (e) {
        if (!(e instanceof BackpressureError)) throw e;
        await client.drain();
      }
    }
    n++;
    bytes += frame.length;
  }
  try {
    await client.confirm();
  } catch (e) {
    if (!(e instanceof ClientClosedError)) throw e;
    const why = e.cause instanceof Error ? e.cause.message : e.message;
    throw new Error(
      `Cannot publish ${plural(n, "frame")}: ${why} before it confirmed reading them`,
      { cause: e },
    );
  }
  return {
    frames: n,
    bytes,
    elapsedMs: performance.now() - t0,
    interrupted: signal?.aborted ?? false,
  };
}

/**
 * Frames repeated `count` times, spaced at `rate` per second (or as fast as possible).
 *
 * @param frames the frames of one round
 * @param count rounds (default 1)
 * @param rate messages per second (default: as fast as possible)
 * @returns the schedule
 * @example
 * ```ts
 * declare const a: Uint8Array, b: Uint8Array;
 *
 * [...repeatAtRate([a, b], 2, 10)].map((s) => s.atMs); // [0, 100, 200, 300]
 * ```
 */
export function* repeatAtRate(
  frames: readonly Uint8Array[],
  count = 1,
  rate?: number,
): Generator<ScheduledFrame, void, undefined> {
  let i = 0;
  for (let round = 0; round < count; round++) {
    for (const frame of frames) {
      yield rate === undefined ? { frame } : { frame, atMs: (i * 1000) / rate };
      i++;
    }
  }
}

/**
 * The one-line summary of `torq pub`.
 *
 * @param r what was published
 * @param relay relay name, e.g. `signal`
 * @param address socket path
 * @returns e.g. `published 3 frames (612 bytes) to signal relay at /tmp/torq/signals.sock`
 */
export function pubSummary(r: PublishResult, relay: string, address: string): string {
  return `published ${plural(r.frames, "frame")} (${
    plural(r.bytes, "byte")
  }) to ${relay} relay at ${address}${r.interrupted ? " (interrupted)" : ""}`;
}
