/**
 * Transports: one small interface, several implementations.
 *
 * @module
 */
export { TransportError } from "./transport.ts";
export type { StreamConn, Transport, TransportListener } from "./transport.ts";
export { connectError, UnixTransport } from "./unix.ts";
export type { UnixTransportOptions } from "./unix.ts";
export { isLoopback, parseTcpAddress, TcpTransport } from "./tcp.ts";
