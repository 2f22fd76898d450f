/**
 * The client's side of relay recovery (PROTOCOL.md 7.9, D-37): the
 * RecoveryRequest it writes, the RecoveryResponse it reads, the per-source
 * record of sequences never received ({@linkcode MissingRanges}), and the merge
 * that puts frames older than those already queued in front of them
 * ({@linkcode mergeOlder}). {@linkcode RelayClient.recover} and the client's
 * automatic mode are built from these; the layouts come from the TLV registry
 * (`encodePayload(110, …)`, `decodePayload(111, …)`).
 *
 * @module
 */

import {
  decodeErrorText,
  decodePayload,
  encodePayload,
  ERROR_TLV,
  HEADER_SIZE,
  type MessageBuilder,
  walkTlvs,
} from "../protocol/mod.ts";
import type { ReceivedFrame } from "./received_frame.ts";

/** RecoveryRequest (TLV 110). */
export const RECOVERY_REQUEST_TLV = 110;
/** RecoveryResponse (TLV 111). */
export const RECOVERY_RESPONSE_TLV = 111;
/** The system domain: a relay answers requests of this domain as its own. */
const SYSTEM_DOMAIN = 4;

/** RecoveryResponse `status` values (7.9). */
export const RecoveryStatus = { complete: 0, partial: 1, disabled: 2, malformed: 3 } as const;

/**
 * What to recover: a source's frames after a sequence (retransmit), or a
 * snapshot (market data: the last frame per instrument and TLV type; other
 * relays: their whole window).
 */
export type RecoverOptions = RetransmitOptions | SnapshotOptions;

/** Resend the retained frames of `source` whose sequence is above `after` (and at most `upTo`). */
export interface RetransmitOptions {
  /** Header source wanted (0 = every source). */
  source: number;
  /** Frames with a sequence above this one (0 = from the oldest retained). */
  after: bigint | number;
  /** …up to this one, inclusive (default: no bound). */
  upTo?: bigint | number;
  /** Not a snapshot. */
  snapshot?: false;
}

/** Send the relay's snapshot: last values on market data, the whole window elsewhere. */
export interface SnapshotOptions {
  /** A snapshot. */
  snapshot: true;
  /** Only frames with this header source (default 0: every source). */
  source?: number;
}

/** The relay's answer to a recovery, as {@linkcode RelayClient.recover} resolves it. */
export interface RecoveryResult {
  /** `complete`, or `partial`: the window no longer held the start (frames before `windowStart` are lost). */
  status: "complete" | "partial";
  /** Frames the relay replayed. */
  frames: number;
  /** Sequence of the first frame replayed (0 when none). */
  first: bigint;
  /** Sequence of the last frame replayed (0 when none). */
  last: bigint;
  /** The oldest sequence the relay still holds of the requested source (0 when unknown or any source). */
  windowStart: bigint;
  /** Replayed frames handed to the receive path (the rest were received before or filtered locally). */
  delivered: number;
  /**
   * Frames dropped because they had been received already (replayed or live),
   * or, after a snapshot, live frames it supersedes.
   */
  duplicates: number;
}

/** A decoded RecoveryResponse frame. */
export interface RecoveryAnswer {
  /** Wire status (see {@linkcode RecoveryStatus}). */
  status: number;
  /** Frames replayed. */
  frames: number;
  /** First replayed sequence. */
  first: bigint;
  /** Last replayed sequence. */
  last: bigint;
  /** Oldest retained sequence of the source. */
  windowStart: bigint;
  /** The relay's reason (Error TLV) when it refused the request. */
  reason: string | null;
}

/** A request as the client keeps it: what was asked, in wire terms. */
export interface RecoveryRequestFields {
  /** Source wanted (0: any). */
  source: number;
  /** Sequence after which frames are wanted. */
  after: bigint;
  /** Last sequence wanted (0: no bound). */
  upTo: bigint;
  /** A snapshot rather than a retransmit. */
  snapshot: boolean;
}

/**
 * Checks a caller's options and turns them into the request's fields. The
 * client checks only what the wire can carry (u64 sequences, a u32 source);
 * what a request means is the relay's to judge (it answers status 3 with its
 * reason).
 *
 * @param options what to recover
 * @returns the request's fields
 * @throws {TypeError} when a value has the wrong type
 * @throws {RangeError} when a value does not fit its field
 * @example
 * ```ts
 * requestFields({ source: 20, after: 1000n }); // { source: 20, after: 1000n, upTo: 0n, snapshot: false }
 * ```
 */
