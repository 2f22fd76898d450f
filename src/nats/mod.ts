/**
 * Protocol V2 frames over NATS (PROTOCOL.md 7.12): the subject of each domain,
 * the `Torq-Origin` header, {@linkcode NatsFrameConn} (a NATS subject as a relay
 * connection), {@linkcode CorePublisher}, {@linkcode NatsTransport} (the client's
 * `nats://` paths) and {@linkcode connectNats}. Importing this folder loads the
 * NATS client library, so relay processes import it only when a bridge is
 * enabled (src/daemon/bridges.ts).
 *
 * @example
 * ```ts
 * import { natsSubject } from "./mod.ts";
 *
 * natsSubject("torq", 2); // "torq.signals"
 * ```
 *
 * @module
 */

export {
  connectNats,
  CorePublisher,
  DEFAULT_SUBJECT_PREFIX,
  FrameSplitter,
  hasOrigin,
  isNatsAddress,
  NATS_DOMAIN_SUBJECTS,
  NatsFrameConn,
  natsMessageProblem,
  natsSubject,
  NatsTransport,
  newOriginId,
  ORIGIN_HEADER,
  originHeaders,
  originLine,
  parseNatsServers,
} from "./frames.ts";
export type {
  CorePublisherCounters,
  CorePublisherOptions,
  FrameMatcher,
  NatsFrameConnOptions,
  NatsMessageLimits,
  NatsTransportOptions,
} from "./frames.ts";
