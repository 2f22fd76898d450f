/**
 * The recording file of `torq record` / `torq replay` (also read by
 * `torq decode --file`): received frames with their receive times, in a small
 * header followed by length-delimited records. All integers little-endian.
 *
 * File header (24 bytes):
 *
 * | Off | Size | Field           | Meaning                                                        |
 * | --: | ---: | --------------- | -------------------------------------------------------------- |
 * |   0 |    8 | `magic`         | ASCII `TORQREC1` (`54 4f 52 51 52 45 43 31`)                   |
 * |   8 |    2 | `version`       | u16, `1`                                                       |
 * |  10 |    1 | `relay_domain`  | u8, domain of the recorded relay (1–4), `0` = unknown or mixed |
 * |  11 |    1 | `flags`         | u8, `0` (no flag defined; readers ignore unknown bits)         |
 * |  12 |    4 | `reserved`      | u32, `0`                                                       |
 * |  16 |    8 | `start_time_ns` | u64, wall clock when recording started, ns since the epoch     |
 *
 * Then records, back to back until the end of the file (12 bytes + the frame):
 *
 * | Off | Size     | Field             | Meaning                                                     |
 * | --: | -------: | ----------------- | ----------------------------------------------------------- |
 * |   0 |        8 | `receive_time_ns` | u64, wall clock when the frame was received, ns (epoch)     |
 * |   8 |        4 | `length`          | u32, frame length in bytes, `32 + payload_size` (≤ 1 MiB)   |
 * |  12 | `length` | `frame`           | exactly one Protocol V2 frame, the bytes as received        |
 *
 * There is no index and no trailer: the writer only ever appends whole
 * records, and a reader of a file that was cut off (the recorder was killed
 * mid-write) gets every complete record before a `TruncatedRecord` error.
 * {@linkcode readRecordingFile} reads a file as far as it goes and returns the
 * records with the problem that stopped it, so tools deliver what is intact and
 * then report the damage.
 * A reader checks the magic and version, that each record's `length` is at
 * least the 32-byte header and at most 1 MiB, that the frame starts with the
 * Protocol V2 magic and that its `payload_size` agrees with `length`; it does
 * not validate the frame further (a recording keeps what the relay forwarded,
 * checksums and all). `torq record` takes the receive time when it handles
 * the frame (after the socket read), to the microsecond.
 *
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * const w = new RecordingWriter({ domain: 2, startNs: 1_700_000_000_000_000_000n });
 * w.add(1_700_000_000_100_000_000n, frame);
 * const file = w.take(); // header + one record
 * for (const r of readRecording(file)) console.log(r.receivedNs, r.frame.length);
 * ```
 *
 * @module
 */

import { HEADER_SIZE, MAGIC, MAX_MESSAGE_SIZE } from "../protocol/mod.ts";

/** The 8 magic bytes at the start of every recording: ASCII `TORQREC1`. */
export const RECORDING_MAGIC: Uint8Array = new TextEncoder().encode("TORQREC1");

/** The format version this module writes and reads. */
export const RECORDING_VERSION = 1;

/** Size of the file header. */
export const RECORDING_HEADER_SIZE = 24;

/** Size of a record's header (receive time and length) before the frame. */
export const RECORD_HEADER_SIZE = 12;

/** Stable codes of {@linkcode RecordingError}. */
export const RecordingErrorCode = {
  /** The file does not start with `TORQREC1`. */
  NotARecording: "NotARecording",
  /** The file header's version is not 1. */
  UnsupportedVersion: "UnsupportedVersion",
  /** The file ends inside the 24-byte file header. */
  TruncatedHeader: "TruncatedHeader",
  /** The file ends inside a record (its 12-byte header or its frame). */
  TruncatedRecord: "TruncatedRecord",
  /** A record's length is below 32 or above 1 MiB, or disagrees with its frame's payload_size. */
  BadRecordLength: "BadRecordLength",
  /** A record's frame does not start with the Protocol V2 magic. */
  BadFrame: "BadFrame",
} as const;

/** One of {@linkcode RecordingErrorCode}. */
export type RecordingErrorCode = typeof RecordingErrorCode[keyof typeof RecordingErrorCode];

