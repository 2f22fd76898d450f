/**
 * The audit policy's append-only journal (PROTOCOL.md 7.5): one JSON line per
 * message, `{"ts","relay","conn","domain","source","sequence","size","result","error"?}`.
 *
 * Lines of one read batch are buffered and written with one synchronous append
 * before any frame of the batch is forwarded, so a frame that could not be
 * journaled is never forwarded: {@linkcode AuditJournal.flush} returns false and
 * the relay rejects the batch's frames instead. A write that fails part way (disk
 * full) is rolled back by truncating the file to its length before the batch, so the
 * journal never holds a line for a frame that was refused, nor a torn line.
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
  /** Whether the last write reached the file (false after a failed flush until one succeeds). */
  healthy = true;
  readonly #file: Deno.FsFile;
  /** File length after the last complete batch (where a failed batch is cut back to). */
  #size: number;
  readonly #relay: string;
  #parts: string[] = [];
  #tsMs = -1;
  #ts = "";

  private constructor(path: string, relay: string, file: Deno.FsFile, size: number) {
    this.path = path;
    this.#relay = JSON.stringify(relay);
    this.#file = file;
    this.#size = size;
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
    let size = 0;
    try {
      const info = file.statSync();
      size = info.isFile ? info.size : 0;
    } catch (e) {
      file.close();
      throw e;
    }
    return new AuditJournal(path, relay, file, size);
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
    let off = 0;
    try {
      while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
      this.lines += n;
      this.#size += bytes.length;
      this.healthy = true;
      return true;
    } catch (e) {
      this.failures++;
      this.healthy = false;
      this.lastError = (e as Error).message;
      if (off > 0) {
        try {
          this.#file.truncateSync(this.#size);
        } catch (t) {
          this.lastError += `; cannot cut back the partial batch: ${(t as Error).message}`;
        }
      }
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
