/**
 * The NATS bridge of one relay (PROTOCOL.md 7.12): frames the relay accepts are
 * published byte for byte, one per NATS message, to `<prefix>.<domain>`
 * (`out`); frames received on that subject are fed into the relay, which
 * validates them like any producer's and fans them out to its consumers (`in`).
 *
 * The bridge is a relay connection: a {@linkcode NatsFrameConn} attached with
 * `Relay.attachConnection()`. Whatever the relay writes to it is published;
 * whatever it reads from it came from NATS. The relay never writes a frame
 * back to the connection it came from, and every message carries a
 * `Torq-Origin` header naming this bridge instance, which the bridge skips when
 * it sees it again; so two relays bridged both ways never echo frames back and
 * forth.
 *
 * Core NATS (default) is at most once. While NATS is unreachable, frames the
 * relay writes are dropped and counted (`dropped`); frames handed to NATS whose
 * flush round trip fails when the connection drops are counted
 * (`unconfirmed`, maybe delivered); frames lost inside NATS show up at the
 * receiving bridge as sequence gaps (`missing`). Reconnection uses backoff.
 *
 * JetStream (`jetstream`, meant for the execution relay) loses nothing across
 * the hop: the stream is created when missing; every frame is copied into an
 * outbound buffer and published with a `Nats-Msg-Id` of
 * `<domain>-<source>-<sequence>-<timestamp>`, then kept until acknowledged and
 * retried (the stream's duplicate window drops repeats); the receiving side
 * reads a durable consumer, hands frames to the relay in stream order, skips
 * redeliveries and second copies of frames it already handed over
 * ({@linkcode JetStreamInbound}), and acknowledges a message only after the
 * relay has processed it.
 *
 * @module
 */

import { credsAuthenticator, nanos } from "@nats-io/transport-node";
import type {
  ConnectionOptions,
  Msg,
  MsgHdrs,
  NatsConnection,
  Subscription,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  jetstreamManager,
  type JsMsg,
  StorageType,
} from "@nats-io/jetstream";
import type { BridgeStats, Relay, RelayLogic } from "../relay/mod.ts";
import {
  encodeHeader,
  FrameTopics,
  HEADER_SIZE,
  readSequence,
  readSequenceHigh,
  readSequenceLow,
  readTimestamp,
  RELAY_SOURCE,
  SUBSCRIBE_TLV,
  TopicRegistry,
} from "../protocol/mod.ts";
import {
  connectNats,
  CorePublisher,
  DEFAULT_SUBJECT_PREFIX,
  FrameSplitter,
  hasOrigin,
  NatsFrameConn,
  natsMessageProblem,
  natsSubject,
  newOriginId,
  ORIGIN_HEADER,
  originHeaders,
  originLine,
} from "../nats/mod.ts";
import { Logger, RateLimit } from "../log/mod.ts";
import { Backoff, sleep } from "../io/mod.ts";
import { frameKey, JetStreamInbound } from "./jetstream_inbound.ts";

/** Which way frames cross the bridge. */
export type NatsBridgeDirection = "out" | "in" | "both";

/**
 * Where a bridge stands: `connecting` (no NATS connection yet, retrying with
 * backoff), `connected`, `reconnecting` (the connection dropped), `refused`
 * (connected, but the JetStream durable is bound by another relay: waiting for
 * it to be free), `stopped`.
 */
export type NatsBridgeState = "connecting" | "connected" | "reconnecting" | "refused" | "stopped";

/** JetStream settings of a {@linkcode NatsBridge}. */
export interface NatsJetStreamOptions {
  /** Stream name (default `TORQ_<DOMAIN>`); created when missing. */
  stream?: string | null;
  /** Storage of a created stream (default `file`). */
  storage?: "file" | "memory";
  /**
   * Durable consumer of the `in` side (default `torq_<relay>_<host>_<hash of the relay's
   * address>`: one per relay instance). A durable another running relay is bound to is refused.
   */
  durable?: string | null;
  /** Duplicate window of a created stream in ms (default 120,000). */
  duplicateWindowMs?: number;
  /** Wait for one publish acknowledgement in ms before retrying (default 5,000). */
  ackTimeoutMs?: number;
}

/** Options of a {@linkcode NatsBridge}. */
export interface NatsBridgeOptions {
  /** Server URLs (`nats://host:port`). */
  servers: string[];
  /** Subject prefix (default `torq`). */
  subjectPrefix?: string;
  /**
   * Core NATS out: publish each frame to `<prefix>.<domain>.<topic>`, the topic the
   * relay extracts for it (7.8), instead of `<prefix>.<domain>` (default false).
   * Inbound bridges always receive both forms.
   */
  subjectTopic?: boolean;
  /** `out`, `in` or `both` (default). */
  direction?: NatsBridgeDirection;
  /** Authentication token. */
  token?: string | null;
  /** User name (with `password`). */
  user?: string | null;
  /** Password. */
  password?: string | null;
  /** Credentials file (JWT and seed). */
  credsFile?: string | null;
  /** JetStream instead of core NATS. */
  jetstream?: NatsJetStreamOptions | null;
  /** First reconnect delay in ms (default 100; doubles per attempt). */
  reconnectInitialMs?: number;
  /** Largest reconnect delay in ms (default 5,000). */
  reconnectMaxMs?: number;
  /** JetStream: unacknowledged outbound frames buffered before the relay waits (default 100,000). */
  maxPendingFrames?: number;
  /** Core: most inbound bytes queued for the relay before frames are dropped (default 64 MiB). */
  maxQueuedBytes?: number;
  /** Logger (default: a text logger at info). */
  logger?: Logger;
}

