/**
 * The audit policy's append-only journal (PROTOCOL.md 7.5): one JSON line per
 * message, `{"ts","relay","conn","domain","source","sequence","size","result","error"?}`.
 *
 * Lines of one read batch are buffered and written with one synchronous append
 * before any frame of the batch is forwarded, so a frame that could not be
 * journaled is never forwarded: {@linkcode AuditJournal.flush} returns false and
 * the relay rejects the batch's frames instead.
 *
 * @module
 */

import { dirname } from "node:path";

const encoder = new TextEncoder();

/**
 * An append-only JSON-lines journal.
 *
 * @example
 * ```ts
 * const j = AuditJournal.open("/tmp/torq/execution.audit.jsonl", "execution");
 * j.record(Date.now(), 1, 3, 40, 0, 1, 66, null);
 * j.flush();
 * ```
 */
export class AuditJournal {
  /** Where it writes. */
  readonly path: string;
  /** Lines written. */
  lines = 0;
  /** Failed flushes. */
  failures = 0;
  /** The last write error, if any. */
  lastError: string | null = null;
  readonly #file: Deno.FsFile;
  readonly #relay: string;
  #parts: string[] = [];
  #tsMs = -1;
  #ts = "";

  private constructor(path: string, relay: string, file: Deno.FsFile) {
    this.path = path;
    this.#relay = JSON.stringify(relay);
    this.#file = file;
  }

  /**
   * Opens (creating) a journal for appending.
   *
   * @param path file path; its directory is created if missing
   * @param relay relay name written on every line
   * @returns the journal
   * @throws when the file cannot be opened for appending
   */
  static open(path: string, relay: string): AuditJournal {
    Deno.mkdirSync(dirname(path), { recursive: true });
    const file = Deno.openSync(path, { append: true, create: true, write: true });
    return new AuditJournal(path, relay, file);
  }

  /** Lines buffered but not yet written. */
  get pending(): number {
    return this.#parts.length;
  }

  /**
   * Buffers one record.
   *
   * @param nowMs receive time (ms)
   * @param conn connection id
   * @param domain header relay_domain
   * @param source header source
   * @param seqHi high 32 bits of the sequence
   * @param seqLo low 32 bits of the sequence
   * @param size message size
   * @param error null for PASS, else the error code
   */
  record(
    nowMs: number,
    conn: number,
    domain: number,
    source: number,
    seqHi: number,
    seqLo: number,
    size: number,
    error: string | null,
  ): void {
    if (nowMs !== this.#tsMs) {
      this.#tsMs = nowMs;
      this.#ts = new Date(nowMs).toISOString();
    }
    const seq = seqHi < 2097152
      ? String(seqHi * 4294967296 + seqLo)
      : ((BigInt(seqHi) << 32n) | BigInt(seqLo)).toString();
    this.#parts.push(
      `{"ts":"${this.#ts}","relay":${this.#relay},"conn":${conn},"domain":${domain},"source":${source},"sequence":"${seq}","size":${size},"result":"${
        error === null ? "PASS" : "FAIL"
      }"${error === null ? "" : `,"error":"${error}"`}}\n`,
    );
  }

  /**
   * Writes the buffered lines.
   *
   * @returns true when every line reached the file; false (lines discarded) otherwise
   */
  flush(): boolean {
    if (this.#parts.length === 0) return true;
    const bytes = encoder.encode(this.#parts.join(""));
    const n = this.#parts.length;
    this.#parts = [];
    try {
      let off = 0;
      while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
      this.lines += n;
      return true;
    } catch (e) {
      this.failures++;
      this.lastError = (e as Error).message;
      return false;
    }
  }

  /** Flushes and closes the file. */
  close(): void {
    this.flush();
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
