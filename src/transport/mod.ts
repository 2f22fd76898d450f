/**
 * How bytes move between processes: one small interface ({@linkcode Transport},
 * {@linkcode StreamConn}) and its socket implementations (Unix sockets, TCP),
 * and the accept loop every listener runs ({@linkcode acceptEach}). Frames over
 * NATS are in src/nats, loaded only where a NATS path or bridge is used.
 *
 * @example
 * ```ts
 * import { UnixTransport } from "./mod.ts";
 *
 * const conn = await new UnixTransport("/tmp/torq/signals.sock").connect();
 * conn.close();
 * ```
 *
 * @module
 */

export { TransportError } from "./transport.ts";
export type { StreamConn, Transport, TransportListener } from "./transport.ts";
export { checkSocketDir, checkSocketMode, connectError, UnixTransport } from "./unix.ts";
export type { UnixTransportOptions } from "./unix.ts";
export { ACCEPT_RETRY_FIRST_MS, ACCEPT_RETRY_MAX_MS, acceptEach, AcceptHealth } from "./accept.ts";
export type { AcceptEachOptions } from "./accept.ts";
export { isLoopback, parseTcpAddress, TcpTransport } from "./tcp.ts";
