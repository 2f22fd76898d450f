/**
 * Small helpers shared by the configuration modules. Internal: not exported from `mod.ts`.
 *
 * @module
 */

/** A key path inside a configuration document. */
export type KeyPath = readonly (string | number)[];

/**
 * True for a plain mapping (not null, not an array).
 *
 * @param value anything
 * @returns whether `value` is a non-array object
 * @example
 * ```ts
 * isRecord({ a: 1 }); // true
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A value as it appears in a message: strings quoted, lists and mappings named.
 *
 * @param value anything
 * @returns e.g. `"yes"` (with quotes), `12`, `null`, `a list`, `a mapping`
 * @example
 * ```ts
 * show("yes"); // "\"yes\""
 * ```
 */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/**
 * Look a path up in plain data.
 *
 * @param data a document
 * @param path keys and list indexes
 * @returns `{ found: true, value }` or `{ found: false }`
 * @example
 * ```ts
 * valueAt({ a: [1, 2] }, ["a", 1]); // { found: true, value: 2 }
 * ```
 */
export function valueAt(data: unknown, path: KeyPath): { found: boolean; value?: unknown } {
  let node: unknown = data;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === "number" && key < node.length) {
      node = node[key];
    } else if (isRecord(node) && Object.hasOwn(node, key)) {
      node = node[key];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: node };
}

/**
 * A key path as printed in messages: `relays.signal.topics.available[2]`.
 *
 * @param path keys and list indexes
 * @returns the dotted path, `""` for the root
 * @example
 * ```ts
 * dottedPath(["relays", "signal", "topics", "available", 2]); // "relays.signal.topics.available[2]"
 * ```
 */
export function dottedPath(path: KeyPath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? key : `.${key}`;
  }
  return out;
}

/** A file over the size limit of configuration and schema files: refused before it is parsed. */
export class FileTooLarge extends Error {
  /**
   * @param size its size in bytes, or null when it was read only up to the limit (a pipe)
   * @param limit the largest size accepted
   */
  constructor(size: number | null, limit: number) {
    const most = `the ${
      limit / 1_048_576
    } MiB (${limit} bytes) a configuration or schema file may have`;
    super(`Cannot use file: it has ${size === null ? "" : `${size} bytes, `}more than ${most}`);
    this.name = "FileTooLarge";
  }
}

/**
 * Reads a text file of at most `limit` bytes, never reading more than `limit + 1`
 * of it, whatever it is (a huge file, a device, a pipe).
 *
 * @param path the file
 * @param limit largest size accepted, in bytes
 * @returns its text (UTF-8)
 * @throws {FileTooLarge} when it is larger; the errors of opening and reading it
 * @example
 * ```ts
 * const text = readBounded("torq.yaml", 1_048_576);
 * ```
 */
export function readBounded(path: string, limit: number): string {
  using file = Deno.openSync(path, { read: true });
  const info = file.statSync();
  if (info.isFile && info.size > limit) throw new FileTooLarge(info.size, limit);
  const buf = new Uint8Array(limit + 1);
  let n = 0;
  while (n < buf.length) {
    const got = file.readSync(buf.subarray(n));
    if (got === null) break;
    n += got;
  }
  if (n > limit) throw new FileTooLarge(null, limit);
  return new TextDecoder().decode(buf.subarray(0, n));
}
