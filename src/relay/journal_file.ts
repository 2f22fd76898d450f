/**
 * The execution journal's file format and its readers (PROTOCOL.md 7.5, 7.9,
 * **[D-37]**, **[D-40]**): every frame an audited relay receives, byte for byte,
 * with its receive time, connection and verdict. The writer is
 * {@linkcode AuditJournal} (journal.ts); this module reads what it wrote. All
 * integers are little-endian.
 *
 * File header (32 bytes + the relay's name, padded to a multiple of 8):
 *
 * | Off | Size | Field           | Meaning                                                  |
 * | --: | ---: | --------------- | -------------------------------------------------------- |
 * |   0 |    8 | `magic`         | ASCII `TORQJNL1` (`54 4f 52 51 4a 4e 4c 31`)             |
 * |   8 |    2 | `version`       | u16, `1`                                                 |
 * |  10 |    2 | `header_length` | u16, bytes of this header (32 + name, padded to 8)       |
 * |  12 |    1 | `relay_domain`  | u8, the relay's domain (1–4)                             |
 * |  13 |    1 | `name_length`   | u8, bytes of the relay's name                            |
 * |  14 |    2 | `reserved`      | u16, `0`                                                 |
 * |  16 |    8 | `created_ns`    | u64, when the file was started, ns since the epoch       |
 * |  24 |    4 | `segment`       | u32, 1 for a journal's first file, +1 at each rotation   |
 * |  28 |    4 | `header_crc`    | u32, CRC-32 of the header with this field read as 0      |
 * |  32 |    … | `relay`         | the relay's name, UTF-8, then zero bytes to the length   |
 *
 * Then records, back to back (24 bytes + metadata + the frame):
 *
 * | Off | Size   | Field         | Meaning                                                          |
 * | --: | -----: | ------------- | ---------------------------------------------------------------- |
 * |   0 |      4 | `length`      | u32, bytes of the whole record (24 + `meta_length` + frame)      |
 * |   4 |      4 | `crc`         | u32, CRC-32 of the record's bytes 8 … `length`                   |
 * |   8 |      8 | `receive_ns`  | u64, when the relay read the frame, ns since the epoch           |
 * |  16 |      4 | `conn`        | u32, the relay's connection id (`0xffffffff` in a summary)       |
 * |  20 |      1 | `result`      | u8: 1 PASS, 2 FAIL, 3 CONTROL, 4 SUMMARY                         |
 * |  21 |      1 | `kind`        | u8, CONTROL: 1 hello, 2 subscribe, 3 recovery; else 0            |
 * |  22 |      2 | `meta_length` | u16, bytes of metadata after this header                         |
 * |  24 |      … | `meta`        | FAIL: the error code (ASCII, e.g. `ChecksumMismatch`); SUMMARY: JSON |
 * |   … |      … | `frame`       | the frame exactly as received (none in a summary)                |
 *
 * A SUMMARY record stands for the FAIL and CONTROL frames the writer counted
 * but did not store, being over its per-second bound; its JSON says how many,
 * their bytes, error codes and kinds, and since when (`since_ns`).
 *
 * Readers check each record's length, CRC and frame header before they hand it
 * out, so a record is either whole or not handed out. A file that ends inside
 * a record, or with bytes that hold no valid record (a write torn by a crash),
 * has a *torn tail*: readers stop before it and report it; the writer cuts it
 * when it opens the journal. A bad record followed by valid ones is
 * *corruption in the middle*: by default a reader throws a
 * {@linkcode JournalError} (`CorruptRecord`, with the offset) after the good
 * records before it; with `onCorrupt` it reports the bad region and resumes at
 * the next valid record (found by its length, frame magic and CRC). Stopping is
 * the default because a reader that silently skips hides lost audit records;
 * skipping is there for tools that must show everything still readable (the
 * relay's replay window, `torq journal show`).
 *
 * @module
 */

import {
  crc32,
  crc32Finish,
  crc32Update,
  HEADER_SIZE,
  hex32,
  MAGIC,
  MAX_MESSAGE_SIZE,
} from "../protocol/mod.ts";
import { rotatedFiles } from "../log/mod.ts";

