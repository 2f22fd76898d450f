/**
 * The fuzzer's in-process engine: a seed corpus of valid frames (the spec's
 * worked examples and a frame of every registry type built with
 * MessageBuilder), a mutator that knows the wire format (bit flips,
 * truncations, length lies, extended-form edge cases, header fields, garbage,
 * splices), and targets that must never throw anything but a `FrameError`:
 *
 * - the decoder: `decodeMessage()` / `decodeMessages()` under several options;
 * - a `FrameReader` fed the mutants back to back in random splits, with its
 *   invariants checked (every frame it returns is framed right, every byte is
 *   accounted for as frame, garbage or buffered, its buffer stays bounded);
 * - the relay's per-frame code on every frame the reader returns: the three
 *   validation policies (`Validator.check`), `explainReject` (the error must
 *   name the same code), topic extraction, and Subscribe parsing and filter
 *   compilation. Policies are cross-checked with the decoder (standard accepts
 *   a frame exactly when the decoder does).
 *
 * Coverage-minded: every outcome is reduced to a feature (target, error code,
 * offset class, TLV type and form, …) and a mutant that reaches a feature not
 * seen before joins the corpus, so later mutants start from it.
 *
 * Deterministic for a seed and a frame count (the validators' clock is fixed).
 *
 * @module
 */

import { decodeFrameAt, decodeMessage, decodeMessages } from "../src/protocol/message.ts";
import { FrameError, Status, statusCode } from "../src/protocol/errors.ts";
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { TLV_TYPES, type TlvTypeInfo } from "../src/protocol/registry.ts";
import { decodePayload, hasLayout } from "../src/protocol/payloads.ts";
import { HEADER_SIZE, MAGIC, readU32, sealChecksum } from "../src/protocol/header.ts";
import { readTlvAt, TlvCursor } from "../src/protocol/tlv.ts";
import { DOMAIN_NUMBERS } from "../src/protocol/domains.ts";
import { encodeSubscribe, parseSubscribe, SUBSCRIBE_TLV } from "../src/protocol/subscribe.ts";
import { auditTlvRanges, type PolicyName, SequenceState, Validator } from "../src/relay/policy.ts";
import { explainReject } from "../src/relay/rejects.ts";
import {
  type ExtractionStrategy,
  Filter,
  FrameTopics,
  TopicRegistry,
} from "../src/protocol/topics.ts";
import {
  EXECUTION_LOGIC,
  MARKET_DATA_LOGIC,
  type RelayLogic,
  SIGNAL_LOGIC,
} from "../src/relay/logic.ts";
import { fromHex, VECTORS } from "../tests/_support/vectors.ts";

/** Header timestamp of every seed frame (ns), and the validators' fixed clock. */
export const FIXED_TIMESTAMP_NS = 1_700_000_000_000_000_000n;
const FIXED_NOW_MS = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------------
// Random numbers.

/**
 * A small, fast, seeded PRNG (mulberry32) with the helpers the mutator needs.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.int(10); // the same number for seed 42, every run
 * ```
 */
export class Rng {
  #a: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }

  /** @returns the next uint32 */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * @param n exclusive bound (≥ 1)
   * @returns an integer in [0, n)
   */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /**
   * @param p probability in [0, 1]
   * @returns true with probability p
   */
  chance(p: number): boolean {
    return this.next() < p * 4294967296;
  }

