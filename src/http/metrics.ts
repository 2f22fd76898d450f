/**
 * The relays' counters in the Prometheus text exposition format (version
 * 0.0.4), written directly: `HELP` and `TYPE` once per family, one sample per
 * relay (and per reason, code, connection or source), escaped label values.
 *
 * Families: `torq_frames_in_total`, `torq_frames_out_total`,
 * `torq_bytes_in_total`, `torq_bytes_out_total`, `torq_frames_forwarded_total`,
 * `torq_drops_total{reason}`, `torq_rejects_total{code}`,
 * `torq_warnings_total{code}`, `torq_connections`, `torq_connections_total`,
 * `torq_connections_refused_total`, `torq_accepting`, `torq_accept_errors_total`,
 * `torq_queue_depth_bytes{conn}`,
 * `torq_queue_depth_frames{conn}`, `torq_queue_high_water_bytes{conn}`,
 * `torq_stalls_total`, `torq_slow_consumer_disconnects_total`,
 * `torq_subscribes_total`, `torq_sequence_gaps_total{source}`,
 * `torq_sequence_missing_total{source}`, `torq_sequence_regressions_total{source}`,
 * `torq_garbage_bytes_total`, `torq_journal_records_total`, `torq_journal_bytes_total`,
 * `torq_journal_failures_total`, `torq_journal_suppressed_total`, `torq_latency_seconds` (histogram),
 * `torq_latency_clock_skew_total`, `torq_uptime_seconds`, and per bridge
 * (`bridge`, `subject`, `direction` labels) `torq_bridge_{published,received,
 * dropped,unconfirmed,missing,duplicates,retries,reconnects,refused,connect_failures}_total`,
 * `torq_bridge_pending_frames`, `torq_bridge_lag_frames`, `torq_bridge_connected`,
 * `torq_bridge_state{state}` (1 for the bridge's state, 0 for the others);
 * every sample carries `relay` and `domain`. With services (`torq up`):
 * `torq_service_restarts_total`, `torq_service_up`, `torq_service_failed`, by `service`.
 * With the HTTP server's own counters: `torq_http_connections`,
 * `torq_http_connections_total`, `torq_http_refused_total`, `torq_http_evicted_total`,
 * `torq_http_timed_out_total`, `torq_http_bad_requests_total`, `torq_http_accepting`,
 * `torq_http_accept_errors_total`.
 *
 * @module
 */

import type { BridgeStats, RelayStats } from "../relay/mod.ts";
import type { ProcessInfo, ServiceRow } from "./api.ts";
import type { Http1Stats } from "./http1.ts";
import { domainName } from "../protocol/mod.ts";

