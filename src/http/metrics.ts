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
 * `torq_garbage_bytes_total`, `torq_journal_lines_total`,
 * `torq_journal_failures_total`, `torq_latency_seconds` (histogram),
 * `torq_latency_clock_skew_total`, `torq_uptime_seconds`, and per bridge
 * (`bridge`, `subject`, `direction` labels) `torq_bridge_{published,received,
 * dropped,unconfirmed,missing,duplicates,retries,reconnects,refused}_total`,
 * `torq_bridge_pending_frames`, `torq_bridge_lag_frames`, `torq_bridge_connected`;
 * every sample carries `relay` and `domain`.
 *
 * @module
 */

import type { BridgeStats, RelayStats } from "../relay/stats.ts";
import type { ProcessInfo } from "./api.ts";
import { domainName } from "../protocol/domains.ts";

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
    help: "Times producers were paused by backpressure.",
    samples: (s, b) => [[b, s.stalls]],
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
    name: "torq_journal_lines_total",
    type: "counter",
    help: "Audit journal lines written (audit policy only).",
    samples: (s, b) => s.journal === null ? [] : [[b, s.journal.lines]],
  },
  {
    name: "torq_journal_failures_total",
    type: "counter",
    help: "Failed audit journal writes (audit policy only).",
    samples: (s, b) => s.journal === null ? [] : [[b, s.journal.failures]],
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
    help: "JetStream: redeliveries skipped and publishes the stream reported as duplicates.",
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
 * @returns the exposition, ending with a newline
 * @example
 * ```ts
 * const text = prometheusText(relays.map((r) => r.stats()));
 * // # TYPE torq_frames_in_total counter
 * // torq_frames_in_total{relay="signal",domain="signal"} 42
 * ```
 */
export function prometheusText(relays: readonly RelayStats[], process?: ProcessInfo): string {
  const lines: string[] = [];
  if (process !== undefined) {
    for (const [name, help, value] of processGauges(process)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${formatValue(value)}`);
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

function bridgeSamples(
  s: RelayStats,
  base: Labels,
  value: (b: BridgeStats) => number,
): Sample[] {
  return (s.bridges ?? []).map((x) => [
    { ...base, bridge: x.kind, subject: x.subject, direction: x.direction },
    value(x),
  ]);
}

function sourceLabel(x: { source: number; name: string | null }): string {
  return x.name ?? String(x.source);
}
