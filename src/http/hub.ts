/**
 * The hub: the one place where the relays of this process are observed. Once a
 * second it snapshots every relay's counters, turns the deltas into rates and
 * per-second latency percentiles, keeps a 15-minute timeline per relay and
 * pushes one {@linkcode StatsEvent} to every stream listener. It also installs
 * the relays' sampling taps and pushes a few decoded {@linkcode MessageEvent}s a
 * second, keeping the last 200; an ArbitrageSignal also gets its 8.5
 * dashboard JSON.
 *
 * All aggregation happens here, at most once a second per relay, never per
 * message: at millions of frames a second the browser still receives one stats
 * event a second and a bounded number of messages.
 *
 * @module
 */

import { resolve } from "node:path";
import type {
  ConnectionRow,
  ConnectionsResponse,
  HealthResponse,
  MessageEvent,
  ProcessInfo,
  RejectsResponse,
  RelayRates,
  RelaysResponse,
  ServiceRow,
  StatsEvent,
  TimelinePoint,
  TimelineResponse,
} from "./api.ts";
import type { RejectRecord, RelayStats } from "../relay/mod.ts";
import { type StreamConn, UnixTransport } from "../transport/mod.ts";
import { type DecodedMessage, decodeMessage, FrameError } from "../protocol/mod.ts";
import {
  arbitrageJsonFromMessage,
  type ArbitrageOpportunityJson,
  errorToJson,
  messageToJson,
} from "../format/mod.ts";

/**
 * This process's id, age and memory.
 *
 * @returns the figures now
 * @example
 * ```ts
 * const { rssBytes, heapUsedBytes } = processInfo();
 * ```
 */
export function processInfo(): ProcessInfo {
  const m = Deno.memoryUsage();
  return {
    pid: Deno.pid,
    uptimeSeconds: Math.round(performance.now()) / 1000,
    rssBytes: m.rss,
    heapTotalBytes: m.heapTotal,
    heapUsedBytes: m.heapUsed,
    externalBytes: m.external,
  };
}

/** What the hub needs of a relay; a running `Relay` fits. */
export interface MonitoredRelay {
  /** The relay's description (name, wire domain, numbering). */
  readonly logic: {
    readonly name: string;
    readonly domain: number;
    readonly legacyDomainNumbering?: boolean;
  };
  /** Where it listens (a socket path). */
  readonly address: string;
  /** A snapshot of its counters. */
  stats(): RelayStats;
  /** Its last rejected frames, newest last. */
  recentRejects(): readonly RejectRecord[];
  /** Installs (or removes, with null) the sampling tap of forwarded frames. */
  setSampler(fn: ((frame: Uint8Array, relay: string) => void) | null, perSecond?: number): void;
}

/** Default samples per second by wire domain: market data 5, signal 12, execution 8, system 5. */
export const DEFAULT_SAMPLE_RATES: Readonly<Record<number, number>> = {
  1: 5,
  2: 12,
  3: 8,
  4: 5,
};

/** Options of {@linkcode Hub}. */
export interface HubOptions {
  /** Tick period in ms (default 1000). */
  intervalMs?: number;
  /** Timeline points kept per relay (default 900: 15 minutes of seconds). */
  historyPoints?: number;
  /** Decoded messages kept (default 200). */
  recentMessages?: number;
  /** Samples per second by wire domain (default {@linkcode DEFAULT_SAMPLE_RATES}). */
  sampleRates?: Readonly<Record<number, number>>;
  /** Health probe timeout in ms (default 1000). */
  probeTimeoutMs?: number;
  /** Clock in ms since epoch (default `Date.now`). */
  clock?: () => number;
}

/** Receives the hub's live events. */
export interface HubListener {
  /** Every tick. */
  stats?(event: StatsEvent): void;
  /** Every sampled, decoded frame. */
  message?(event: MessageEvent): void;
  /** The hub stopped or dropped the listener; no more events follow. */
  close?(): void;
}

/** Sort keys of {@linkcode Hub.connections}. */
export const CONNECTION_SORTS = [
  "pending",
  "msgs_in",
  "msgs_out",
  "drops",
  "rejected",
  "last_activity",
  "id",
] as const;

/** One sort key of {@linkcode CONNECTION_SORTS}. */
export type ConnectionSort = typeof CONNECTION_SORTS[number];

/** Query of {@linkcode Hub.connections}. */
export interface ConnectionsQuery {
  /** Only this relay's connections. */
  relay?: string;
  /** Sort key (default `pending`). */
  sort?: ConnectionSort;
  /** `asc` or `desc` (default `desc`, `asc` for `id`). */
  order?: "asc" | "desc";
  /** At most this many rows (default all). */
  limit?: number;
}