/** The 8 magic bytes at the start of every journal file: ASCII `TORQJNL1`. */
export const JOURNAL_MAGIC: Uint8Array = new TextEncoder().encode("TORQJNL1");
/** The format version this module writes and reads. */
export const JOURNAL_VERSION = 1;
/** Size of the fixed part of the file header (the relay's name follows). */
export const JOURNAL_HEADER_FIXED = 32;
/** Size of a record's fixed header. */
export const RECORD_HEADER_SIZE = 24;
/** Largest record: header, the largest metadata and the largest frame. */
export const MAX_RECORD_SIZE = RECORD_HEADER_SIZE + 65_535 + MAX_MESSAGE_SIZE;
/** `conn` of a record that belongs to no connection (a summary). */
export const NO_CONN = 0xffff_ffff;

/** `result` byte values. */
export const JournalResultCode = { PASS: 1, FAIL: 2, CONTROL: 3, SUMMARY: 4 } as const;
/** What became of a journaled frame: forwarded, rejected, consumed as control; or a summary. */
export type JournalResult = keyof typeof JournalResultCode;
/** `kind` byte values of CONTROL records. */
export const ControlKindCode = { hello: 1, subscribe: 2, recovery: 3 } as const;
/** The control frames an audited relay journals (7.5, **[D-40]**). */
export type ControlKind = keyof typeof ControlKindCode;

const RESULTS: readonly (JournalResult | undefined)[] = [
  undefined,
  "PASS",
  "FAIL",
  "CONTROL",
  "SUMMARY",
];
const KINDS: readonly (ControlKind | undefined)[] = [undefined, "hello", "subscribe", "recovery"];

/** What a summary record says about the frames it stands for. */
export interface JournalSummary {
  /** Start of the counted period, ns since the epoch (as a decimal string: a u64). */
  since_ns: string;
  /** FAIL frames counted, not stored. */
  fail_frames: number;
  /** Their bytes. */
  fail_bytes: number;
  /** Their error codes and counts. */
  errors: Record<string, number>;
  /** CONTROL frames counted, not stored. */
  control_frames: number;
  /** Their bytes. */
  control_bytes: number;
  /** Their kinds and counts. */
  kinds: Record<string, number>;
}

/** The file header of a journal. */
export interface JournalHeader {
  /** Format version (1). */
  version: number;
  /** Bytes of the header (records start here). */
  length: number;
  /** The relay's domain. */
  domain: number;
  /** The relay's name. */
  relay: string;
  /** When the file was started, ns since the epoch. */
  createdNs: bigint;
  /** 1 for a journal's first file, +1 at each rotation. */
  segment: number;
}

/** One record of a journal. */
export interface JournalRecord {
  /** When the relay read the frame, ns since the epoch. */
  receivedNs: bigint;
  /** The relay's connection id (`NO_CONN` for a summary). */
  conn: number;
  /** PASS (forwarded), FAIL (rejected), CONTROL (consumed) or SUMMARY. */
  result: JournalResult;
  /** FAIL: the error code. */
  error?: string;
  /** CONTROL: hello, subscribe or recovery. */
  kind?: ControlKind;
  /** SUMMARY: the frames it stands for. */
  summary?: JournalSummary;
  /** The frame as received: a view of the file's bytes (empty for a summary). */
  frame: Uint8Array;
  /** The relay's name (from the file header). */
  relay: string;
  /** The relay's domain (from the file header). */
  domain: number;
  /** The file the record is in. */
  file: string;
  /** Absolute offset of the record in its file. */
  offset: number;
}

/** Stable codes of {@linkcode JournalError}. */
export const JournalErrorCode = {
  /** The file does not start with `TORQJNL1`. */
  NotAJournal: "NotAJournal",
  /** The header's version is not 1. */
  UnsupportedVersion: "UnsupportedVersion",
  /** The file ends inside its header, or the header's CRC or lengths are wrong. */
  BadHeader: "BadHeader",
  /** A record that fails its checks is followed by valid records. */
  CorruptRecord: "CorruptRecord",
} as const;

/** One of {@linkcode JournalErrorCode}. */
export type JournalErrorCode = typeof JournalErrorCode[keyof typeof JournalErrorCode];

/**
 * A journal that cannot be read: the code, the file, the absolute offset and
 * what was expected and found there.
 *
 * @example
 * ```ts
 * try {
 *   for (const r of readJournal("/var/lib/torq/execution.journal")) console.log(r.result);
 * } catch (e) {
 *   if (e instanceof JournalError) console.error(e.code, e.file, e.offset);
 * }
 * ```
 */
