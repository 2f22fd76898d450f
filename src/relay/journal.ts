/**
 * The audit policy's execution journal (PROTOCOL.md 7.5, 7.9, **[D-37]**,
 * **[D-40]**): every frame the audited relay receives, stored byte for byte
 * with its receive time, connection and verdict (PASS, FAIL with the error
 * code, CONTROL with the kind), in the binary format of `journal_file.ts`,
 * append-only, rotated by size.
 *
 * Records of one read batch are gathered in one buffer and written with one
 * synchronous append before any frame of the batch is forwarded, so a frame
 * that could not be journaled is never forwarded: {@linkcode AuditJournal.flush}
 * returns false and the relay refuses the batch's frames instead. A write that
 * fails part way (disk full) is cut back to the file's length before the batch,
 * so the journal never holds a record of a refused frame, nor a torn record.
 *
 * Durability (`fsync`): `always` syncs the file's data (fdatasync) after every
 * batch, before forwarding; `interval` syncs in the background every
 * `fsyncIntervalMs` while there is something new (a crash of the machine loses
 * at most that much; a crash of the relay loses nothing the kernel has);
 * `never` leaves it to the operating system.
 *
 * Rejected and control frames are bounded: past `maxFailRecordsPerSecond`
 * FAIL records (and as many CONTROL records) in a second, further ones are
 * counted, not stored, and one SUMMARY record per second says how many there
 * were, their bytes, error codes and kinds. A flood of bad frames therefore
 * cannot fill the disk faster than the bound allows. While writes fail
 * (disk full), CONTROL records are counted the same way instead of tried.
 *
 * At open, a torn tail (a record cut short by a crash, or bytes that hold no
 * valid record) is cut, with one log line. A file whose damage is followed by
 * valid records is not changed: it is rotated away whole (kept as `name.1`)
 * with an error line, and a new file is started.
 *
 * @module
 */

import { crc32, statusCode, writeNsFromMs } from "../protocol/mod.ts";
import { Logger, RotatingFile } from "../log/mod.ts";
import {
  type ControlKind,
  ControlKindCode,
  decodeJournalHeader,
  encodeJournalHeader,
  JOURNAL_HEADER_FIXED,
  JOURNAL_MAGIC,
  JournalResultCode,
  type JournalSummary,
  nextValidRecord,
  NO_CONN,
  RECORD_HEADER_SIZE,
  recordProblem,
} from "./journal_file.ts";

/** When the journal's data is flushed to the disk. */
export type FsyncPolicy = "always" | "interval" | "never";

/** How a journal syncs, rotates and bounds rejected frames (`relays.<name>.journal`). */
export interface JournalSettings {
  /** When to fsync. */
  fsync: FsyncPolicy;
  /** `interval`: how often, in ms. */
  fsyncIntervalMs: number;
  /** Start a new file when a batch would take the live one past this (0: never). */
  maxBytes: number;
  /** Rotated files kept beside the live one. */
  keep: number;
  /**
   * FAIL records stored per second, and as many CONTROL records; beyond it they
   * are counted in a SUMMARY record (null: no bound).
   */
  maxFailRecordsPerSecond: number | null;
}

/** The defaults, as in config/default.yaml. */
export const JOURNAL_DEFAULTS: Readonly<JournalSettings> = {
  fsync: "interval",
  fsyncIntervalMs: 100,
  maxBytes: 64 << 20,
  keep: 8,
  maxFailRecordsPerSecond: 100,
};

/** Options of {@linkcode AuditJournal.open}: the relay, settings (default {@linkcode JOURNAL_DEFAULTS}), a logger. */
export interface AuditJournalOptions extends Partial<JournalSettings> {
  /** The relay's name (in the file header and every JSON view). */
  relay: string;
  /** The relay's domain (file header). */
  domain: number;
  /** Where the open and background failures are logged (default: a text logger). */
  logger?: Logger;
}

/** Counters of a journal (the relay's `stats().journal`). */
export interface JournalStats {
  /** The live file. */
  path: string;
  /** The fsync policy. */
  fsync: FsyncPolicy;
  /** Records written since the relay started. */
  records: number;
  /** Bytes written since the relay started. */
  bytes: number;
  /** Batches that could not be written (their frames were refused). */
  failures: number;
  /** FAIL frames counted but not stored (over the per-second bound). */
  failSuppressed: number;
  /** CONTROL frames counted but not stored (over the per-second bound). */
  controlSuppressed: number;
  /** SUMMARY records written. */
  summaries: number;
  /** Files started by rotation since the relay started. */
  rotations: number;
  /** Completed fsyncs. */
  syncs: number;
  /** Failed fsyncs. */
  syncFailures: number;
  /** Bytes of a torn tail cut when the journal was opened. */
  tornBytesCut: number;
  /** The last write or sync error, if any. */
  lastError: string | null;
}