/**
 * A recording that cannot be read: the code, the absolute byte offset of the
 * problem, and the expected and actual values.
 *
 * @example
 * ```ts
 * declare const bytes: Uint8Array;
 *
 * try {
 *   [...readRecording(bytes)];
 * } catch (e) {
 *   if (e instanceof RecordingError) console.error(e.code, e.offset, e.expected, e.actual);
 * }
 * ```
 */
export class RecordingError extends RangeError {
  /** What is wrong. */
  readonly code: RecordingErrorCode;
  /** Absolute byte offset in the file where the problem was found. */
  readonly offset: number;
  /** What the reader expected there (a size, a version, a byte string). */
  readonly expected: number | string;
  /** What it found. */
  readonly actual: number | string;
  /** 0-based index of the record concerned, when the problem is in a record. */
  readonly record: number | undefined;

  /**
   * Creates the error.
   *
   * @param code what is wrong
   * @param message one sentence naming the failed action, the offset and the values
   * @param details offset, expected and actual values, record index
   */
  constructor(
    code: RecordingErrorCode,
    message: string,
    details: {
      offset: number;
      expected: number | string;
      actual: number | string;
      record?: number;
    },
  ) {
    super(message);
    this.name = "RecordingError";
    this.code = code;
    this.offset = details.offset;
    this.expected = details.expected;
    this.actual = details.actual;
    this.record = details.record;
  }
}

/** The file header of a recording. */
export interface RecordingHeader {
  /** Format version (1). */
  version: number;
  /** Domain of the recorded relay (1–4), 0 when unknown or mixed. */
  domain: number;
  /** Flags byte (0). */
  flags: number;
  /** When recording started, ns since the Unix epoch. */
  startNs: bigint;
}

/** One record of a recording. */
export interface RecordedFrame {
  /** When the recorder received the frame, ns since the Unix epoch. */
  receivedNs: bigint;
  /** The frame bytes (a view of the file's bytes). */
  frame: Uint8Array;
  /** Absolute offset of the record (its 12-byte header) in the file. */
  offset: number;
  /** 0-based record index. */
  index: number;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Whether the bytes start with the recording magic `TORQREC1` (a quick test
 * that tells a recording from raw frames or hex text).
 *
 * @param bytes file contents (or at least their first 8 bytes)
 * @returns true when `bytes` starts with `TORQREC1`
 * @example
 * ```ts
 * isRecording(await Deno.readFile("rec.torq")); // true
 * ```
 */
export function isRecording(bytes: Uint8Array): boolean {
  if (bytes.length < RECORDING_MAGIC.length) return false;
  for (let i = 0; i < RECORDING_MAGIC.length; i++) {
    if (bytes[i] !== RECORDING_MAGIC[i]) return false;
  }
  return true;
}

/**
 * Encodes a file header.
 *
 * @param header domain (default 0) and start time (ns); version and flags are written as 1 and 0
 * @returns the 24 header bytes
 * @example
 * ```ts
 * import { nowNs } from "../protocol/mod.ts";
 *
 * encodeRecordingHeader({ domain: 2, startNs: nowNs() }).length; // 24
 * ```
 */
export function encodeRecordingHeader(header: { domain?: number; startNs: bigint }): Uint8Array {
  const out = new Uint8Array(RECORDING_HEADER_SIZE);
  out.set(RECORDING_MAGIC, 0);
  const v = view(out);
  v.setUint16(8, RECORDING_VERSION, true);
  out[10] = header.domain ?? 0;
  v.setBigUint64(16, BigInt.asUintN(64, header.startNs), true);
  return out;
}

/**
 * Decodes and checks the file header.
 *
 * @param bytes the file (at least its first 24 bytes)
 * @returns the header
 * @throws {RecordingError} `NotARecording`, `TruncatedHeader` or `UnsupportedVersion`
 * @example
 * ```ts
 * declare const file: Uint8Array;
 *
 * decodeRecordingHeader(file).domain; // 2
 * ```
 */
export function decodeRecordingHeader(bytes: Uint8Array): RecordingHeader {
  const n = Math.min(bytes.length, RECORDING_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== RECORDING_MAGIC[i]) {
      throw new RecordingError(
        RecordingErrorCode.NotARecording,
        `Cannot read recording: magic at offset 0 is ${
          quoteBytes(bytes.subarray(0, RECORDING_MAGIC.length))
        }, expected "TORQREC1"`,
        {
          offset: i,
          expected: "TORQREC1",
          actual: quoteBytes(bytes.subarray(0, RECORDING_MAGIC.length)),
        },
      );
    }
  }
  if (bytes.length < RECORDING_HEADER_SIZE) {
    throw new RecordingError(
      RecordingErrorCode.TruncatedHeader,
      `Cannot read recording: the file header needs ${RECORDING_HEADER_SIZE} bytes, the file has ${bytes.length}`,
      { offset: bytes.length, expected: RECORDING_HEADER_SIZE, actual: bytes.length },
    );
  }
  const v = view(bytes);
  const version = v.getUint16(8, true);
  if (version !== RECORDING_VERSION) {
    throw new RecordingError(
      RecordingErrorCode.UnsupportedVersion,
      `Cannot read recording: version at offset 8 is ${version}, expected ${RECORDING_VERSION}`,
      { offset: 8, expected: RECORDING_VERSION, actual: version },
    );
  }
  return {
    version,
    domain: bytes[10]!,
    flags: bytes[11]!,
    startNs: v.getBigUint64(16, true),
  };
}

