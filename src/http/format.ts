/**
 * Text views of the HTTP API's answers for the terminal: the compact summary
 * of `torq stats` and the screen of `torq top` (a header line per relay with
 * its rates, then the connections sorted by pending bytes, like `nats top`).
 *
 * @module
 */

import type { ConnectionRow, ConnectionsResponse, RelayRates, RelaysResponse } from "./api.ts";
import type { BridgeStats, RelayStats } from "../relay/mod.ts";

/**
 * A count with thousands separators: `1,234,567`.
 *
 * @param n the count
 * @returns the text
 * @example
 * ```ts
 * formatCount(1234567); // "1,234,567"
 * ```
 */
export function formatCount(n: number): string {
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A byte amount in B, KB, MB or GB (powers of 1000, one decimal).
 *
 * @param n bytes
 * @returns e.g. `111.2 KB`
 * @example
 * ```ts
 * formatBytes(111188); // "111.2 KB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A per-second rate: integers above 100, one decimal below.
 *
 * @param n rate
 * @returns e.g. `219.6` or `5,012`
 * @example
 * ```ts
 * formatPerSec(219.56); // "219.6"
 * ```
 */
export function formatPerSec(n: number): string {
  return n >= 1000 ? formatCount(n) : n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

/**
 * A latency in µs, ms or s.
 *
 * @param us microseconds
 * @returns e.g. `256 µs`, `4.1 ms`
 * @example
 * ```ts
 * formatMicros(4096); // "4.1 ms"
 * ```
 */
export function formatMicros(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/**
 * A duration: `45s`, `3m 05s`, `2h 01m`, `3d 04h`.
 *
 * @param ms milliseconds
 * @returns the text
 * @example
 * ```ts
 * formatDuration(185_000); // "3m 05s"
 * ```
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor(s / 3600) % 24)}h`;
}

function dropsText(drops: Record<string, number>): string {
  const parts = Object.entries(drops).filter(([r, n]) => n > 0 && r !== "hello")
    .map(([r, n]) => `${r} ${formatCount(n)}`);
  return parts.length === 0 ? "none" : parts.join(", ");
}

/**
 * The compact summary of `torq stats`: a few lines per relay.
 *
 * @param body `/api/relays`
 * @returns the text (no trailing newline)
 * @example
 * ```ts
 * import type { HttpApiClient } from "./api_client.ts";
 * declare const api: HttpApiClient;
 *
 * console.log(formatStatsSummary(await api.relays()));
 * ```
 */
export function formatStatsSummary(body: RelaysResponse): string {
  const blocks = body.relays.map((s, i) => {
    const rates = body.rates[i];
    const c = s.connections;
    const lines = [
      `${s.name}  ${s.policy} policy${s.strict ? ", strict" : ""}  up ${
        formatDuration(s.uptimeMs)
      }  ${c.current} connection${c.current === 1 ? "" : "s"} (${formatCount(c.total)} total, ${
        formatCount(c.refused)
      } refused)  ${s.address}`,
      `  in   ${formatCount(s.framesIn).padStart(12)} frames  ${
        formatBytes(s.bytesIn).padStart(9)
      }  ${formatPerSec(rates?.msgsInPerSec ?? 0).padStart(8)} msg/s`,
      `  out  ${formatCount(s.framesOut).padStart(12)} frames  ${
        formatBytes(s.bytesOut).padStart(9)
      }  ${formatPerSec(rates?.msgsOutPerSec ?? 0).padStart(8)} msg/s`,
      `  forwarded ${formatCount(s.framesForwarded)}  hello ${formatCount(s.hello)}  subscribes ${
        formatCount(s.subscribes)
      }  garbage ${formatBytes(s.garbageBytes)}  slow-consumer disconnects ${
        formatCount(s.slowConsumerDisconnects)
      }`,
      `  drops ${dropsText(s.drops)}`,
      s.latency.count === 0
        ? "  latency no samples"
        : `  latency p50 ${formatMicros(s.latency.p50Us)}  p99 ${
          formatMicros(s.latency.p99Us)
        }  p99.9 ${formatMicros(s.latency.p999Us)}  max ${formatMicros(s.latency.maxUs)}  (${
          formatCount(s.latency.count)
        } frames)`,
    ];
    if (s.sources.length > 0) {
      lines.push(
        `  sources ${
          s.sources.map((x) =>
            `${x.name ?? `source ${x.source}`} seq ${x.lastSequence}${
              x.gaps > 0 ? ` (${formatCount(x.gaps)} gaps, ${formatCount(x.missing)} missing)` : ""
            }${x.regressions > 0 ? ` (${formatCount(x.regressions)} regressions)` : ""}`
          ).join(", ")
        }`,
      );
    }
    for (const b of s.bridges ?? []) lines.push(`  ${bridgeLine(b)}`);
    if (s.journal !== null) {
      lines.push(
        `  journal ${s.journal.path}  ${formatCount(s.journal.records)} records, ${
          formatCount(s.journal.failures)
        } failures, ${
          formatCount(s.journal.failSuppressed + s.journal.controlSuppressed)
        } over the bound (fsync ${s.journal.fsync})`,
      );
    }
    return lines.join("\n");
  });
  const p = body.process;
  // Older servers did not send the process; say nothing rather than zeros.
  if (p !== undefined) {
    blocks.push(
      `process ${p.pid}  up ${formatDuration(p.uptimeSeconds * 1000)}  RSS ${
        formatBytes(p.rssBytes)
      }  heap ${formatBytes(p.heapUsedBytes)} of ${formatBytes(p.heapTotalBytes)}  external ${
        formatBytes(p.externalBytes)
      }`,
    );
  }
  return blocks.join("\n\n");
}

