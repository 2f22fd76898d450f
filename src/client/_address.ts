/**
 * Which transport a client path names: `tcp://HOST:PORT`, `nats://HOST:PORT`
 * (comma-separated servers allowed) or a Unix socket path.
 *
 * Over NATS there is no relay on the other side of the connection: the client
 * reads the domain's subject directly. Subscribe patterns are applied on the
 * client's side, with the topics a relay would derive under its default
 * extraction (`source_type`; `fixed: execution` on the execution domain).
 *
 * @module
 */

import { parseTcpAddress, TcpTransport, type Transport, UnixTransport } from "../transport/mod.ts";
import { type FrameMatcher, isNatsAddress, NatsTransport, parseNatsServers } from "../nats/mod.ts";
import { Filter, FrameTopics, TopicRegistry } from "../protocol/mod.ts";

/**
 * The transport for a client path.
 *
 * @param path socket path, `tcp://HOST:PORT` or `nats://HOST:PORT`
 * @param domain canonical domain 1–4 (the NATS subject)
 * @returns the transport
 * @throws {TransportError} for a malformed TCP or NATS address
 * @example
 * ```ts
 * transportForPath("nats://127.0.0.1:4222", 2).address; // "nats://127.0.0.1:4222"
 * ```
 */
export function transportForPath(path: string, domain: number): Transport {
  if (/^tcp:\/\//i.test(path)) {
    const { hostname, port } = parseTcpAddress(path);
    return new TcpTransport(hostname, port);
  }
  if (isNatsAddress(path)) {
    return new NatsTransport({
      servers: parseNatsServers(path),
      domain,
      compileFilter: (patterns) => compileTopicFilter(patterns, domain),
    });
  }
  return new UnixTransport(path);
}

/**
 * A matcher for Subscribe patterns with the relay's topic rules (7.8).
 *
 * @param patterns the patterns in effect (empty: nothing matches)
 * @param domain canonical domain (selects the default extraction)
 * @returns the matcher
 */
function compileTopicFilter(patterns: readonly string[], domain: number): FrameMatcher {
  const registry = new TopicRegistry(`${domain === 3 ? "execution" : "default"}_all`, [], true);
  const topics = new FrameTopics(
    registry,
    domain === 3 ? { kind: "fixed", name: "execution" } : { kind: "source_type" },
  );
  const filter = new Filter(patterns, registry);
  if (filter.all) return () => true;
  if (filter.publishOnly) return () => false;
  return (b, s, e) => {
    topics.compute(b, s, e);
    return filter.matches(topics);
  };
}