/**
 * Encodes one record: receive time, length and the frame.
 *
 * @param receivedNs receive time, ns since the epoch
 * @param frame exactly one frame
 * @returns the record bytes (12 + frame length)
 * @example
 * ```ts
 * import { nowNs } from "../protocol/mod.ts";
 * declare const frame: Uint8Array;
 *
 * encodeRecord(nowNs(), frame).length === 12 + frame.length; // true
 * ```
 */
export function encodeRecord(receivedNs: bigint, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_SIZE + frame.length);
  writeRecordAt(out, 0, receivedNs, frame);
  return out;
}

function writeRecordAt(out: Uint8Array, off: number, receivedNs: bigint, frame: Uint8Array): void {
  const v = view(out);
  v.setBigUint64(off, BigInt.asUintN(64, receivedNs), true);
  v.setUint32(off + 8, frame.length, true);
  out.set(frame, off + RECORD_HEADER_SIZE);
}

/**
 * Reads a recording record by record (checking each as it goes; an error is
 * thrown when the iteration reaches the bad record, after the good ones
 * before it were yielded).
 *
 * @param bytes the whole file
 * @returns an iterator of records; frames are views of `bytes`
 * @throws {RecordingError} for a bad header, a truncated record or a record that holds no frame
 * @example
 * ```ts
 * for (const { receivedNs, frame } of readRecording(await Deno.readFile("rec.torq"))) {
 *   console.log(receivedNs, frame.length);
 * }
 * ```
 */
export function* readRecording(bytes: Uint8Array): Generator<RecordedFrame, void, undefined> {
  decodeRecordingHeader(bytes);
  const v = view(bytes);
  let off = RECORDING_HEADER_SIZE;
  for (let index = 0; off < bytes.length; index++) {
    const left = bytes.length - off;
    if (left < RECORD_HEADER_SIZE) {
      throw new RecordingError(
        RecordingErrorCode.TruncatedRecord,
        `Cannot read record ${index} at offset ${off}: its header needs ${RECORD_HEADER_SIZE} bytes, ${left} remain`,
        { offset: off, expected: RECORD_HEADER_SIZE, actual: left, record: index },
      );
    }
    const receivedNs = v.getBigUint64(off, true);
    const length = v.getUint32(off + 8, true);
    if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) {
      throw new RecordingError(
        RecordingErrorCode.BadRecordLength,
        `Cannot read record ${index} at offset ${off}: length at offset ${
          off + 8
        } is ${length}, expected ${HEADER_SIZE}–${MAX_MESSAGE_SIZE}`,
        {
          offset: off + 8,
          expected: `${HEADER_SIZE}–${MAX_MESSAGE_SIZE}`,
          actual: length,
          record: index,
        },
      );
    }
    const start = off + RECORD_HEADER_SIZE;
    const have = bytes.length - start;
    if (have < length) {
      throw new RecordingError(
        RecordingErrorCode.TruncatedRecord,
        `Cannot read record ${index} at offset ${off}: its frame needs ${length} bytes, ${have} remain`,
        { offset: start, expected: length, actual: have, record: index },
      );
    }
    const magic = v.getUint32(start, true);
    if (magic !== MAGIC) {
      throw new RecordingError(
        RecordingErrorCode.BadFrame,
        `Cannot read record ${index} at offset ${off}: frame magic at offset ${start} is 0x${
          magic.toString(16).padStart(8, "0")
        }, expected 0xdeadbeef`,
        { offset: start, expected: MAGIC, actual: magic, record: index },
      );
    }
    const frameSize = HEADER_SIZE + v.getUint32(start + 24, true);
    if (frameSize !== length) {
      throw new RecordingError(
        RecordingErrorCode.BadRecordLength,
        `Cannot read record ${index} at offset ${off}: length is ${length}, its frame's header says ${frameSize} bytes`,
        { offset: off + 8, expected: frameSize, actual: length, record: index },
      );
    }
    yield { receivedNs, frame: bytes.subarray(start, start + length), offset: off, index };
    off = start + length;
  }
}