/**
 * An append-only binary journal of every frame an audited relay receives.
 *
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 * declare const hello: Uint8Array;
 *
 * const j = AuditJournal.open("/tmp/torq/execution.journal", { relay: "execution", domain: 3 });
 * j.record(1, 0, frame, 0, frame.length); // PASS
 * j.control(2, "hello", hello, 0, 32);
 * if (!j.flush()) console.error(j.lastError);
 * j.close();
 * ```
 */
export class AuditJournal {
  /** The live file's path. */
  readonly path: string;
  /** Records written. */
  records = 0;
  /** Bytes written. */
  bytes = 0;
  /** Failed flushes. */
  failures = 0;
  /** The last write or sync error, if any. */
  lastError: string | null = null;
  /** Whether the last write reached the file (false after a failed flush until one succeeds). */
  healthy = true;

  readonly #file: RotatingFile;
  readonly #options: Required<Omit<AuditJournalOptions, "logger">>;
  readonly #log: Logger;
  /** The live file's segment number and header size (set at each new file). */
  readonly #live: LiveFile;
  #buf = new Uint8Array(65_536);
  #dv = new DataView(this.#buf.buffer);
  #len = 0;
  #pending = 0;
  /** Receive time of the batch being gathered (ms, with a sub-ms fraction). */
  #batchMs = 0;
  // The per-second bound on FAIL and CONTROL records.
  readonly #limit: number;
  #windowStart = 0;
  #failStored = 0;
  #controlStored = 0;
  #failOver = 0;
  #failOverBytes = 0;
  #controlOver = 0;
  #controlOverBytes = 0;
  #overSinceMs = 0;
  readonly #overErrors = new Float64Array(32);
  readonly #overKinds = new Float64Array(4);
  #failSuppressed = 0;
  #controlSuppressed = 0;
  #summaries = 0;
  // Durability.
  #dirty = false;
  #syncing = false;
  #syncs = 0;
  #syncFailures = 0;
  #tornBytesCut = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(
    path: string,
    file: RotatingFile,
    live: LiveFile,
    options: Required<Omit<AuditJournalOptions, "logger">>,
    log: Logger,
  ) {
    this.path = path;
    this.#file = file;
    this.#live = live;
    this.#options = options;
    this.#log = log;
    this.#limit = options.maxFailRecordsPerSecond ?? Infinity;
    const tick = Math.min(1000, options.fsync === "interval" ? options.fsyncIntervalMs : 1000);
    this.#timer = setInterval(() => this.#tick(), tick);
    Deno.unrefTimer(this.#timer);
  }

  /**
   * Opens (creating) a journal for appending: checks the live file, cuts a torn
   * tail (one log line), rotates a damaged file away whole (one error line).
   *
   * @param path the live file; its directory is created if missing
   * @param options relay name and domain, fsync policy, rotation, bound, logger
   * @returns the journal
   * @throws when the file cannot be opened or is not a journal (one line naming it)
   */
  static open(path: string, options: AuditJournalOptions): AuditJournal {
    const o = {
      relay: options.relay,
      domain: options.domain,
      fsync: options.fsync ?? JOURNAL_DEFAULTS.fsync,
      fsyncIntervalMs: Math.max(1, options.fsyncIntervalMs ?? JOURNAL_DEFAULTS.fsyncIntervalMs),
      maxBytes: options.maxBytes ?? JOURNAL_DEFAULTS.maxBytes,
      keep: Math.max(1, options.keep ?? JOURNAL_DEFAULTS.keep),
      maxFailRecordsPerSecond: options.maxFailRecordsPerSecond === undefined
        ? JOURNAL_DEFAULTS.maxFailRecordsPerSecond
        : options.maxFailRecordsPerSecond,
    };
    const log = (options.logger ?? new Logger()).with({ journal: path });
    const { live, tornBytes, rotateAway } = repairLiveFile(path, o.relay, log);
    // Rotation by size is done here, per batch (a batch is never split across files). A new
    // file's header is written with its first batch: a journal on a full disk still opens, and
    // its relay refuses frames (JournalUnavailable) until there is room.
    const file = RotatingFile.open(path, { maxBytes: 0, keep: o.keep });
    try {
      if (rotateAway) file.rotate();
    } catch (e) {
      file.close();
      throw e;
    }
    const journal = new AuditJournal(path, file, live, o, log);
    journal.#tornBytesCut = tornBytes;
    return journal;
  }

  /** Records gathered but not yet written. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Gathers the record of a frame that passed (`status` 0) or failed (the
   * `Status` of its error). Allocation-free for a stored frame; a FAIL over the
   * per-second bound is only counted.
   *
   * @param conn connection id
   * @param status 0 for PASS, else the error's `Status`
   * @param b buffer holding the frame
   * @param s frame start
   * @param e frame end
   */
  record(conn: number, status: number, b: Uint8Array, s: number, e: number): void {
    if (this.#pending === 0) this.#batchMs = performance.timeOrigin + performance.now();
    if (status === 0) {
      this.#append(conn, JournalResultCode.PASS, 0, null, b, s, e);
      return;
    }
    this.#roll();
    if (this.#failStored >= this.#limit) {
      if (this.#failOver + this.#controlOver === 0) this.#overSinceMs = this.#batchMs;
      this.#failOver++;
      this.#failOverBytes += e - s;
      this.#overErrors[status & 31]!++;
      this.#failSuppressed++;
      return;
    }
    this.#failStored++;
    this.#append(conn, JournalResultCode.FAIL, 0, statusCode(status), b, s, e);
  }

  /**
   * Gathers the record of a control frame the relay consumed (7.5,
   * **[D-40]**): a hello, a Subscribe or a RecoveryRequest. Over the per-second
   * bound it is only counted.
   *
   * @param conn connection id
   * @param kind hello, subscribe or recovery
   * @param b buffer holding the frame
   * @param s frame start
   * @param e frame end
   */
  control(conn: number, kind: ControlKind, b: Uint8Array, s: number, e: number): void {
    if (this.#pending === 0) this.#batchMs = performance.timeOrigin + performance.now();
    this.#roll();
    const code = ControlKindCode[kind];
    // While writes fail, control records are counted, not tried: only a batch of frames to
    // forward decides whether the journal works again (no flapping on a nearly full disk).
    if (this.#controlStored >= this.#limit || !this.healthy) {
      if (this.#failOver + this.#controlOver === 0) this.#overSinceMs = this.#batchMs;
      this.#controlOver++;
      this.#controlOverBytes += e - s;
      this.#overKinds[code]!++;
      this.#controlSuppressed++;
      return;
    }
    this.#controlStored++;
    this.#append(conn, JournalResultCode.CONTROL, code, null, b, s, e);
  }

  /**
   * Writes the gathered records (one append), rotating first when they would
   * take the live file past `maxBytes`, and syncs under `fsync: always`.
   *
   * @returns true when every record reached the file; false (records discarded) otherwise
   */
  flush(): boolean {
    const n = this.#len;
    if (n === 0) return true;
    const records = this.#pending;
    this.#len = 0;
    this.#pending = 0;
    const f = this.#file;
    let before = -1;
    try {
      const max = this.#options.maxBytes;
      if (max > 0 && f.size > this.#live.headerBytes && f.size + n > max) this.#rotate();
      before = f.size;
      if (before === 0) this.#writeHeader();
      f.write(this.#buf.subarray(0, n));
      if (this.#options.fsync === "always") {
        f.sync();
        this.#syncs++;
      } else this.#dirty = true;
      this.records += records;
      this.bytes += n;
      this.healthy = true;
      return true;
    } catch (e) {
      this.failures++;
      this.healthy = false;
      this.lastError = (e as Error).message;
      if (before >= 0 && f.size > before) {
        try {
          f.truncate(before);
        } catch (t) {
          this.lastError += `; cannot cut back the partial batch: ${(t as Error).message}`;
        }
      }
      return false;
    }
  }

  /** Starts a new file with its header (the segment counts on from the last file's). */
  #writeHeader(): void {
    const header = encodeJournalHeader({
      domain: this.#options.domain,
      relay: this.#options.relay,
      createdNs: BigInt(Date.now()) * 1_000_000n,
      segment: this.#live.segment + 1,
    });
    this.#file.write(header);
    this.bytes += header.length;
    this.#live.segment++;
    this.#live.headerBytes = header.length;
  }

  /** Counters for the relay's stats. */
  stats(): JournalStats {
    return {
      path: this.path,
      fsync: this.#options.fsync,
      records: this.records,
      bytes: this.bytes,
      failures: this.failures,
      failSuppressed: this.#failSuppressed,
      controlSuppressed: this.#controlSuppressed,
      summaries: this.#summaries,
      rotations: this.#file.rotations,
      syncs: this.#syncs,
      syncFailures: this.#syncFailures,
      tornBytesCut: this.#tornBytesCut,
      lastError: this.lastError,
    };
  }

  /** Writes what is gathered and a pending summary, syncs (unless `never`) and closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.flush();
    this.#summarize(Infinity);
    try {
      if (this.#options.fsync !== "never" && this.#dirty) this.#file.sync();
    } catch (e) {
      this.lastError = (e as Error).message;
    }
    this.#file.close();
  }

  /** Appends one record to the batch buffer (header, metadata, frame, CRC). */
  #append(
    conn: number,
    result: number,
    kind: number,
    meta: string | null,
    b: Uint8Array,
    s: number,
    e: number,
  ): void {
    const metaLength = meta === null ? 0 : meta.length;
    const length = RECORD_HEADER_SIZE + metaLength + e - s;
    const at = this.#reserve(length);
    const buf = this.#buf;
    const dv = this.#dv;
    dv.setUint32(at, length, true);
    writeNsFromMs(buf, at + 8, this.#batchMs);
    dv.setUint32(at + 16, conn >>> 0, true);
    buf[at + 20] = result;
    buf[at + 21] = kind;
    dv.setUint16(at + 22, metaLength, true);
    let o = at + RECORD_HEADER_SIZE;
    // Error codes are ASCII names.
    for (let i = 0; i < metaLength; i++) buf[o++] = meta!.charCodeAt(i);
    // Byte by byte up to 512 bytes: no view object per frame (the hot path allocates nothing).
    if (e - s <= 512) {
      for (let i = s; i < e; i++) buf[o++] = b[i]!;
    } else buf.set(b.subarray(s, e), o);
    dv.setUint32(at + 4, crc32(buf, at + 8, at + length), true);
    this.#pending++;
  }

  /** Room for `n` more bytes in the batch buffer; returns where they start. */
  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(at + n, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, at));
      this.#buf = grown;
      this.#dv = new DataView(grown.buffer);
    }
    this.#len = at + n;
    return at;
  }

  /** Starts a new per-second window when the batch time has left the last one. */
  #roll(): void {
    if (this.#batchMs - this.#windowStart < 1000) return;
    this.#summarize(this.#batchMs);
    this.#windowStart = this.#batchMs;
    this.#failStored = 0;
    this.#controlStored = 0;
  }

  /**
   * Gathers a SUMMARY record of what was counted and not stored, once the
   * window it was counted in has ended (before `nowMs`). Written by the batch it
   * lands in, or right away when called outside a batch.
   */
  #summarize(nowMs: number): void {
    if (this.#failOver + this.#controlOver === 0) return;
    if (nowMs - this.#windowStart < 1000) return;
    const inBatch = this.#pending > 0;
    if (!inBatch && !this.healthy) return; // kept for a batch that reaches the file
    const errors: Record<string, number> = {};
    for (let st = 1; st < 32; st++) {
      if (this.#overErrors[st]! > 0) errors[statusCode(st)] = this.#overErrors[st]!;
    }
    const kinds: Record<string, number> = {};
    for (const [name, code] of Object.entries(ControlKindCode)) {
      if (this.#overKinds[code]! > 0) kinds[name] = this.#overKinds[code]!;
    }
    // Rounded as writeNsFromMs rounds receive times, so `since` equals the first such record's time.
    let since = Math.floor(this.#overSinceMs);
    let sub = Math.round((this.#overSinceMs - since) * 1e6);
    if (sub === 1_000_000) [since, sub] = [since + 1, 0];
    const summary: JournalSummary = {
      since_ns: `${since}${String(sub).padStart(6, "0")}`,
      fail_frames: this.#failOver,
      fail_bytes: this.#failOverBytes,
      errors,
      control_frames: this.#controlOver,
      control_bytes: this.#controlOverBytes,
      kinds,
    };
    this.#failOver =
      this.#failOverBytes =
      this.#controlOver =
      this.#controlOverBytes =
        0;
    this.#overErrors.fill(0);
    this.#overKinds.fill(0);
    if (!inBatch) this.#batchMs = performance.timeOrigin + performance.now();
    const json = JSON.stringify(summary);
    this.#append(NO_CONN, JournalResultCode.SUMMARY, 0, json, EMPTY, 0, 0);
    this.#summaries++;
    if (!inBatch && !this.flush()) {
      this.#log.error("cannot write a journal summary record", { error: this.lastError ?? "" });
    }
  }

  /** Rotates, syncing the old file first unless `fsync: never`. */
  #rotate(): void {
    if (this.#options.fsync !== "never" && this.#dirty) {
      // In the background: the old file's handle stays valid for the sync after the rotation closes it.
      const old = this.#file.file;
      old.syncData().catch((e) => this.#syncFailed(e));
    }
    this.#dirty = false;
    this.#file.rotate();
  }

  /** Once a tick: a summary whose second has ended, and the `interval` fsync. */
  #tick(): void {
    if (this.#closed) return;
    this.#summarize(performance.timeOrigin + performance.now());
    if (this.#options.fsync !== "interval" || !this.#dirty || this.#syncing) return;
    this.#dirty = false;
    this.#syncing = true;
    this.#file.file.syncData()
      .then(() => this.#syncs++, (e) => this.#syncFailed(e))
      .finally(() => (this.#syncing = false));
  }

  #syncFailed(e: unknown): void {
    this.#syncFailures++;
    this.lastError = `fsync failed: ${(e as Error).message}`;
    if (this.#syncFailures === 1 || this.#syncFailures % 1000 === 0) {
      this.#log.error("journal fsync failed", {
        error: (e as Error).message,
        failures: this.#syncFailures,
      });
    }
  }
}

const EMPTY = new Uint8Array(0);

/** The live file's segment number and header size. */
interface LiveFile {
  segment: number;
  headerBytes: number;
}

/**
 * Checks the live file before appending: a torn tail is cut (one warn line),
 * damage followed by valid records leaves the file as it is and asks for it
 * to be rotated away (one error line).
 *
 * @returns the file's segment number (0 when new), the bytes cut, whether to rotate it away
 * @throws when the file exists and is not a journal
 */
function repairLiveFile(
  path: string,
  relay: string,
  log: Logger,
): { live: LiveFile; tornBytes: number; rotateAway: boolean } {
  const fresh = { live: { segment: 0, headerBytes: 0 }, tornBytes: 0, rotateAway: false };
  let bytes: Uint8Array;
  try {
    // Only a regular file is read back (a device such as /dev/full is written to, never read).
    if (!Deno.statSync(path).isFile) return fresh;
    bytes = Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return fresh;
    throw e;
  }
  if (bytes.length === 0) return fresh;
  if (bytes.length < JOURNAL_HEADER_FIXED && isMagicPrefix(bytes)) {
    // A crash while the header of a new file was being written.
    Deno.truncateSync(path, 0);
    log.warn("journal: cut a torn file header", { bytes: bytes.length });
    return { ...fresh, tornBytes: bytes.length };
  }
  let header;
  try {
    header = decodeJournalHeader(bytes, path);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; move it away or point the journal elsewhere${
        relay === "" ? "" : ` (relay ${relay})`
      }`,
      { cause: e },
    );
  }
  const live = { segment: header.segment, headerBytes: header.length };
  const dv = new DataView(bytes.buffer);
  let off = header.length;
  let problem: string | null = null;
  while (off < bytes.length && (problem = recordProblem(bytes, off)) === null) {
    off += dv.getUint32(off, true);
  }
  if (problem === null) return { live, tornBytes: 0, rotateAway: false };
  const next = nextValidRecord(bytes, off);
  if (next < 0) {
    Deno.truncateSync(path, off);
    log.warn("journal: cut a torn tail", {
      offset: off,
      bytes: bytes.length - off,
      reason: problem,
    });
    return { live, tornBytes: bytes.length - off, rotateAway: false };
  }
  log.error("journal: corrupt record in the middle; file kept as is and rotated away", {
    offset: off,
    bytes: next - off,
    reason: problem,
    kept_as: `${path}.1`,
  });
  return { live, tornBytes: 0, rotateAway: true };
}

function isMagicPrefix(bytes: Uint8Array): boolean {
  for (let i = 0; i < Math.min(bytes.length, JOURNAL_MAGIC.length); i++) {
    if (bytes[i] !== JOURNAL_MAGIC[i]) return false;
  }
  return true;
}