/** JetStream settings with defaults filled in. */
interface ResolvedJetStream {
  stream: string;
  storage: "file" | "memory";
  durable: string;
  duplicateWindowMs: number;
  ackTimeoutMs: number;
}

/** Label of the bridge's connection in the relay's stats. */
const LABEL = "bridge:nats";
/** JetStream publishes in flight at once. */
const JS_BATCH = 256;
/** JetStream consumer: unacknowledged messages outstanding at most. */
const JS_MAX_ACK_PENDING = 20_000;

/**
 * A running NATS bridge of one relay.
 *
 * @example
 * ```ts
 * import type { Relay } from "../relay/mod.ts";
 * declare const relay: Relay;
 *
 * const bridge = await NatsBridge.start(relay, {
 *   servers: ["nats://127.0.0.1:4222"],
 *   direction: "both",
 * });
 * await bridge.ready; // connected, subscribed, attached
 * bridge.stats().published;
 * await bridge.stop();
 * ```
 */
export class NatsBridge {
  /** The bridged relay. */
  readonly relay: Relay;
  /** The subject. */
  readonly subject: string;
  /** This instance's `Torq-Origin`. */
  readonly origin: string;
  /** Which way frames cross. */
  readonly direction: NatsBridgeDirection;
  /** `core` or `jetstream`. */
  readonly mode: "core" | "jetstream";
  /** Resolves once connected, set up and attached to the relay (or when stopped first). */
  readonly ready: Promise<void>;

  readonly #servers: string[];
  readonly #options: NatsBridgeOptions;
  readonly #log: Logger;
  readonly #auth: Partial<ConnectionOptions>;
  readonly #js: ResolvedJetStream | null;
  #resolveReady!: () => void;
  #nc: NatsConnection | null = null;
  #connected = false;
  #state: NatsBridgeState = "connecting";
  #connectFailures = 0;
  #stopping = false;
  #run: Promise<void> = Promise.resolve();
  #unregister: () => void = () => {};
  /** Aborted by stop(): ends every backoff sleep at once. */
  readonly #stopSleeps = new AbortController();
  #upWaiters: (() => void)[] = [];
  readonly #backoff: Backoff;
  #lastRepair = 0;

  // Relay side.
  #conn: NatsFrameConn | null = null;
  #backlog: [Uint8Array, (() => void) | null][] = [];
  #reattaching = false;
  #reattachTimer: ReturnType<typeof setTimeout> | undefined;
  #detaches = 0;
  #forwardedAtDetach = -1;
  #droppedDetached = 0;
  /** Relays with `echo` write our own frames back: headers of frames fed in, to skip them. */
  readonly #fed: Set<string> | null;

  // Outbound.
  #core: CorePublisher | null = null;
  #jsOut: JetStreamOutbound | null = null;

  // Inbound.
  #sub: Subscription | null = null;
  #subTopics: Subscription | null = null;
  #consumer: ConsumerMessages | null = null;
  /** Answers other bridges asking who uses our durable (JetStream `in`). */
  #claim: Subscription | null = null;
  /** Whether this bridge reads its durable (it answers claims with `bound: true`). */
  #bound = false;
  #received = 0;
  #droppedIn = 0;
  #skippedOwn = 0;
  #refused = 0;
  readonly #refuseLog = new RateLimit(1000);
  /** JetStream `in`: skips redeliveries and second copies, acknowledges what the relay processed. */
  readonly #jsIn: JetStreamInbound | null;
  #reconnects = 0;
  #lastError: string | null = null;
  readonly #seqHi = new Float64Array(256).fill(-1);
  readonly #seqLo = new Float64Array(256);
  #missing = 0;

