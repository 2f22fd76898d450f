/**
 * `torq replay`: play a recording (format in `record_file.ts`) back into a
 * relay with the original spacing (`1x`), faster or slower (`2x`, `0.5x`), as
 * fast as possible (`max`) or at a fixed rate (`500/s`); optionally from a
 * header sequence or a receive time, and in a loop.
 *
 * @module
 */

import { RelayClient } from "../client/mod.ts";
import { HEADER_SIZE, readSequence, Status, statusCode } from "../protocol/mod.ts";
import { DOMAIN_NAMES, type TorqConfig } from "../config/mod.ts";
import {
  type RelayLogic,
  relayLogicFromConfig,
  SequenceState,
  validatorForLogic,
} from "../relay/internal_mod.ts";
import {
  damageLine,
  readRecordingFile,
  type RecordedFrame,
  type RecordingError,
} from "./record_file.ts";
import { publishPaced, type PublishResult, type ScheduledFrame, wrongDomain } from "./pub.ts";
import { plural } from "../text/mod.ts";

/** How fast to replay. */
export type ReplayRate =
  | { kind: "speed"; factor: number }
  | { kind: "max" }
  | { kind: "fixed"; perSecond: number };

/**
 * Parses `--rate`: `1x` (original spacing), `2x`, `0.5x`, `max`, or `N/s`
 * (a plain number also means per second).
 *
 * @param text the option value
 * @returns the rate
 * @throws {RangeError} one line for anything else, or a non-positive value
 * @example
 * ```ts
 * parseReplayRate("2x"); // { kind: "speed", factor: 2 }
 * parseReplayRate("500/s"); // { kind: "fixed", perSecond: 500 }
 * ```
 */
export function parseReplayRate(text: string): ReplayRate {
  const t = text.trim().toLowerCase();
  if (t === "max") return { kind: "max" };
  const speed = /^(\d+(?:\.\d+)?|\.\d+)x$/.exec(t);
  const fixed = /^(\d+(?:\.\d+)?|\.\d+)(?:\/s)?$/.exec(t);
  const n = Number((speed ?? fixed)?.[1]);
  if ((speed === null && fixed === null) || !(n > 0) || !Number.isFinite(n)) {
    throw new RangeError(
      `Cannot parse rate "${text}": expected 1x, 2x, 0.5x (speed), max, or N/s (messages per second)`,
    );
  }
  return speed !== null ? { kind: "speed", factor: n } : { kind: "fixed", perSecond: n };
}

/** Where to start: the first frame with a header sequence ≥ `sequence`, or received at or after `timeNs`. */
export type ReplayFrom = { sequence: bigint } | { timeNs: bigint };

/**
 * Parses `--from`: a non-negative integer is a header sequence, anything else
 * an ISO-8601 time (compared with receive times).
 *
 * @param text the option value
 * @returns the start point
 * @throws {RangeError} for text that is neither
 * @example
 * ```ts
 * parseReplayFrom("42"); // { sequence: 42n }
 * parseReplayFrom("2026-11-23T14:29:08Z"); // { timeNs: 1795444148000000000n }
 * ```
 */
