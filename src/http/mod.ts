/**
 * Observability over HTTP: the {@linkcode Hub} that watches the relays of this
 * process, the hono app with the API and dashboard ({@linkcode createApp}), the
 * Prometheus exposition ({@linkcode prometheusText}) and the server
 * ({@linkcode serveHttp}), and the client and text views of `torq top` and
 * `torq stats` ({@linkcode HttpApiClient}, {@linkcode formatTop}). The JSON
 * shapes are in `api.ts`.
 *
 * @example
 * ```ts
 * import { Hub, serveHttp } from "./mod.ts";
 * import type { Relay } from "../relay/mod.ts";
 *
 * declare const service: { relays: Relay[] };
 * const hub = new Hub(service.relays);
 * hub.start();
 * const server = serveHttp(hub, { listen: "127.0.0.1:7420" });
 * console.log(`dashboard: ${server.url}`);
 * ```
 *
 * @module
 */

export { CONNECTION_SORTS, DEFAULT_SAMPLE_RATES, Hub, processInfo } from "./hub.ts";
export type {
  ConnectionSort,
  ConnectionsQuery,
  HubListener,
  HubOptions,
  MonitoredRelay,
} from "./hub.ts";
export { createApp, hostAllowed, tlvTypesJson, TOKEN_COOKIE, tokenMatches } from "./app.ts";
export type { AppOptions } from "./app.ts";
export { escapeLabelValue, METRICS_CONTENT_TYPE, prometheusText } from "./metrics.ts";
export { HttpServeError, parseListen, serveHttp } from "./server.ts";
export { Http1Server } from "./http1.ts";
export type { Http1Options, Http1Stats } from "./http1.ts";
export type { HttpServer, ServeHttpOptions } from "./server.ts";
export { DEFAULT_API_URL, HttpApiClient, HttpApiError, normalizeApiUrl } from "./api_client.ts";
export type { HttpApiClientOptions } from "./api_client.ts";
export {
  formatBytes,
  formatCount,
  formatDuration,
  formatMicros,
  formatPerSec,
  formatStatsSummary,
  formatTop,
} from "./format.ts";
export type { TopOptions } from "./format.ts";
export type {
  ConnectionRow,
  ConnectionsResponse,
  ErrorResponse,
  HealthResponse,
  MessageEvent,
  ProcessInfo,
  RejectsResponse,
  RelayRates,
  RelaysResponse,
  ServiceExit,
  ServiceRow,
  ServicesResponse,
  ServiceState,
  StatsEvent,
  TimelinePoint,
  TimelineResponse,
  TlvTypeJson,
} from "./api.ts";
