/**
 * `torq sub`: a live view of a relay through a real `Subscribe` (PROTOCOL.md
 * 7.8). This module turns the command's choices into relay-side patterns and a
 * local filter ({@linkcode planSubscription}), connects and subscribes
 * ({@linkcode connectSubscriber}, shared with `torq record`), renders each
 * frame the way `torq decode` does ({@linkcode formatFrame}: text, one hex
 * line, or one JSON line of the `decode --json` shape), reports sequence gaps
 * ({@linkcode gapLine}), draws a per-second rate line ({@linkcode RateGraph}),
 * starts with what the relay still holds when asked (`--snapshot`, `--from`:
 * {@linkcode recoveryLine}) and runs the whole loop ({@linkcode runSub})
 * against caller-given output functions.
 *
 * @module
 */

import {
  type ByteSelector,
  type DomainOption,
  type GapEvent,
  type LocalFilterOptions,
  type ReceivedFrame,
  type RecoverOptions,
  type RecoveryResult,
  RelayClient,
} from "../client/mod.ts";
import { decodeMessage, FrameError, lookupTlvType, nowNs } from "../protocol/mod.ts";
import { errorToJson, formatMessageText, messageToJson, toHex } from "../format/mod.ts";
import { plural } from "../text/mod.ts";

/** How `torq sub` prints each frame. */
export type SubFormat = "decode" | "hex" | "json";

/** What to receive: relay-side patterns and/or local criteria. */
export interface SubscriptionChoice {
  /** Explicit relay-side patterns (`--subscribe`); when given, types and sources only filter locally. */
  subscribe?: readonly string[] | undefined;
  /** TLV types (`--types`): values or inclusive ranges. */
  types?: readonly ByteSelector[] | undefined;
  /** Header sources (`--source`): values or inclusive ranges. */
  sources?: readonly ByteSelector[] | undefined;
}

/** The patterns sent to the relay and the filter applied locally. */
export interface SubscriptionPlan {
  /** Patterns of the Subscribe request (never empty: `*` when nothing narrows it). */
  patterns: string[];
  /** Local filter (every criterion must hold), when types or sources were given. */
  filter: LocalFilterOptions | undefined;
}

/**
 * Parses a list of byte values: numbers, inclusive ranges and, when
 * `what` is `type`, TLV names, separated by commas (`20-39`, `1,2,20-29`,
 * `Trade,Quote`).
 *
 * @param text the option value
 * @param what `type` (names allowed) or `source`
 * @returns the selectors
 * @throws {RangeError} one line naming the bad item
 * @example
 * ```ts
 * parseByteList("1,20-39", "type"); // [1, [20, 39]]
 * parseByteList("Trade", "type"); // [1]
 * ```
 */
export function parseByteList(text: string, what: "type" | "source"): ByteSelector[] {
  const out: ByteSelector[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(item);
    if (range !== null) {
      const from = byteValue(range[1]!, item, what);
      const to = byteValue(range[2]!, item, what);
      if (from > to) {
        throw new RangeError(`Cannot parse ${what} range "${item}": ${from} is above ${to}`);
      }
      out.push([from, to]);
    } else if (/^\d+$/.test(item)) {
      out.push(byteValue(item, item, what));
    } else if (what === "type" && item !== "" && lookupTlvType(item) !== undefined) {
      out.push(lookupTlvType(item)!.type);
    } else {
      throw new RangeError(
        `Cannot parse ${what} "${item}": expected a number 0–255${
          what === "type" ? ", a range like 20-39 or a TLV name" : " or a range like 20-39"
        }`,
      );
    }
  }
  return out;
}

function byteValue(digits: string, item: string, what: string): number {
  const n = Number(digits);
  if (n > 255) throw new RangeError(`Cannot parse ${what} "${item}": ${n} is above 255`);
  return n;
}

