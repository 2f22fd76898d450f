/**
 * The shape of a relay's counters snapshot (`Relay.stats()`), served later by
 * the HTTP API and the dashboard.
 *
 * @module
 */

import type { JournalStats } from "./journal.ts";

/** Counters of one connection. */
export interface ConnectionStats {
  /** Connection id. */
  id: number;
  /** `accepted` by a listener, or the label of an attached bridge connection. */
  kind: string;
  /** Connect time (ms since epoch). */
  connectedAt: number;
  /** Last read or write (ms since epoch). */
  lastActivity: number;
  /** `publisher` (publish-only) or `subscriber`. */
  role: "publisher" | "subscriber";
  /** Patterns in effect (`*` = everything). */
  patterns: string[];
  /** Frames received. */
  framesIn: number;
  /** Bytes received. */
  bytesIn: number;
  /**
   * Frames queued to it so far: `framesOut + dropped + queueFrames` plus the
   * frames of the write in flight.
   */
  framesQueued: number;
  /** Frames delivered to it (the kernel took all their bytes). */
  framesOut: number;
  /** Bytes written to it. */
  bytesOut: number;
  /** Write calls made to it (frames per write = framesOut / writes). */
  writes: number;
  /** Its frames that were rejected. */
  rejected: number;
  /** Frames dropped from its queue. */
  dropped: number;
  /** Hello frames it sent. */
  hellos: number;
  /** Times its reads waited for consumers to drain (flow control, PROTOCOL.md 7.6 D-36). */
  stalls: number;
  /** Milliseconds its reads waited for consumers to drain. */
  stalledMs: number;
  /** False once a write to it failed: it is only read, to its end. */
  delivering: boolean;
  /** Frames waiting in its queue. */
  queueFrames: number;
  /** Bytes waiting (queued and in flight). */
  queueBytes: number;
  /** Highest queued bytes seen. */
  queueHighWater: number;
  /** Queue fill in % of the tighter limit. */
  queuePercent: number;
  /** Bytes skipped resynchronising its stream. */
  garbageBytes: number;
  /** Size of its read buffer: grows while it sends in bursts, shrinks back after. */
  readBufferBytes: number;
}

/** Sequence health of one header source (across connections). */
export interface SourceStats {
  /** SourceType byte. */
  source: number;
  /** Its canonical name, if any. */
  name: string | null;
  /** Accepted frames. */
  frames: number;
  /** Last sequence seen (decimal string, 64-bit exact). */
  lastSequence: string;
  /** Forward jumps larger than 1. */
  gaps: number;
  /** Sequence numbers skipped by those jumps. */
  missing: number;
  /** Sequences not above the previous one (restarts, duplicates, several producers). */
  regressions: number;
}

/** Arrival latency of accepted frames (relay clock minus header timestamp). */
export interface LatencyStats {
  /** Samples. */
  count: number;
  /** Sum in µs. */
  sumUs: number;
  /** Largest in µs. */
  maxUs: number;
  /** Approximate median in µs (bucket bound). */
  p50Us: number;
  /** Approximate 99th percentile in µs. */
  p99Us: number;
  /** Approximate 99.9th percentile in µs. */
  p999Us: number;
  /** Frames whose timestamp was ahead of the relay's clock. */
  clockSkew: number;
  /** Cumulative Prometheus buckets: `[le in seconds, count]`, ending with `+Inf`. */
  buckets: [string, number][];
}

/**
 * Counters of one bridge to a message bus (PROTOCOL.md 7.12), reported by
 * `Relay.stats()` under `bridges` for every bridge registered with `Relay.addBridge()`.
 */
export interface BridgeStats {
  /** Bus kind: `nats`. */
  kind: string;
  /** Label of the bridge's relay connection (`bridge:nats`). */
  label: string;
  /** Server URLs, comma-separated. */
  address: string;
  /** Subject frames are published to and received from. */
  subject: string;
  /** `out` (relay → bus), `in` (bus → relay) or `both`. */
  direction: string;
  /** `core` (at most once) or `jetstream` (acknowledged, de-duplicated). */
  mode: string;
  /** Whether the bus connection is up. */
  connected: boolean;
  /**
   * `connecting` (never connected yet: retrying), `connected`, `reconnecting`, `refused` (e.g. a
   * JetStream durable bound by another relay) or `stopped`; `lastError` says why when not connected.
   */
  state: string;
  /** Connection attempts the bus refused or that failed (wrong credentials, no server). */
  connectFailures: number;
  /** Frames published and confirmed (core: flush round trip; JetStream: ack). */
  published: number;
  /** Frames received from the bus and queued for the relay. */
  received: number;
  /**
   * Frames given up: written while disconnected, refused by the bus, over the inbound bound, or
   * forwarded by the relay while it had closed the bridge connection (a stalled bus made the
   * bridge a slow consumer; the frames queued at that moment are logged by the relay).
   */
  dropped: number;
  /** Core: frames handed to the bus whose flush failed (maybe lost). */
  unconfirmed: number;
  /** Outbound frames not yet confirmed (in flight, or buffered and unacknowledged). */
  pending: number;
  /** Inbound frames received and not yet read by the relay. */
  lag: number;
  /** Sequence numbers skipped by received frames, per source (what the bus lost on the way in). */
  missing: number;
  /**
   * JetStream: redeliveries and second copies of a frame skipped (in), publishes the stream
   * reported as duplicates (out).
   */
  duplicates: number;
  /** JetStream: publish attempts repeated after a failed or missing acknowledgement. */
  retries: number;
  /** Reconnections to the bus. */
  reconnects: number;
  /** Own messages seen again and skipped (`Torq-Origin`). */
  skippedOwn: number;
  /** Messages not fed to the relay: not exactly one frame, or a hello or Subscribe frame. */
  refused: number;
  /** Last error, if any. */
  lastError: string | null;
}

