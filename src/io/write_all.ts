/**
 * Writing a whole buffer to a writer that may take part of it per call
 * (sockets, files, stdout): the loop every caller would otherwise repeat.
 *
 * @module
 */

/** Anything with `write()` that reports how many bytes it took: a socket, a file, a `StreamConn`. */
export interface Writer {
  /**
   * Writes some of `p`.
   *
   * @param p the bytes
   * @returns how many were written
   */
  write(p: Uint8Array): Promise<number>;
}

/** Anything with `writeSync()` that reports how many bytes it took: a file, stdout. */
export interface WriterSync {
  /**
   * Writes some of `p`.
   *
   * @param p the bytes
   * @returns how many were written
   */
  writeSync(p: Uint8Array): number;
}

/**
 * Writes every byte of `bytes`, calling `write()` until all are taken. The
 * first call gets `bytes` itself, later calls the rest as a view (no copy).
 *
 * @param writer where to write
 * @param bytes what to write
 * @returns once every byte is written
 * @throws what `write()` throws
 * @example
 * ```ts
 * const got: number[] = [];
 * // A writer that takes one byte per call.
 * const slow = { write: (p: Uint8Array) => Promise.resolve(got.push(p[0]!) && 1) };
 * await writeAll(slow, new Uint8Array([1, 2, 3]));
 * got; // [1, 2, 3]
 * ```
 */
export async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    off += await writer.write(off === 0 ? bytes : bytes.subarray(off));
  }
}

/**
 * Writes every byte of `bytes` synchronously, calling `writeSync()` until all
 * are taken.
 *
 * @param writer where to write
 * @param bytes what to write
 * @throws what `writeSync()` throws
 * @example
 * ```ts
 * const got: number[] = [];
 * writeAllSync({ writeSync: (p: Uint8Array) => got.push(...p) && p.length }, new Uint8Array([7]));
 * got; // [7]
 * ```
 */
export function writeAllSync(writer: WriterSync, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writer.writeSync(off === 0 ? bytes : bytes.subarray(off));
}
