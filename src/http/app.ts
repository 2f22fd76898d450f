/**
 * The HTTP API and dashboard as a hono app over a {@linkcode Hub}: every route
 * of `api.ts`, the optional bearer token, and the Server-Sent Events stream.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { createHash, timingSafeEqual } from "node:crypto";
import type { ErrorResponse, ServicesResponse, TlvTypeJson } from "./api.ts";
import { CONNECTION_SORTS, type ConnectionSort, type Hub, processInfo } from "./hub.ts";
import { METRICS_CONTENT_TYPE, prometheusText } from "./metrics.ts";
import type { Http1Stats } from "./http1.ts";
import { dashboardAssets } from "./dashboard/mod.ts";
import { formatSizeRule, TLV_TYPES } from "../protocol/mod.ts";

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /** Bearer token required by every route but `/healthz`; null or absent means none. */
  token?: string | null;
  /** Period of the SSE heartbeat comment in ms (default 15000). */
  heartbeatMs?: number;
  /** Decoded messages replayed to a new stream (default 200, as many as the hub keeps). */
  replayMessages?: number;
  /**
   * When given, only requests whose `Host` is a loopback name (`localhost`, `*.localhost`,
   * `127.x.x.x`, `[::1]`, with any port) or one of these (`name` or `name:port`) are
   * answered; others get 403. A web page of another site whose name an attacker points at
   * 127.0.0.1 (DNS rebinding) sends its own name as `Host`, so it cannot read the API.
   * Absent: every `Host` is answered.
   */
  allowedHosts?: readonly string[];
  /** The HTTP server's own counters, for `/metrics` (the server serving this app). */
  httpStats?: () => Http1Stats;
}

/** Name of the cookie that keeps a token given once as `?token=`. */
export const TOKEN_COOKIE = "torq_token";

/** SSE chunks a slow client may leave unread before messages are skipped. */
const STREAM_SOFT_LIMIT = 32;
/** SSE chunks left unread after which the stream is closed (the client reconnects). */
const STREAM_HARD_LIMIT = 600;

/**
 * Builds the app: `/healthz`, `/metrics`, `/api/relays`, `/api/connections`,
 * `/api/rejects`, `/api/timeline`, `/api/tlv-types`, `/api/services`, `/api/stream`, and the
 * dashboard at `/` and `/assets/*`.
 *
 * @param hub the observed relays
 * @param options token and stream settings
 * @returns the hono app (`app.fetch` serves it; `app.request()` tests it)
 * @example
 * ```ts
 * import { Http1Server } from "./http1.ts";
 * import type { Hub } from "./hub.ts";
 * declare const hub: Hub;
 *
 * const app = createApp(hub, { token: null, allowedHosts: [] });
 * new Http1Server({ hostname: "127.0.0.1", port: 7420, handler: app.fetch });
 * ```
 */
