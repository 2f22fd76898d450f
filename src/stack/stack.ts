/**
 * A running `torq up` as one thing to operate: its relays (started by the
 * caller), the services it supervises, its lock and its control socket.
 *
 * `torq up` starts the relays (each accepting before this is called), then
 * {@linkcode Stack.start}: take the control socket, start the services in
 * dependency order. On the way down, {@linkcode Stack.stopServices} stops the
 * services in reverse order before the relays stop, and
 * {@linkcode Stack.close} answers a waiting `torq down` with what was
 * stopped, removes the control socket and releases the lock.
 *
 * @module
 */

import { resolve } from "node:path";
import type { RelayDomainName, TorqConfig } from "../config/mod.ts";
import type { Relay } from "../relay/mod.ts";
import type { BridgeService, RelayService } from "../daemon/mod.ts";
import type { Hub } from "../http/mod.ts";
import { Logger } from "../log/mod.ts";
import type { StackLock } from "./files.ts";
import {
  ControlServer,
  type DownReport,
  type Restarted,
  type StackRelay,
  type StackStatus,
} from "./control.ts";
import { type StoppedService, Supervisor } from "./supervisor.ts";

/** Options of {@linkcode Stack.start}. */
export interface StackOptions {
  /** The effective configuration (its `services:`). */
  config: TorqConfig;
  /** The lock of the socket directory, taken before the relays started. */
  lock: StackLock;
  /** The running relays. */
  relays: RelayService;
  /** Their configuration keys, in the order of `relays.relays`. */
  relayNames: readonly RelayDomainName[];
  /** Their bridges (restarted with a relay). */
  bridges?: BridgeService | null;
  /** The HTTP API's hub (shows the services; follows a restarted relay). */
  hub?: Hub | null;
  /** The dashboard's URL, or null. */
  httpUrl?: string | null;
  /** Whether this `torq up` runs in the background. */
  detached?: boolean;
  /** How to run `torq` itself (services with `command: torq`). */
  torqCommand: readonly string[];
  /** Variables added to every service's environment (TORQ_SOCKET_DIR is set already). */
  env?: Readonly<Record<string, string>>;
  /** Receives each output line of a service (the foreground's `[name] line`). */
  echo?: (name: string, line: string) => void;
  /** The supervisor's log. */
  logger?: Logger;
  /**
   * Starts the shutdown `torq down` asked for (default: SIGTERM to this
   * process, so it takes the same path as a Ctrl-C or `kill`).
   */
  requestStop?: () => void;
}

/**
 * A running stack: relays, services, control socket.
 *
 * @example
 * ```ts
 * import type { RelayDomainName, TorqConfig } from "../config/mod.ts";
 * import { runUntilSignal, startRelays } from "../daemon/mod.ts";
 * import { StackLock } from "./files.ts";
 * import { torqCommand } from "./self.ts";
 * declare const config: TorqConfig;
 * declare const dir: string;
 * declare const names: RelayDomainName[];
 *
 * const lock = StackLock.acquire(dir);
 * const relays = await startRelays(config, names, { socketDir: dir });
 * const stack = await Stack.start({ config, lock, relays, relayNames: names, torqCommand: torqCommand() });
 * const stopped = runUntilSignal(relays, { beforeStop: () => stack.stopServices().then(() => {}) });
 * stack.ready();
 * await stopped;
 * await stack.close();
 * ```
 */