/** Content-Type of the exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [labels: Labels, value: number, suffix?: string];

interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  samples: (s: RelayStats, base: Labels) => Sample[];
}

const FAMILIES: readonly Family[] = [
  {
    name: "torq_frames_in_total",
    type: "counter",
    help: "Frames received from producers.",
    samples: (s, b) => [[b, s.framesIn]],
  },
  {
    name: "torq_frames_out_total",
    type: "counter",
    help: "Frames written to consumers (each copy counts).",
    samples: (s, b) => [[b, s.framesOut]],
  },
  {
    name: "torq_writes_total",
    type: "counter",
    help: "Write calls to consumers; frames out / writes is the batching factor.",
    samples: (s, b) => [[b, s.writes]],
  },
  {
    name: "torq_bytes_in_total",
    type: "counter",
    help: "Bytes received from producers.",
    samples: (s, b) => [[b, s.bytesIn]],
  },
  {
    name: "torq_bytes_out_total",
    type: "counter",
    help: "Bytes written to consumers.",
    samples: (s, b) => [[b, s.bytesOut]],
  },
  {
    name: "torq_frames_forwarded_total",
    type: "counter",
    help: "Frames accepted for fan-out.",
    samples: (s, b) => [[b, s.framesForwarded]],
  },
  {
    name: "torq_drops_total",
    type: "counter",
    help: "Frames not forwarded, by reason (error codes, hello, slow_consumer).",
    samples: (s, b) => Object.entries(s.drops).map(([reason, n]) => [{ ...b, reason }, n]),
  },
  {
    name: "torq_rejects_total",
    type: "counter",
    help: "Rejected frames by error code.",
    samples: (s, b) => Object.entries(s.rejects).map(([code, n]) => [{ ...b, code }, n]),
  },
  {
    name: "torq_warnings_total",
    type: "counter",
    help: "Soft validation failures by error code (forwarded unless strict).",
    samples: (s, b) => Object.entries(s.warnings).map(([code, n]) => [{ ...b, code }, n]),
  },
  {
    name: "torq_connections",
    type: "gauge",
    help: "Open connections.",
    samples: (s, b) => [[b, s.connections.current]],
  },
  {
    name: "torq_connections_total",
    type: "counter",
    help: "Connections accepted.",
    samples: (s, b) => [[b, s.connections.total]],
  },
  {
    name: "torq_connections_refused_total",
    type: "counter",
    help: "Connections refused by max_connections.",
    samples: (s, b) => [[b, s.connections.refused]],
  },
  {
    name: "torq_accepting",
    type: "gauge",
    help:
      "1 while the relay accepts connections, 0 while accept() fails (e.g. out of file descriptors).",
    samples: (s, b) => [[b, s.accepting ? 1 : 0]],
  },
  {
    name: "torq_accept_errors_total",
    type: "counter",
    help: "Failed accept() calls (each retried after a short backoff).",
    samples: (s, b) => [[b, s.acceptErrors]],
  },
  {
    name: "torq_queue_depth_bytes",
    type: "gauge",
    help: "Bytes waiting for a connection (queued and in flight).",
    samples: (s, b) =>
      s.connectionsDetail.map((c) => [{ ...b, conn: String(c.id) }, c.queueBytes] as const),
  },
  {
    name: "torq_queue_depth_frames",
    type: "gauge",
    help: "Frames waiting in a connection's queue.",
    samples: (s, b) =>
      s.connectionsDetail.map((c) => [{ ...b, conn: String(c.id) }, c.queueFrames] as const),
  },
  {
    name: "torq_queue_high_water_bytes",
    type: "gauge",
    help: "Highest queued bytes seen for a connection.",
    samples: (s, b) =>
      s.connectionsDetail.map((c) => [{ ...b, conn: String(c.id) }, c.queueHighWater] as const),
  },
  {
    name: "torq_stalls_total",
    type: "counter",
    help: "Times the relay paused reading producers: flow control for a consumer that keeps " +
      "reading (PROTOCOL.md 7.6, D-36) or the execution backpressure policy.",
    samples: (s, b) => [[b, s.stalls]],
  },
  {
    name: "torq_stalled_seconds_total",
    type: "counter",
    help: "Seconds the relay's reads of producers were paused.",
    samples: (s, b) => [[b, s.stalledMs / 1000]],
  },
  {
    name: "torq_connection_stalled_seconds_total",
    type: "counter",
    help: "Seconds a connection's reads waited for consumers to drain.",
    samples: (s, b) =>
      s.connectionsDetail.filter((c) => c.stalls > 0).map((c) =>
        [{ ...b, conn: String(c.id) }, c.stalledMs / 1000] as const
      ),
  },
  {
    name: "torq_undelivered_frames_total",
    type: "counter",
    help: "Frames queued to consumers that were still queued, or partly written, when they closed.",
    samples: (s, b) => [[b, s.undelivered]],
  },
  {
    name: "torq_recovery_window_frames",
    type: "gauge",
    help: "Frames the replay window holds (PROTOCOL.md 7.9).",
    samples: (s, b) => s.recovery === null ? [] : [[b, s.recovery.windowFrames]],
  },
  {
    name: "torq_recovery_window_bytes",
    type: "gauge",
    help: "Bytes of frames the replay window holds.",
    samples: (s, b) => s.recovery === null ? [] : [[b, s.recovery.windowBytes]],
  },
  {
    name: "torq_recovery_window_oldest_seconds",
    type: "gauge",
    help: "Age of the oldest frame in the replay window.",
    samples: (s, b) =>
      s.recovery === null || s.recovery.windowOldest === null
        ? []
        : [[b, Math.max(0, (Date.now() - s.recovery.windowOldest) / 1000)]],
  },
  {
    name: "torq_recovery_last_values",
    type: "gauge",
    help: "(instrument, TLV type) last values held for snapshots (market data).",
    samples: (s, b) =>
      s.recovery === null || s.recovery.lastValues === null ? [] : [[b, s.recovery.lastValues]],
  },
  {
    name: "torq_recovery_requests_total",
    type: "counter",
    help: "RecoveryRequests answered, by status.",
    samples: (s, b) => {
      const r = s.recovery;
      if (r === null) return [];
      return [
        [{ ...b, status: "complete" }, r.requests - r.partial - r.malformed],
        [{ ...b, status: "partial" }, r.partial],
        [{ ...b, status: "malformed" }, r.malformed],
      ];
    },
  },
  {
    name: "torq_recovery_replayed_frames_total",
    type: "counter",
    help: "Frames replayed to RecoveryRequests.",
    samples: (s, b) => s.recovery === null ? [] : [[b, s.recovery.replayedFrames]],
  },
  {
    name: "torq_slow_consumer_disconnects_total",
    type: "counter",
    help: "Consumers disconnected for being slow.",
    samples: (s, b) => [[b, s.slowConsumerDisconnects]],
  },
  {
    name: "torq_subscribes_total",
    type: "counter",
    help: "Subscribe requests answered.",
    samples: (s, b) => [[b, s.subscribes]],
  },
  {
    name: "torq_sequence_gaps_total",
    type: "counter",
    help: "Forward sequence jumps larger than 1, by header source.",
    samples: (s, b) => s.sources.map((x) => [{ ...b, source: sourceLabel(x) }, x.gaps] as const),
  },
  {
    name: "torq_sequence_missing_total",
    type: "counter",
    help: "Sequence numbers skipped by gaps, by header source.",
    samples: (s, b) => s.sources.map((x) => [{ ...b, source: sourceLabel(x) }, x.missing] as const),
  },
  {
    name: "torq_sequence_regressions_total",
    type: "counter",
    help: "Sequences not above the previous one, by header source.",
    samples: (s, b) =>
      s.sources.map((x) => [{ ...b, source: sourceLabel(x) }, x.regressions] as const),
  },
  {
    name: "torq_garbage_bytes_total",
    type: "counter",
    help: "Bytes skipped while resynchronising streams.",
    samples: (s, b) => [[b, s.garbageBytes]],
  },
  {
    name: "torq_journal_records_total",
    type: "counter",
    help: "Execution journal records written (audit policy only).",
    samples: (s, b) => s.journal === null ? [] : [[b, s.journal.records]],
  },
  {
    name: "torq_journal_bytes_total",
    type: "counter",
    help: "Execution journal bytes written (audit policy only).",
    samples: (s, b) => s.journal === null ? [] : [[b, s.journal.bytes]],
  },
  {
    name: "torq_journal_failures_total",
    type: "counter",
    help: "Failed execution journal writes: their frames were refused (audit policy only).",
    samples: (s, b) => s.journal === null ? [] : [[b, s.journal.failures]],
  },
  {
    name: "torq_journal_suppressed_total",
    type: "counter",
    help:
      "FAIL and CONTROL frames counted in a summary record, not stored: over the journal's per-second bound.",
    samples: (s, b) =>
      s.journal === null ? [] : [
        [{ ...b, result: "FAIL" }, s.journal.failSuppressed],
        [{ ...b, result: "CONTROL" }, s.journal.controlSuppressed],
      ],
  },
  {
    name: "torq_latency_seconds",
    type: "histogram",
    help: "Arrival latency of accepted frames: relay clock minus header timestamp.",
    samples: (s, b) => [
      ...s.latency.buckets.map(([le, n]) => [{ ...b, le }, n, "_bucket"] as const),
      [b, s.latency.sumUs / 1e6, "_sum"],
      [b, s.latency.count, "_count"],
    ],
  },
  {
    name: "torq_latency_clock_skew_total",
    type: "counter",
    help: "Accepted frames whose header timestamp was ahead of the relay's clock.",
    samples: (s, b) => [[b, s.latency.clockSkew]],
  },
  {
    name: "torq_bridge_published_total",
    type: "counter",
    help: "Frames a bridge published to its bus and saw confirmed (flush or JetStream ack).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.published),
  },
  {
    name: "torq_bridge_received_total",
    type: "counter",
    help: "Frames a bridge received from its bus and fed to the relay.",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.received),
  },
  {
    name: "torq_bridge_dropped_total",
    type: "counter",
    help:
      "Frames a bridge gave up (written while disconnected, refused by the bus, inbound overflow).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.dropped),
  },
  {
    name: "torq_bridge_unconfirmed_total",
    type: "counter",
    help: "Core NATS: frames handed to the bus whose flush failed (maybe lost).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.unconfirmed),
  },
  {
    name: "torq_bridge_missing_total",
    type: "counter",
    help: "Sequence numbers skipped by frames a bridge received (lost before reaching it).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.missing),
  },
  {
    name: "torq_bridge_duplicates_total",
    type: "counter",
    help:
      "JetStream: redeliveries and second copies of a frame skipped (in), publishes the stream reported as duplicates (out).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.duplicates),
  },
  {
    name: "torq_bridge_retries_total",
    type: "counter",
    help: "JetStream: publishes repeated after a failed or missing acknowledgement.",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.retries),
  },
  {
    name: "torq_bridge_reconnects_total",
    type: "counter",
    help: "Reconnections of a bridge to its bus.",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.reconnects),
  },
  {
    name: "torq_bridge_refused_total",
    type: "counter",
    help: "Bus messages a bridge did not feed to the relay (not one frame, hello, Subscribe).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.refused),
  },
  {
    name: "torq_bridge_connect_failures_total",
    type: "counter",
    help:
      "Connection attempts of a bridge that its bus refused or that failed (credentials, no server).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.connectFailures),
  },
  {
    name: "torq_bridge_pending_frames",
    type: "gauge",
    help: "Frames a bridge handed to its bus and not yet confirmed.",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.pending),
  },
  {
    name: "torq_bridge_lag_frames",
    type: "gauge",
    help: "Frames a bridge received and the relay has not read yet.",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.lag),
  },
  {
    name: "torq_bridge_connected",
    type: "gauge",
    help: "Whether a bridge is connected to its bus (1) or not (0).",
    samples: (s, b) => bridgeSamples(s, b, (x) => x.connected ? 1 : 0),
  },
  {
    name: "torq_bridge_state",
    type: "gauge",
    help:
      "State of a bridge: 1 for the one it is in (connecting, connected, reconnecting, refused, stopped).",
    samples: (s, b) =>
      (s.bridges ?? []).flatMap((x) =>
        BRIDGE_STATES.map((state): Sample => [
          { ...bridgeLabels(b, x), state },
          x.state === state ? 1 : 0,
        ])
      ),
  },
  {
    name: "torq_uptime_seconds",
    type: "gauge",
    help: "Seconds since the relay started.",
    samples: (s, b) => [[b, s.uptimeMs / 1000]],
  },
];

/**
 * Writes the relays' counters in the Prometheus text format.
 *
 * @param relays `Relay.stats()` of each relay
 * @param process the serving process's memory, written as `process_resident_memory_bytes`
 *   and `torq_process_*_bytes` gauges (none when omitted)
 * @param services the services `torq up` supervises: `torq_service_restarts_total`,
 *   `torq_service_up` and `torq_service_failed` per service (none when empty)
 * @returns the exposition, ending with a newline
 * @example
 * ```ts
 * import type { Relay } from "../relay/mod.ts";
 * declare const relays: Relay[];
 *
 * const text = prometheusText(relays.map((r) => r.stats()));
 * // # TYPE torq_frames_in_total counter
 * // torq_frames_in_total{relay="signal",domain="signal"} 42
 * ```
 */