export function createApp(hub: Hub, options: AppOptions = {}): Hono {
  const token = options.token ?? null;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const replay = options.replayMessages ?? 200;
  const assets = dashboardAssets();
  const app = new Hono();

  app.onError((e, c) => c.json<ErrorResponse>({ error: `Internal error: ${e.message}` }, 500));
  app.notFound((c) => c.json<ErrorResponse>({ error: `No route ${c.req.path}` }, 404));

  if (options.allowedHosts !== undefined) {
    const allowed = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
    app.use("*", async (c, next) => {
      const host = c.req.header("Host");
      if (host !== undefined && !hostAllowed(host, allowed)) {
        c.header("Cache-Control", "no-store");
        return c.json<ErrorResponse>({
          error: `Forbidden: this server answers to localhost, 127.0.0.1 and [::1]${
            allowed.size === 0 ? "" : ` and ${[...allowed].join(", ")}`
          }, not to Host ${JSON.stringify(host)} (add it to http.allowed_hosts if it is yours)`,
        }, 403);
      }
      await next();
    });
  }

  app.get("/healthz", async (c) => {
    const health = await hub.health();
    c.header("Cache-Control", "no-store");
    return c.json(health, health.status === "ok" ? 200 : 503);
  });

  if (token !== null) {
    app.use("*", async (c, next) => {
      const fromQuery = c.req.query("token");
      const given = bearer(c.req.header("Authorization")) ?? fromQuery ??
        cookie(c.req.header("Cookie"), TOKEN_COOKIE);
      if (given === undefined || !tokenMatches(given, token)) {
        c.header("WWW-Authenticate", 'Bearer realm="torq"');
        return c.json<ErrorResponse>(
          { error: "Unauthorized: a valid bearer token is required" },
          401,
        );
      }
      if (fromQuery !== undefined && c.req.method === "GET") {
        c.header(
          "Set-Cookie",
          `${TOKEN_COOKIE}=${encodeURIComponent(fromQuery)}; Path=/; HttpOnly; SameSite=Strict`,
        );
      }
      await next();
    });
  }

  app.use("/api/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });

  app.get("/metrics", (c) => {
    const text = prometheusText(
      hub.relays.map((r) => r.stats()),
      processInfo(),
      hub.services(),
      options.httpStats?.(),
    );
    return c.body(text, 200, { "Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store" });
  });

  app.get("/api/relays", (c) => c.json(hub.relaysResponse()));

  app.get("/api/connections", (c) => {
    const relay = relayParam(c, hub);
    if (relay instanceof Response) return relay;
    const sort = c.req.query("sort") ?? "pending";
    if (!(CONNECTION_SORTS as readonly string[]).includes(sort)) {
      return badRequest(c, `sort must be one of ${CONNECTION_SORTS.join(", ")}, got "${sort}"`);
    }
    const order = c.req.query("order");
    if (order !== undefined && order !== "asc" && order !== "desc") {
      return badRequest(c, `order must be asc or desc, got "${order}"`);
    }
    const limit = intParam(c, "limit");
    if (limit instanceof Response) return limit;
    return c.json(hub.connections({
      sort: sort as ConnectionSort,
      ...(relay === undefined ? {} : { relay }),
      ...(order === undefined ? {} : { order }),
      ...(limit === undefined ? {} : { limit }),
    }));
  });

  app.get("/api/rejects", (c) => {
    const relay = relayParam(c, hub);
    if (relay instanceof Response) return relay;
    const limit = intParam(c, "limit");
    if (limit instanceof Response) return limit;
    return c.json(hub.rejects({
      ...(relay === undefined ? {} : { relay }),
      ...(limit === undefined ? {} : { limit }),
    }));
  });

  app.get("/api/timeline", (c) => {
    const relay = relayParam(c, hub);
    if (relay instanceof Response) return relay;
    const seconds = intParam(c, "seconds");
    if (seconds instanceof Response) return seconds;
    return c.json(hub.timeline({
      ...(relay === undefined ? {} : { relay }),
      ...(seconds === undefined ? {} : { seconds }),
    }));
  });

  app.get("/api/tlv-types", (c) => c.json(tlvTypesJson()));

  app.get("/api/services", (c) => c.json<ServicesResponse>({ services: hub.services() }));

  app.get("/api/stream", (c) => {
    const body = sseStream(hub, { heartbeatMs, replay });
    return c.body(body, 200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    });
  });

  for (const [path, asset] of Object.entries(assets)) {
    // A copy over a plain ArrayBuffer, once, so every answer can send it as is.
    const body = typeof asset.body === "string" ? asset.body : new Uint8Array(asset.body);
    app.get(path, (c) => {
      return c.body(body, 200, {
        "Content-Type": asset.type,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": path === "/" ? "no-store" : "no-cache",
      });
    });
  }

  return app;
}