export class Stack {
  /** The services. */
  readonly supervisor: Supervisor;
  readonly #o: StackOptions;
  readonly #startedAt = Date.now();
  readonly #control: ControlServer;
  #phase: StackStatus["phase"] = "starting";
  #ready!: () => void;
  readonly #readyPromise = new Promise<void>((r) => this.#ready = r);
  #stopped: StoppedService[] | null = null;
  #downWaiters: ((report: DownReport) => void)[] = [];
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(options: StackOptions, supervisor: Supervisor) {
    this.#o = options;
    this.supervisor = supervisor;
    this.#control = ControlServer.listen(options.lock.files.control, {
      status: () => this.status(),
      restart: (name) => this.#serial(() => this.restart(name)),
      down: () => this.#down(),
    });
  }

  /**
   * Opens the control socket and starts the services in dependency order.
   *
   * @param options relays, lock, configuration, how to run torq
   * @returns the stack, in phase `starting` until {@linkcode Stack.ready}
   * @throws {ServiceStartError} when a service cannot be started (the others
   *   started are stopped again and the control socket is closed)
   */
  static async start(options: StackOptions): Promise<Stack> {
    const supervisor = new Supervisor(options.config.services, {
      logDir: options.lock.files.dir,
      torqCommand: options.torqCommand,
      env: { TORQ_SOCKET_DIR: resolve(options.lock.files.dir), ...options.env },
      ...(options.echo === undefined ? {} : { echo: options.echo }),
      logger: options.logger ?? new Logger(),
    });
    const stack = new Stack(options, supervisor);
    options.hub?.setServices(() => supervisor.status());
    try {
      await supervisor.start();
    } catch (e) {
      await stack.#control.close();
      supervisor.close();
      throw e;
    }
    return stack;
  }

  /** Marks the stack as running: called once the signal handlers are in place. */
  ready(): void {
    this.#phase = "running";
    this.#ready();
  }

  /**
   * The stack's state now.
   *
   * @returns what `torq status` shows
   */
  status(): StackStatus {
    const relays: StackRelay[] = this.#o.relays.relays.map((r, i) => {
      const stats = r.stats();
      return {
        name: this.#o.relayNames[i] ?? r.logic.name,
        address: r.address,
        startedAt: stats.startedAt,
        connections: stats.connections.current,
      };
    });
    return {
      pid: Deno.pid,
      startedAt: this.#startedAt,
      dir: this.#o.lock.files.dir,
      phase: this.#phase,
      detached: this.#o.detached ?? false,
      http: this.#o.httpUrl ?? null,
      relays,
      services: this.supervisor.status(),
    };
  }

  /**
   * Restarts one service, one relay (its connections drop; services stay), or
   * with null everything: services stopped in reverse order, each relay
   * restarted, services started again.
   *
   * @param name a service or relay name, or null
   * @returns what was restarted
   * @throws {RangeError} for an unknown name
   */
  async restart(name: string | null): Promise<{ restarted: Restarted[] }> {
    if (this.#phase !== "running") {
      throw new Error(`Cannot restart: torq up is ${this.#phase}`);
    }
    const restarted: Restarted[] = [];
    const pidOf = (n: string) => this.supervisor.status().find((s) => s.name === n)?.pid ?? null;
    if (name === null) {
      await this.supervisor.stop();
      for (const relay of this.#o.relayNames) {
        await this.#restartRelay(relay);
        restarted.push({ name: relay, kind: "relay" });
      }
      await this.supervisor.start();
      for (const n of this.supervisor.names) {
        restarted.push({ name: n, kind: "service", pid: pidOf(n) });
      }
      return { restarted };
    }
    if (this.supervisor.has(name)) {
      await this.supervisor.restart(name);
      return { restarted: [{ name, kind: "service", pid: pidOf(name) }] };
    }
    const relay = this.#relayKey(name);
    if (relay === null) {
      const known = [...this.#o.relayNames, ...this.supervisor.names];
      throw new RangeError(
        `Cannot restart ${JSON.stringify(name)}: no such relay or service (${known.join(", ")})`,
      );
    }
    await this.#restartRelay(relay);
    return { restarted: [{ name: relay, kind: "relay" }] };
  }

  /**
   * Stops the services in reverse start order (before the relays stop).
   * Calling it again returns the first report.
   *
   * @returns what was stopped
   */
  async stopServices(): Promise<StoppedService[]> {
    this.#phase = "stopping";
    await this.#busy.catch(() => {});
    this.#stopped ??= await this.supervisor.stop();
    return this.#stopped;
  }

  /**
   * Ends the stack once the relays have stopped: answers every waiting
   * `torq down`, closes the control socket, releases the lock, closes the
   * service logs.
   */
  async close(): Promise<void> {
    const services = await this.stopServices();
    const report: DownReport = {
      pid: Deno.pid,
      services,
      relays: [...this.#o.relayNames],
    };
    for (const answer of this.#downWaiters) answer(report);
    this.#downWaiters = [];
    await this.#control.close();
    this.#o.lock.release();
    this.supervisor.close();
  }

  async #down(): Promise<DownReport> {
    const report = new Promise<DownReport>((resolve) => this.#downWaiters.push(resolve));
    await this.#readyPromise;
    if (this.#phase === "running") {
      this.#phase = "stopping";
      (this.#o.requestStop ?? (() => Deno.kill(Deno.pid, "SIGTERM")))();
    }
    return await report;
  }

  /** Runs restarts one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#busy.catch(() => {}).then(fn);
    this.#busy = next;
    return next;
  }

  #relayKey(name: string): RelayDomainName | null {
    const i = this.#o.relays.relays.findIndex((r, i) =>
      this.#o.relayNames[i] === name || r.logic.name === name
    );
    return i === -1 ? null : this.#o.relayNames[i]!;
  }

  async #restartRelay(name: RelayDomainName): Promise<Relay> {
    const i = this.#o.relayNames.indexOf(name);
    const old = this.#o.relays.relays[i]!;
    await this.#o.bridges?.stopFor(old);
    const relay = await this.#o.relays.restart(name);
    this.#o.hub?.replace(relay);
    await this.#o.bridges?.startFor(relay);
    return relay;
  }
}