export function requestFields(options: RecoverOptions): RecoveryRequestFields {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot recover: options must be an object");
  }
  const source = options.source ?? 0;
  if (!Number.isInteger(source) || source < 0 || source > 0xffffffff) {
    throw new RangeError(`Cannot recover: source ${String(source)} is not a u32 (0 = any source)`);
  }
  if (options.snapshot === true) return { source, after: 0n, upTo: 0n, snapshot: true };
  const o = options as RetransmitOptions;
  if (o.after === undefined) {
    throw new TypeError("Cannot recover: give 'after' (a sequence) or 'snapshot: true'");
  }
  return {
    source,
    after: u64(o.after, "after"),
    upTo: o.upTo === undefined ? 0n : u64(o.upTo, "upTo"),
    snapshot: false,
  };
}

function u64(v: bigint | number, name: string): bigint {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`Cannot recover: ${name} ${v} is not a whole number (use a bigint)`);
    }
    v = BigInt(v);
  }
  if (typeof v !== "bigint") {
    throw new TypeError(`Cannot recover: ${name} must be a bigint or a number`);
  }
  if (v < 0n || v > 0xffffffffffffffffn) {
    throw new RangeError(`Cannot recover: ${name} ${v} is not a u64 sequence`);
  }
  return v;
}

/**
 * Builds a RecoveryRequest frame (relay domain 4, sequence 0).
 *
 * @param builder a builder whose source is the client's
 * @param fields the request
 * @returns the frame (a copy)
 * @example
 * ```ts
 * import { MessageBuilder } from "../protocol/mod.ts";
 *
 * const builder = new MessageBuilder({ domain: 2, source: 99 });
 * const frame = recoveryRequestFrame(builder, requestFields({ snapshot: true }));
 * ```
 */
export function recoveryRequestFrame(
  builder: MessageBuilder,
  fields: RecoveryRequestFields,
): Uint8Array {
  return builder.begin({ sequence: 0, domain: SYSTEM_DOMAIN }).addTlv(
    RECOVERY_REQUEST_TLV,
    encodePayload(RECOVERY_REQUEST_TLV, {
      last_sequence: fields.after,
      current_sequence: fields.upTo,
      consumer_id: fields.source,
      request_type: fields.snapshot ? 1 : 0,
    }),
  ).build();
}

/**
 * Whether `b[s, e)` is a relay's RecoveryResponse: relay domain 4, first TLV 111.
 *
 * @param b buffer
 * @param s frame start
 * @param e frame end
 * @returns true for an answer
 */
export function isRecoveryAnswer(b: Uint8Array, s: number, e: number): boolean {
  return b[s + 4] === SYSTEM_DOMAIN && e - s > HEADER_SIZE + 2 &&
    b[s + HEADER_SIZE] === RECOVERY_RESPONSE_TLV;
}

/**
 * Decodes a RecoveryResponse frame (and the relay's reason, when it sent an
 * Error TLV).
 *
 * @param frame the whole frame
 * @returns the answer
 * @throws {FrameError} when it does not decode
 * @example
 * ```ts
 * declare const frame: Uint8Array; // the relay's answer to a RecoveryRequest
 *
 * parseRecoveryAnswer(frame).status; // 0
 * ```
 */
export function parseRecoveryAnswer(frame: Uint8Array): RecoveryAnswer {
  let answer: RecoveryAnswer | null = null;
  let reason: string | null = null;
  for (const rec of walkTlvs(frame, HEADER_SIZE, frame.length)) {
    if (rec.type === RECOVERY_RESPONSE_TLV && answer === null) {
      const f = decodePayload(RECOVERY_RESPONSE_TLV, rec.value);
      answer = {
        status: Number(f.status),
        frames: Number(f.frames),
        first: BigInt(f.first_sequence as number | bigint),
        last: BigInt(f.last_sequence as number | bigint),
        windowStart: BigInt(f.window_start_sequence as number | bigint),
        reason: null,
      };
    } else if (rec.type === ERROR_TLV && reason === null) {
      reason = decodeErrorText(rec.value);
    }
  }
  if (answer === null) throw new RangeError("Cannot read recovery answer: no RecoveryResponse TLV");
  answer.reason = reason;
  return answer;
}

/**
 * Per source, the sequence ranges known never to have been received (the
 * gaps reported), so a replay can tell a frame received before from one that
 * was missed. Bounded: past `maxRanges` per source the lowest ranges are
 * forgotten (their frames then count as received: a later replay of them is
 * dropped, never delivered twice).
 *
 * @example
 * ```ts
 * const m = new MissingRanges();
 * m.add(20, 5n, 9n);
 * m.has(20, 7n); // true
 * m.delete(20, 7n); // 5–6 and 8–9 remain
 * ```
 */