/** The counters a rate is computed from, at one instant. */
interface Baseline {
  t: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: number;
  rejects: number;
  buckets: [string, number][];
}

/** Observed relay with its history. */
interface Track {
  relay: MonitoredRelay;
  base: Baseline;
  rates: RelayRates;
  timeline: TimelinePoint[];
}

/** A frame copy waiting to be decoded off the forwarding path. */
interface PendingSample {
  relay: MonitoredRelay;
  frame: Uint8Array;
  time: number;
}

const MAX_PENDING_SAMPLES = 64;

/** Health answers are reused this long (ms), so polling `/healthz` cannot flood the relays. */
const HEALTH_CACHE_MS = 1000;

/**
 * Observes relays: rates, timelines, sampled messages, health, and a live
 * event feed for the HTTP API.
 *
 * @example
 * ```ts
 * import type { Relay } from "../relay/mod.ts";
 * declare const service: { relays: Relay[] };
 *
 * const hub = new Hub(service.relays);
 * hub.start();
 * const off = hub.subscribe({ stats: (e) => console.log(e.points) });
 * // ...
 * off();
 * hub.stop();
 * ```
 */
export class Hub {
  readonly #tracks: Track[] = [];
  readonly #intervalMs: number;
  readonly #historyPoints: number;
  readonly #recentMax: number;
  readonly #sampleRates: Readonly<Record<number, number>>;
  readonly #probeTimeoutMs: number;
  readonly #clock: () => number;
  readonly #listeners = new Set<HubListener>();
  readonly #messages: MessageEvent[] = [];
  #pending: PendingSample[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #latest: StatsEvent | null = null;
  #started = false;
  #health: { at: number; result: Promise<HealthResponse> } | null = null;
  #services: (() => ServiceRow[]) | null = null;

  /**
   * @param relays the relays of this process (their names must differ)
   * @param options periods, sizes and sample rates
   */
  constructor(relays: readonly MonitoredRelay[], options: HubOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#historyPoints = options.historyPoints ?? 900;
    this.#recentMax = options.recentMessages ?? 200;
    this.#sampleRates = options.sampleRates ?? DEFAULT_SAMPLE_RATES;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 1000;
    for (const r of relays) this.add(r);
  }