  /**
   * @param items a non-empty list
   * @returns one of them
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /**
   * @param n length
   * @returns n random bytes
   */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The seed corpus.

// Vendor types are sent on market data, framing types ("any") on system.
const WIRE_DOMAIN: Readonly<Record<string, number>> = { ...DOMAIN_NUMBERS, vendor: 1, any: 4 };

/** Source byte per wire domain for seed frames (known SourceTypes). */
const DOMAIN_SOURCE: Readonly<Record<number, number>> = { 1: 2, 2: 20, 3: 40, 4: 80 };

function valueLength(info: TlvTypeInfo, rng: Rng): number {
  const s = info.size;
  if (s.kind === "fixed") return s.size;
  if (s.kind === "bounded") return s.min + rng.int(Math.min(s.max, 600) - s.min + 1);
  return rng.int(64);
}

/** A TLV value of `type`: layout fields round-tripped through the codec where possible. */
function seedValue(info: TlvTypeInfo, rng: Rng, random: boolean): Uint8Array {
  const length = info.layoutSize ?? valueLength(info, rng);
  const raw = random ? rng.bytes(length) : new Uint8Array(length);
  if (info.type === SUBSCRIBE_TLV) {
    return encodeSubscribe({ mode: rng.int(3), patterns: ["*", "tlv.1*", "source.2"] });
  }
  return raw;
}

/**
 * Valid frames to mutate from: the spec's worked examples (its negative cases
 * too), one frame per registry type in its home domain (layout types encoded
 * from typed fields with `MessageBuilder.addPayload`, with and without
 * checksum, zero and random values), extended-form twins, multi-TLV frames,
 * hellos and Subscribes.
 *
 * @param seed seed of the random values
 * @returns the frames
 * @example
 * ```ts
 * seedCorpus().length; // about 400 frames
 * ```
 */
export function seedCorpus(seed = 1): Uint8Array[] {
  const rng = new Rng(seed ^ 0x5eed);
  const out: Uint8Array[] = VECTORS.map((v) => fromHex(v.hex));
  const builders = new Map<string, MessageBuilder>();
  const builder = (domain: number, checksum: boolean) => {
    const key = `${domain}:${checksum}`;
    let b = builders.get(key);
    if (b === undefined) {
      b = new MessageBuilder({ domain, source: DOMAIN_SOURCE[domain] ?? 99, checksum });
      builders.set(key, b);
    }
    return b;
  };
  const records: { domain: number; type: number; value: Uint8Array }[] = [];
  for (const info of TLV_TYPES) {
    if (info.type === 0 || info.type === 255 || info.size.kind === "marker") continue;
    const domain = WIRE_DOMAIN[info.domain] ?? 1;
    for (const random of [false, true]) {
      const value = seedValue(info, rng, random);
      const checksum = !random || rng.chance(0.5);
      const b = builder(domain, checksum).begin({ timestamp: FIXED_TIMESTAMP_NS });
      let typed = false;
      if (hasLayout(info.type)) {
        try {
          b.addPayload(info.type, decodePayload(info.type, value));
          typed = true;
        } catch (e) {
          if (!(e instanceof FrameError)) throw e;
          b.begin({ timestamp: FIXED_TIMESTAMP_NS });
        }
      }
      try {
        if (!typed) b.addTlv(info.type, value);
        const frame = b.build();
        out.push(frame);
        records.push({ domain, type: info.type, value: frame.subarray(HEADER_SIZE + 2) });
        if (value.length <= 255) out.push(toExtended(frame));
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
      }
    }
  }
  // Multi-TLV frames of one domain.
  for (let i = 0; i < 60; i++) {
    const a = rng.pick(records);
    const b = builder(a.domain, true).begin({ timestamp: FIXED_TIMESTAMP_NS });
    try {
      for (let k = 0; k < 2 + rng.int(3); k++) {
        const r = rng.pick(records.filter((x) => x.domain === a.domain));
        if (r.value.length <= 255) b.addTlv(r.type, r.value);
      }
      out.push(b.build());
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
    }
  }
  // Hellos, Subscribes on the system domain and on each relay's own.
  const hello = new Uint8Array(HEADER_SIZE);
  hello.set([0xef, 0xbe, 0xad, 0xde, 1, 1, 2, 0]);
  out.push(hello);
  for (const domain of [1, 2, 3, 4]) {
    out.push(
      builder(domain, true).begin({ timestamp: FIXED_TIMESTAMP_NS, sequence: 0 })
        .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: domain % 3, patterns: ["tlv.2*", "*"] }))
        .build(),
    );
  }
  return out;
}