export class MissingRanges {
  readonly #ranges = new Map<number, [bigint, bigint][]>();
  readonly #max: number;

  /** @param maxRanges most ranges kept per source (default 64) */
  constructor(maxRanges = 64) {
    this.#max = maxRanges;
  }

  /**
   * Records `from`–`to` (inclusive) of `source` as missing.
   *
   * @param source source byte
   * @param from first missing sequence
   * @param to last missing sequence
   */
  add(source: number, from: bigint, to: bigint): void {
    if (to < from) return;
    const list = [...(this.#ranges.get(source) ?? []), [from, to] as [bigint, bigint]];
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // Merge overlapping or adjacent ranges.
    const merged: [bigint, bigint][] = [];
    for (const r of list) {
      const last = merged.at(-1);
      if (last !== undefined && r[0] <= last[1] + 1n) {
        if (r[1] > last[1]) last[1] = r[1];
      } else merged.push([r[0], r[1]]);
    }
    this.#ranges.set(source, merged);
    if (merged.length > this.#max) merged.splice(0, merged.length - this.#max);
  }

  /**
   * Whether `sequence` of `source` is recorded as missing.
   *
   * @param source source byte
   * @param sequence the sequence
   * @returns true when missing
   */
  has(source: number, sequence: bigint): boolean {
    const list = this.#ranges.get(source);
    return list !== undefined && list.some((r) => r[0] <= sequence && sequence <= r[1]);
  }

  /**
   * Marks `sequence` of `source` as received.
   *
   * @param source source byte
   * @param sequence the sequence
   */
  delete(source: number, sequence: bigint): void {
    this.deleteRange(source, sequence, sequence);
  }

  /**
   * Marks `from`–`to` (inclusive) of `source` as received.
   *
   * @param source source byte
   * @param from first sequence
   * @param to last sequence
   */
  deleteRange(source: number, from: bigint, to: bigint): void {
    const list = this.#ranges.get(source);
    if (list === undefined || to < from) return;
    const out: [bigint, bigint][] = [];
    for (const [a, b] of list) {
      if (b < from || a > to) out.push([a, b]);
      else {
        if (a < from) out.push([a, from - 1n]);
        if (b > to) out.push([to + 1n, b]);
      }
    }
    this.#ranges.set(source, out);
  }

  /**
   * Forgets a source (it restarted its numbering).
   *
   * @param source source byte
   */
  clear(source: number): void {
    this.#ranges.delete(source);
  }

  /**
   * The ranges of a source, ascending (a copy).
   *
   * @param source source byte
   * @returns `[from, to]` pairs
   */
  ranges(source: number): [bigint, bigint][] {
    return (this.#ranges.get(source) ?? []).map((r) => [r[0], r[1]]);
  }
}

/**
 * Puts frames older than frames already queued in front of them: each older
 * frame goes before the first queued frame of its source with a higher
 * sequence, and as early as that allows (older frames of sources with nothing
 * newer queued lead the queue). Queued frames keep their order; so do the
 * older frames of one source (sorted by sequence).
 *
 * @param queued the frames waiting to be read, in order
 * @param older frames received later but older than queued frames of their source
 * @returns the new queue
 * @example
 * ```ts
 * import type { ReceivedFrame } from "./mod.ts";
 *
 * declare function f(source: number, sequence: bigint): ReceivedFrame;
 *
 * mergeOlder([f(20, 7n), f(21, 3n)], [f(20, 5n)]); // [f(20, 5n), f(20, 7n), f(21, 3n)]
 * ```
 */
export function mergeOlder(
  queued: readonly ReceivedFrame[],
  older: readonly ReceivedFrame[],
): ReceivedFrame[] {
  if (older.length === 0) return [...queued];
  const sorted = bySequence(older);
  // The first queued sequence of each source: older frames below it lead the queue.
  const firstQueued = new Map<number, bigint>();
  for (const f of queued) {
    const q = f.sequence;
    if (q !== 0n && !firstQueued.has(f.source)) firstQueued.set(f.source, q);
  }
  const out: ReceivedFrame[] = [];
  const later = new Map<number, ReceivedFrame[]>();
  for (const f of sorted) {
    const head = firstQueued.get(f.source);
    if (head === undefined || f.sequence < head) out.push(f);
    else {
      let list = later.get(f.source);
      if (list === undefined) later.set(f.source, list = []);
      list.push(f);
    }
  }
  for (const f of queued) {
    const list = later.get(f.source);
    const q = f.sequence;
    if (list !== undefined && q !== 0n) {
      while (list.length > 0 && list[0]!.sequence < q) out.push(list.shift()!);
    }
    out.push(f);
  }
  for (const list of later.values()) out.push(...list);
  return out;
}

/** One frame of {@linkcode mergeReplay}'s order, and whether the relay replayed it. */
export interface MergedFrame {
  /** The frame. */
  frame: ReceivedFrame;
  /** Replayed by the relay (else received live while the request was pending). */
  replayed: boolean;
}

/**
 * The order in which a recovery's frames are handed over: per source, the
 * replayed frames and the live frames held meanwhile merged by sequence, a
 * live frame the replay also brought (same sequence, same bytes: processes
 * that share a source value number alike) dropped. After a snapshot, live frames at
 * or below the snapshot's last sequence of their source are dropped too: the
 * snapshot holds the last value of each key as of the request, so such a
 * frame is in it or superseded by it. Unsequenced frames keep their place.
 *
 * @param replayed the replayed frames, in the relay's order (a snapshot's sorted by sequence)
 * @param live the live frames held meanwhile, in arrival order
 * @param snapshot whether the replay is a snapshot
 * @returns the order, and how many live frames were dropped
 * @example
 * ```ts
 * import type { ReceivedFrame } from "./mod.ts";
 *
 * // A frame of `source` numbered `sequence`: the same bytes for the same pair.
 * declare function f(source: number, sequence: bigint): ReceivedFrame;
 *
 * mergeReplay([f(20, 5n), f(20, 6n)], [f(20, 6n), f(20, 7n)], false).order.length; // 3
 * ```
 */
export function mergeReplay(
  replayed: readonly ReceivedFrame[],
  live: readonly ReceivedFrame[],
  snapshot: boolean,
): { order: MergedFrame[]; duplicates: number } {
  const groups = new Map<number, { r: ReceivedFrame[]; l: ReceivedFrame[] }>();
  const group = (source: number) => {
    let g = groups.get(source);
    if (g === undefined) groups.set(source, g = { r: [], l: [] });
    return g;
  };
  for (const f of replayed) group(f.source).r.push(f);
  for (const f of live) group(f.source).l.push(f);
  const order: MergedFrame[] = [];
  let duplicates = 0;
  for (const { r, l } of groups.values()) {
    if (snapshot) {
      let hi = 0n;
      for (const f of r) if (f.sequence > hi) hi = f.sequence;
      for (const frame of r) order.push({ frame, replayed: true });
      for (const frame of l) {
        const q = frame.sequence;
        if (q !== 0n && q <= hi) duplicates++;
        else order.push({ frame, replayed: false });
      }
      continue;
    }
    // A live frame the replay also brought: same number, same bytes. Live frames are few (those
    // of one round trip): only replayed numbers within theirs are indexed.
    let lo = -1n;
    let hi = -1n;
    for (const f of l) {
      const q = f.sequence;
      if (q !== 0n && (lo < 0n || q < lo)) lo = q;
      if (q > hi) hi = q;
    }
    const bySeq = new Map<bigint, ReceivedFrame[]>();
    for (const f of lo < 0n ? [] : r) {
      const q = f.sequence;
      if (q < lo || q > hi) continue;
      const list = bySeq.get(q);
      if (list === undefined) bySeq.set(q, [f]);
      else list.push(f);
    }
    const fresh = l.filter((f) => {
      const same = bySeq.get(f.sequence)?.some((x) => sameBytes(x.bytes, f.bytes)) ?? false;
      if (same) duplicates++;
      return !same;
    });
    let i = 0;
    let j = 0;
    while (i < r.length || j < fresh.length) {
      const a = r[i];
      const b = fresh[j];
      const qa = a?.sequence;
      const qb = b?.sequence;
      if (b === undefined || (a !== undefined && (qa === 0n || (qb !== 0n && qa! <= qb!)))) {
        order.push({ frame: a!, replayed: true });
        i++;
      } else {
        order.push({ frame: b, replayed: false });
        j++;
      }
    }
  }
  return { order, duplicates };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The frames sorted by sequence (stable: equal sequences keep their order).
 *
 * @param frames received frames
 * @returns a sorted copy
 */
export function bySequence(frames: readonly ReceivedFrame[]): ReceivedFrame[] {
  const keyed = frames.map((f) => ({ f, q: f.sequence }));
  keyed.sort((a, b) => (a.q < b.q ? -1 : a.q > b.q ? 1 : 0));
  return keyed.map((k) => k.f);
}