export class JournalError extends Error {
  /** What is wrong. */
  readonly code: JournalErrorCode;
  /** The file. */
  readonly file: string;
  /** Absolute offset of the problem. */
  readonly offset: number;

  /**
   * @param code what is wrong
   * @param message one sentence naming the file, the offset and the values
   * @param where file and offset
   */
  constructor(code: JournalErrorCode, message: string, where: { file: string; offset: number }) {
    super(message);
    this.name = "JournalError";
    this.code = code;
    this.file = where.file;
    this.offset = where.offset;
  }
}

/** A region of a file that holds no valid record. */
export interface JournalDamage {
  /** The file. */
  file: string;
  /** Where the bad bytes start. */
  offset: number;
  /** How many bytes up to the next valid record (or the end of the file). */
  bytes: number;
  /** What the first check that failed found. */
  reason: string;
}

/** Options of the readers. */
export interface ReadJournalOptions {
  /**
   * Called for each corrupt region in the middle of a file; the reader then
   * resumes at the next valid record. Without it the reader throws
   * {@linkcode JournalError} `CorruptRecord` there.
   */
  onCorrupt?: (damage: JournalDamage) => void;
  /**
   * Called when a file ends with a torn tail (an incomplete record, or bytes
   * holding no valid record): the reader stops there. A live journal's last
   * record can also be caught mid-write.
   */
  onTornTail?: (damage: JournalDamage) => void;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Whether the bytes start with the journal magic `TORQJNL1`.
 *
 * @param bytes file contents (at least their first 8 bytes)
 * @returns true for a journal file
 * @example
 * ```ts
 * isJournal(await Deno.readFile("execution.journal")); // true
 * ```
 */
export function isJournal(bytes: Uint8Array): boolean {
  if (bytes.length < JOURNAL_MAGIC.length) return false;
  for (let i = 0; i < JOURNAL_MAGIC.length; i++) if (bytes[i] !== JOURNAL_MAGIC[i]) return false;
  return true;
}

/**
 * Encodes a file header.
 *
 * @param header the relay's domain and name, when the file starts, its segment number
 * @returns the header bytes (32 + the name, padded to a multiple of 8)
 */
export function encodeJournalHeader(
  header: { domain: number; relay: string; createdNs: bigint; segment: number },
): Uint8Array {
  let name = new TextEncoder().encode(header.relay);
  if (name.length > 255) name = name.subarray(0, 255);
  const length = (JOURNAL_HEADER_FIXED + name.length + 7) & ~7;
  const out = new Uint8Array(length);
  const v = view(out);
  out.set(JOURNAL_MAGIC, 0);
  v.setUint16(8, JOURNAL_VERSION, true);
  v.setUint16(10, length, true);
  out[12] = header.domain;
  out[13] = name.length;
  v.setBigUint64(16, BigInt.asUintN(64, header.createdNs), true);
  v.setUint32(24, header.segment >>> 0, true);
  out.set(name, JOURNAL_HEADER_FIXED);
  v.setUint32(28, headerCrc(out, length), true);
  return out;
}

function headerCrc(b: Uint8Array, length: number): number {
  return crc32Finish(crc32Update(crc32Update(0xffffffff, b, 0, 28), b, 32, length));
}

/**
 * Decodes and checks a file header.
 *
 * @param bytes the file (at least its header)
 * @param file the file's name, for errors
 * @returns the header
 * @throws {JournalError} `NotAJournal`, `UnsupportedVersion` or `BadHeader`
 */
export function decodeJournalHeader(bytes: Uint8Array, file = "journal"): JournalHeader {
  const where = { file, offset: 0 };
  const n = Math.min(bytes.length, JOURNAL_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== JOURNAL_MAGIC[i]) {
      throw new JournalError(
        JournalErrorCode.NotAJournal,
        `Cannot read journal ${file}: it does not start with "TORQJNL1" (found ${
          hexBytes(bytes.subarray(0, 8))
        })`,
        where,
      );
    }
  }
  if (bytes.length < JOURNAL_HEADER_FIXED) {
    throw new JournalError(
      JournalErrorCode.BadHeader,
      `Cannot read journal ${file}: its header needs ${JOURNAL_HEADER_FIXED} bytes, the file has ${bytes.length}`,
      { file, offset: bytes.length },
    );
  }
  const v = view(bytes);
  const version = v.getUint16(8, true);
  if (version !== JOURNAL_VERSION) {
    throw new JournalError(
      JournalErrorCode.UnsupportedVersion,
      `Cannot read journal ${file}: version at offset 8 is ${version}, expected ${JOURNAL_VERSION}`,
      { file, offset: 8 },
    );
  }
  const length = v.getUint16(10, true);
  const nameLength = bytes[13]!;
  if (length < JOURNAL_HEADER_FIXED + nameLength || length > bytes.length) {
    throw new JournalError(
      JournalErrorCode.BadHeader,
      `Cannot read journal ${file}: header_length at offset 10 is ${length}, the file has ${bytes.length} bytes and the name ${nameLength}`,
      { file, offset: 10 },
    );
  }
  const crc = v.getUint32(28, true);
  const actual = headerCrc(bytes, length);
  if (crc !== actual) {
    throw new JournalError(
      JournalErrorCode.BadHeader,
      `Cannot read journal ${file}: header CRC at offset 28 is ${
        hex32(crc)
      }, the header's bytes give ${hex32(actual)}`,
      { file, offset: 28 },
    );
  }
  return {
    version,
    length,
    domain: bytes[12]!,
    relay: new TextDecoder().decode(
      bytes.subarray(JOURNAL_HEADER_FIXED, JOURNAL_HEADER_FIXED + nameLength),
    ),
    createdNs: v.getBigUint64(16, true),
    segment: v.getUint32(24, true),
  };
}