  private constructor(relay: Relay, options: NatsBridgeOptions, auth: Partial<ConnectionOptions>) {
    this.relay = relay;
    this.#options = options;
    this.#servers = [...options.servers];
    this.direction = options.direction ?? "both";
    this.subject = natsSubject(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX, relay.logic.domain);
    this.origin = newOriginId();
    const js = options.jetstream ?? null;
    this.mode = js === null ? "core" : "jetstream";
    this.#js = js === null ? null : {
      stream: js.stream ?? defaultStreamName(this.subject),
      storage: js.storage ?? "file",
      durable: js.durable ?? defaultDurableName(relay.logic.name, relay.address),
      duplicateWindowMs: js.duplicateWindowMs ?? 120_000,
      ackTimeoutMs: js.ackTimeoutMs ?? 5_000,
    };
    this.#fed = relay.logic.echo && this.direction === "both" ? new Set() : null;
    this.#jsIn = js === null || this.direction === "out"
      ? null
      : new JetStreamInbound((frame, onHanded) => this.#deliver(frame, onHanded));
    this.#auth = auth;
    this.#backoff = new Backoff({
      initialMs: options.reconnectInitialMs ?? 100,
      maxMs: options.reconnectMaxMs ?? 5000,
    });
    this.#log = (options.logger ?? new Logger()).with({
      relay: relay.logic.name,
      bridge: "nats",
    });
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /**
   * Starts a bridge: registers its counters with the relay and connects in the
   * background (retrying with backoff while no server answers).
   *
   * @param relay the running relay
   * @param options servers, direction, credentials, JetStream
   * @returns the bridge (await `ready` to know it is attached)
   * @throws {Error} when the credentials file cannot be read
   */
  static async start(relay: Relay, options: NatsBridgeOptions): Promise<NatsBridge> {
    const auth: Partial<ConnectionOptions> = {};
    if (options.token != null) auth.token = options.token;
    if (options.user != null) {
      auth.user = options.user;
      auth.pass = options.password ?? "";
    }
    if (options.credsFile != null) {
      let creds: Uint8Array;
      try {
        creds = await Deno.readFile(options.credsFile);
      } catch (e) {
        throw new Error(
          `Cannot start the NATS bridge of the ${relay.logic.name} relay: cannot read credentials file ${options.credsFile}: ${
            (e as Error).message
          }`,
        );
      }
      auth.authenticator = credsAuthenticator(creds);
    }
    const bridge = new NatsBridge(relay, options, auth);
    bridge.#unregister = relay.addBridge(() => bridge.stats());
    bridge.#run = bridge.#main().catch((e) => {
      bridge.#lastError = (e as Error).message;
      bridge.#log.error("bridge stopped", { error: (e as Error).message });
      bridge.#resolveReady();
    });
    return bridge;
  }

  /** Whether the NATS connection is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Where the bridge stands (see {@linkcode NatsBridgeState}). */
  get state(): NatsBridgeState {
    return this.#state;
  }

  /**
   * A snapshot of the bridge's counters.
   *
   * @returns the counters
   */
  stats(): BridgeStats {
    const core = this.#core?.counters;
    const out = this.#jsOut;
    return {
      kind: "nats",
      label: LABEL,
      address: this.#servers.join(","),
      subject: this.subject,
      direction: this.direction,
      mode: this.mode,
      connected: this.#connected,
      state: this.#state,
      connectFailures: this.#connectFailures,
      published: (core?.published ?? 0) + (out?.published ?? 0),
      received: this.#received,
      dropped: (core?.dropped ?? 0) + (out?.dropped ?? 0) + this.#droppedIn +
        this.#droppedDetached,
      unconfirmed: core?.unconfirmed ?? 0,
      pending: (core?.pending ?? 0) + (out?.pending ?? 0),
      lag: (this.#conn?.queuedFrames ?? 0) + this.#backlog.length,
      missing: this.#missing,
      duplicates: (this.#jsIn?.duplicates ?? 0) + (out?.duplicates ?? 0),
      retries: out?.retries ?? 0,
      reconnects: this.#reconnects,
      skippedOwn: this.#skippedOwn,
      refused: this.#refused,
      lastError: this.#lastError ?? out?.lastError ?? null,
    };
  }

  /**
   * Stops: waits up to `flushMs` for unacknowledged JetStream frames, detaches
   * from the relay, closes the NATS connection.
   *
   * @param flushMs longest wait for outbound frames (default 1,000)
   */
  async stop(flushMs = 1000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopSleeps.abort();
    clearTimeout(this.#reattachTimer);
    for (const w of this.#upWaiters.splice(0)) w();
    if (this.#jsOut !== null) {
      const left = await this.#jsOut.drain(flushMs);
      if (left > 0) {
        this.#log.error("stopping with unacknowledged frames", { frames: left });
      }
      this.#jsOut.stop();
    }
    this.#conn?.close();
    this.#conn = null;
    try {
      await this.#consumer?.close();
    } catch {
      // connection already gone
    }
    this.#sub?.unsubscribe();
    this.#subTopics?.unsubscribe();
    this.#claim?.unsubscribe();
    this.#bound = false;
    const nc = this.#nc;
    if (nc !== null && !nc.isClosed()) {
      await Promise.race([
        nc.flush().catch(() => {}),
        new Promise((r) => setTimeout(r, Math.min(flushMs, 500))),
      ]);
      await nc.close().catch(() => {});
    }
    await this.#run;
    this.#connected = false;
    this.#state = "stopped";
    this.#unregister();
    this.#resolveReady();
    this.#log.info("bridge stopped", {
      published: this.stats().published,
      received: this.#received,
    });
  }

  // ---------------------------------------------------------------- setup

  async #main(): Promise<void> {
    const nc = await this.#connectFirst();
    if (nc === null) return;
    if (this.#stopping) {
      // stop() came while connecting: it could not close this connection.
      await nc.close().catch(() => {});
      return;
    }
    this.#nc = nc;
    this.#connected = true;
    this.#state = "connected";
    this.#lastError = null;
    void this.#watch(nc);
    this.#log.info("connected", {
      server: nc.getServer(),
      subject: this.subject,
      direction: this.direction,
      mode: this.mode,
    });
    if (this.#js !== null) {
      if (!(await this.#retrying("JetStream setup", () => this.#setupJetStream(nc)))) return;
    }
    if (this.direction !== "in") {
      if (this.#js !== null) {
        this.#jsOut = new JetStreamOutbound(jetstream(nc), {
          intercept: this.#fed === null ? null : (f) => this.#echoed(f),
          subject: this.subject,
          origin: this.origin,
          ackTimeoutMs: this.#js.ackTimeoutMs,
          maxPending: this.#options.maxPendingFrames ?? 100_000,
          waitUp: () => this.#waitUp(),
          backoff: () => this.#backoffSleep(),
          repair: () => this.#repair(),
          onAcked: () => this.#backoff.reset(),
        });
      } else {
        this.#core = new CorePublisher(nc, {
          subject: this.subject,
          ...(this.#options.subjectTopic
            ? { subjectOf: topicSubjects(this.subject, this.relay.logic) }
            : {}),
          origin: this.origin,
          connected: () => this.#connected,
          ...(this.#fed === null ? {} : { intercept: (f: Uint8Array) => this.#echoed(f) }),
          onError: (error, frames) => {
            this.#lastError = error.message;
            this.#log.warn("publish refused", { error: error.message, frames });
          },
        });
      }
    }
    if (this.direction !== "out") {
      if (this.#js !== null) {
        if (!(await this.#claimDurable(nc))) return;
        const ok = await this.#retrying("JetStream consumer", () => this.#consume(nc));
        if (!ok) return;
      } else {
        const own = originLine(this.origin);
        const callback = (err: Error | null, msg: Msg) => {
          if (err !== null) {
            this.#lastError = err.message;
            return;
          }
          if (hasOrigin(msg, own, this.origin)) {
            this.#skippedOwn++;
            return;
          }
          if (this.#refuse(msg.data)) return;
          this.#deliver(msg.data, null);
        };
        // Frames arrive on `<prefix>.<domain>` and, from bridges publishing topics, on `<prefix>.<domain>.<topic>`.
        this.#sub = nc.subscribe(this.subject, { callback });
        this.#subTopics = nc.subscribe(`${this.subject}.>`, { callback });
        await nc.flush().catch(() => {});
      }
    }
    if (this.#stopping) return;
    this.#attach();
    this.#resolveReady();
  }

  /**
   * Connects, retrying with backoff until a server accepts the connection or
   * the bridge stops. A refusal (wrong credentials, no server) is logged once
   * with the servers and the reason, again when the reason changes, and then
   * every tenth attempt; the relay runs on meanwhile.
   */
  async #connectFirst(): Promise<NatsConnection | null> {
    const backoff = new Backoff({
      initialMs: this.#options.reconnectInitialMs ?? 100,
      maxMs: this.#options.reconnectMaxMs ?? 5000,
    });
    let attempts = 0;
    let logged: string | null = null;
    while (!this.#stopping) {
      attempts++;
      try {
        return await connectNats({
          servers: this.#servers,
          name: `torq-bridge-${this.relay.logic.name}`,
          noEcho: true,
          reconnect: true,
          maxReconnectAttempts: -1,
          // Keep retrying when the server refuses our credentials after a reconnect
          // (they may be fixed on the server); the client would close for good otherwise.
          ignoreAuthErrorAbort: true,
          reconnectDelayHandler: () => this.#backoff.delayMs,
          reconnectJitter: 0,
          pingInterval: 10_000,
          maxPingOut: 3,
          timeout: 5_000,
          ...this.#auth,
        });
      } catch (e) {
        const delay = backoff.next();
        const error = (e as Error).message;
        this.#lastError = error;
        this.#connectFailures++;
        if (error !== logged || attempts % 10 === 0) {
          logged = error;
          this.#log.warn("cannot connect to NATS, retrying", {
            servers: this.#servers.join(","),
            error,
            attempts,
            retry_ms: delay,
          });
        }
        await this.#sleep(delay);
      }
    }
    return null;
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          this.#connected = false;
          if (this.#state === "connected") this.#state = "reconnecting";
          if (!this.#stopping) this.#log.warn("disconnected from NATS", { server: s.server });
          break;
        case "reconnecting":
          this.#backoff.next();
          break;
        case "reconnect":
          this.#connected = true;
          if (this.#state === "reconnecting") this.#state = "connected";
          this.#reconnects++;
          this.#backoff.reset();
          this.#log.info("reconnected to NATS", { server: s.server, reconnects: this.#reconnects });
          for (const w of this.#upWaiters.splice(0)) w();
          break;
        case "error":
          this.#lastError = s.error.message;
          if (!this.#connected) this.#connectFailures++;
          break;
        default:
          break;
      }
    }
    this.#connected = false;
  }

  /**
   * Creates the stream when missing and, for the `in` side, the durable
   * consumer. A consumer created for the first time starts with new messages;
   * one created again after the server lost it (`resume`) starts after the last
   * frame handed to the relay, or at the stream's start when the stream itself
   * was lost and its sequence numbers began again.
   */
  async #setupJetStream(nc: NatsConnection, resume = false): Promise<void> {
    const js = this.#js!;
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    let lastSeq = 0;
    try {
      const info = await jsm.streams.info(js.stream);
      lastSeq = info.state.last_seq;
      if (!info.config.subjects?.includes(this.subject)) {
        this.#log.warn("stream does not list the subject", {
          stream: js.stream,
          subjects: (info.config.subjects ?? []).join(","),
        });
      }
    } catch (e) {
      if (!isApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
      await jsm.streams.add({
        name: js.stream,
        subjects: [this.subject],
        storage: js.storage === "memory" ? StorageType.Memory : StorageType.File,
        duplicate_window: nanos(js.duplicateWindowMs),
      });
      this.#log.info("created stream", { stream: js.stream, storage: js.storage });
    }
    if (this.direction === "out") return;
    try {
      await jsm.consumers.info(js.stream, js.durable);
    } catch (e) {
      if (!isApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw e;
      let start: { deliver_policy: DeliverPolicy; opt_start_seq?: number } = {
        deliver_policy: DeliverPolicy.New,
      };
      if (resume) {
        const taken = this.#jsIn!.lastSeq;
        if (lastSeq >= taken && taken > 0) {
          start = { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: taken + 1 };
        } else {
          // A new stream: its sequence numbers start again at 1.
          start = { deliver_policy: DeliverPolicy.All };
          this.#jsIn!.restart();
        }
      }
      await jsm.consumers.add(js.stream, {
        durable_name: js.durable,
        ack_policy: AckPolicy.Explicit,
        ...start,
        filter_subject: this.subject,
        max_ack_pending: JS_MAX_ACK_PENDING,
        ack_wait: nanos(30_000),
      });
      this.#log.info("created durable consumer", {
        stream: js.stream,
        durable: js.durable,
        deliver: start.deliver_policy,
      });
    }
  }

  /** Re-runs the JetStream setup after a publish failed (at most once a second). */
  async #repair(): Promise<void> {
    const nc = this.#nc;
    if (nc === null || !this.#connected || Date.now() - this.#lastRepair < 1000) return;
    this.#lastRepair = Date.now();
    try {
      await this.#setupJetStream(nc, true);
    } catch (e) {
      this.#lastError = (e as Error).message;
    }
  }

  /**
   * Makes sure no other running relay reads this bridge's durable consumer
   * (two readers of one durable would each get part of the stream). Every
   * bridge reading a durable answers requests on `<prefix>._durable.<stream>.<durable>`;
   * this one subscribes there first, then asks. An answer from a bridge that is
   * bound (or one that is not bound yet but was started with a lower origin id:
   * two starting at once) means the durable is taken: one error line, state
   * `refused`, and a quiet retry every `reconnectMaxMs` until it is free.
   *
   * @returns false when the bridge stopped first
   */
  async #claimDurable(nc: NatsConnection): Promise<boolean> {
    const js = this.#js!;
    const subject = `${this.subject.split(".")[0]}._durable.${js.stream}.${js.durable}`;
    const me = {
      origin: this.origin,
      relay: this.relay.logic.name,
      address: this.relay.address,
      host: hostName(),
    };
    this.#claim ??= nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) msg.respond(JSON.stringify({ ...me, bound: this.#bound }));
      },
    });
    let refusedLogged = false;
    while (!this.#stopping) {
      let holder: (typeof me & { bound: boolean }) | null = null;
      try {
        await nc.flush();
        const answer = await nc.request(subject, JSON.stringify(me), { timeout: 1_000 });
        holder = answer.json();
      } catch {
        // No responders (or no answer in time): nobody reads this durable.
      }
      if (holder === null || (!holder.bound && holder.origin > this.origin)) {
        this.#bound = true;
        if (this.#state === "refused") {
          this.#state = this.#connected ? "connected" : "reconnecting";
          this.#lastError = null;
          this.#log.info("durable consumer is free now; reading it", { durable: js.durable });
        }
        return true;
      }
      const why =
        `durable consumer "${js.durable}" of stream ${js.stream} is in use by the ${holder.relay} relay at ${holder.address} on ${holder.host}`;
      this.#state = "refused";
      this.#lastError = why;
      if (!refusedLogged) {
        refusedLogged = true;
        this.#log.error(
          `not reading: ${why}; give each relay its own bridge.nats.jetstream.durable`,
          { durable: js.durable, retry_ms: this.#options.reconnectMaxMs ?? 5000 },
        );
      }
      await this.#sleep(this.#options.reconnectMaxMs ?? 5000);
    }
    return false;
  }

  /**
   * Re-creates the stream and the durable consumer when the server lost them
   * (e.g. memory storage after a restart); the consumer keeps pulling and finds
   * them again.
   */
  async #consume(nc: NatsConnection): Promise<void> {
    const c = await jetstream(nc).consumers.get(this.#js!.stream, this.#js!.durable);
    const messages = await c.consume({
      max_messages: 1000,
      callback: (m) => this.#onJsMessage(m),
    });
    this.#consumer = messages;
    void this.#watchConsumer(nc, messages);
  }

  async #watchConsumer(nc: NatsConnection, messages: ConsumerMessages): Promise<void> {
    for await (const n of messages.status()) {
      if (
        n.type !== "consumer_not_found" && n.type !== "stream_not_found" &&
        n.type !== "consumer_deleted"
      ) continue;
      if (this.#stopping || this.#consumer !== messages) return;
      this.#log.warn("JetStream consumer lost; creating it again", { notification: n.type });
      // Stop this pull loop; a new one starts on the new consumer.
      this.#consumer = null;
      await messages.close().catch(() => {});
      await this.#retrying("JetStream consumer", async () => {
        await this.#setupJetStream(nc, true);
        if (!this.#stopping) await this.#consume(nc);
      });
      return;
    }
  }

  /** Runs `fn` until it succeeds, with backoff; false when stopped first. */
  async #retrying(what: string, fn: () => Promise<void>): Promise<boolean> {
    let attempts = 0;
    while (!this.#stopping) {
      try {
        await fn();
        return true;
      } catch (e) {
        attempts++;
        this.#lastError = (e as Error).message;
        if (attempts === 1 || attempts % 10 === 0) {
          this.#log.warn(`${what} failed, retrying`, { error: (e as Error).message, attempts });
        }
        await this.#backoffSleep();
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- relay side

  #attach(): void {
    const logic = this.relay.logic;
    const preamble: Uint8Array[] = [];
    if (this.direction === "in" && logic.helloMarksPublisher) {
      // A first hello makes the connection publish-only: the relay writes nothing to it.
      const hello = new Uint8Array(HEADER_SIZE);
      const wire = logic.legacyDomainNumbering ? logic.domain - 1 : logic.domain;
      encodeHeader({ relayDomain: wire, source: RELAY_SOURCE[logic.domain] ?? 80 }, hello);
      preamble.push(hello);
    }
    const write = this.#core !== null
      ? (chunk: Uint8Array) => this.#core!.publish(chunk)
      : this.#jsOut !== null
      ? (chunk: Uint8Array) => this.#jsOut!.offer(chunk)
      : undefined;
    const conn: NatsFrameConn = new NatsFrameConn({
      ...(write === undefined ? {} : { write }),
      preamble,
      maxQueuedBytes: this.#js !== null
        ? Number.MAX_SAFE_INTEGER
        : (this.#options.maxQueuedBytes ?? 67_108_864),
      onClose: () => this.#detached(conn),
    });
    for (const [frame, ack] of this.#backlog.splice(0)) conn.push(frame, ack);
    try {
      if (this.#forwardedAtDetach >= 0) {
        this.#droppedDetached += this.relay.stats().framesForwarded - this.#forwardedAtDetach;
        this.#forwardedAtDetach = -1;
      }
      this.relay.attachConnection(conn, LABEL);
      this.#conn = conn;
    } catch (e) {
      this.#log.debug("cannot attach", { error: (e as Error).message });
    }
  }

  /** The relay closed the bridge's connection (slow consumer, write failure, relay stopping). */
  #detached(conn: NatsFrameConn): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    // Frames queued for the relay but not yet read go to the next connection.
    this.#backlog.push(...conn.takeUnread());
    if (this.#stopping || this.#reattaching) return;
    this.#detaches++;
    // Every frame the relay forwards while no bridge connection is attached is lost to the
    // bus: counted from the relay's forwarded total when the bridge attaches again.
    if (this.direction !== "in") this.#forwardedAtDetach = this.relay.stats().framesForwarded;
    // Back off while the relay keeps closing it (a bus that stopped answering).
    const delay = this.#backoff.next();
    this.#log.warn("relay closed the bridge connection; attaching again", {
      detaches: this.#detaches,
      retry_ms: delay,
    });
    this.#reattaching = true;
    this.#reattachTimer = setTimeout(() => {
      this.#reattaching = false;
      if (!this.#stopping) this.#attach();
    }, delay);
  }

  /** One frame from NATS: counted, gap-tracked, queued for the relay. */
  #deliver(data: Uint8Array, ack: (() => void) | null): boolean {
    const conn = this.#conn;
    const ok = conn !== null ? conn.push(data, ack) : this.#keep(data, ack);
    if (!ok) {
      this.#droppedIn++;
      return false;
    }
    this.#received++;
    this.#track(data);
    if (this.#fed !== null) {
      if (this.#fed.size >= 100_000) this.#fed.delete(this.#fed.values().next().value!);
      this.#fed.add(frameKey(data));
    }
    return true;
  }

  /** Whether the relay wrote back a frame this bridge fed in (echo): skipped, counted. */
  #echoed(frame: Uint8Array): boolean {
    if (!this.#fed!.delete(frameKey(frame))) return false;
    this.#skippedOwn++;
    return true;
  }

  #keep(data: Uint8Array, ack: (() => void) | null): boolean {
    if (this.#js === null && this.#backlog.length >= 100_000) return false;
    this.#backlog.push([data, ack]);
    return true;
  }

  #onJsMessage(m: JsMsg): void {
    if (m.headers?.get(ORIGIN_HEADER) === this.origin) {
      this.#skippedOwn++;
      m.ack();
      return;
    }
    if (this.#refuse(m.data)) {
      m.ack();
      return;
    }
    this.#jsIn!.take(m);
  }

  /**
   * Whether a message must not reach the relay: it is not exactly one frame
   * within the relay's limits (size, version, domain: see
   * {@linkcode natsMessageProblem}; the relay would resynchronise inside it or
   * read a forged header in its tail that swallows the next messages), or it
   * is a hello or a Subscribe (control frames belong to one connection: they
   * would change what the relay sends to the bridge). Such messages are
   * counted and logged (rate-limited).
   */
  #refuse(b: Uint8Array): boolean {
    const logic = this.relay.logic;
    let why = natsMessageProblem(b, {
      maxMessageSize: logic.maxMessageSize,
      domain: logic.legacyDomainNumbering ? logic.domain - 1 : logic.domain,
    });
    if (why !== null) why = `not one frame within the relay's limits: ${why}`;
    else if (b.length === HEADER_SIZE) why = "a hello frame";
    else if (isSubscribe(b)) why = "a Subscribe frame";
    if (why === null) return false;
    this.#refused++;
    const suppressed = this.#refuseLog.take(Date.now());
    if (suppressed >= 0) {
      this.#log.warn("refused a message from NATS", { reason: why, suppressed_lines: suppressed });
    }
    return true;
  }

  /** Counts sequence numbers skipped per header source (what was lost before reaching us). */
  #track(b: Uint8Array): void {
    const src = b[6]!;
    const hi = readSequenceHigh(b, 0);
    const lo = readSequenceLow(b, 0);
    if (hi === 0 && lo === 0) return;
    const lastHi = this.#seqHi[src]!;
    if (lastHi >= 0) {
      const step = (hi - lastHi) * 4294967296 + (lo - this.#seqLo[src]!);
      if (step > 1) this.#missing += step - 1;
    }
    this.#seqHi[src] = hi;
    this.#seqLo[src] = lo;
  }

  // ---------------------------------------------------------------- waiting

  #waitUp(): Promise<void> {
    if (this.#connected || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => this.#upWaiters.push(resolve));
  }

  /** Sleeps the current backoff delay, then doubles it (up to reconnectMaxMs). */
  async #backoffSleep(): Promise<void> {
    await this.#sleep(this.#backoff.delayMs);
    this.#backoff.next();
  }

  #sleep(ms: number): Promise<void> {
    return sleep(ms, this.#stopSleeps.signal);
  }
}

