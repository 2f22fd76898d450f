/**
 * Transports: one small interface, several implementations (Unix sockets,
 * TCP, NATS).
 *
 * @module
 */
export { TransportError } from "./transport.ts";
export type { StreamConn, Transport, TransportListener } from "./transport.ts";
export { checkSocketDir, checkSocketMode, connectError, UnixTransport } from "./unix.ts";
export { ACCEPT_RETRY_FIRST_MS, ACCEPT_RETRY_MAX_MS, acceptEach, AcceptHealth } from "./accept.ts";
export type { AcceptEachOptions } from "./accept.ts";
export type { UnixTransportOptions } from "./unix.ts";
export { isLoopback, parseTcpAddress, TcpTransport } from "./tcp.ts";
export {
  CorePublisher,
  DEFAULT_SUBJECT_PREFIX,
  FrameSplitter,
  hasOrigin,
  isNatsAddress,
  NATS_DOMAIN_SUBJECTS,
  NatsFrameConn,
  natsSubject,
  NatsTransport,
  newOriginId,
  ORIGIN_HEADER,
  originHeaders,
  originLine,
  parseNatsServers,
} from "./nats.ts";
export type {
  CorePublisherCounters,
  CorePublisherOptions,
  FrameMatcher,
  NatsFrameConnOptions,
  NatsTransportOptions,
} from "./nats.ts";
