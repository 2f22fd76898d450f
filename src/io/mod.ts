/**
 * Small primitives every layer shares, of the kind denoland/std gives in
 * `@std/bytes`, `@std/io` and `@std/async` (JSR is out of this project's
 * reach): {@linkcode concat}, {@linkcode writeAll} and {@linkcode writeAllSync}
 * over any writer, and waiting: an abortable {@linkcode sleep}, the
 * exponential {@linkcode Backoff} of reconnect loops and one turn of the event
 * loop ({@linkcode nextTurn}). Pure TypeScript with no Deno APIs, like
 * src/protocol.
 *
 * @example
 * ```ts
 * import { concat, writeAll, type Writer } from "./mod.ts";
 *
 * declare const socket: Writer;
 * await writeAll(socket, concat([new Uint8Array([1]), new Uint8Array([2])]));
 * ```
 *
 * @module
 */

export { concat } from "./bytes.ts";
export { writeAll, writeAllSync } from "./write_all.ts";
export type { Writer, WriterSync } from "./write_all.ts";
export { Backoff, backoffDelay, nextTurn, sleep } from "./delay.ts";
export type { BackoffOptions } from "./delay.ts";