/** A relay's replay window, last values and RecoveryRequests (PROTOCOL.md 7.9). */
export interface RecoveryStats {
  /** Frames the window holds. */
  windowFrames: number;
  /** Bytes of frames the window holds. */
  windowBytes: number;
  /** When its oldest frame was forwarded (ms since epoch), or null when empty. */
  windowOldest: number | null;
  /** Frames let go by the window so far. */
  windowEvicted: number;
  /** (instrument, TLV type) last values held (market data), or null when none are kept. */
  lastValues: number | null;
  /** RecoveryRequests answered. */
  requests: number;
  /** Frames replayed to them. */
  replayedFrames: number;
  /** Answers with status 1: the window no longer held the start. */
  partial: number;
  /** Requests answered with status 3. */
  malformed: number;
  /** Frames put back into the window from the journal at start. */
  refilled: number;
}

/** Counters of one relay (7.7). */
export interface RelayStats {
  /** Relay name. */
  name: string;
  /** Wire domain. */
  domain: number;
  /** Listening address (the first transport's). */
  address: string;
  /** Every listening address. */
  addresses: string[];
  /** Validation policy. */
  policy: string;
  /** Soft failures dropped. */
  strict: boolean;
  /** Start time (ms since epoch). */
  startedAt: number;
  /** Uptime in ms. */
  uptimeMs: number;
  /** Connections: current, total accepted, refused by max_connections. */
  connections: { current: number; total: number; refused: number };
  /** Frames received. */
  framesIn: number;
  /** Bytes received. */
  bytesIn: number;
  /** Frames written to consumers (each copy counts). */
  framesOut: number;
  /** Bytes written to consumers. */
  bytesOut: number;
  /** Write calls made to consumers (frames per write = framesOut / writes). */
  writes: number;
  /** Frames accepted for fan-out. */
  framesForwarded: number;
  /** Hello frames. */
  hello: number;
  /** Subscribe requests. */
  subscribes: number;
  /** Bytes skipped while resynchronising. */
  garbageBytes: number;
  /** Rejected frames by error code. */
  rejects: Record<string, number>;
  /** Soft failures seen (forwarded unless strict). */
  warnings: Record<string, number>;
  /** Every frame not forwarded, by reason (error codes, `hello`, `slow_consumer`). */
  drops: Record<string, number>;
  /** Consumers disconnected for being slow. */
  slowConsumerDisconnects: number;
  /** Frames queued to consumers that were still queued, or only partly written, when they closed. */
  undelivered: number;
  /**
   * Times the relay paused reading producers: flow control for a draining consumer
   * over half its queue (D-36), or the execution `backpressure` policy.
   */
  stalls: number;
  /** Milliseconds the relay's reads were paused. */
  stalledMs: number;
  /** Pauses met by connections' reads, summed over connections (one stall may pause several). */
  producerStalls: number;
  /** Milliseconds connections' reads waited, summed over connections. */
  producerStalledMs: number;
  /** Execution journal, when the policy keeps one. */
  journal: JournalStats | null;
  /** Recovery (7.9), or null when it is disabled. */
  recovery: RecoveryStats | null;
  /** Arrival latency from header timestamps. */
  latency: LatencyStats;
  /** Sequence health per source. */
  sources: SourceStats[];
  /** Accepted frames by the name of their first TLV's type. */
  tlvMix: Record<string, number>;
  /** Per-connection counters. */
  connectionsDetail: ConnectionStats[];
  /** Bridges to message buses, when any is registered. */
  bridges?: BridgeStats[];
  /**
   * Whether the relay accepts connections now: false while accept() fails (out of file
   * descriptors, EMFILE) and once it has stopped.
   */
  accepting: boolean;
  /** Failed accept() calls since start (each retried after a short backoff). */
  acceptErrors: number;
  /** The last failed accept's error, e.g. `Too many open files (EMFILE)`. */
  lastAcceptError: string | null;
}