/**
 * A file format of recorded frames with receive times. `torq record`'s
 * (`TORQREC1`) is the one defined here; another (e.g. a binary audit journal)
 * joins {@linkcode RECORDING_FORMATS} with its own reader, and every tool that
 * reads recordings (`replay`, `decode --file`) takes it.
 */
export interface RecordingFormat {
  /** Short name, e.g. `TORQREC1`. */
  readonly name: string;
  /** Whether the bytes start like a file of this format (its magic). */
  matches(bytes: Uint8Array): boolean;
  /** The file's relay domain (0 = unknown) and start time; throws `RecordingError` when unreadable. */
  header(bytes: Uint8Array): { domain: number; startNs: bigint };
  /**
   * The records in file order; throws `RecordingError` at the first one that
   * cannot be read, after yielding every one before it.
   */
  records(bytes: Uint8Array): Iterable<RecordedFrame>;
}

/** `torq record`'s format (this module). */
export const TORQREC1: RecordingFormat = {
  name: "TORQREC1",
  matches: (bytes) => isRecording(bytes),
  header: (bytes) => decodeRecordingHeader(bytes),
  records: (bytes) => readRecording(bytes),
};

/** Every recording format the tools read, tried in order by {@linkcode readRecordingFile}. */
export const RECORDING_FORMATS: readonly RecordingFormat[] = [TORQREC1];

/** A recording read as far as it goes ({@linkcode readRecordingFile}). */
export interface RecordingContents {
  /** Which format it is. */
  format: string;
  /** Domain of the recorded relay (1–4), 0 when unknown or mixed. */
  domain: number;
  /** When recording started, ns since the Unix epoch. */
  startNs: bigint;
  /** Every record that could be read, in file order. */
  records: RecordedFrame[];
  /**
   * Why reading stopped before the end of the file (a torn last record, a
   * damaged one: `TruncatedRecord`, `BadRecordLength`, `BadFrame`), or null
   * when the whole file was read.
   */
  damage: RecordingError | null;
}

/**
 * Reads a recording of any known format as far as it goes: a damaged or torn
 * tail does not cost the records before it.
 *
 * @param bytes the whole file
 * @returns the records and the damage that stopped reading, if any
 * @throws {RecordingError} when the file is of no known format or its header is unreadable
 * @example
 * ```ts
 * declare function handle(frame: Uint8Array): void;
 *
 * const { records, damage } = readRecordingFile(await Deno.readFile("rec.torq"));
 * for (const r of records) handle(r.frame);
 * if (damage !== null) console.error(damage.message);
 * ```
 */
export function readRecordingFile(bytes: Uint8Array): RecordingContents {
  const format = RECORDING_FORMATS.find((f) => f.matches(bytes)) ?? TORQREC1;
  const { domain, startNs } = format.header(bytes);
  const records: RecordedFrame[] = [];
  let damage: RecordingError | null = null;
  try {
    for (const r of format.records(bytes)) records.push(r);
  } catch (e) {
    if (!(e instanceof RecordingError)) throw e;
    damage = e;
  }
  return { format: format.name, domain, startNs, records, damage };
}

