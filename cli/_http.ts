/**
 * The HTTP API and dashboard as `torq up` and `torq relay` run them: bind
 * first (so a port in use is one line and nothing else starts), then observe
 * the relays once they run, and shut down before they stop.
 *
 * @module
 */

import type { HttpServer, Hub } from "../src/http/mod.ts";
import type { Relay } from "../src/relay/mod.ts";
import type { HttpConfig } from "../src/config/mod.ts";
import type { Logger } from "../src/log/mod.ts";
import { isLoopback } from "../src/transport/mod.ts";
import { CliError } from "./_args.ts";

/** Options of {@linkcode bindHttp}. */
export interface BindHttpOptions {
  /** The `http` section: allowed hosts, connection cap, timeouts. */
  http?: HttpConfig;
  /** The connection cap in effect (the descriptor budget's), instead of `http.max_connections`. */
  maxConnections?: number;
  /** Where the server logs refusals, timeouts and failures. */
  logger?: Logger;
}

/** A bound HTTP server and the hub behind it. */
export interface HttpFront {
  /** The hub (relays are added once they run). */
  hub: Hub;
  /** The server. */
  server: HttpServer;
  /** Adds the running relays and starts the hub. */
  observe(relays: readonly Relay[]): void;
  /** Closes streams, stops the server and the hub. */
  stop(): Promise<void>;
}

/**
 * Binds the HTTP server with an empty hub; warns on stderr when the address
 * is reachable from other machines. The server and dashboard modules are
 * loaded here, so a relay run without HTTP does not hold them.
 *
 * @param command e.g. `torq up`, for the warning line
 * @param listen `host:port` (or `http://host:port/`)
 * @param token bearer token or null
 * @param options the `http` section, the connection cap in effect, the logger
 * @returns the bound server
 * @throws {CliError} one line when the address is bad or in use
 */
export async function bindHttp(
  command: string,
  listen: string,
  token: string | null,
  options: BindHttpOptions = {},
): Promise<HttpFront> {
  const { Hub, HttpServeError, serveHttp } = await import("../src/http/mod.ts");
  const hub = new Hub([]);
  let server: HttpServer;
  try {
    const http = options.http;
    // HOST:PORT, or the URL the dashboard line printed.
    server = serveHttp(hub, {
      listen: listen.replace(/^https?:\/\//, "").replace(/\/$/, ""),
      token,
      ...(http === undefined ? {} : {
        allowedHosts: http.allowed_hosts,
        maxConnections: options.maxConnections ?? http.max_connections,
        headerTimeoutMs: http.header_timeout_ms,
        idleTimeoutMs: http.idle_timeout_ms,
      }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } catch (e) {
    if (e instanceof HttpServeError) {
      throw new CliError(
        e.reason === "bad_address"
          ? e.message
          : `${e.message} (choose another with --http HOST:PORT)`,
      );
    }
    throw e;
  }
  if (!isLoopback(server.hostname)) {
    console.error(
      `${command}: warning: the HTTP API on ${server.hostname}:${server.port} is reachable from other machines${
        token === null ? " and has no token (set http.token)" : ""
      }`,
    );
  }
  return {
    hub,
    server,
    observe(relays) {
      for (const r of relays) hub.add(r);
      hub.start();
    },
    async stop() {
      await server.shutdown();
      hub.stop();
    },
  };
}

/**
 * The line announcing the dashboard (the token is never printed).
 *
 * @param front the bound server
 * @param token the configured token, to say that one is needed
 * @returns e.g. `dashboard: http://127.0.0.1:7420/`
 */
export function dashboardLine(front: HttpFront, token: string | null): string {
  return `dashboard: ${front.server.url}${
    token === null ? "" : "  (bearer token required: add ?token=TOKEN once)"
  }`;
}
