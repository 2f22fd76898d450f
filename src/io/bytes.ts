/**
 * Joining byte chunks.
 *
 * @module
 */

/**
 * The chunks laid back to back in one new buffer.
 *
 * @param parts the chunks, in order
 * @returns a new buffer of their summed length (a copy even for one chunk)
 * @example
 * ```ts
 * concat([new Uint8Array([1, 2]), new Uint8Array([3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
