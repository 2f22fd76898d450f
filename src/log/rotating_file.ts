/**
 * An append-only file rotated by size: `name` is written until the next write
 * would take it past `maxBytes`; then `name.(keep-1)` … `name.1` move up one,
 * `name` becomes `name.1` and a new `name` is started. The oldest beyond `keep`
 * is deleted. Writes are synchronous and whole (a short write is continued), so
 * a caller that journals before it acts knows the bytes reached the file.
 *
 * Used by the audit journal, log files and service logs: one rotation rule for
 * every file Torq keeps growing.
 *
 * @module
 */

import { dirname } from "node:path";

/** Options of {@linkcode RotatingFile.open}. */
export interface RotatingFileOptions {
  /** Rotate when a write would take the file past this many bytes (0: never rotate). */
  maxBytes: number;
  /** Rotated files kept beside the live one (`name.1` … `name.keep`); at least 1 when rotating. */
  keep: number;
  /** Permissions of a new file (default 0o640). */
  mode?: number;
  /**
   * Called after each rotation with the new, empty file open: a format with a
   * file header writes it here (with {@linkcode RotatingFile.write}, which does not
   * rotate again while the file is empty).
   */
  onRotate?: (file: RotatingFile) => void;
}

/**
 * A size-rotated append-only file.
 *
 * @example
 * ```ts
 * const log = RotatingFile.open("/tmp/torq/service.log", { maxBytes: 10 << 20, keep: 3 });
 * log.write(new TextEncoder().encode("started\n"));
 * log.close();
 * ```
 */
export class RotatingFile {
  /** The live file's path. */
  readonly path: string;
  /** Rotations so far. */
  rotations = 0;
  readonly #options: RotatingFileOptions;
  #file: Deno.FsFile;
  #size: number;

  private constructor(path: string, options: RotatingFileOptions, file: Deno.FsFile, size: number) {
    this.path = path;
    this.#options = options;
    this.#file = file;
    this.#size = size;
  }

  /**
   * Opens `path` for appending (creating it and its directory).
   *
   * @param path the live file
   * @param options size limit, files kept, mode
   * @returns the open file
   * @throws Deno errors when the file cannot be created or opened
   */
  static open(path: string, options: RotatingFileOptions): RotatingFile {
    Deno.mkdirSync(dirname(path), { recursive: true });
    const file = openAppend(path, options.mode);
    let size = 0;
    try {
      size = file.statSync().size;
    } catch (e) {
      file.close();
      throw e;
    }
    return new RotatingFile(path, options, file, size);
  }

  /** Bytes in the live file. */
  get size(): number {
    return this.#size;
  }

  /** The live file's handle (valid until the next rotation or close). */
  get file(): Deno.FsFile {
    return this.#file;
  }

  /**
   * Appends `bytes` whole, rotating first when they would take a non-empty
   * file past `maxBytes`.
   *
   * @param bytes what to append
   * @throws Deno errors of the write (the file may then hold a part of `bytes`:
   * see {@linkcode truncate})
   */
  write(bytes: Uint8Array): void {
    const max = this.#options.maxBytes;
    if (max > 0 && this.#size > 0 && this.#size + bytes.length > max) this.rotate();
    let off = 0;
    try {
      while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
    } finally {
      this.#size += off;
    }
  }

  /**
   * Cuts the live file back to `size` bytes (e.g. a batch that failed part way).
   *
   * @param size the length to keep
   */
  truncate(size: number): void {
    this.#file.truncateSync(size);
    this.#size = size;
  }

  /** Flushes the file's data to the disk (fdatasync). */
  sync(): void {
    this.#file.syncDataSync();
  }

  /** Starts a new live file now, keeping the old one as `name.1`. */
  rotate(): void {
    const keep = Math.max(1, this.#options.keep);
    this.#file.close();
    try {
      Deno.removeSync(`${this.path}.${keep}`);
    } catch {
      // none that old yet
    }
    for (let k = keep - 1; k >= 1; k--) {
      try {
        Deno.renameSync(`${this.path}.${k}`, `${this.path}.${k + 1}`);
      } catch {
        // a gap in the sequence: nothing to move
      }
    }
    Deno.renameSync(this.path, `${this.path}.1`);
    this.#file = openAppend(this.path, this.#options.mode);
    this.#size = 0;
    this.rotations++;
    this.#options.onRotate?.(this);
  }

  /** Closes the live file. */
  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The files of a rotated set, oldest first: `name.keep` … `name.1`, then `name`
 * (those that exist).
 *
 * @param path the live file's path
 * @returns existing paths, oldest first
 */
export function rotatedFiles(path: string): string[] {
  const out: string[] = [];
  for (let k = 1;; k++) {
    try {
      Deno.statSync(`${path}.${k}`);
      out.unshift(`${path}.${k}`);
    } catch {
      break;
    }
  }
  try {
    Deno.statSync(path);
    out.push(path);
  } catch {
    // no live file
  }
  return out;
}

function openAppend(path: string, mode = 0o640): Deno.FsFile {
  return Deno.openSync(path, { append: true, create: true, write: true, mode });
}
