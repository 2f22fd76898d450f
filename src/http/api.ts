/**
 * The JSON shapes of Torq's HTTP API and live stream: the contract between the
 * server (src/http/app.ts, hub.ts) and the dashboard page (src/http/dashboard/),
 * `torq top` and `torq stats --json`.
 *
 * Routes (all GET; everything but `/healthz` requires `Authorization: Bearer
 * <token>` when `http.token` is set; the dashboard page and assets accept
 * `?token=` once and keep it):
 *
 * | route | body |
 * |---|---|
 * | `/healthz` | `HealthResponse` (200, or 503 when a relay does not accept connections) |
 * | `/metrics` | Prometheus text format |
 * | `/api/relays` | `RelaysResponse` |
 * | `/api/connections?relay=&sort=&order=&limit=` | `ConnectionsResponse` |
 * | `/api/rejects?relay=&limit=` | `RejectsResponse` |
 * | `/api/timeline?relay=&seconds=` | `TimelineResponse` (1 s points, up to 900) |
 * | `/api/tlv-types` | the registry, `TlvTypeJson[]` |
 * | `/api/services` | `ServicesResponse`: the services `torq up` supervises |
 * | `/api/stream` | Server-Sent Events: `event: stats` (`StatsEvent`, every second) and `event: message` (`MessageEvent`, sampled) |
 * | `/` | the dashboard page |
 * | `/assets/*` | the page's files |
 *
 * A request authorised by `?token=` also gets an HttpOnly, SameSite=Strict
 * cookie `torq_token`, which is accepted afterwards (so assets and
 * `EventSource` need no token in their URLs). Without a valid token every
 * route but `/healthz` answers 401 with `WWW-Authenticate: Bearer`.
 *
 * Errors (400 bad parameter, 401, 404 unknown route or relay, 500) have the
 * body `ErrorResponse`.
 *
 * `/api/stream` starts with the latest `stats` event (when the hub has ticked)
 * and the recent `message` events (up to 200, oldest first), then sends live
 * events and a `: heartbeat` comment every 15 s. A client that stops reading
 * loses message events first, then the stream (EventSource reconnects).
 *
 * @module
 */

import type { ConnectionStats, RejectRecord, RelayStats } from "../relay/mod.ts";

/** The body of every error answer (400, 401, 404, 500). */
export interface ErrorResponse {
  /** One readable line. */
  error: string;
}

/** `/healthz`. */
export interface HealthResponse {
  /** `ok` or `unavailable`. */
  status: "ok" | "unavailable";
  /** Per relay: accepting connections or not, with the reason. */
  relays: { name: string; address: string; accepting: boolean; reason?: string }[];
}

/** One relay's numbers at one second. */
export interface RelayRates {
  /** Relay name. */
  name: string;
  /** Frames received per second (last second). */
  msgsInPerSec: number;
  /** Frames written to consumers per second. */
  msgsOutPerSec: number;
  /** Bytes received per second. */
  bytesInPerSec: number;
  /** Bytes written per second. */
  bytesOutPerSec: number;
  /** Frames not forwarded per second (rejects, slow-consumer drops; hello excluded). */
  dropsPerSec: number;
  /** The rejected part of `dropsPerSec`: frames refused by validation, per second. */
  rejectsPerSec: number;
}

/** The serving process: its id, age and memory (as `Deno.memoryUsage()` reports it). */
export interface ProcessInfo {
  /** Process id. */
  pid: number;
  /** Seconds since the process started. */
  uptimeSeconds: number;
  /** Resident set size in bytes. */
  rssBytes: number;
  /** V8 heap reserved, bytes. */
  heapTotalBytes: number;
  /** V8 heap in use, bytes. */
  heapUsedBytes: number;
  /** Memory outside the V8 heap held by JS objects (e.g. ArrayBuffers), bytes. */
  externalBytes: number;
}

