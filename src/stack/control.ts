/**
 * How `torq status`, `torq restart` and `torq down` talk to a running
 * `torq up`: its control socket `up.ctl` in the socket directory.
 *
 * One request per connection, each way one line of JSON: the client writes
 * `{"op":"status"}`, `{"op":"restart","name":"feed"}` (no name: everything) or
 * `{"op":"down"}` and reads `{"ok":true,...}` or `{"ok":false,"error":"..."}`.
 * `down` is answered once everything has stopped.
 *
 * The socket is created with mode 0600 in the socket directory (which the
 * relays already require to be safe from other users), so only the user who
 * runs `torq up` can stop or restart it; nothing listens on the network.
 *
 * @module
 */

import type { ServiceStatus, StoppedService } from "./supervisor.ts";
import { writeAll } from "../io/mod.ts";

/** A request to the control socket. */
export type ControlRequest =
  | { op: "status" }
  | { op: "restart"; name?: string | null }
  | { op: "down" };

/** One relay of a running stack. */
export interface StackRelay {
  /** Configuration key: `market_data`, `signal` or `execution`. */
  name: string;
  /** Its socket path. */
  address: string;
  /** Since when it runs (a restart starts it over), ms since the epoch. */
  startedAt: number;
  /** Open connections. */
  connections: number;
}

/** The state of a running `torq up`. */
export interface StackStatus {
  /** Its process id. */
  pid: number;
  /** Since when it runs, ms since the epoch. */
  startedAt: number;
  /** Its socket directory. */
  dir: string;
  /** `starting` until every relay accepts and every service is started, then `running`, `stopping`. */
  phase: "starting" | "running" | "stopping";
  /** Whether it runs in the background (`torq up -d`). */
  detached: boolean;
  /** The dashboard's URL, or null without the HTTP API. */
  http: string | null;
  /** The relays. */
  relays: StackRelay[];
  /** The services, in start order. */
  services: ServiceStatus[];
}

/** What one restart did. */
export interface Restarted {
  /** Relay or service name. */
  name: string;
  /** Which it is. */
  kind: "relay" | "service";
  /** A service's new process id (null when it could not start). */
  pid?: number | null;
}

/** What `down` stopped. */
export interface DownReport {
  /** The `torq up` process. */
  pid: number;
  /** The services, in stop order. */
  services: StoppedService[];
  /** The relays stopped (their sockets removed). */
  relays: string[];
}

/** The answers, by request. */
export interface ControlAnswers {
  /** `status`. */
  status: StackStatus;
  /** `restart`. */
  restart: { restarted: Restarted[] };
  /** `down`. */
  down: DownReport;
}

/** What the control socket serves. */
export interface ControlHandlers {
  /** The stack's state now. */
  status(): StackStatus;
  /** Restarts one relay or service, or (null) everything. */
  restart(name: string | null): Promise<{ restarted: Restarted[] }>;
  /** Stops everything; resolves with the report once all has stopped. */
  down(): Promise<DownReport>;
}

/** Why a control request failed. */
export type ControlErrorReason =
  | "not_running"
  | "stale"
  | "permission"
  | "timeout"
  | "refused"
  | "protocol";

/** A control request that failed: nothing runs there, no answer in time, or an error answer. */
export class ControlError extends Error {
  /** Why. */
  readonly reason: ControlErrorReason;

  /**
   * @param reason why
   * @param message one readable line
   * @param options the original error as `cause`
   */
  constructor(reason: ControlErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlError";
    this.reason = reason;
  }
}

const MAX_LINE = 1 << 20;
const encoder = new TextEncoder();