/** Options of a {@linkcode JetStreamOutbound}. */
interface JetStreamOutboundOptions {
  /** Frames to skip (return true). */
  intercept: ((frame: Uint8Array) => boolean) | null;
  subject: string;
  origin: string;
  ackTimeoutMs: number;
  maxPending: number;
  /** Resolves when the NATS connection is up. */
  waitUp: () => Promise<void>;
  /** Sleeps the current backoff delay (and grows it). */
  backoff: () => Promise<void>;
  /** Called after a failed batch: re-creates the stream if the server lost it. */
  repair: () => Promise<void>;
  /** A batch was acknowledged (resets the backoff). */
  onAcked: () => void;
}

/**
 * JetStream publishing: frames are copied into a FIFO and published in
 * batches of up to 256 in flight; each stays until its acknowledgement
 * arrives. After a failure the batch is published again from the first
 * unacknowledged frame (the `Nats-Msg-Id` makes the stream drop what it
 * already stored), after a backoff and once connected.
 */
class JetStreamOutbound {
  published = 0;
  duplicates = 0;
  retries = 0;
  dropped = 0;
  lastError: string | null = null;
  readonly #js: JetStreamClient;
  readonly #o: JetStreamOutboundOptions;
  readonly #headers: MsgHdrs;
  readonly #splitter = new FrameSplitter();
  #queue: (Uint8Array | undefined)[] = [];
  #head = 0;
  #running = false;
  #stopped = false;
  #space: (() => void)[] = [];
  #idle: (() => void)[] = [];