/**
 * Whether a `Host` header names this machine's loopback interface or one of the
 * allowed names.
 *
 * @param host the header (`name`, `name:port`, `[v6]` or `[v6]:port`)
 * @param allowed lower-case names, with or without a port
 * @returns true when it may be answered
 * @example
 * ```ts
 * hostAllowed("localhost:7420", new Set()); // true
 * hostAllowed("attacker.test:7420", new Set()); // false
 * ```
 */
export function hostAllowed(host: string, allowed: ReadonlySet<string>): boolean {
  const h = host.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(h);
  if (m === null) return false;
  const name = m[1]!.replace(/\.$/, "");
  if (
    name === "localhost" || name.endsWith(".localhost") || name === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  ) return true;
  return allowed.has(name) || allowed.has(h);
}

/**
 * Compares a given token with the expected one in constant time (both are
 * hashed first, so their lengths leak nothing either).
 *
 * @param given what the client sent
 * @param expected the configured token
 * @returns true when equal
 * @example
 * ```ts
 * tokenMatches("s3cret", "s3cret"); // true
 * ```
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The registry as `/api/tlv-types` serves it.
 *
 * @returns one entry per assigned type, in type order
 */
export function tlvTypesJson(): TlvTypeJson[] {
  return TLV_TYPES.map((t) => ({
    type: t.type,
    name: t.name,
    domain: t.domain,
    size: formatSizeRule(t.size),
    layout: t.layout,
    description: t.description,
  }));
}

interface StreamOptions {
  heartbeatMs: number;
  replay: number;
}

/**
 * The SSE body: the latest stats event and the recent messages at once, then
 * live events, a heartbeat comment every `heartbeatMs`. A client that stops
 * reading first loses message events, then the stream. A client that goes
 * away cancels the body (the server does that), which removes the listener.
 */
function sseStream(hub: Hub, o: StreamOptions): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let cleanup = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const send = (text: string, skippable: boolean): void => {
        if (closed) return;
        const queued = STREAM_SOFT_LIMIT - (controller.desiredSize ?? 0);
        if (queued >= STREAM_HARD_LIMIT) return end();
        if (skippable && queued >= STREAM_SOFT_LIMIT) return;
        controller.enqueue(enc.encode(text));
      };
      const end = (): void => {
        if (closed) return;
        cleanup();
        try {
          controller.close();
        } catch {
          // already closed or cancelled
        }
      };
      const heartbeat = setInterval(() => send(": heartbeat\n\n", false), o.heartbeatMs);
      const off = hub.subscribe({
        stats: (e) => send(sseEvent("stats", e), false),
        message: (e) => send(sseEvent("message", e), true),
        close: end,
      });
      cleanup = () => {
        closed = true;
        clearInterval(heartbeat);
        off();
      };
      send("retry: 2000\n: torq\n\n", false);
      const latest = hub.latest();
      if (latest !== null) send(sseEvent("stats", latest), false);
      const recent = hub.messages();
      for (const m of recent.slice(Math.max(0, recent.length - o.replay))) {
        send(sseEvent("message", m), true);
      }
    },
    cancel() {
      cleanup();
    },
  }, new CountQueuingStrategy({ highWaterMark: STREAM_SOFT_LIMIT }));
}

function sseEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function badRequest(c: Context, message: string): Response {
  return c.json<ErrorResponse>({ error: message }, 400);
}

function relayParam(c: Context, hub: Hub): string | undefined | Response {
  const relay = c.req.query("relay");
  if (relay === undefined || relay === "") return undefined;
  if (!hub.hasRelay(relay)) {
    const names = hub.relays.map((r) => r.logic.name).join(", ");
    return c.json<ErrorResponse>({ error: `No relay "${relay}" here (relays: ${names})` }, 404);
  }
  return relay;
}

function intParam(c: Context, name: string): number | undefined | Response {
  const text = c.req.query(name);
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,9}$/.test(text)) {
    return badRequest(c, `${name} must be a non-negative integer, got "${text}"`);
  }
  return Number(text);
}