/**
 * Why the bytes at `off` are not a valid record, or null when they are one.
 * Checks the length, the result and kind bytes, the frame's magic and
 * `payload_size`, and the CRC.
 *
 * @param bytes the file
 * @param off where a record should start
 * @returns null for a valid record; else a short reason (`"incomplete"` when the file ends inside it)
 */
export function recordProblem(bytes: Uint8Array, off: number): string | null {
  const left = bytes.length - off;
  if (left < RECORD_HEADER_SIZE) return "incomplete";
  const v = view(bytes);
  const length = v.getUint32(off, true);
  if (length < RECORD_HEADER_SIZE || length > MAX_RECORD_SIZE) {
    return `length ${length} is outside ${RECORD_HEADER_SIZE}–${MAX_RECORD_SIZE}`;
  }
  const result = bytes[off + 20]!;
  const kind = bytes[off + 21]!;
  const meta = v.getUint16(off + 22, true);
  if (result < 1 || result > 4) return `result byte is ${result}, expected 1–4`;
  if (result === JournalResultCode.CONTROL ? kind < 1 || kind > 3 : kind !== 0) {
    return `kind byte is ${kind} for result ${RESULTS[result]}`;
  }
  const frame = length - RECORD_HEADER_SIZE - meta;
  if (frame < 0) return `meta_length ${meta} exceeds the record`;
  if (result === JournalResultCode.SUMMARY ? frame !== 0 : frame < HEADER_SIZE) {
    return `frame of ${frame} bytes in a ${RESULTS[result]} record`;
  }
  if (length > left) return "incomplete";
  if (frame > 0) {
    const at = off + RECORD_HEADER_SIZE + meta;
    if (v.getUint32(at, true) !== MAGIC) return "frame magic is not 0xdeadbeef";
    if (HEADER_SIZE + v.getUint32(at + 24, true) !== frame) {
      return "frame payload_size disagrees with the record length";
    }
  }
  const crc = v.getUint32(off + 4, true);
  if (crc !== crc32(bytes, off + 8, off + length)) return "CRC mismatch";
  return null;
}

/**
 * The offset of the next valid record after `from`, or -1.
 *
 * @param bytes the file
 * @param from where the bad bytes start
 * @returns the offset of the next valid record, or -1 when none follows
 */
export function nextValidRecord(bytes: Uint8Array, from: number): number {
  const end = bytes.length - RECORD_HEADER_SIZE;
  for (let off = from + 1; off <= end; off++) {
    // Cheap filters first: a result byte and a frame magic (or a summary) where a record has them.
    const result = bytes[off + 20]!;
    if (result < 1 || result > 4) continue;
    if (recordProblem(bytes, off) === null) return off;
  }
  return -1;
}