/** `/api/relays`: every relay's full counters, its rates, the server's time and its process. */
export interface RelaysResponse {
  /** Server time, ms since epoch. */
  time: number;
  /** The process serving the relays. */
  process: ProcessInfo;
  /** Counters per relay (`Relay.stats()`, connection details included). */
  relays: RelayStats[];
  /** Rates over the last second, same order. */
  rates: RelayRates[];
}

/** A connection row (`nats top`-like), with its relay. */
export interface ConnectionRow extends ConnectionStats {
  /** Relay name. */
  relay: string;
}

/** `/api/connections`; `sort` is one of pending, msgs_in, msgs_out, drops, rejected, last_activity, id. */
export interface ConnectionsResponse {
  /** Rows, sorted. */
  connections: ConnectionRow[];
}

/** `/api/rejects`: the last rejected frames with evidence. */
export interface RejectsResponse {
  /** Per relay, newest last. */
  rejects: (RejectRecord & { relay: string })[];
}

/** One 1-second point of a relay's timeline. */
export interface TimelinePoint extends RelayRates {
  /** Second (ms since epoch, floored to the second). */
  t: number;
  /** Latency p50 / p99 / p99.9 in µs of frames accepted in that second (0 when none). */
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

/** `/api/timeline`. */
export interface TimelineResponse {
  /** Per relay name, oldest first, at most 900 points (15 min). */
  timeline: Record<string, TimelinePoint[]>;
}

/** `event: stats` of `/api/stream`, every second. */
export interface StatsEvent {
  /** Server time (ms). */
  time: number;
  /** One point per relay. */
  points: TimelinePoint[];
  /** Relays' counters without per-connection detail (`connectionsDetail: []`). */
  relays: RelayStats[];
  /** The services `torq up` supervises (absent when it runs none). */
  services?: ServiceRow[];
}

/**
 * Where a service is in its life: `running`; `restarting` (waiting out its
 * backoff); `stopping`; `stopped` (by `torq down`, `torq restart` or a
 * shutdown); `exited` (ended, and its policy does not restart it); `failed`
 * (ended with a failure its policy does not restart, hit its start limit, or
 * could not be started).
 */
export type ServiceState = "running" | "restarting" | "stopping" | "stopped" | "exited" | "failed";

/** How a service's last run ended. */
export interface ServiceExit {
  /** Exit code (128 + the signal's number after a signal). */
  code: number;
  /** The signal that ended it, or null. */
  signal: string | null;
  /** When, ms since the epoch. */
  at: number;
}

/** One service `torq up` supervises (`services:` in the configuration). */
export interface ServiceRow {
  /** Its name under `services:`. */
  name: string;
  /** Its state. */
  state: ServiceState;
  /** Process id of the current run, or null. */
  pid: number | null;
  /** Start of the current run, ms since the epoch, or null. */
  startedAt: number | null;
  /** Times it was started again after its first start (by its policy or by hand). */
  restarts: number;
  /** How its last run ended, or null before the first exit. */
  lastExit: ServiceExit | null;
  /** Why it is restarting, exited or failed; null while it runs normally. */
  reason: string | null;
  /** The command line, for people. */
  command: string;
  /** Its log file. */
  log: string;
}

/** `/api/services`. */
export interface ServicesResponse {
  /** In start order; empty when `torq up` runs no services (or a lone `torq relay` serves). */
  services: ServiceRow[];
}

/** `event: message` of `/api/stream`: a sampled, decoded frame. */
export interface MessageEvent {
  /** Relay that forwarded it. */
  relay: string;
  /** Receive time (ms). */
  time: number;
  /**
   * The frame as `torq decode --json` prints it (`{error: {code, message,
   * offset}}` when it does not decode).
   */
  decoded: unknown;
  /** For ArbitrageSignals: the dashboard JSON of PROTOCOL.md 8.5. */
  arbitrage?: Record<string, unknown>;
}

/** `/api/tlv-types`: one registry entry. */
export interface TlvTypeJson {
  type: number;
  name: string;
  domain: string;
  size: string;
  layout: string;
  description: string;
}
