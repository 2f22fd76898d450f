/**
 * `torq status`: is each relay of the configuration running? For every
 * configured socket path: connect to it (a relay that answers is `running`),
 * a socket file that refuses the connection is a `stale` socket (its relay
 * died without removing it), no file is `down`. When the configuration's HTTP
 * API answers (`GET /api/relays`), each running relay's uptime, connections
 * and rates come from there. Like `manage.sh status` of the reference
 * (PROTOCOL.md 8.1), without PID files: the socket is the truth.
 *
 * @module
 */

import { HttpApiClient, HttpApiError, type RelaysResponse } from "../http/mod.ts";

/** What a socket path says about its relay. */
export type RelayState = "running" | "stale" | "down" | "unknown";

/** One relay to check. */
export interface StatusTarget {
  /** Relay name, e.g. `market_data`. */
  name: string;
  /** Socket path. */
  path: string;
}

/** Live figures of a running relay, from the HTTP API. */
export interface RelayLive {
  /** Uptime in ms. */
  uptimeMs: number;
  /** Open connections. */
  connections: number;
  /** Frames received per second (last second). */
  msgsInPerSec: number;
  /** Frames written to consumers per second. */
  msgsOutPerSec: number;
  /** Bytes received per second. */
  bytesInPerSec: number;
  /** Frames not forwarded per second. */
  dropsPerSec: number;
}

/** The status of one relay. */
export interface RelayStatus {
  /** Relay name. */
  name: string;
  /** Socket path. */
  socket: string;
  /** running, stale (socket file, nothing listening), down (no socket file) or unknown. */
  state: RelayState;
  /** Why, for every state but running (e.g. `connection refused`). */
  reason?: string;
  /** Uptime, connections and rates, when the HTTP API knows the relay. */
  live?: RelayLive;
}

/** What the HTTP API said. */
export interface HttpStatus {
  /** Base URL asked. */
  url: string;
  /** `ok`, or why not: `unreachable`, `timeout`, `unauthorized`, `status`, `bad_response`. */
  state: string;
  /** One readable line when not ok. */
  error?: string;
}

/** A whole status report. */
export interface StatusReport {
  /** When it was taken, ms since the epoch. */
  time: number;
  /** One entry per configured relay, in configuration order. */
  relays: RelayStatus[];
  /** The HTTP API's answer (absent when no address was given). */
  http?: HttpStatus;
  /** Whether every relay is running. */
  ok: boolean;
}

/** Options of {@linkcode collectStatus}. */
export interface StatusOptions {
  /** The relays to check. */
  relays: readonly StatusTarget[];
  /** The HTTP API (`http.listen`), or null to skip it. */
  http?: { url: string; token: string | null } | null;
  /** Bound of each probe and of the HTTP request, ms (default 2000). */
  timeoutMs?: number;
}

/**
 * Probes one socket path: connect and close at once.
 *
 * @param path socket path
 * @param timeoutMs bound of the connect
 * @returns the state, and why when not running
 * @example
 * ```ts
 * await probeSocket("/tmp/torq/signals.sock", 2000); // { state: "down", reason: "no socket file" }
 * ```
 */
export async function probeSocket(
  path: string,
  timeoutMs = 2000,
): Promise<{ state: RelayState; reason?: string }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { state: "down", reason: "no socket file" };
    return { state: "unknown", reason: reasonOf(e) };
  }
  if (!info.isSocket) return { state: "unknown", reason: "the path exists and is not a socket" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ transport: "unix", path });
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const result = await Promise.race([connecting, timeout]);
    if (result === "timeout") {
      connecting.then((c) => c.close(), () => {});
      return { state: "unknown", reason: `no answer within ${timeoutMs} ms` };
    }
    result.close();
    return { state: "running" };
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused) {
      return { state: "stale", reason: "socket file left behind: connection refused" };
    }
    return { state: "unknown", reason: reasonOf(e) };
  } finally {
    clearTimeout(timer);
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/**
 * Checks every relay and asks the HTTP API (when given) for live figures.
 *
 * @param options the relays, the API, the bound of each wait
 * @returns the report
 * @example
 * ```ts
 * const report = await collectStatus({
 *   relays: [{ name: "signal", path: "/tmp/torq/signals.sock" }],
 *   http: { url: "127.0.0.1:7420", token: null },
 * });
 * report.ok; // true when every relay runs
 * ```
 */
export async function collectStatus(options: StatusOptions): Promise<StatusReport> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const [probes, api] = await Promise.all([
    Promise.all(options.relays.map((r) => probeSocket(r.path, timeoutMs))),
    options.http ? askApi(options.http.url, options.http.token, timeoutMs) : undefined,
  ]);
  const relays = options.relays.map((r, i): RelayStatus => {
    const probe = probes[i]!;
    const status: RelayStatus = { name: r.name, socket: r.path, state: probe.state };
    if (probe.reason !== undefined) status.reason = probe.reason;
    const live = probe.state === "running" && api?.body ? liveOf(api.body, r) : undefined;
    if (live !== undefined) status.live = live;
    return status;
  });
  return {
    time: Date.now(),
    relays,
    ...(api === undefined ? {} : { http: api.status }),
    ok: relays.every((r) => r.state === "running"),
  };
}

async function askApi(
  url: string,
  token: string | null,
  timeoutMs: number,
): Promise<{ status: HttpStatus; body?: RelaysResponse }> {
  let client: HttpApiClient;
  try {
    client = new HttpApiClient(url, { token, timeoutMs });
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { status: { url, state: "bad_url", error } };
  }
  try {
    const body = await client.relays();
    return { status: { url: client.url, state: "ok" }, body };
  } catch (e) {
    if (e instanceof HttpApiError) {
      return { status: { url: client.url, state: e.reason, error: e.message } };
    }
    throw e;
  }
}