/**
 * The records of one journal file's bytes, checked one by one (see the module
 * doc for torn tails and corruption).
 *
 * @param bytes the whole file (an empty file, one not yet written to, has no records)
 * @param file its name, for errors and records
 * @param options what to do on damage
 * @returns an iterator of records; frames are views of `bytes`
 * @throws {JournalError} for a bad header, or a corrupt record without `onCorrupt`
 * @example
 * ```ts
 * for (const r of readJournalBytes(await Deno.readFile("x.journal"), "x.journal")) {
 *   console.log(r.result, r.frame.length);
 * }
 * ```
 */
export function* readJournalBytes(
  bytes: Uint8Array,
  file = "journal",
  options: ReadJournalOptions = {},
): Generator<JournalRecord, void, undefined> {
  if (bytes.length === 0) return; // a new file before its first batch
  const header = decodeJournalHeader(bytes, file);
  yield* readJournalRecords(bytes, header.length, header, { file, ...options });
}

/**
 * The records in `bytes` from `start` on, for a reader that has the file's
 * header already (e.g. one following a live journal chunk by chunk). The
 * iterator's return value is where reading stopped: `bytes.length`, or the
 * start of a torn tail (an incomplete record: a follower reads on from there
 * once more bytes have arrived).
 *
 * @param bytes a part of a file that starts at a record boundary
 * @param start where the first record starts
 * @param header the file's header
 * @param options the file's name, the offset of `bytes[0]` in it (`base`), what to do on damage
 * @returns an iterator of records whose return value is the offset in `bytes` where it stopped
 * @throws {JournalError} for a corrupt record without `onCorrupt`
 */
export function* readJournalRecords(
  bytes: Uint8Array,
  start: number,
  header: JournalHeader,
  options: ReadJournalOptions & { file?: string; base?: number } = {},
): Generator<JournalRecord, number, undefined> {
  const file = options.file ?? "journal";
  const base = options.base ?? 0;
  const v = view(bytes);
  const decoder = new TextDecoder();
  let off = start;
  while (off < bytes.length) {
    const problem = recordProblem(bytes, off);
    if (problem !== null) {
      const next = nextValidRecord(bytes, off);
      const damage = {
        file,
        offset: base + off,
        bytes: (next < 0 ? bytes.length : next) - off,
        reason: problem,
      };
      if (next < 0) {
        options.onTornTail?.(damage);
        return off;
      }
      if (options.onCorrupt === undefined) {
        throw new JournalError(
          JournalErrorCode.CorruptRecord,
          `Cannot read journal ${file}: the record at offset ${
            base + off
          } is corrupt (${problem}); the next valid record is at offset ${base + next}`,
          { file, offset: base + off },
        );
      }
      options.onCorrupt(damage);
      off = next;
      continue;
    }
    const length = v.getUint32(off, true);
    const result = RESULTS[bytes[off + 20]!]!;
    const meta = v.getUint16(off + 22, true);
    const metaStart = off + RECORD_HEADER_SIZE;
    const record: JournalRecord = {
      receivedNs: v.getBigUint64(off + 8, true),
      conn: v.getUint32(off + 16, true),
      result,
      frame: bytes.subarray(metaStart + meta, off + length),
      relay: header.relay,
      domain: header.domain,
      file,
      offset: base + off,
    };
    if (result === "FAIL") {
      record.error = decoder.decode(bytes.subarray(metaStart, metaStart + meta));
    } else if (result === "CONTROL") record.kind = KINDS[bytes[off + 21]!]!;
    else if (result === "SUMMARY") {
      record.summary = JSON.parse(decoder.decode(bytes.subarray(metaStart, metaStart + meta)));
    }
    yield record;
    off += length;
  }
  return off;
}

/**
 * The records of a journal file, or of its whole rotated set oldest first
 * (`name.keep` … `name.1`, then `name`: {@linkcode rotatedFiles}). Each file
 * is read whole when the iteration reaches it.
 *
 * @param path the live file's path (or any journal file with `rotated: false`)
 * @param options `rotated` (default true) and what to do on damage
 * @returns an iterator of records in the order they were written
 * @throws {JournalError} for a file that is not a journal, or a corrupt record without `onCorrupt`
 * @throws Deno errors when a file cannot be read
 * @example
 * ```ts
 * let passed = 0;
 * for (const r of readJournal("/var/lib/torq/execution.journal")) if (r.result === "PASS") passed++;
 * ```
 */
