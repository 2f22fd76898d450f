/**
 * Serving the HTTP API and dashboard: parse `host:port`, bind (port 0 picks a
 * free port; the bound address is returned) with the bounded HTTP/1.1 server
 * of `http1.ts` (a connection cap, header and idle timeouts, an accept loop
 * that survives EMFILE), and shut down gracefully (live streams closed first,
 * then in-flight requests finish).
 *
 * @module
 */

import type { Hub } from "./hub.ts";
import { createApp } from "./app.ts";
import { Http1Server, type Http1Stats } from "./http1.ts";
import type { Logger } from "../log/mod.ts";
import { isLoopback } from "../transport/mod.ts";

/** Options of {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** `host:port` (`[::1]:7420` for IPv6); port 0 picks a free port. */
  listen: string;
  /** Bearer token for every route but `/healthz`; null or absent means none. */
  token?: string | null;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** SSE heartbeat period in ms (default 15000). */
  heartbeatMs?: number;
  /** Connections held at most (default 128; see `Http1Server`). */
  maxConnections?: number;
  /** Time to receive a request's head, in ms (default 10,000). */
  headerTimeoutMs?: number;
  /** Time a kept-alive connection may wait for its next request, in ms (default 5,000). */
  idleTimeoutMs?: number;
  /**
   * Host names (`name` or `name:port`) accepted besides the loopback ones. When the server
   * listens on loopback, or when this is not empty, requests naming any other host are
   * answered 403 (DNS rebinding protection; see `createApp`).
   */
  allowedHosts?: readonly string[];
  /** Where the server logs refusals, timeouts and failures. */
  logger?: Logger;
}

/** A running HTTP server. */
export interface HttpServer {
  /** Bound host name. */
  hostname: string;
  /** Bound port (the real one when 0 was asked for). */
  port: number;
  /** `http://host:port/`, without any token. */
  url: string;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Closes live streams, then stops the server (waits at most `timeoutMs`, default 2000). */
  shutdown(timeoutMs?: number): Promise<void>;
  /** The server's connection counters. */
  stats(): Http1Stats;
}

/** Why the HTTP server could not start: a bad address, a port in use, no permission. */
export class HttpServeError extends Error {
  /** `bad_address`, `in_use`, `denied`, `unavailable` or `other`. */
  readonly reason: string;

  /**
   * @param reason short machine-readable reason
   * @param message one readable line
   */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "HttpServeError";
    this.reason = reason;
  }
}

/**
 * Splits `host:port` (or `[v6]:port`).
 *
 * @param listen the address text
 * @returns host name and port
 * @throws {HttpServeError} when it is not `host:port` with a port in 0–65535
 * @example
 * ```ts
 * parseListen("127.0.0.1:7420"); // { hostname: "127.0.0.1", port: 7420 }
 * ```
 */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new HttpServeError(
      "bad_address",
      `Cannot listen on "${listen}": expected HOST:PORT, e.g. 127.0.0.1:7420`,
    );
  }
  return { hostname: m[1] ?? m[2]!, port };
}

/**
 * Serves the hub's app on `options.listen`. Prints nothing.
 *
 * @param hub the observed relays
 * @param options address, token, stop signal
 * @returns the running server with its bound address
 * @throws {HttpServeError} when the address is bad or cannot be bound
 * @example
 * ```ts
 * import type { Hub } from "./hub.ts";
 * declare const hub: Hub;
 *
 * const server = serveHttp(hub, { listen: "127.0.0.1:0" });
 * console.log(server.url); // http://127.0.0.1:40123/
 * await server.shutdown();
 * ```
 */
export function serveHttp(hub: Hub, options: ServeHttpOptions): HttpServer {
  const { hostname, port } = parseListen(options.listen);
  let server: Http1Server;
  const app = createApp(hub, {
    token: options.token ?? null,
    httpStats: () => server.stats(),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    // On loopback, only loopback names (and configured ones) are answered: DNS rebinding.
    ...(isLoopback(hostname) || (options.allowedHosts?.length ?? 0) > 0
      ? { allowedHosts: options.allowedHosts ?? [] }
      : {}),
  });
  try {
    server = new Http1Server({
      hostname,
      port,
      handler: (request) => app.fetch(request),
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      ...(options.headerTimeoutMs === undefined
        ? {}
        : { headerTimeoutMs: options.headerTimeoutMs }),
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } catch (e) {
    throw bindError(e, options.listen);
  }
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  let stopping: Promise<void> | null = null;
  const shutdown = (timeoutMs = 2000): Promise<void> => {
    if (stopping !== null) return stopping;
    hub.closeListeners();
    stopping = server.shutdown(timeoutMs);
    return stopping;
  };
  const signal = options.signal;
  if (signal !== undefined) {
    if (signal.aborted) void shutdown();
    else signal.addEventListener("abort", () => void shutdown(), { once: true });
  }
  return {
    hostname: server.hostname,
    port: server.port,
    url: `http://${host}:${server.port}/`,
    finished: server.finished,
    shutdown,
    stats: () => server.stats(),
  };
}

function bindError(e: unknown, listen: string): HttpServeError {
  const what = `Cannot listen on ${listen}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return new HttpServeError("in_use", `${what}: address already in use`);
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new HttpServeError("denied", `${what}: permission denied`);
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return new HttpServeError("unavailable", `${what}: address not available on this machine`);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new HttpServeError("other", `${what}: ${message}`);
}