/** The API's figures of one relay: matched by socket address, else by name. */
function liveOf(body: RelaysResponse, target: StatusTarget): RelayLive | undefined {
  const index = body.relays.findIndex((r) =>
    r.address === target.path || (r.addresses ?? []).includes(target.path)
  );
  const at = index !== -1 ? index : body.relays.findIndex((r) => r.name === target.name);
  const stats = body.relays[at];
  if (stats === undefined) return undefined;
  const rates = body.rates.find((r) => r.name === stats.name) ?? body.rates[at];
  return {
    uptimeMs: stats.uptimeMs,
    connections: stats.connections.current,
    msgsInPerSec: rates?.msgsInPerSec ?? 0,
    msgsOutPerSec: rates?.msgsOutPerSec ?? 0,
    bytesInPerSec: rates?.bytesInPerSec ?? 0,
    dropsPerSec: rates?.dropsPerSec ?? 0,
  };
}

/**
 * A duration for people: `45s`, `12m05s`, `3h04m`, `2d03h`.
 *
 * @param ms milliseconds
 * @returns the text
 * @example
 * ```ts
 * formatUptime(3_723_000); // "1h02m"
 * ```
 */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

function rate(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return String(Math.round(n));
}

const STATE_TEXT: Readonly<Record<RelayState, string>> = {
  running: "running",
  stale: "stale socket",
  down: "down",
  unknown: "unknown",
};

/**
 * The report as a table for people, then one line per problem.
 *
 * @param report a report of {@linkcode collectStatus}
 * @returns lines joined with `\n`
 * @example
 * ```ts
 * declare const relays: StatusTarget[];
 *
 * console.log(formatStatus(await collectStatus({ relays })));
 * // RELAY        STATE    SOCKET                      UPTIME  CONNS  MSGS IN/S  OUT/S  DROPS/S
 * // market_data  running  /tmp/torq/market_data.sock  1h02m       3       1.2k   2.4k        0
 * ```
 */
export function formatStatus(report: StatusReport): string {
  const head = ["RELAY", "STATE", "SOCKET", "UPTIME", "CONNS", "MSGS IN/S", "OUT/S", "DROPS/S"];
  const right = [false, false, false, true, true, true, true, true];
  const rows = report.relays.map((r) => {
    const l = r.live;
    return [
      r.name,
      STATE_TEXT[r.state],
      r.socket,
      l ? formatUptime(l.uptimeMs) : "-",
      l ? String(l.connections) : "-",
      l ? rate(l.msgsInPerSec) : "-",
      l ? rate(l.msgsOutPerSec) : "-",
      l ? rate(l.dropsPerSec) : "-",
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  const lines = [line(head), ...rows.map(line)];
  for (const r of report.relays) {
    if (r.state !== "running") lines.push(`${r.name}: ${STATE_TEXT[r.state]} (${r.reason})`);
  }
  if (report.http !== undefined) {
    if (report.http.state === "ok") {
      if (report.relays.some((r) => r.state === "running" && r.live === undefined)) {
        lines.push(`HTTP API ${report.http.url}: does not list every running relay`);
      }
    } else {
      lines.push(`HTTP API: ${report.http.error ?? report.http.state} (no uptime or rates)`);
    }
  }
  const down = report.relays.filter((r) => r.state !== "running").length;
  lines.push(
    down === 0
      ? `all ${report.relays.length} relays running`
      : `${down} of ${report.relays.length} relays not running`,
  );
  return lines.join("\n");
}

/**
 * The report as JSON-ready data (`torq status --json`).
 *
 * @param report a report of {@linkcode collectStatus}
 * @returns `{time, ok, relays: [{name, socket, state, reason?, uptime_ms?, connections?, rates?}], http?}`
 */
export function statusToJson(report: StatusReport): Record<string, unknown> {
  return {
    time: new Date(report.time).toISOString(),
    ok: report.ok,
    relays: report.relays.map((r) => ({
      name: r.name,
      socket: r.socket,
      state: r.state,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
      ...(r.live === undefined ? {} : {
        uptime_ms: r.live.uptimeMs,
        connections: r.live.connections,
        rates: {
          msgs_in_per_sec: r.live.msgsInPerSec,
          msgs_out_per_sec: r.live.msgsOutPerSec,
          bytes_in_per_sec: r.live.bytesInPerSec,
          drops_per_sec: r.live.dropsPerSec,
        },
      }),
    })),
    ...(report.http === undefined ? {} : { http: report.http }),
  };
}

/**
 * The URL to reach an HTTP API listening on `http.listen`: wildcard hosts
 * become loopback; port 0 (any free port) cannot be known, so none.
 *
 * @param listen `host:port`, e.g. `0.0.0.0:7420`
 * @returns e.g. `http://127.0.0.1:7420`, or null for port 0
 * @example
 * ```ts
 * apiUrlOfListen("0.0.0.0:7420"); // "http://127.0.0.1:7420"
 * ```
 */
export function apiUrlOfListen(listen: string): string | null {
  const m = /^(.*):(\d+)$/.exec(listen.trim());
  if (m === null || Number(m[2]) === 0) return null;
  let host = m[1]!;
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  else if (host === "[::]") host = "[::1]";
  return `http://${host}:${m[2]}`;
}