async function readLine(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(16_384);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    const chunk = buf.slice(0, n);
    const nl = chunk.indexOf(10);
    if (nl !== -1) {
      chunks.push(chunk.subarray(0, nl));
      break;
    }
    chunks.push(chunk);
    size += n;
    if (size > MAX_LINE) throw new Error("line too long");
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * The control socket's server.
 *
 * @example
 * ```ts
 * declare const handlers: ControlHandlers;
 *
 * const server = ControlServer.listen("/tmp/torq/up.ctl", handlers);
 * // ...
 * await server.close();
 * ```
 */
export class ControlServer {
  /** The socket path. */
  readonly path: string;
  readonly #listener: Deno.UnixListener;
  readonly #handlers: ControlHandlers;
  readonly #open = new Set<Promise<void>>();
  #ino: number | null;
  #closed = false;

  private constructor(path: string, listener: Deno.UnixListener, handlers: ControlHandlers) {
    this.path = path;
    this.#listener = listener;
    this.#handlers = handlers;
    this.#ino = Deno.lstatSync(path).ino;
    void this.#accept();
  }

  /**
   * Listens on `path` (a file left there is replaced; the caller holds the
   * directory's lock), mode 0600.
   *
   * @param path the socket path
   * @param handlers what to answer
   * @returns the server
   */
  static listen(path: string, handlers: ControlHandlers): ControlServer {
    try {
      Deno.removeSync(path);
    } catch {
      // none there
    }
    const listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    return new ControlServer(path, listener, handlers);
  }

  /**
   * Stops accepting, removes the socket file and waits for the answers being
   * written (each bounded by its connection).
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#listener.close();
      try {
        if (Deno.lstatSync(this.path).ino === this.#ino) Deno.removeSync(this.path);
      } catch {
        // already gone
      }
      this.#ino = null;
    }
    await Promise.all([...this.#open]);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const p = this.#serve(conn).finally(() => this.#open.delete(p));
        this.#open.add(p);
      }
    } catch {
      // closed
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let answer: Record<string, unknown>;
    try {
      const request = JSON.parse(await readLine(conn)) as Partial<ControlRequest> & {
        name?: unknown;
      };
      switch (request.op) {
        case "status":
          answer = { ok: true, ...this.#handlers.status() };
          break;
        case "restart": {
          const name = typeof request.name === "string" ? request.name : null;
          answer = { ok: true, ...(await this.#handlers.restart(name)) };
          break;
        }
        case "down":
          answer = { ok: true, ...(await this.#handlers.down()) };
          break;
        default:
          answer = { ok: false, error: `unknown request ${JSON.stringify(request.op)}` };
      }
    } catch (e) {
      answer = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    try {
      await writeAll(conn, encoder.encode(JSON.stringify(answer) + "\n"));
    } catch {
      // the client went away
    } finally {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }
}

/** Options of {@linkcode controlRequest}. */
export interface ControlRequestOptions {
  /** Bound of the whole request, ms (default 5000). */
  timeoutMs?: number;
}

/**
 * Sends one request to a `torq up`'s control socket and returns its answer.
 *
 * @param path the control socket (`<socket dir>/up.ctl`)
 * @param request the request
 * @param options the bound
 * @returns the answer
 * @throws {ControlError} `not_running` (no socket), `stale` (nobody listens),
 *   `permission`, `timeout`, `refused` (an error answer, its message as is)
 * @example
 * ```ts
 * const status = await controlRequest("/tmp/torq/up.ctl", { op: "status" });
 * status.services.map((s) => s.state);
 * ```
 */
export async function controlRequest<R extends ControlRequest>(
  path: string,
  request: R,
  options: ControlRequestOptions = {},
): Promise<ControlAnswers[R["op"]]> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ControlError("not_running", `no torq up is running (no ${path})`, { cause: e });
    }
    if (e instanceof Deno.errors.ConnectionRefused) {
      throw new ControlError("stale", `no torq up answers on ${path} (left behind)`, {
        cause: e,
      });
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new ControlError(
        "permission",
        `permission denied on ${path}: the stack belongs to another user`,
        { cause: e },
      );
    }
    throw new ControlError("protocol", `Cannot connect to ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ControlError("timeout", `no answer from ${path} within ${timeoutMs} ms`));
      try {
        conn.close();
      } catch {
        // closed
      }
    }, timeoutMs);
  });
  try {
    const line = await Promise.race([
      writeAll(conn, encoder.encode(JSON.stringify(request) + "\n")).then(() => readLine(conn)),
      timeout,
    ]);
    let answer: { ok?: unknown; error?: unknown };
    try {
      answer = JSON.parse(line);
    } catch (e) {
      throw new ControlError("protocol", `unreadable answer from ${path}`, { cause: e });
    }
    if (answer.ok !== true) {
      throw new ControlError("refused", String(answer.error ?? "request refused"));
    }
    const { ok: _ok, ...rest } = answer;
    return rest as unknown as ControlAnswers[R["op"]];
  } catch (e) {
    if (e instanceof ControlError) throw e;
    throw new ControlError("protocol", `Cannot talk to ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}