export function* readJournal(
  path: string,
  options: ReadJournalOptions & { rotated?: boolean } = {},
): Generator<JournalRecord, void, undefined> {
  const files = options.rotated === false ? [path] : rotatedFiles(path);
  for (const file of files) yield* readJournalBytes(Deno.readFileSync(file), file, options);
}

/**
 * The most recent accepted (PASS) frames of a journal, oldest first: at most
 * `frames` of them and at most `bytes` frame bytes — what a relay needs to
 * refill its replay window after a restart (7.9). Reads the newest files first
 * and stops as soon as the bounds are met, so its cost follows the window, not
 * the journal. Corrupt regions are skipped (reported through `onCorrupt`, if
 * given); the frames are views of the files' bytes.
 *
 * @param path the live file's path
 * @param limits most frames and most frame bytes to return
 * @param options damage callbacks
 * @returns the PASS records, in the order the relay accepted them
 * @example
 * ```ts
 * const replay: Uint8Array[] = [];
 *
 * const window = lastAccepted("/var/lib/torq/execution.journal", { frames: 100_000, bytes: 16 << 20 });
 * for (const r of window) replay.push(r.frame);
 * ```
 */
export function lastAccepted(
  path: string,
  limits: { frames: number; bytes: number },
  options: ReadJournalOptions = {},
): JournalRecord[] {
  const onCorrupt = options.onCorrupt ?? (() => {});
  const files = rotatedFiles(path);
  const chunks: JournalRecord[][] = [];
  let frames = 0;
  let bytes = 0;
  let full = false;
  for (let i = files.length - 1; i >= 0 && !full; i--) {
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(files[i]!);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // rotated away meanwhile
      throw e;
    }
    const passed: JournalRecord[] = [];
    const read = readJournalBytes(data, files[i]!, { ...options, onCorrupt });
    for (const r of read) if (r.result === "PASS") passed.push(r);
    // Newest first within the file, until a bound is met.
    let k = passed.length;
    for (; k > 0; k--) {
      const size = passed[k - 1]!.frame.length;
      if (frames >= limits.frames || bytes + size > limits.bytes) {
        full = true;
        break;
      }
      bytes += size;
      frames++;
    }
    chunks.unshift(passed.slice(k));
  }
  return chunks.flat();
}

/** What {@linkcode verifyJournal} found in one file. */
export interface JournalFileReport {
  /** The file. */
  file: string;
  /** Its header, or null when it has none that reads. */
  header: JournalHeader | null;
  /** Its size. */
  bytes: number;
  /** Valid records. */
  records: number;
  /** Valid records by result. */
  results: Record<JournalResult, number>;
  /** Corrupt regions in the middle. */
  corrupt: JournalDamage[];
  /** The torn tail, if any. */
  tornTail: JournalDamage | null;
  /** Why the file could not be read at all (not a journal, bad header), else null. */
  error: string | null;
}

/**
 * Checks every record of a journal's files (CRC, lengths, frame headers) and
 * says what it found: nothing is changed.
 *
 * @param path the live file's path, or one file with `rotated: false`
 * @param options `rotated` (default true)
 * @returns one report per file, oldest first
 * @example
 * ```ts
 * const ok = verifyJournal("x.journal").every((f) => f.error === null && f.corrupt.length === 0);
 * ```
 */
export function verifyJournal(
  path: string,
  options: { rotated?: boolean } = {},
): JournalFileReport[] {
  const files = options.rotated === false ? [path] : rotatedFiles(path);
  return files.map((file) => {
    const report: JournalFileReport = {
      file,
      header: null,
      bytes: 0,
      records: 0,
      results: { PASS: 0, FAIL: 0, CONTROL: 0, SUMMARY: 0 },
      corrupt: [],
      tornTail: null,
      error: null,
    };
    try {
      const data = Deno.readFileSync(file);
      report.bytes = data.length;
      if (data.length === 0) return report; // a new file before its first batch
      report.header = decodeJournalHeader(data, file);
      const read = readJournalBytes(data, file, {
        onCorrupt: (d) => report.corrupt.push(d),
        onTornTail: (d) => (report.tornTail = d),
      });
      for (const r of read) {
        report.records++;
        report.results[r.result]++;
      }
    } catch (e) {
      report.error = e instanceof Error ? e.message : String(e);
    }
    return report;
  });
}

function hexBytes(b: Uint8Array): string {
  return "0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