  constructor(js: JetStreamClient, options: JetStreamOutboundOptions) {
    this.#js = js;
    this.#o = options;
    this.#headers = originHeaders(options.origin);
  }

  /** Frames buffered and not yet acknowledged. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Copies the chunk's frames into the FIFO; waits while the FIFO is over its bound. */
  offer(chunk: Uint8Array): Promise<void> | void {
    if (this.#stopped) {
      this.dropped += this.#splitter.split(chunk, () => {});
      return;
    }
    const skip = this.#o.intercept;
    this.#splitter.split(chunk, (frame) => {
      if (skip === null || !skip(frame)) this.#queue.push(frame.slice());
    });
    if (!this.#running) void this.#pump();
    if (this.pending > this.#o.maxPending) {
      return new Promise((resolve) => this.#space.push(resolve));
    }
  }

  /** Waits up to `ms` for the FIFO to empty; returns the frames left. */
  async drain(ms: number): Promise<number> {
    if (this.pending > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idle.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      ]);
      clearTimeout(timer);
    }
    return this.pending;
  }

  /** Gives up on what is left (counted as dropped). */
  stop(): void {
    this.#stopped = true;
    this.dropped += this.pending;
    this.#queue = [];
    this.#head = 0;
    for (const w of this.#space.splice(0)) w();
    for (const w of this.#idle.splice(0)) w();
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped && this.#head < this.#queue.length) {
        await this.#o.waitUp();
        if (this.#stopped) break;
        const end = Math.min(this.#head + JS_BATCH, this.#queue.length);
        const batch = this.#queue.slice(this.#head, end) as Uint8Array[];
        const results = await Promise.allSettled(batch.map((f) => this.#publishOne(f)));
        if (this.#stopped) break;
        let ok = 0;
        for (const r of results) {
          if (r.status === "rejected") {
            this.lastError = (r.reason as Error)?.message ?? String(r.reason);
            break;
          }
          if (r.value) this.duplicates++;
          ok++;
        }
        for (let i = 0; i < ok; i++) this.#queue[this.#head + i] = undefined;
        this.#head += ok;
        this.published += ok;
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        if (this.pending * 2 <= this.#o.maxPending) {
          for (const w of this.#space.splice(0)) w();
        }
        if (ok < batch.length) {
          this.retries += batch.length - ok;
          await this.#o.repair();
          await this.#o.backoff();
        } else {
          this.#o.onAcked();
        }
      }
    } finally {
      this.#running = false;
      if (this.pending === 0) { for (const w of this.#idle.splice(0)) w(); }
    }
  }

  /** Publishes one frame; resolves with whether the stream reported a duplicate. */
  async #publishOne(frame: Uint8Array): Promise<boolean> {
    const ack = await this.#js.publish(this.#o.subject, frame, {
      msgID: messageId(frame),
      headers: this.#headers,
      timeout: this.#o.ackTimeoutMs,
      retries: 0,
    });
    return ack.duplicate;
  }
}

/**
 * The `Nats-Msg-Id` of a frame: `<domain>-<source>-<sequence>-<timestamp>`.
 * A retry re-sends the same bytes, hence the same id, and the stream drops it;
 * the timestamp keeps a restarted producer's sequence 1, 2, 3 … from being taken
 * for repeats of its previous run inside the duplicate window.
 *
 * @param frame one frame
 * @returns the id
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * messageId(frame); // "3-40-17-1700000000123456789"
 * ```
 */
export function messageId(frame: Uint8Array): string {
  return `${frame[4]}-${frame[6]}-${readSequence(frame, 0)}-${readTimestamp(frame, 0)}`;
}

/**
 * Default stream name of a subject: `TORQ_EXECUTION` for `torq.execution`.
 *
 * @param subject the subject
 * @returns the stream name
 * @example
 * ```ts
 * defaultStreamName("torq.execution"); // "TORQ_EXECUTION"
 * ```
 */
export function defaultStreamName(subject: string): string {
  return subject.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
}

/**
 * Default durable consumer name of a relay instance:
 * `torq_<relay>_<host>_<8 hex digits of the relay's address>`. The same relay
 * (same socket path on the same host) keeps its durable across restarts, so it
 * resumes where it stopped; two relays on one host get two durables, and each
 * reads the whole stream.
 *
 * @param relayName the relay's instance name
 * @param address the relay's address (its socket path)
 * @returns the consumer name
 * @example
 * ```ts
 * defaultDurableName("execution", "/tmp/torq/execution.sock"); // "torq_execution_host1_1c9e6f2a"
 * ```
 */
export function defaultDurableName(relayName: string, address: string): string {
  return `torq_${relayName}_${hostName()}_${fnv1a(address)}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "host"; // no --allow-sys
  }
}

/** FNV-1a of a string's UTF-16 code units, as 8 hex digits. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Whether a frame's first TLV is a Subscribe (113), standard or extended form. */
function isSubscribe(b: Uint8Array): boolean {
  if (b.length < HEADER_SIZE + 2) return false;
  const t = b[HEADER_SIZE]!;
  return t === SUBSCRIBE_TLV ||
    (t === 255 && b.length >= HEADER_SIZE + 3 && b[HEADER_SIZE + 2] === SUBSCRIBE_TLV);
}

function isApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

/**
 * The per-frame subject function of topic publishing: `<subject>.<topic>` with the
 * topic the relay's extraction strategy gives the frame (NATS-safe characters; each
 * topic's subject is built once and cached).
 *
 * @param subject `<prefix>.<domain>`
 * @param logic the relay's logic (topics and extraction strategy)
 * @returns the function
 */
export function topicSubjects(subject: string, logic: RelayLogic): (frame: Uint8Array) => string {
  const registry = new TopicRegistry(logic.defaultTopic, logic.availableTopics, true);
  const topics = new FrameTopics(registry, logic.extraction);
  const cache: string[] = [];
  return (frame) => {
    topics.compute(frame, 0, frame.length);
    const id = topics.topic;
    return cache[id] ??= `${subject}.${registry.name(id).replace(/[^A-Za-z0-9_-]/g, "_")}`;
  };
}