/** The frame with its first TLV re-encoded in the extended form (`FF 00 t len16`). */
function toExtended(frame: Uint8Array): Uint8Array {
  const t = frame[HEADER_SIZE]!;
  const n = frame[HEADER_SIZE + 1]!;
  const out = new Uint8Array(frame.length + 3);
  out.set(frame.subarray(0, HEADER_SIZE));
  out.set([255, 0, t, n & 0xff, n >> 8], HEADER_SIZE);
  out.set(frame.subarray(HEADER_SIZE + 2), HEADER_SIZE + 5);
  fixSize(out);
  reseal(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const INTERESTING_BYTES = [0, 1, 2, 3, 4, 5, 0x20, 0x28, 0x71, 0x7f, 0x80, 0xc8, 0xfe, 0xff];
const MAGIC_BYTES = [0xef, 0xbe, 0xad, 0xde];
/** payload_size lies: limits of the protocol and of each relay, and their neighbours. */
const SIZE_LIES = [
  0,
  1,
  2,
  4,
  5,
  31,
  32,
  255,
  256,
  65_535,
  65_536,
  65_504,
  65_505,
  32_736,
  32_737,
  16_352,
  16_353,
  1_048_544,
  1_048_545,
  0x7fffffff,
  0x80000000,
  0xffffffff,
];
const EXT_LENGTHS = [0, 1, 254, 255, 256, 257, 1000, 65_534, 65_535];
/** Longest mutant: one maximal extended record and a header, plus a little. */
const MAX_MUTANT = 66_000;
/** Longest mutant kept in the corpus (big inputs are slow and rarely more interesting). */
const MAX_KEPT = 4096;

/** Sets payload_size to what the bytes after the header really hold. */
function fixSize(b: Uint8Array): void {
  if (b.length < 28) return;
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(24, b.length - HEADER_SIZE, true);
}

/** Recomputes the checksum when the frame is whole. */
function reseal(b: Uint8Array): void {
  if (b.length < HEADER_SIZE || readU32(b, 24) !== b.length - HEADER_SIZE) return;
  sealChecksum(b, 0);
}

/** Record starts of the frame's TLV area, walked leniently until the first fault. */
function recordStarts(b: Uint8Array): number[] {
  const out: number[] = [];
  const c = new TlvCursor();
  let off = HEADER_SIZE;
  while (off < b.length && out.length < 64) {
    out.push(off);
    const next = readTlvAt(b, off, b.length, c);
    if (next < 0) break;
    off = next;
  }
  return out;
}

function splice(a: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length - remove + insert.length);
  out.set(a.subarray(0, at));
  out.set(insert, at);
  out.set(a.subarray(at + remove), at + insert.length);
  return out;
}

function u16(n: number): [number, number] {
  return [n & 0xff, (n >> 8) & 0xff];
}

/**
 * Makes mutants of corpus frames. Each `next()` picks a corpus entry and
 * applies one to four mutations, then (often) makes payload_size honest and
 * reseals the checksum, so that mutants reach the deeper checks.
 *
 * @example
 * ```ts
 * const mutator = new Mutator(new Rng(1), seedCorpus());
 * const input = mutator.next(); // bytes to feed a decoder
 * ```
 */
export class Mutator {
  /** The frames mutated from (grows when the caller adds interesting mutants). */
  readonly corpus: Uint8Array[];
  readonly #rng: Rng;

  /**
   * @param rng random source
   * @param corpus frames to start from
   */
  constructor(rng: Rng, corpus: Uint8Array[]) {
    this.#rng = rng;
    this.corpus = corpus;
  }

  /** @returns one mutant (a new array) */
  next(): Uint8Array {
    const rng = this.#rng;
    // Recent additions are the interesting ones: favour the corpus's newest quarter.
    const n = this.corpus.length;
    const base = rng.chance(0.5) ? this.corpus[n - 1 - rng.int(Math.max(1, n >> 2))]! : rng.pick(
      this.corpus,
    );
    let m: Uint8Array = base.slice();
    const rounds = 1 + rng.int(4);
    for (let i = 0; i < rounds; i++) m = this.#mutate(m);
    if (m.length > MAX_MUTANT) m = m.subarray(0, MAX_MUTANT).slice();
    if (rng.chance(0.5)) fixSize(m);
    if (rng.chance(0.6)) reseal(m);
    return m;
  }

  #mutate(m: Uint8Array): Uint8Array {
    const rng = this.#rng;
    const len = m.length;
    switch (rng.int(16)) {
      case 0: { // bit flips, half of them in the header
        const flips = 1 + rng.int(4);
        for (let i = 0; i < flips && len > 0; i++) {
          const at = rng.chance(0.5) ? rng.int(Math.min(len, HEADER_SIZE)) : rng.int(len);
          m[at]! ^= 1 << rng.int(8);
        }
        return m;
      }
      case 1: // an interesting byte anywhere
        if (len > 0) m[rng.int(len)] = rng.pick(INTERESTING_BYTES);
        return m;
      case 2: { // truncation: anywhere, or at the edges of the header
        const cut = rng.pick([rng.int(len + 1), 0, 4, 27, 28, 31, 32, 33, 34, len - 1]);
        return m.subarray(0, Math.max(0, Math.min(len, cut))).slice();
      }
      case 3: { // a payload_size lie
        if (len < 28) return m;
        const honest = len - HEADER_SIZE;
        const v = rng.chance(0.4) ? rng.pick(SIZE_LIES) : Math.max(0, honest + rng.int(33) - 16);
        new DataView(m.buffer, m.byteOffset, m.byteLength).setUint32(24, v >>> 0, true);
        return m;
      }
      case 4: { // TLV type or length surgery on one record
        const starts = recordStarts(m);
        if (starts.length === 0) return m;
        const at = rng.pick(starts);
        if (at + 1 >= len) return m;
        if (rng.chance(0.5)) m[at] = rng.pick([0, 1, 2, 32, 40, 113, 200, 254, 255, rng.int(256)]);
        else m[at + 1] = rng.pick([0, 1, 2, 254, 255, (m[at + 1]! + 1) & 0xff, rng.int(256)]);
        return m;
      }
      case 5: { // re-encode one record in the extended form, with edge-case lengths
        const starts = recordStarts(m);
        if (starts.length === 0) return m;
        const at = rng.pick(starts);
        if (at + 2 > len || m[at] === 255) return m;
        const t = m[at]!;
        const n = m[at + 1]!;
        const ext = rng.chance(0.5) ? n : rng.pick(EXT_LENGTHS);
        const reserved = rng.chance(0.8) ? 0 : rng.pick([1, 0x80, 0xff]);
        const type = rng.chance(0.85) ? t : rng.pick([0, 255]);
        return splice(m, at, 2, new Uint8Array([255, reserved, type, ...u16(ext)]));
      }
      case 6: { // a fresh extended record with a long value, appended
        const n = rng.pick(EXT_LENGTHS);
        // Long values are mostly length lies: a whole 64 KiB record now and then.
        const have = n <= 1000
          ? (rng.chance(0.7) ? n : rng.int(n + 1))
          : rng.chance(0.05)
          ? n
          : rng.int(64);
        const rec = new Uint8Array(5 + have);
        rec.set([255, 0, rng.pick([1, 3, 32, 40, 113, 200, 202]), ...u16(n)]);
        return splice(m, len, 0, rec);
      }
      case 7: { // header fields: version, domain, source, flags, sequence, timestamp
        if (len < HEADER_SIZE) return m;
        const field = rng.int(6);
        if (field === 0) m[5] = rng.pick([0, 2, 255, rng.int(256)]);
        else if (field === 1) m[4] = rng.pick([0, 1, 2, 3, 4, 5, 255]);
        else if (field === 2) m[6] = rng.pick([0, 2, 20, 40, 99, 100, 101, 255]);
        else if (field === 3) m[7] = rng.int(256);
        else if (field === 4) m.set(rng.chance(0.5) ? rng.bytes(8) : new Uint8Array(8), 8);
        else m.set(rng.bytes(8), 16);
        return m;
      }
      case 8: { // magic variants
        if (len < 4) return m;
        m.set(rng.pick([[0xde, 0xad, 0xbe, 0xef], [0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [
          0xef,
          0xbe,
          0xad,
          rng.int(256),
        ]]));
        return m;
      }
      case 9: { // garbage inserted somewhere, sometimes holding a (partial) magic
        const g = rng.bytes(4 + rng.int(32));
        if (rng.chance(0.4)) g.set(MAGIC_BYTES.slice(0, 1 + rng.int(4)), rng.int(g.length - 3));
        return splice(m, rng.int(len + 1), 0, g);
      }
      case 10: { // a range deleted
        if (len < 2) return m;
        const at = rng.int(len);
        return splice(m, at, 1 + rng.int(Math.min(64, len - at)), new Uint8Array(0));
      }
      case 11: { // another corpus frame appended (several frames in one input)
        const other = rng.pick(this.corpus);
        return len + other.length > 8192 ? m : splice(m, len, 0, other);
      }
      case 12: { // splice: this header, another frame's payload
        const other = rng.pick(this.corpus);
        if (len < HEADER_SIZE || other.length < HEADER_SIZE) return m;
        const out = splice(m, HEADER_SIZE, len - HEADER_SIZE, other.subarray(HEADER_SIZE));
        fixSize(out);
        return out;
      }
      case 13: { // checksum: zero, random, or right
        if (len < HEADER_SIZE) return m;
        const k = rng.int(3);
        if (k === 0) m.fill(0, 28, 32);
        else if (k === 1) m.set(rng.bytes(4), 28);
        else reseal(m);
        return m;
      }
      case 14: { // one record duplicated
        const starts = recordStarts(m);
        if (starts.length === 0) return m;
        const i = rng.int(starts.length);
        const from = starts[i]!;
        const to = starts[i + 1] ?? len;
        return splice(m, to, 0, m.slice(from, to));
      }
      default: { // random bytes, sometimes a partial magic then noise
        const g = rng.bytes(rng.int(48));
        if (g.length >= 4 && rng.chance(0.5)) g.set(MAGIC_BYTES, 0);
        return rng.chance(0.5) ? g : splice(m, rng.int(len + 1), 0, g);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Targets and the fuzz loop.

/** A crash (a non-FrameError thrown) or a broken invariant, with the input that caused it. */
export interface FuzzFinding {
  /** Which target: `decoder`, `reader`, `validator:<policy>`, `explain`, `topics`, `subscribe`. */
  target: string;
  /** What went wrong. */
  error: string;
  /** The input (hex, at most 512 bytes shown). */
  input: string;
}

/** What {@linkcode fuzzCore} reports. */
export interface CoreFuzzReport {
  /** Seed of the run. */
  seed: number;
  /** Mutants tried (each through the decoder and the FrameReader). */
  framesTried: number;
  /** Bytes of those mutants. */
  bytesTried: number;
  /** Wall time of the run. */
  elapsedMs: number;
  /** Decoder outcomes. */
  decoder: { ok: number; errors: Record<string, number> };
  /** FrameReader outcomes over the mutant stream. */
  reader: {
    frames: number;
    garbageBytes: number;
    losses: Record<string, number>;
    largestBufferBytes: number;
  };
  /** Verdicts of each validation policy on the reader's frames (`OK` or a code). */
  policies: Record<PolicyName, Record<string, number>>;
  /** Subscribe records met: parsed, or refused by code. */
  subscribes: Record<string, number>;
  /** Anything thrown that is not a FrameError (must be 0). */
  crashes: number;
  /** Broken invariants (must be 0). */
  invariantFailures: number;
  /** The first findings, with their inputs. */
  findings: FuzzFinding[];
  /** Coverage feedback. */
  coverage: { features: number; seeds: number; corpus: number };
}

/** Options of {@linkcode fuzzCore}. */
export interface CoreFuzzOptions {
  /** Seed (default 1). */
  seed?: number;
  /** Stop after this many mutants (default 100,000 unless `seconds` is given). */
  frames?: number;
  /** Stop after this long. */
  seconds?: number;
  /** Largest corpus (default 4,096 entries). */
  corpusMax?: number;
  /** Called every `progressEvery` mutants with the report so far. */
  onProgress?: (report: CoreFuzzReport) => void;
  /** Progress period in mutants (default 1,000,000). */
  progressEvery?: number;
}

const HEADER_FIELD = [
  "magic",
  "magic",
  "magic",
  "magic",
  "domain",
  "version",
  "source",
  "flags",
  ...Array(8).fill("sequence"),
  ...Array(8).fill("timestamp"),
  ...Array(4).fill("payload_size"),
  ...Array(4).fill("checksum"),
] as const;

function offsetClass(off: number | undefined): string {
  if (off === undefined) return "-";
  if (off < HEADER_SIZE) return HEADER_FIELD[off] ?? "?";
  const rel = off - HEADER_SIZE;
  return `p${rel === 0 ? 0 : 32 - Math.clz32(rel)}`;
}

function hexOf(b: Uint8Array): string {
  let s = "";
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) s += b[i]!.toString(16).padStart(2, "0");
  return n < b.length ? `${s}… (${b.length} bytes)` : s;
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

const DECODE_VARIANTS = [
  {},
  { verifyChecksum: false, checkSizes: false },
  { legacyNumbering: true },
  { maxPayload: 16_352 },
] as const;

const POLICY_LOGIC: Readonly<Record<PolicyName, RelayLogic>> = {
  performance: MARKET_DATA_LOGIC,
  standard: SIGNAL_LOGIC,
  audit: EXECUTION_LOGIC,
};
const POLICIES: readonly PolicyName[] = ["performance", "standard", "audit"];
const STRATEGIES: readonly ExtractionStrategy[] = [
  { kind: "source_type" },
  { kind: "instrument_venue" },
  { kind: "custom_field", type: 32 },
  { kind: "fixed", name: "x" },
];

/** Per-frame relay code under test, built once per run. */
class RelayTargets {
  readonly validators: { policy: PolicyName; logic: RelayLogic[]; v: Validator[] }[];
  readonly seq = new SequenceState();
  readonly registry = new TopicRegistry("default", ["orders"], true);
  readonly topics: FrameTopics[];
  readonly cursor = new TlvCursor();

  constructor() {
    this.validators = POLICIES.map((policy) => {
      const logic = POLICY_LOGIC[policy];
      // One validator per wire domain 1–4, as a relay of that domain would run it.
      const v = [1, 2, 3, 4].map((d) =>
        new Validator({
          policy,
          strict: logic.strict,
          allowedTlv: auditTlvRanges(d, logic.allowVendor),
          strictSourceCheck: false,
          maxSequenceGap: 100,
          maxFutureMs: 5_000,
          maxAgeMs: 60_000,
        })
      );
      const domains = [1, 2, 3, 4] as const;
      return { policy, logic: domains.map((domain) => ({ ...logic, domain })), v };
    });
    this.topics = STRATEGIES.map((s) => new FrameTopics(this.registry, s));
  }
}

/**
 * Runs the decoder, FrameReader and relay-policy fuzzer in this process.
 *
 * @param options seed and bounds
 * @returns the report, and the final corpus (for the live-relay stage)
 * @example
 * ```ts
 * const { report } = fuzzCore({ seed: 7, frames: 20_000 });
 * console.log(report.crashes); // 0
 * ```
 */
export function fuzzCore(
  options: CoreFuzzOptions = {},
): { report: CoreFuzzReport; corpus: Uint8Array[] } {
  const seed = options.seed ?? 1;
  const maxFrames = options.frames ?? (options.seconds === undefined ? 100_000 : Infinity);
  const deadline = options.seconds === undefined ? Infinity : Date.now() + options.seconds * 1000;
  const corpusMax = options.corpusMax ?? 4096;
  const progressEvery = options.progressEvery ?? 1_000_000;
  let nextProgress = progressEvery;
  const rng = new Rng(seed);
  const seeds = seedCorpus(seed);
  const corpus = seeds.slice();
  const mutator = new Mutator(rng, corpus);
  const features = new Set<string>();
  const started = Date.now();
  const report: CoreFuzzReport = {
    seed,
    framesTried: 0,
    bytesTried: 0,
    elapsedMs: 0,
    decoder: { ok: 0, errors: {} },
    reader: { frames: 0, garbageBytes: 0, losses: {}, largestBufferBytes: 0 },
    policies: { performance: {}, standard: {}, audit: {} },
    subscribes: {},
    crashes: 0,
    invariantFailures: 0,
    findings: [],
    coverage: { features: 0, seeds: seeds.length, corpus: 0 },
  };
  const relay = new RelayTargets();
  // Two readers: the protocol's limit and execution's, fed the same stream.
  const readers = [
    { r: new FrameReader({ capacity: 4096 }), max: 1_048_544, pushed: 0, frameBytes: 0 },
    {
      r: new FrameReader({ capacity: 4096, maxPayload: 16_352 }),
      max: 16_352,
      pushed: 0,
      frameBytes: 0,
    },
  ];
  let fresh = false;
  const feature = (f: string) => {
    if (!features.has(f)) {
      features.add(f);
      fresh = true;
    }
  };
  const finding = (target: string, error: string, input: Uint8Array, crash: boolean) => {
    if (crash) report.crashes++;
    else report.invariantFailures++;
    if (report.findings.length < 20) report.findings.push({ target, error, input: hexOf(input) });
  };

  // The decoder on one input.
  const decode = (m: Uint8Array, i: number) => {
    const variant = i & 3;
    const opts = DECODE_VARIANTS[variant]!;
    try {
      const msgs = (i & 4) === 0 ? [decodeMessage(m, opts)] : decodeMessages(m, opts);
      report.decoder.ok++;
      feature(`d${variant}:ok:${msgs.length > 1 ? "n" : msgs.length}`);
      for (const msg of msgs) {
        for (const t of msg.tlvs) {
          feature(`d:tlv:${t.type}:${t.form}:${t.fields !== null ? "f" : t.error?.code ?? "raw"}`);
        }
      }
    } catch (e) {
      if (!(e instanceof FrameError)) {
        finding("decoder", errorText(e), m, true);
        return;
      }
      bump(report.decoder.errors, e.code);
      feature(`d${variant}:${e.code}:${offsetClass(e.offset)}`);
    }
  };

  // The relay's per-frame code on a frame the reader returned.
  const onFrame = (
    b: Uint8Array,
    s: number,
    e: number,
    max: number,
    input: Uint8Array,
    targets: boolean,
  ) => {
    const size = e - s;
    if (
      readU32(b, s) !== MAGIC || b[s + 5] !== 1 || readU32(b, s + 24) > max ||
      size !== HEADER_SIZE + readU32(b, s + 24)
    ) {
      finding("reader", `bad frame at ${s}..${e}`, input, false);
      return;
    }
    if (!targets) return; // the relay's code runs on the first reader's frames only
    feature(`r:frame:${size === HEADER_SIZE ? "hello" : 32 - Math.clz32(size)}`);
    if (size === HEADER_SIZE) return;
    const frame = b.subarray(s, e);
    const domain = b[s + 4]!;
    const first = b[s + HEADER_SIZE]!;
    // Subscribe, as Relay#subscribe handles it.
    if (
      first === SUBSCRIBE_TLV || (first === 255 && size >= HEADER_SIZE + 3 && b[s + 34] === 113)
    ) {
      try {
        const next = readTlvAt(b, s + HEADER_SIZE, e, relay.cursor);
        if (next < 0) {
          bump(report.subscribes, statusCode(-next));
        } else {
          const c = relay.cursor;
          const req = parseSubscribe(b.subarray(c.valueStart, c.valueStart + c.length));
          new Filter(req.patterns.slice(0, 1024), relay.registry);
          bump(report.subscribes, "ok");
          feature(`s:ok:${req.mode}`);
        }
      } catch (err) {
        if (!(err instanceof FrameError)) {
          finding("subscribe", errorText(err), frame, true);
        } else {
          bump(report.subscribes, err.code);
          feature(`s:${err.code}:${offsetClass(err.offset)}`);
        }
      }
    }
    // Topic extraction (filtered consumers run it on every accepted frame).
    for (const t of relay.topics) {
      try {
        t.compute(b, s, e);
      } catch (err) {
        finding("topics", errorText(err), frame, true);
      }
    }
    if (domain < 1 || domain > 4) return; // the relay rejects it before any policy
    let standardOk = false;
    let auditOk = false;
    for (const { policy, logic, v } of relay.validators) {
      const validator = v[domain - 1]!;
      let verdict: Status;
      try {
        verdict = validator.check(b, s, e, relay.seq, FIXED_NOW_MS);
      } catch (err) {
        finding(`validator:${policy}`, errorText(err), frame, true);
        continue;
      }
      const code = verdict === Status.OK ? "OK" : statusCode(verdict);
      bump(report.policies[policy], code);
      feature(`v:${policy}:${code}:${validator.soft}`);
      if (policy === "standard") standardOk = verdict === Status.OK;
      if (policy === "audit") auditOk = verdict === Status.OK;
      const explain = verdict !== Status.OK ? verdict : firstSoft(validator.soft);
      if (explain === Status.OK) continue;
      try {
        const err = explainReject(explain, frame, validator, logic[domain - 1]!);
        if (err.code !== statusCode(explain)) {
          finding("explain", `${statusCode(explain)} explained as ${err.code}`, frame, false);
        }
        feature(`x:${err.code}:${offsetClass(err.offset)}`);
      } catch (err) {
        finding("explain", errorText(err), frame, true);
      }
    }
    // Cross-checks with the decoder.
    const decodes = (options: { checkSizes: boolean }) => {
      try {
        decodeFrameAt(frame, 0, options);
        return true;
      } catch (err) {
        if (!(err instanceof FrameError)) finding("decoder", errorText(err), frame, true);
        return false;
      }
    };
    const decodedPlain = decodes({ checkSizes: false });
    const decodedSized = auditOk ? decodes({ checkSizes: true }) : true;
    if (standardOk !== decodedPlain) {
      finding(
        "validator:standard",
        `standard policy ${standardOk ? "accepts" : "rejects"} a frame the decoder ${
          decodedPlain ? "accepts" : "rejects"
        }`,
        frame,
        false,
      );
    }
    if (auditOk && !decodedSized) {
      finding("validator:audit", "audit policy accepts a frame the decoder rejects", frame, false);
    }
  };

  const feed = (m: Uint8Array) => {
    for (const rd of readers) {
      const r = rd.r;
      const lossesBefore = r.resyncs;
      let off = 0;
      while (off < m.length) {
        // Random splits: single bytes, small pieces, or the rest at once.
        const k = rng.int(4);
        const n = k === 0 ? 1 : k === 1 ? 1 + rng.int(16) : k === 2 ? 1 + rng.int(512) : m.length;
        const piece = m.subarray(off, Math.min(m.length, off + n));
        // push() cannot consume while it copies: a piece may grow the buffer by its size.
        const bound = Math.max(r.buffer.length, r.buffered + piece.length + 65_536) +
          HEADER_SIZE + rd.max + 65_536;
        try {
          r.push(piece);
          rd.pushed += piece.length;
          if (r.buffer.length > bound) {
            finding("reader", `buffer grew to ${r.buffer.length} bytes (bound ${bound})`, m, false);
          }
          while (r.next()) {
            rd.frameBytes += r.frameEnd - r.frameStart;
            onFrame(r.buffer, r.frameStart, r.frameEnd, rd.max, m, rd === readers[0]);
          }
        } catch (err) {
          finding("reader", errorText(err), m, true);
          r.reset();
        }
        off += piece.length;
      }
      if (r.resyncs !== lossesBefore) feature(`r:loss:${rd.max}:${statusCode(r.lastLoss)}`);
      if (r.buffer.length > report.reader.largestBufferBytes) {
        report.reader.largestBufferBytes = r.buffer.length;
      }
      // Every byte is a frame's, skipped garbage, or still buffered; the buffer stays bounded.
      if (rd.pushed !== rd.frameBytes + r.garbageBytes + r.buffered) {
        finding("reader", "bytes pushed != frame bytes + garbage + buffered", m, false);
        rd.pushed = rd.frameBytes + r.garbageBytes + r.buffered;
      }
    }
  };

  // Stack traces cost more than the checks they come from: off while fuzzing,
  // back on to describe a crash (errorText() re-runs nothing; the message and
  // name say what was thrown, the input reproduces it).
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let i = 0;
  try {
    loop();
  } finally {
    Error.stackTraceLimit = stackLimit;
  }

  function loop(): void {
    while (i < maxFrames) {
      if ((i & 1023) === 0) {
        if (Date.now() >= deadline) break;
        if (i >= nextProgress) {
          nextProgress += progressEvery;
          finish();
          options.onProgress?.(report);
        }
      }
      const m = mutator.next();
      fresh = false;
      decode(m, i);
      feed(m);
      if (fresh && m.length <= MAX_KEPT) {
        if (corpus.length < corpusMax) corpus.push(m);
        else corpus[seeds.length + rng.int(corpusMax - seeds.length)] = m;
      }
      report.bytesTried += m.length;
      i++;
      report.framesTried = i;
    }
  }

  function finish(): void {
    report.elapsedMs = Date.now() - started;
    report.reader.frames = readers[0]!.r.frames + readers[1]!.r.frames;
    report.reader.garbageBytes = readers[0]!.r.garbageBytes + readers[1]!.r.garbageBytes;
    const losses: Record<string, number> = {};
    for (const { r } of readers) {
      for (let st = 1; st < r.losses.length; st++) {
        if (r.losses[st]! > 0) {
          losses[statusCode(st)] = (losses[statusCode(st)] ?? 0) + r.losses[st]!;
        }
      }
    }
    report.reader.losses = losses;
    report.coverage.features = features.size;
    report.coverage.corpus = corpus.length;
  }
  finish();
  return { report, corpus };
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function firstSoft(soft: number): Status {
  for (let st = 1; st < 32; st++) if ((soft & (1 << st)) !== 0) return st as Status;
  return Status.OK;
}