/**
 * One bridge of `torq stats`: where it stands, why when it is not connected,
 * and its counters.
 *
 * @param b the bridge's counters
 * @returns e.g. `bridge nats ⇄ torq.signals (core) connecting: Authorization Violation (12 failed attempts)`
 */
function bridgeLine(b: BridgeStats): string {
  const arrow = b.direction === "out" ? "→" : b.direction === "in" ? "←" : "⇄";
  const head = `bridge ${b.kind} ${arrow} ${b.subject} (${b.mode}) ${b.state ?? ""}`.trimEnd();
  if (!b.connected) {
    const failures = b.connectFailures ?? 0;
    return `${head}${b.lastError ? `: ${b.lastError}` : ""}${
      failures > 0 ? ` (${formatCount(failures)} failed attempt${failures === 1 ? "" : "s"})` : ""
    }  ${b.address}`;
  }
  return `${head}  published ${formatCount(b.published)}  received ${
    formatCount(b.received)
  }  dropped ${formatCount(b.dropped)}  refused ${formatCount(b.refused)}  ${b.address}`;
}

/** Options of {@linkcode formatTop}. */
export interface TopOptions {
  /** The API's address, shown in the title. */
  url: string;
  /** Sort key shown in the title. */
  sort: string;
  /** Time of the screen (ms). */
  now: number;
  /** At most this many connection rows (default all). */
  rows?: number;
}

/** One table column: header, cell text, alignment. */
type Column<T> = readonly [header: string, cell: (row: T) => string, left?: boolean];

function table<T>(columns: readonly Column<T>[], rows: readonly T[]): string[] {
  const cells = rows.map((r) => columns.map(([, f]) => f(r)));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: readonly string[]) =>
    values.map((v, i) => columns[i]![2] ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))
      .join("  ").trimEnd();
  return [line(columns.map(([h]) => h)), ...cells.map(line)];
}

// `torq top` fits 80 columns: one line per relay (latency p50 and totals are in `torq stats`),
// and per connection what tells a stuck consumer (pending bytes, queue fill, drops, idle time).
const RELAY_COLUMNS: readonly Column<[RelayStats, RelayRates | undefined]>[] = [
  ["RELAY", ([s]) => s.name, true],
  ["CONNS", ([s]) => formatCount(s.connections.current)],
  ["IN/S", ([, r]) => compact(r?.msgsInPerSec ?? 0)],
  ["OUT/S", ([, r]) => compact(r?.msgsOutPerSec ?? 0)],
  ["IN B/S", ([, r]) => formatBytes(r?.bytesInPerSec ?? 0)],
  ["OUT B/S", ([, r]) => formatBytes(r?.bytesOutPerSec ?? 0)],
  ["DROP/S", ([, r]) => compact(r?.dropsPerSec ?? 0)],
  ["P99", ([s]) => s.latency.count === 0 ? "-" : formatMicros(s.latency.p99Us)],
  ["UPTIME", ([s]) => formatDuration(s.uptimeMs)],
];

function connectionColumns(now: number): readonly Column<ConnectionRow>[] {
  return [
    ["CONN", (c) => `${c.relay}#${c.id}`, true],
    [
      "FILTER",
      (c) => c.role === "publisher" ? "(publisher)" : shorten(c.patterns.join(",") || "*", 11),
      true,
    ],
    ["MSGS IN", (c) => compact(c.framesIn)],
    ["MSGS OUT", (c) => compact(c.framesOut)],
    [
      "PENDING",
      (c) =>
        `${formatBytes(c.queueBytes)} ${Math.round(c.queuePercent)}%${
          c.queuePercent > 50 ? "!" : ""
        }`,
    ],
    ["DROPS", (c) => compact(c.dropped)],
    ["IDLE", (c) => formatDuration(now - c.lastActivity)],
  ];
}

/** A count or rate in at most 7 characters: `950`, `9,999`, `12.3 K`, `4.25 M`, `1.20 G`. */
function compact(n: number): string {
  if (n < 10_000) {
    return n >= 100 || Number.isInteger(n) ? formatCount(Math.round(n)) : n.toFixed(1);
  }
  const [d, unit] = n >= 1e9 ? [1e9, "G"] : n >= 1e6 ? [1e6, "M"] : [1e3, "K"];
  const v = n / d;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * One screen of `torq top`, at most 80 columns wide: title, one line per relay
 * with its rates, then the connection table (queue fill above 50 % marked with `!`).
 *
 * @param relays `/api/relays`
 * @param connections `/api/connections`, already sorted
 * @param options title facts and row limit
 * @returns the screen (no trailing newline)
 * @example
 * ```ts
 * import type { HttpApiClient } from "./api_client.ts";
 * declare const api: HttpApiClient;
 * declare const url: string;
 *
 * console.log(formatTop(await api.relays(), await api.connections(), { url, sort: "pending", now: Date.now() }));
 * ```
 */
export function formatTop(
  relays: RelaysResponse,
  connections: ConnectionsResponse,
  options: TopOptions,
): string {
  const when = new Date(relays.time).toISOString().replace("T", " ").slice(0, 19);
  const total = connections.connections.length;
  const rows = options.rows === undefined
    ? connections.connections
    : connections.connections.slice(0, Math.max(0, options.rows));
  const out = [
    `torq top  ${options.url}  ${when} UTC  ${total} conn${
      total === 1 ? "" : "s"
    } by ${options.sort}`,
    "",
    ...table(RELAY_COLUMNS, relays.relays.map((s, i) => [s, relays.rates[i]] as const)),
    "",
  ];
  if (total === 0) out.push("no connections");
  else out.push(...table(connectionColumns(options.now), rows));
  if (rows.length < total) out.push(`… ${total - rows.length} more`);
  return out.join("\n");
}