export function prometheusText(
  relays: readonly RelayStats[],
  process?: ProcessInfo,
  services: readonly ServiceRow[] = [],
  http?: Http1Stats,
): string {
  const lines: string[] = [];
  if (process !== undefined) {
    for (const [name, help, value] of processGauges(process)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${formatValue(value)}`);
    }
  }
  if (http !== undefined) {
    for (const [name, type, help, value] of HTTP_FAMILIES) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value(http)}`);
    }
  }
  if (services.length > 0) {
    for (const [name, type, help, value] of SERVICE_FAMILIES) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const s of services) {
        lines.push(`${name}${formatLabels({ service: s.name })} ${formatValue(value(s))}`);
      }
    }
  }
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of relays) {
      const base = { relay: s.name, domain: domainName(s.domain) ?? String(s.domain) };
      for (const [labels, value, suffix] of f.samples(s, base)) {
        lines.push(`${f.name}${suffix ?? ""}${formatLabels(labels)} ${formatValue(value)}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** Families of the HTTP server's own counters (its caps and timeouts), one sample each. */
const HTTP_FAMILIES: readonly [string, string, string, (h: Http1Stats) => number][] = [
  ["torq_http_connections", "gauge", "HTTP connections open now.", (h) => h.open],
  ["torq_http_connections_total", "counter", "HTTP connections accepted.", (h) => h.accepted],
  [
    "torq_http_refused_total",
    "counter",
    "HTTP connections answered 503 at http.max_connections.",
    (h) => h.refused,
  ],
  [
    "torq_http_evicted_total",
    "counter",
    "Waiting HTTP connections closed at the cap to make room for a new one.",
    (h) => h.evicted,
  ],
  [
    "torq_http_timed_out_total",
    "counter",
    "HTTP connections closed because a request head or a write took too long.",
    (h) => h.timedOut,
  ],
  [
    "torq_http_bad_requests_total",
    "counter",
    "HTTP requests answered 400, 413, 414 or 431.",
    (h) => h.badRequests,
  ],
  [
    "torq_http_accepting",
    "gauge",
    "Whether the HTTP server's accept() works now (1) or fails (0).",
    (h) => h.accepting ? 1 : 0,
  ],
  [
    "torq_http_accept_errors_total",
    "counter",
    "Failed accept() calls of the HTTP server.",
    (h) => h.acceptErrors,
  ],
];

/** Families of the supervised services (`torq up` with `services:`), one sample per service. */
const SERVICE_FAMILIES: readonly [string, string, string, (s: ServiceRow) => number][] = [
  [
    "torq_service_restarts_total",
    "counter",
    "Times a service was started again after its first start (by its policy or by hand).",
    (s) => s.restarts,
  ],
  [
    "torq_service_up",
    "gauge",
    "Whether a service's process runs (1) or not (0).",
    (s) => s.state === "running" ? 1 : 0,
  ],
  [
    "torq_service_failed",
    "gauge",
    "Whether a service is failed (1): its policy gave up or it could not be started.",
    (s) => s.state === "failed" ? 1 : 0,
  ],
];

function processGauges(p: ProcessInfo): [string, string, number][] {
  return [
    ["process_resident_memory_bytes", "Resident memory size in bytes.", p.rssBytes],
    ["torq_process_heap_used_bytes", "V8 heap in use, bytes.", p.heapUsedBytes],
    ["torq_process_heap_total_bytes", "V8 heap reserved, bytes.", p.heapTotalBytes],
    [
      "torq_process_external_bytes",
      "Memory outside the V8 heap held by JS objects (ArrayBuffers), bytes.",
      p.externalBytes,
    ],
  ];
}

/**
 * Escapes a label value: backslash, double quote and newline.
 *
 * @param value the raw value
 * @returns the escaped value (without quotes)
 * @example
 * ```ts
 * escapeLabelValue('a"b'); // 'a\\"b'
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The states `torq_bridge_state` lists (`NatsBridgeState`). */
const BRIDGE_STATES = ["connecting", "connected", "reconnecting", "refused", "stopped"] as const;

function bridgeLabels(labels: Labels, x: BridgeStats): Labels {
  return { ...labels, bridge: x.kind, subject: x.subject, direction: x.direction };
}

function bridgeSamples(
  s: RelayStats,
  labels: Labels,
  value: (b: BridgeStats) => number,
): Sample[] {
  return (s.bridges ?? []).map((x) => [bridgeLabels(labels, x), value(x)]);
}

function sourceLabel(x: { source: number; name: string | null }): string {
  return x.name ?? String(x.source);
}