/**
 * One line about a recording's damaged tail: what is wrong and how much was
 * still read, e.g. `TruncatedRecord: Cannot read record 3 at offset 660: its
 * frame needs 204 bytes, 154 remain; the 3 complete records before it were
 * read (rec.torq)`.
 *
 * @param damage the error that stopped reading
 * @param records records read before it
 * @param file the file's name, for the message
 * @returns the line
 */
export function damageLine(damage: RecordingError, records: number, file: string): string {
  const before = records === 1
    ? "the 1 complete record before it was read"
    : `the ${records} complete records before it were read`;
  return `${damage.code}: ${damage.message}; ${
    records === 0 ? "no record before it" : before
  } (${file})`;
}

/**
 * Builds a recording in memory, or in chunks for a file: the header first,
 * then one record per {@linkcode add}; {@linkcode take} hands over the bytes
 * gathered since the last take. It does no I/O, the caller writes the chunks.
 *
 * @example
 * ```ts
 * import { nowNs } from "../protocol/mod.ts";
 * import type { RelayClient } from "../client/mod.ts";
 * declare const client: RelayClient;
 *
 * const w = new RecordingWriter({ domain: 1, startNs: nowNs() });
 * using file = await Deno.open("rec.torq", { write: true, create: true, truncate: true });
 * for await (const f of client) {
 *   if (w.add(nowNs(), f.bytes)) await file.write(w.take());
 * }
 * await file.write(w.take());
 * ```
 */
export class RecordingWriter {
  /** Pending bytes above which {@linkcode add} advises a write. */
  readonly flushBytes: number;
  #buf: Uint8Array;
  #len = 0;
  #frames = 0;
  #frameBytes = 0;

  /**
   * Starts a recording; the file header is the first pending bytes.
   *
   * @param header domain of the recorded relay (0 = unknown) and start time (ns)
   * @param options `flushBytes`: pending bytes at which `add()` returns true (default 256 KiB)
   */
  constructor(header: { domain?: number; startNs: bigint }, options: { flushBytes?: number } = {}) {
    this.flushBytes = options.flushBytes ?? 262_144;
    this.#buf = new Uint8Array(Math.max(4096, Math.min(this.flushBytes * 2, 1 << 22)));
    this.#buf.set(encodeRecordingHeader(header), 0);
    this.#len = RECORDING_HEADER_SIZE;
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Frame bytes added so far (without record headers). */
  get frameBytes(): number {
    return this.#frameBytes;
  }

  /** Bytes gathered and not yet taken. */
  get pendingBytes(): number {
    return this.#len;
  }

  /**
   * Appends one record (the frame is copied).
   *
   * @param receivedNs receive time, ns since the epoch
   * @param frame exactly one frame (32 bytes or more)
   * @returns true when the pending bytes reached `flushBytes` (time to write)
   * @throws {RangeError} when `frame` is shorter than a header or longer than 1 MiB
   */
  add(receivedNs: bigint, frame: Uint8Array): boolean {
    if (frame.length < HEADER_SIZE || frame.length > MAX_MESSAGE_SIZE) {
      throw new RangeError(
        `Cannot record frame: length ${frame.length} is outside ${HEADER_SIZE}–${MAX_MESSAGE_SIZE}`,
      );
    }
    const need = this.#len + RECORD_HEADER_SIZE + frame.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    writeRecordAt(this.#buf, this.#len, receivedNs, frame);
    this.#len = need;
    this.#frames++;
    this.#frameBytes += frame.length;
    return this.#len >= this.flushBytes;
  }

  /**
   * Hands over the pending bytes (a copy) and empties the buffer.
   *
   * @returns the bytes gathered since the last take (empty when none)
   */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return out;
  }
}

function quoteBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    s += x >= 0x20 && x < 0x7f && x !== 0x22 && x !== 0x5c
      ? String.fromCharCode(x)
      : `\\x${x.toString(16).padStart(2, "0")}`;
  }
  return `"${s}"`;
}