export function parseReplayFrom(text: string): ReplayFrom {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { sequence: BigInt(t) };
  const iso = /^(\d{4}-\d\d-\d\d)(T\d\d:\d\d(?::\d\d)?)?(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/i
    .exec(t);
  const whole = iso === null
    ? NaN
    : Date.parse(`${iso[1]}${iso[2] ?? "T00:00:00"}${(iso[4] ?? "Z").toUpperCase()}`);
  if (iso === null || Number.isNaN(whole) || (iso[3] !== undefined && iso[2] === undefined)) {
    throw new RangeError(
      `Cannot parse --from "${text}": expected a header sequence (an integer) or an ISO time such as 2026-11-23T14:29:08.5Z`,
    );
  }
  const frac = BigInt((iso[3] ?? "").padEnd(9, "0"));
  return { timeNs: BigInt(whole) * 1_000_000n + frac };
}

/** A recording read into memory. */
export interface Recording {
  /** Domain from the file header (0 = unknown). */
  domain: number;
  /** When recording started, ns. */
  startNs: bigint;
  /** The records in file order (every one before `damage`). */
  records: RecordedFrame[];
  /** What stopped reading before the end of the file (a torn last record), or null. */
  damage?: RecordingError | null;
}

/**
 * Reads a recording (any format of `RECORDING_FORMATS`) as far as it goes:
 * every record before a torn or damaged one is kept, and the damage is
 * returned with them.
 *
 * @param bytes the file
 * @returns header fields, records and damage
 * @throws {RecordingError} for a file that is not a recording or whose header is unreadable
 * @example
 * ```ts
 * loadRecording(await Deno.readFile("rec.torq")).records.length;
 * ```
 */
export function loadRecording(bytes: Uint8Array): Recording {
  const r = readRecordingFile(bytes);
  return { domain: r.domain, startNs: r.startNs, records: r.records, damage: r.damage };
}

/** A frame the target relay would refuse, found before sending. */
export interface Refusal {
  /** The record's 0-based index in the recording. */
  record: number;
  /** The relay's error code, e.g. `ChecksumMismatch`. */
  code: string;
}

/**
 * The relay logic a replay's frames are checked by: the configuration's
 * section for the domain.
 *
 * @param config the effective configuration (`--config`, `--env`, `--set`)
 * @param domain wire domain 1–3
 * @returns the logic, or null for the system domain
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 *
 * replayPolicy(loadConfig(), 2)?.policy; // "standard"
 * ```
 */
export function replayPolicy(config: TorqConfig, domain: number): RelayLogic | null {
  const name = DOMAIN_NAMES[domain - 1];
  return name === undefined ? null : relayLogicFromConfig(config.relays[name], null);
}

/**
 * Checks frames as a relay of `logic` would on one connection, in order:
 * size within `max_message_size`, its domain, then its validation policy
 * (checksum, TLV structure; under audit also ranges, sizes, sequences and the
 * timestamp window at `nowMs`), soft failures counting as refusals when the
 * relay is strict.
 *
 * @param records the frames to send
 * @param logic the target relay's logic
 * @param nowMs the time the relay would see them (default now)
 * @returns the records it would refuse, with the reason
 * @example
 * ```ts
 * import type { TorqConfig } from "../config/mod.ts";
 * declare const config: TorqConfig;
 * declare const recording: Recording;
 *
 * refusedRecords(recording.records, replayPolicy(config, 2)!); // [{ record: 7, code: "ChecksumMismatch" }]
 * ```
 */
export function refusedRecords(
  records: readonly RecordedFrame[],
  logic: RelayLogic,
  nowMs: number = Date.now(),
): Refusal[] {
  const wire = logic.legacyDomainNumbering ? logic.domain - 1 : logic.domain;
  const v = validatorForLogic(logic);
  const sequences = new SequenceState();
  const out: Refusal[] = [];
  for (const r of records) {
    const f = r.frame;
    let status: number = Status.OK;
    if (f.length > logic.maxMessageSize) status = Status.PayloadTooLarge;
    else if (f.length === HEADER_SIZE) continue; // a hello: counted by a relay, never refused
    else if (f[4] !== wire) {
      status = f[4] === 0 || f[4]! > 4 ? Status.InvalidRelayDomain : Status.WrongDomain;
    } else {
      status = v.check(f, 0, f.length, sequences, nowMs);
      if (status === Status.OK && v.soft !== 0 && logic.strict) {
        status = 31 - Math.clz32(v.soft & -v.soft); // the lowest soft status, as a relay reports
      }
      // As in the relay: a frame moves its source's sequence only when it is forwarded.
      if (status === Status.OK) v.commit(sequences);
    }
    if (status !== Status.OK) out.push({ record: r.index, code: statusCode(status) });
  }
  return out;
}

/**
 * The records from the start point on (all of them without one).
 *
 * @param records the recording's records
 * @param from start point
 * @returns the tail of `records`
 * @example
 * ```ts
 * declare const rec: Recording;
 *
 * selectFrom(rec.records, { sequence: 5n })[0]?.frame; // first frame with sequence ≥ 5
 * ```
 */
export function selectFrom(
  records: readonly RecordedFrame[],
  from?: ReplayFrom,
): readonly RecordedFrame[] {
  if (from === undefined) return records;
  const i = records.findIndex((r) =>
    "sequence" in from ? readSequence(r.frame, 0) >= from.sequence : r.receivedNs >= from.timeNs
  );
  return i < 0 ? [] : records.slice(i);
}

/** Options of {@linkcode replaySchedule}. */
export interface ScheduleOptions {
  /** How fast (default 1x). */
  rate?: ReplayRate;
  /** Repeat the records until `count` frames (forever without it). */
  loop?: boolean;
  /** Stop after this many frames. */
  count?: number | undefined;
}

/**
 * When each frame is published: original receive-time spacing divided by the
 * speed factor, a fixed interval, or no pause; a loop starts where the last
 * round ended.
 *
 * @param records the frames to play (e.g. from {@linkcode selectFrom})
 * @param options rate, loop, count
 * @returns the schedule (infinite when looping without a count)
 * @example
 * ```ts
 * declare const records: Recording["records"];
 *
 * [...replaySchedule(records, { rate: { kind: "max" } })].length === records.length; // true
 * ```
 */
export function* replaySchedule(
  records: readonly RecordedFrame[],
  options: ScheduleOptions = {},
): Generator<ScheduledFrame, void, undefined> {
  const rate = options.rate ?? { kind: "speed", factor: 1 };
  const count = options.count ?? Infinity;
  if (records.length === 0 || count <= 0) return;
  const first = records[0]!.receivedNs;
  let n = 0;
  let base = 0;
  do {
    let last = 0;
    for (const r of records) {
      let atMs: number | undefined;
      if (rate.kind === "speed") {
        last = Number(r.receivedNs - first) / 1e6 / rate.factor;
        atMs = base + Math.max(0, last);
      } else if (rate.kind === "fixed") {
        atMs = (n * 1000) / rate.perSecond;
      }
      yield { frame: r.frame, atMs };
      if (++n >= count) return;
    }
    base += Math.max(0, last);
  } while (options.loop);
}

/** Options of {@linkcode runReplay}. */
export interface ReplayOptions extends ScheduleOptions {
  /**
   * The target relay's logic for a domain (e.g. {@linkcode replayPolicy}): frames
   * it would refuse are not sent but reported (unless `force`). Without it
   * nothing is checked beyond the domain.
   */
  policyFor?: (domain: number) => RelayLogic | null;
  /** The recording. */
  recording: Recording;
  /** Relay domain (1–3); default: the recording's, else its first frame's. */
  domain?: number | undefined;
  /** Socket path. */
  path: string;
  /** Start point. */
  from?: ReplayFrom | undefined;
  /** Publish frames of another domain than the relay's, and frames its policy would refuse. */
  force?: boolean;
  /** Stops the replay (what was published is flushed). */
  signal?: AbortSignal;
}

/** What {@linkcode runReplay} did. */
export interface ReplayResult extends PublishResult {
  /** The relay's name. */
  relay: string;
  /** Socket path. */
  address: string;
  /** Frames not sent because the relay's policy would refuse them. */
  refused: Refusal[];
  /** Records checked (the selection, before any loop). */
  checked: number;
  /** The policy they were checked by (`standard`, …), or null when none was given. */
  policy: string | null;
}

/**
 * A replay that cannot start: `WrongDomain` (a frame of another domain than
 * the relay's, without `force`), `UnknownDomain` (no domain given and none in
 * the recording), `NothingToReplay` (no frame at or after `from`, or an empty
 * recording). The message is one line.
 *
 * @example
 * ```ts
 * declare const recording: Recording;
 * declare const path: string;
 *
 * try {
 *   await runReplay({ recording, path, domain: 1 });
 * } catch (e) {
 *   if (e instanceof ReplayError) console.error(e.code, e.message);
 * }
 * ```
 */
export class ReplayError extends Error {
  /** Why the replay cannot start. */
  readonly code: "WrongDomain" | "UnknownDomain" | "NothingToReplay" | "AllRefused";

  /**
   * Creates the error.
   *
   * @param code why
   * @param message one line
   */
  constructor(
    code: "WrongDomain" | "UnknownDomain" | "NothingToReplay" | "AllRefused",
    message: string,
  ) {
    super(message);
    this.name = "ReplayError";
    this.code = code;
  }
}

/**
 * The domain a replay targets when none is given: the recording header's, else
 * its first frame's.
 *
 * @param recording the recording
 * @returns a wire domain, or undefined for an empty recording of unknown domain
 */
export function recordingDomain(recording: Recording): number | undefined {
  if (recording.domain >= 1 && recording.domain <= 4) return recording.domain;
  return recording.records[0]?.frame[4];
}

/**
 * Plays a recording into a relay: checks domains (unless `force`), connects
 * publish-only (a hello first, so the relay writes nothing back), publishes on
 * schedule and flushes.
 *
 * @param options recording, target, rate, start, loop, count, abort signal
 * @returns counts, time, relay
 * @throws {ReplayError} when a frame is of another domain and `force` is off, or nothing is selected
 * @throws {ConnectError} when the relay is not there
 * @example
 * ```ts
 * const rec = loadRecording(await Deno.readFile("rec.torq"));
 * await runReplay({ recording: rec, path: "/tmp/torq/signals.sock", rate: { kind: "max" } });
 * ```
 */
export async function runReplay(options: ReplayOptions): Promise<ReplayResult> {
  const records = selectFrom(options.recording.records, options.from);
  const domain = options.domain ?? recordingDomain(options.recording);
  if (domain === undefined || domain < 1 || domain > 4) {
    throw new ReplayError(
      "UnknownDomain",
      "Cannot replay: the recording names no relay domain and has no frames; give the DOMAIN argument (market-data, signal or execution)",
    );
  }
  if (records.length === 0) {
    throw new ReplayError(
      "NothingToReplay",
      options.recording.records.length === 0
        ? "Cannot replay: the recording holds no frames"
        : `Cannot replay: none of the recording's ${options.recording.records.length} frames is at or after --from`,
    );
  }
  const relayNames = ["", "market-data", "signal", "execution", "system"];
  if (!options.force) {
    const wrong = wrongDomain(records.map((r) => r.frame), domain, relayNames[domain]!);
    if (wrong !== null) {
      throw new ReplayError(
        "WrongDomain",
        `Cannot replay: ${wrong.replace(/^frame (\d+)/, (_, n) => `frame ${n} of the replay`)}`,
      );
    }
  }
  const logic = options.force ? null : options.policyFor?.(domain) ?? null;
  const refused = logic === null ? [] : refusedRecords(records, logic);
  let sending = records;
  if (refused.length > 0) {
    const skip = new Set(refused.map((r) => r.record));
    sending = records.filter((r) => !skip.has(r.index));
    if (sending.length === 0) {
      throw new ReplayError(
        "AllRefused",
        `Cannot replay: ${
          refusalText(refused, records.length, relayNames[domain]!, logic!.policy)
        }`,
      );
    }
  }
  const client = await RelayClient.connect({ domain, path: options.path, publishOnly: true });
  try {
    const r = await publishPaced(
      client,
      replaySchedule(sending, options),
      options.signal,
    );
    return {
      ...r,
      relay: client.relayName,
      address: client.address,
      refused,
      checked: records.length,
      policy: logic?.policy ?? null,
    };
  } finally {
    await client.close();
  }
}

/**
 * One line about frames a relay would refuse: how many, by which policy, the
 * reasons with their first record.
 */
function refusalText(
  refused: readonly Refusal[],
  of: number,
  relay: string,
  policy: string,
): string {
  const byCode = new Map<string, Refusal[]>();
  for (const r of refused) byCode.set(r.code, [...(byCode.get(r.code) ?? []), r]);
  const reasons = [...byCode].map(([code, rs]) =>
    `${code} ×${rs.length} (first: record ${rs[0]!.record})`
  ).join(", ");
  return `the ${relay} relay's ${policy} policy would refuse ${
    refused.length === of ? `all ${of}` : `${refused.length} of ${of}`
  } frames: ${reasons}; --force sends them anyway`;
}

/**
 * What went wrong besides the frames that were sent, one line each: frames
 * not sent because the relay would refuse them, and a damaged or torn tail of
 * the recording (every complete record before it was sent).
 *
 * @param r the result
 * @param recording the recording
 * @param file the recording's path
 * @returns the lines (empty when the whole file was replayed)
 */
export function replayProblems(r: ReplayResult, recording: Recording, file: string): string[] {
  const lines: string[] = [];
  if (r.refused.length > 0) {
    lines.push(
      `${r.refused.length} ${r.refused.length === 1 ? "frame was" : "frames were"} not sent: ${
        refusalText(r.refused, r.checked, r.relay, r.policy ?? "")
      }`,
    );
  }
  if (recording.damage) lines.push(damageLine(recording.damage, recording.records.length, file));
  return lines;
}

/**
 * The one-line summary of `torq replay`.
 *
 * @param r the result
 * @param file the recording's path
 * @returns e.g. `replayed 10 frames (2040 bytes) from rec.torq to signal relay at PATH in 0.012 s`
 */
export function replaySummary(r: ReplayResult, file: string): string {
  return `replayed ${plural(r.frames, "frame")} (${
    plural(r.bytes, "byte")
  }) from ${file} to ${r.relay} relay at ${r.address} in ${(r.elapsedMs / 1000).toFixed(3)} s${
    r.interrupted ? " (interrupted)" : ""
  }`;
}