function expand(selectors: readonly ByteSelector[]): number[] {
  const seen = new Set<number>();
  for (const s of selectors) {
    if (typeof s === "number") seen.add(s);
    else for (let v = s[0]; v <= s[1]; v++) seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * Turns the command's choices into relay-side patterns and a local filter.
 * Without `--subscribe`, types become `tlv.N` and sources `source.N`
 * patterns; the relay matches any of them (OR), so the local filter applies
 * every criterion (AND) to what arrives. Nothing given means `*`.
 *
 * @param choice explicit patterns, types, sources
 * @returns the plan
 * @example
 * ```ts
 * planSubscription({ types: [[20, 21]] }).patterns; // ["tlv.20", "tlv.21"]
 * planSubscription({ subscribe: ["tlv.1"] }).patterns; // ["tlv.1"]
 * ```
 */
export function planSubscription(choice: SubscriptionChoice): SubscriptionPlan {
  const types = choice.types !== undefined && choice.types.length > 0 ? choice.types : undefined;
  const sources = choice.sources !== undefined && choice.sources.length > 0
    ? choice.sources
    : undefined;
  const filter: LocalFilterOptions | undefined = types === undefined && sources === undefined
    ? undefined
    : {
      ...(types === undefined ? {} : { types }),
      ...(sources === undefined ? {} : { sources }),
    };
  if (choice.subscribe !== undefined && choice.subscribe.length > 0) {
    return { patterns: [...choice.subscribe], filter };
  }
  const patterns: string[] = [];
  if (types !== undefined) {
    const all = expand(types);
    if (all.length === 256) return { patterns: ["*"], filter };
    for (const t of all) patterns.push(`tlv.${t}`);
  }
  if (sources !== undefined) {
    const all = expand(sources);
    if (all.length === 256) return { patterns: ["*"], filter };
    for (const s of all) patterns.push(`source.${s}`);
  }
  return { patterns: patterns.length === 0 ? ["*"] : patterns, filter };
}

/**
 * A receive time as ISO-8601 UTC with microseconds (fixed width).
 *
 * @param ns ns since the Unix epoch
 * @returns e.g. `2026-11-23T14:29:08.011234Z`
 * @example
 * ```ts
 * formatReceiveTime(1700000000123456789n); // "2023-11-14T22:13:20.123456Z"
 * ```
 */
export function formatReceiveTime(ns: bigint): string {
  const base = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  const micros = ((ns % 1_000_000_000n) / 1_000n).toString().padStart(6, "0");
  return `${base}.${micros}Z`;
}

/** Options of {@linkcode formatFrame}. */
export interface FrameFormatOptions {
  /** Receive time (ns); when given it prefixes the output (JSON: a `received` member). */
  receivedNs?: bigint | undefined;
}

/**
 * Renders one received frame: `decode` is the `torq decode` text, `hex` one
 * line of hex, `json` one line in the `torq decode --json` shape. A frame that
 * does not decode is shown with its error (`error: Code: message` and its hex;
 * JSON `{"error": {...}, "frame_hex": "…"}`) rather than ending the view.
 *
 * @param frame exactly one frame
 * @param format decode, hex or json
 * @param options receive time prefix
 * @returns the text (no trailing newline; several lines for `decode`)
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * formatFrame(frame, "hex"); // "efbeadde0201…"
 * JSON.parse(formatFrame(frame, "json")).header.sequence; // "1"
 * ```
 */
export function formatFrame(
  frame: Uint8Array,
  format: SubFormat,
  options: FrameFormatOptions = {},
): string {
  const at = options.receivedNs === undefined ? undefined : formatReceiveTime(options.receivedNs);
  if (format === "hex") return at === undefined ? toHex(frame) : `${at} ${toHex(frame)}`;
  let msg;
  try {
    msg = decodeMessage(frame);
  } catch (e) {
    if (!(e instanceof FrameError)) throw e;
    if (format === "json") {
      return JSON.stringify({
        ...(at === undefined ? {} : { received: at }),
        error: errorToJson(e),
        frame_hex: toHex(frame),
      });
    }
    const text = `error: ${e.code}: ${e.message}\n  ${toHex(frame)}`;
    return at === undefined ? text : `${at} ${text}`;
  }
  if (format === "json") {
    const json = messageToJson(msg);
    return JSON.stringify(at === undefined ? json : { received: at, ...json });
  }
  const text = formatMessageText(msg);
  return at === undefined ? text : `${at} ${text}`;
}

/**
 * The line shown for a sequence gap event of the relay client.
 *
 * @param e the gap event
 * @returns e.g. `⚠ gap on source 20: expected 8, got 11 (3 missing)`
 * @example
 * ```ts
 * import type { RelayClient } from "../client/mod.ts";
 * declare const client: RelayClient;
 *
 * client.on("gap", (e) => console.error(gapLine(e)));
 * ```
 */
export function gapLine(e: GapEvent): string {
  return `⚠ gap on source ${e.source}: expected ${e.expected}, got ${e.got} (${e.missing} missing)`;
}

/**
 * Parses a sequence number given on the command line (`--from SEQ`): a
 * decimal u64, kept exact as a bigint.
 *
 * @param text the option value
 * @returns the sequence
 * @throws {RangeError} one line naming the value
 * @example
 * ```ts
 * parseSequence("18446744073709551615"); // 18446744073709551615n
 * ```
 */
export function parseSequence(text: string): bigint {
  const t = text.trim();
  if (!/^\d+$/.test(t)) {
    throw new RangeError(`Cannot parse sequence "${text}": expected a whole number 0 or more`);
  }
  const v = BigInt(t);
  if (v > 0xffffffffffffffffn) {
    throw new RangeError(`Cannot parse sequence "${text}": it is above 2^64 - 1`);
  }
  return v;
}

/**
 * The line shown for a recovery's answer (`torq sub --snapshot` or `--from`).
 *
 * @param r the answer
 * @param request what was asked
 * @param relay the relay's name, e.g. `signal`
 * @returns e.g. `recovered 4321 frames of source 20 after sequence 1000 (sequences 1001–5321) from the signal relay, complete`
 * @example
 * ```ts
 * import type { RelayClient } from "../client/mod.ts";
 *
 * declare const client: RelayClient;
 * const r = await client.recover({ snapshot: true });
 * console.error(recoveryLine(r, { snapshot: true }, client.relayName));
 * ```
 */
export function recoveryLine(r: RecoveryResult, request: RecoverOptions, relay: string): string {
  const range = r.frames === 0
    ? ""
    : r.frames === 1
    ? ` (sequence ${r.first})`
    : r.first <= r.last
    ? ` (sequences ${r.first}–${r.last})`
    // A snapshot leaves in the order its values were last updated, not by sequence.
    : ` (first sequence ${r.first}, last ${r.last})`;
  const dropped = r.duplicates === 0 ? "" : `, ${plural(r.duplicates, "frame")} received already`;
  if (request.snapshot === true) {
    const of = (request.source ?? 0) === 0 ? "" : ` of source ${request.source}`;
    return `snapshot${of}: ${plural(r.frames, "frame")}${range} from the ${relay} relay${dropped}`;
  }
  const after = BigInt(request.after);
  const head = `recovered ${plural(r.frames, "frame")} of ${
    request.source === 0 ? "every source" : `source ${request.source}`
  } after sequence ${after}${range} from the ${relay} relay`;
  if (r.status === "complete") return `${head}, complete${dropped}`;
  const lost = r.windowStart - 1n === after + 1n
    ? `${after + 1n} is lost`
    : `${after + 1n}–${r.windowStart - 1n} are lost`;
  return `${head}, partial: the window starts at ${r.windowStart}, ${lost}${dropped}`;
}

const BLOCKS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"] as const;

/**
 * One line per second for `--rate-graph`: the time, messages and bytes per
 * second, and a bar scaled to the highest rate seen so far.
 *
 * @example
 * ```ts
 * const g = new RateGraph();
 * g.line(1200, 250_000, Date.now()); // "14:29:09   1200 msg/s    250.0 KB/s  ██████████…"
 * ```
 */
export class RateGraph {
  /** Bar width in characters at the peak rate. */
  readonly width: number;
  #peak = 0;

  /**
   * Creates a graph; the peak starts at 0.
   *
   * @param width bar width at the peak (default 40)
   */
  constructor(width = 40) {
    this.width = width;
  }

  /** The highest rate seen so far, in messages per second. */
  get peak(): number {
    return this.#peak;
  }

  /**
   * Renders one interval.
   *
   * @param frames frames in the interval
   * @param bytes bytes in the interval
   * @param atMs end of the interval (ms since the epoch), shown as UTC `HH:MM:SS`
   * @param seconds length of the interval (default 1)
   * @returns the line
   */
  line(frames: number, bytes: number, atMs: number, seconds = 1): string {
    const rate = frames / seconds;
    const bps = bytes / seconds;
    if (rate > this.#peak) this.#peak = rate;
    const eighths = this.#peak === 0 ? 0 : Math.round((rate / this.#peak) * this.width * 8);
    const bar = "█".repeat(eighths >> 3) + BLOCKS[eighths & 7]!;
    const time = new Date(atMs).toISOString().slice(11, 19);
    return `${time}  ${Math.round(rate).toString().padStart(8)} msg/s  ${
      formatBytesRate(bps).padStart(11)
    }  ${bar}`.trimEnd();
  }
}

function formatBytesRate(bps: number): string {
  if (bps >= 1_048_576) return `${(bps / 1_048_576).toFixed(1)} MB/s`;
  if (bps >= 1024) return `${(bps / 1024).toFixed(1)} KB/s`;
  return `${Math.round(bps)} B/s`;
}

/** Options of {@linkcode connectSubscriber}. */
export interface SubscriberOptions {
  /** The relay's domain. */
  domain: DomainOption;
  /** Socket path. */
  path: string;
  /** Patterns and local filter. */
  plan: SubscriptionPlan;
  /** Closes the client when aborted. */
  signal?: AbortSignal | undefined;
}

/**
 * Connects to a relay and subscribes (the relay's answer confirms the filter
 * before this resolves).
 *
 * @param options domain, path, plan, abort signal
 * @returns the subscribed client
 * @throws {ConnectError} when the relay is not there (one-line message)
 * @throws {SubscribeError} when the relay refuses the patterns or does not answer
 * @example
 * ```ts
 * declare const path: string;
 *
 * const client = await connectSubscriber({ domain: "signal", path, plan: planSubscription({}) });
 * ```
 */
export function connectSubscriber(options: SubscriberOptions): Promise<RelayClient> {
  return RelayClient.connect({
    domain: options.domain,
    path: options.path,
    subscribe: options.plan.patterns,
    ...(options.plan.filter === undefined ? {} : { filter: options.plan.filter }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/**
 * A filter as shown to people: `["tlv.1", "source.20"]`.
 *
 * @param patterns the patterns
 * @returns the quoted list
 */
export function quotePatterns(patterns: readonly string[]): string {
  return `[${patterns.map((p) => JSON.stringify(p)).join(", ")}]`;
}

/** Options of {@linkcode runSub}. */
export interface SubOptions {
  /** The relay's domain. */
  domain: DomainOption;
  /** Socket path. */
  path: string;
  /** Patterns and local filter. */
  plan: SubscriptionPlan;
  /** How frames are printed (default `decode`). */
  format?: SubFormat;
  /** Prefix each frame with its receive time. */
  timestamp?: boolean;
  /** Print a per-second rate line instead of frames. */
  rateGraph?: boolean;
  /** Stop after this many frames. */
  count?: number | undefined;
  /** Stops the view (Ctrl-C). */
  signal?: AbortSignal;
  /** Called with every frame shown (before it is printed), e.g. to feed a `InstrumentCache`. */
  onFrame?: (frame: ReceivedFrame) => void;
  /**
   * Start with what the relay still holds (PROTOCOL.md 7.9): a snapshot, or a
   * source's frames after a sequence; its answer is a line on stderr.
   */
  recover?: RecoverOptions | undefined;
}

/** Where {@linkcode runSub} writes. */
export interface SubOutput {
  /** Writes text to stdout (already newline-terminated); awaited, so slow output slows reading. */
  out(text: string): Promise<void>;
  /** Writes one line to stderr (status, gaps). */
  err(line: string): void;
}

/** What {@linkcode runSub} did. */
export interface SubResult {
  /** Frames shown (passed the filters). */
  frames: number;
  /** Their bytes. */
  bytes: number;
  /** Sequence gaps seen. */
  gaps: number;
  /** Frames the local filter dropped. */
  filtered: number;
  /** The filter the relay confirmed. */
  filter: readonly string[];
  /** The relay's name and address, for the summary. */
  relay: string;
  /** Socket path. */
  address: string;
  /** Why the view ended: count reached, interrupted, or the relay closed the connection. */
  ended: "count" | "interrupted" | "closed";
  /** The error that closed the connection when `ended` is `closed`. */
  error?: Error;
  /** The relay's answer to `recover`, when asked. */
  recovery?: RecoveryResult;
}

/**
 * Runs the live view: connects, subscribes (then writes `subscribed to …` on
 * stderr), prints every frame (or a rate line per second) until `count`
 * frames, an abort, or the relay closing the connection. Gaps are written to
 * stderr as they happen.
 *
 * @param options relay, plan, output format, count, abort signal
 * @param output stdout and stderr writers
 * @returns the counts and why it ended
 * @throws {ConnectError} when the relay is not there
 * @throws {SubscribeError} when the subscription is refused
 * @example
 * ```ts
 * declare const path: string;
 *
 * const r = await runSub({ domain: "signal", path, plan: planSubscription({}), count: 2 }, {
 *   out: (t) => Deno.stdout.write(new TextEncoder().encode(t)).then(() => {}),
 *   err: (l) => console.error(l),
 * });
 * ```
 */
export async function runSub(options: SubOptions, output: SubOutput): Promise<SubResult> {
  const format = options.format ?? "decode";
  const count = options.count;
  const signal = options.signal;
  const client = await connectSubscriber({
    domain: options.domain,
    path: options.path,
    plan: options.plan,
    signal,
  });
  const filter = client.filter ?? options.plan.patterns;
  output.err(
    `subscribed to ${client.relayName} relay at ${client.address}, filter ${
      quotePatterns(filter)
    } (Ctrl-C to stop)`,
  );
  let gaps = 0;
  client.on("gap", (e) => {
    gaps++;
    output.err(gapLine(e));
  });
  let recovery: RecoveryResult | undefined;
  if (options.recover !== undefined) {
    try {
      recovery = await client.recover(options.recover);
    } catch (e) {
      await client.close();
      throw e;
    }
    output.err(recoveryLine(recovery, options.recover, client.relayName));
  }
  let frames = 0;
  let bytes = 0;
  let ended: SubResult["ended"] = "closed";
  let timer: ReturnType<typeof setInterval> | undefined;
  let writing: Promise<void> = Promise.resolve();
  if (options.rateGraph) {
    const graph = new RateGraph();
    let lastFrames = 0;
    let lastBytes = 0;
    let lastAt = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      const line = graph.line(
        frames - lastFrames,
        bytes - lastBytes,
        Date.now(),
        (now - lastAt) / 1000,
      );
      lastFrames = frames;
      lastBytes = bytes;
      lastAt = now;
      writing = writing.then(() => output.out(line + "\n"));
    }, 1000);
  }
  let pending: string[] = [];
  let pendingChars = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    pendingChars = 0;
    await output.out(text);
  };
  try {
    if (count === 0) ended = "count";
    else {
      for await (const f of client) {
        frames++;
        bytes += f.bytes.length;
        options.onFrame?.(f);
        if (!options.rateGraph) {
          const text = formatFrame(
            f.bytes,
            format,
            options.timestamp ? { receivedNs: nowNs() } : {},
          );
          // decode blocks are separated by a blank line, like `torq decode` of several frames
          const block = format === "decode" && frames > 1 ? `\n${text}\n` : `${text}\n`;
          pending.push(block);
          pendingChars += block.length;
        }
        const done = count !== undefined && frames >= count;
        if (done || pendingChars >= 65_536 || client.stats().bufferedFrames === 0) await flush();
        if (done) {
          ended = "count";
          break;
        }
      }
    }
  } finally {
    clearInterval(timer);
    await flush().catch(() => {});
    await writing.catch(() => {});
  }
  const closeError = ended === "count" ? undefined : await closedOrNow(client);
  await client.close();
  if (ended !== "count") ended = signal?.aborted ? "interrupted" : "closed";
  return {
    frames,
    bytes,
    gaps,
    filtered: client.stats().filtered,
    filter,
    relay: client.relayName,
    address: client.address,
    ended,
    ...(ended === "closed" && closeError !== undefined ? { error: closeError } : {}),
    ...(recovery === undefined ? {} : { recovery }),
  };
}

/** The client's closing error, when it has closed (without waiting otherwise). */
async function closedOrNow(client: RelayClient): Promise<Error | undefined> {
  if (!client.isClosed) return undefined;
  return await client.closed();
}

/**
 * The one-line summary of a view (stderr).
 *
 * @param r the result
 * @returns e.g. `received 3 frames (612 bytes), 0 gaps from signal relay at /tmp/torq/signals.sock`
 */
export function subSummary(r: SubResult): string {
  return `received ${plural(r.frames, "frame")} (${plural(r.bytes, "byte")}), ${
    plural(r.gaps, "gap")
  } from ${r.relay} relay at ${r.address}`;
}