  /**
   * Observes one more relay (e.g. once it has started); when the hub runs, its
   * sampling tap is installed at once.
   *
   * @param relay the relay (its name must differ from the others')
   */
  add(relay: MonitoredRelay): void {
    const now = this.#clock();
    const track: Track = {
      relay,
      base: baseline(relay.stats(), now),
      rates: zeroRates(relay.logic.name),
      timeline: [],
    };
    this.#tracks.push(track);
    if (this.#started) this.#tap(track);
  }

  /**
   * Observes a relay that replaced the one of the same name (a restarted
   * relay): its timeline continues, its rates start from its new counters.
   *
   * @param relay the new relay
   * @returns false when no relay of that name is observed
   */
  replace(relay: MonitoredRelay): boolean {
    const track = this.#tracks.find((t) => t.relay.logic.name === relay.logic.name);
    if (track === undefined) return false;
    if (this.#started) track.relay.setSampler(null);
    track.relay = relay;
    track.base = baseline(relay.stats(), this.#clock());
    if (this.#started) this.#tap(track);
    return true;
  }

  /**
   * Shows the services `torq up` supervises (`/api/services`, the stats
   * events, `/metrics`).
   *
   * @param source their statuses now
   */
  setServices(source: () => ServiceRow[]): void {
    this.#services = source;
  }

  /**
   * The supervised services' statuses, in start order.
   *
   * @returns none unless {@linkcode Hub.setServices} was called
   */
  services(): ServiceRow[] {
    return this.#services?.() ?? [];
  }

  /** The observed relays, in the order given. */
  get relays(): MonitoredRelay[] {
    return this.#tracks.map((t) => t.relay);
  }

  /** Number of live-event listeners. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /**
   * Starts ticking every `intervalMs` and installs the relays' sampling taps.
   * Calling it twice does nothing.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const now = this.#clock();
    for (const t of this.#tracks) {
      t.base = baseline(t.relay.stats(), now);
      this.#tap(t);
    }
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
  }

  /** Stops ticking, removes the sampling taps and closes every listener. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.#pending = [];
    if (this.#started) { for (const t of this.#tracks) t.relay.setSampler(null); }
    this.#started = false;
    this.closeListeners();
  }

  /** Ends every live-event listener (their `close()` is called); used before an HTTP shutdown. */
  closeListeners(): void {
    const all = [...this.#listeners];
    this.#listeners.clear();
    for (const l of all) {
      try {
        l.close?.();
      } catch {
        // a listener that fails to close is gone anyway
      }
    }
  }

  /**
   * Takes one snapshot of every relay now: rates since the previous tick, a
   * timeline point each, and a stats event to every listener. Runs every
   * second once started; tests call it directly.
   *
   * @param now the time of the point (ms since epoch; default the hub's clock)
   * @returns the event sent
   */
  tick(now: number = this.#clock()): StatsEvent {
    const points: TimelinePoint[] = [];
    const relays: RelayStats[] = [];
    for (const t of this.#tracks) {
      const s = t.relay.stats();
      const cur = baseline(s, now);
      const seconds = Math.max(cur.t - t.base.t, 1) / 1000;
      const per = (a: number, b: number) => Math.round(Math.max(0, a - b) / seconds * 100) / 100;
      t.rates = {
        name: s.name,
        msgsInPerSec: per(cur.framesIn, t.base.framesIn),
        msgsOutPerSec: per(cur.framesOut, t.base.framesOut),
        bytesInPerSec: per(cur.bytesIn, t.base.bytesIn),
        bytesOutPerSec: per(cur.bytesOut, t.base.bytesOut),
        dropsPerSec: per(cur.drops, t.base.drops),
        rejectsPerSec: per(cur.rejects, t.base.rejects),
      };
      const lat = latencyDelta(t.base.buckets, cur.buckets, s.latency.maxUs);
      const point: TimelinePoint = {
        ...t.rates,
        t: Math.floor(now / 1000) * 1000,
        p50Us: lat(0.5),
        p99Us: lat(0.99),
        p999Us: lat(0.999),
      };
      t.timeline.push(point);
      if (t.timeline.length > this.#historyPoints) {
        t.timeline.splice(0, t.timeline.length - this.#historyPoints);
      }
      t.base = cur;
      points.push(point);
      relays.push({ ...s, connectionsDetail: [] });
    }
    const event: StatsEvent = { time: now, points, relays };
    if (this.#services !== null) event.services = this.#services();
    this.#latest = event;
    for (const l of [...this.#listeners]) {
      if (l.stats === undefined) continue;
      try {
        l.stats(event);
      } catch {
        this.#drop(l);
      }
    }
    return event;
  }

  /**
   * Adds a live-event listener.
   *
   * @param listener callbacks for stats and message events
   * @returns a function removing it
   */
  subscribe(listener: HubListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** The last stats event, or null before the first tick. */
  latest(): StatsEvent | null {
    return this.#latest;
  }

  /**
   * The last decoded messages, oldest first.
   *
   * @returns up to `recentMessages` events
   */
  messages(): readonly MessageEvent[] {
    return this.#messages;
  }

  /**
   * Every relay's full counters with the rates of the last tick (`/api/relays`).
   *
   * @returns the response body
   */
  relaysResponse(): RelaysResponse {
    return {
      time: this.#clock(),
      process: processInfo(),
      relays: this.#tracks.map((t) => t.relay.stats()),
      rates: this.#tracks.map((t) => ({ ...t.rates })),
    };
  }

  /**
   * Whether a relay of that name is observed.
   *
   * @param name relay name
   * @returns true when known
   */
  hasRelay(name: string): boolean {
    return this.#tracks.some((t) => t.relay.logic.name === name);
  }

  /**
   * Connection rows of every (or one) relay, sorted (`/api/connections`).
   *
   * @param query relay, sort key, order and limit
   * @returns the response body
   */
  connections(query: ConnectionsQuery = {}): ConnectionsResponse {
    const rows: ConnectionRow[] = [];
    for (const t of this.#tracks) {
      if (query.relay !== undefined && t.relay.logic.name !== query.relay) continue;
      const s = t.relay.stats();
      for (const c of s.connectionsDetail) rows.push({ ...c, relay: s.name });
    }
    const sort = query.sort ?? "pending";
    const order = query.order ?? (sort === "id" ? "asc" : "desc");
    const key = SORT_KEYS[sort];
    const sign = order === "asc" ? 1 : -1;
    rows.sort((a, b) => sign * (key(a) - key(b)) || a.relay.localeCompare(b.relay) || a.id - b.id);
    const limit = query.limit ?? rows.length;
    return { connections: rows.slice(0, Math.max(0, limit)) };
  }

  /**
   * The last rejected frames with evidence, oldest first (`/api/rejects`).
   *
   * @param query only this relay; at most `limit` records (default 50)
   * @returns the response body
   */
  rejects(query: { relay?: string; limit?: number } = {}): RejectsResponse {
    const all: (RejectRecord & { relay: string })[] = [];
    for (const t of this.#tracks) {
      const name = t.relay.logic.name;
      if (query.relay !== undefined && name !== query.relay) continue;
      for (const r of t.relay.recentRejects()) all.push({ ...r, relay: name });
    }
    all.sort((a, b) => a.time - b.time);
    const limit = Math.max(0, query.limit ?? 50);
    return { rejects: limit === 0 ? [] : all.slice(-limit) };
  }

  /**
   * The per-second history of every (or one) relay (`/api/timeline`).
   *
   * @param query only this relay; only the last `seconds` points
   * @returns the response body
   */
  timeline(query: { relay?: string; seconds?: number } = {}): TimelineResponse {
    const out: Record<string, TimelinePoint[]> = {};
    for (const t of this.#tracks) {
      const name = t.relay.logic.name;
      if (query.relay !== undefined && name !== query.relay) continue;
      const n = query.seconds === undefined ? t.timeline.length : Math.max(0, query.seconds);
      out[name] = n === 0 ? [] : t.timeline.slice(-n);
    }
    return { timeline: out };
  }

  /**
   * Checks that every relay accepts connections (`/healthz`): its own word
   * first (`stats().accepting` is false while its accept() fails, e.g. out of
   * file descriptors), then its socket: the file is there and a listening
   * socket is bound to that path (Linux's /proc/net/unix). Nothing connects,
   * so a probe is neither a client in the relay's counters nor a "connection
   * closed" line in its log. Where the socket table cannot be read, and for
   * TCP addresses, it connects and closes at once, bounded by
   * `probeTimeoutMs`. Calls within a second of a probe share its answer.
   *
   * @returns `ok` when all accept, else `unavailable` with the reasons
   */
  health(): Promise<HealthResponse> {
    const now = this.#clock();
    if (this.#health !== null && now - this.#health.at < HEALTH_CACHE_MS) {
      return this.#health.result;
    }
    const result = this.#probeAll();
    this.#health = { at: now, result };
    return result;
  }

  async #probeAll(): Promise<HealthResponse> {
    const relays = await Promise.all(this.#tracks.map(async (t) => {
      const { name } = t.relay.logic;
      const address = t.relay.address;
      // A listener whose accept() fails (out of file descriptors) still lets clients connect:
      // they wait in the kernel's backlog. The relay knows; a probe would not.
      const stats = t.relay.stats();
      if (!stats.accepting) {
        const why = stats.lastAcceptError === null
          ? "not accepting connections"
          : `accept() is failing: ${stats.lastAcceptError}`;
        return { name, address, accepting: false, reason: why };
      }
      const reason = await probe(address, this.#probeTimeoutMs);
      return reason === null
        ? { name, address, accepting: true }
        : { name, address, accepting: false, reason };
    }));
    return { status: relays.every((r) => r.accepting) ? "ok" : "unavailable", relays };
  }

  #tap(t: Track): void {
    const rate = this.#sampleRates[t.relay.logic.domain] ?? 5;
    if (rate > 0) t.relay.setSampler((frame) => this.#onSample(t.relay, frame), rate);
  }

  #drop(listener: HubListener): void {
    this.#listeners.delete(listener);
    try {
      listener.close?.();
    } catch {
      // gone
    }
  }

  // Runs inside the relay's forwarding path at most a few times a second:
  // only queue the copy; decoding happens on a later turn of the event loop.
  #onSample(relay: MonitoredRelay, frame: Uint8Array): void {
    if (this.#pending.length >= MAX_PENDING_SAMPLES) return;
    this.#pending.push({ relay, frame, time: this.#clock() });
    if (this.#flushTimer === null) this.#flushTimer = setTimeout(() => this.#flush(), 0);
  }

  #flush(): void {
    this.#flushTimer = null;
    const batch = this.#pending;
    this.#pending = [];
    for (const p of batch) {
      const event = this.#decode(p);
      this.#messages.push(event);
      if (this.#messages.length > this.#recentMax) {
        this.#messages.splice(0, this.#messages.length - this.#recentMax);
      }
      for (const l of [...this.#listeners]) {
        if (l.message === undefined) continue;
        try {
          l.message(event);
        } catch {
          this.#drop(l);
        }
      }
    }
  }

  #decode(p: PendingSample): MessageEvent {
    const relay = p.relay.logic.name;
    let msg: DecodedMessage;
    try {
      msg = decodeMessage(p.frame, {
        legacyNumbering: p.relay.logic.legacyDomainNumbering ?? false,
      });
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      return { relay, time: p.time, decoded: { error: errorToJson(e) } };
    }
    const decoded = messageToJson(msg);
    let arbitrage: ArbitrageOpportunityJson | undefined;
    try {
      arbitrage = arbitrageJsonFromMessage(msg)[0];
    } catch {
      arbitrage = undefined; // fields out of the 8.5 shape's reach: the decoded frame still goes
    }
    return arbitrage === undefined
      ? { relay, time: p.time, decoded }
      : { relay, time: p.time, decoded, arbitrage: { ...arbitrage } };
  }
}

const SORT_KEYS: Readonly<Record<ConnectionSort, (row: ConnectionRow) => number>> = {
  pending: (r) => r.queueBytes,
  msgs_in: (r) => r.framesIn,
  msgs_out: (r) => r.framesOut,
  drops: (r) => r.dropped,
  rejected: (r) => r.rejected,
  last_activity: (r) => r.lastActivity,
  id: (r) => r.id,
};

function zeroRates(name: string): RelayRates {
  return {
    name,
    msgsInPerSec: 0,
    msgsOutPerSec: 0,
    bytesInPerSec: 0,
    bytesOutPerSec: 0,
    dropsPerSec: 0,
    rejectsPerSec: 0,
  };
}

function baseline(s: RelayStats, t: number): Baseline {
  let drops = 0;
  for (const [reason, n] of Object.entries(s.drops)) if (reason !== "hello") drops += n;
  let rejects = 0;
  for (const n of Object.values(s.rejects)) rejects += n;
  return {
    t,
    rejects,
    framesIn: s.framesIn,
    framesOut: s.framesOut,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    drops,
    buckets: s.latency.buckets,
  };
}

/**
 * Percentiles of the samples recorded between two cumulative bucket snapshots.
 * Each is the upper bound of the bucket holding it (the overall max for +Inf).
 */
function latencyDelta(
  before: readonly [string, number][],
  after: readonly [string, number][],
  maxUs: number,
): (q: number) => number {
  const total = (after[after.length - 1]?.[1] ?? 0) - (before[before.length - 1]?.[1] ?? 0);
  return (q) => {
    if (total <= 0) return 0;
    const rank = Math.max(1, Math.ceil(q * total));
    for (let i = 0; i < after.length; i++) {
      const [le, count] = after[i]!;
      if (count - (before[i]?.[1] ?? 0) >= rank) {
        return le === "+Inf" ? maxUs : Math.round(Number(le) * 1e6);
      }
    }
    return maxUs;
  };
}

/**
 * Whether a Unix socket at `path` accepts connections, without connecting:
 * the file is a socket and the kernel's socket table (Linux) lists a listening
 * socket bound to that path. Null when it does, else why not; undefined when
 * the table cannot be read (then only a connect can tell).
 */
async function unixListening(path: string): Promise<string | null | undefined> {
  let table: string;
  try {
    table = await Deno.readTextFile("/proc/net/unix");
  } catch {
    return undefined;
  }
  try {
    if (!(await Deno.lstat(path)).isSocket) return "not a socket";
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "no such socket" : (e as Error).message;
  }
  const names = new Set([path, resolve(path)]);
  // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 (__SO_ACCEPTCON): listening.
  for (const line of table.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8 || (parseInt(cols[3]!, 16) & 0x10000) === 0) continue;
    if (names.has(cols.slice(7).join(" "))) return null;
  }
  return "nothing listens on the socket (stale socket file)";
}

/**
 * Checks a relay's address (a socket path, or `host:port` for TCP): null when
 * it accepts connections, else why not. Unix sockets are checked without
 * connecting where the system allows ({@linkcode unixListening}); otherwise
 * it connects and closes at once.
 */
async function probe(address: string, timeoutMs: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tcp = /^(?:tcp:\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):(\d{1,5})$/.exec(address);
  if (tcp === null) {
    const listening = await unixListening(address);
    if (listening !== undefined) return listening;
  }
  const attempt: Promise<StreamConn> = tcp === null
    ? new UnixTransport(address).connect()
    : Deno.connect({ hostname: tcp[1]!.replace(/^\[|\]$/g, ""), port: Number(tcp[2]) });
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const result = await Promise.race([attempt, timeout]);
    if (result === "timeout") {
      attempt.then((c) => c.close(), () => {});
      return `no answer within ${timeoutMs} ms`;
    }
    result.close();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
