/**
 * Unix-domain stream sockets: the relays' default transport (PROTOCOL.md 3.4, 7.7).
 * `listen()` creates the socket directory (mode 0750 when it creates it),
 * refuses to start when a live relay answers on the path, removes a stale
 * socket file, binds, and sets the socket's mode (0660 by default).
 *
 * @module
 */

import { dirname } from "node:path";
import {
  type StreamConn,
  type Transport,
  TransportError,
  type TransportListener,
} from "./transport.ts";

/** Options of a {@linkcode UnixTransport}. */
export interface UnixTransportOptions {
  /** Mode of the socket file (default 0o660). */
  socketMode?: number;
  /** Mode of the socket directory when created (default 0o750). */
  dirMode?: number;
}

/**
 * A Unix stream socket at a path.
 *
 * @example
 * ```ts
 * const t = new UnixTransport("/tmp/torq/signals.sock");
 * const listener = await t.listen();
 * ```
 */
export class UnixTransport implements Transport {
  /** Always `unix`. */
  readonly kind = "unix";
  /** The socket path. */
  readonly address: string;
  readonly #socketMode: number;
  readonly #dirMode: number;
  #ino: number | null = null;

  /**
   * @param path socket path
   * @param options file modes
   */
  constructor(path: string, options: UnixTransportOptions = {}) {
    this.address = path;
    this.#socketMode = options.socketMode ?? 0o660;
    this.#dirMode = options.dirMode ?? 0o750;
  }

  /** Prepares the directory and path, then listens. */
  async listen(): Promise<TransportListener> {
    const path = this.address;
    const dir = dirname(path);
    try {
      Deno.statSync(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      Deno.mkdirSync(dir, { recursive: true, mode: this.#dirMode });
      Deno.chmodSync(dir, this.#dirMode);
    }
    let existing: Deno.FileInfo | null = null;
    try {
      existing = Deno.lstatSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (existing !== null) {
      if (!existing.isSocket) {
        throw new TransportError(
          "not_socket",
          `${path} exists and is not a socket; refusing to replace it`,
        );
      }
      if (await isLive(path)) {
        throw new TransportError("in_use", `another relay is already listening on ${path}`);
      }
      Deno.removeSync(path);
    }
    let listener: Deno.UnixListener;
    try {
      listener = Deno.listen({ transport: "unix", path });
    } catch (e) {
      throw new TransportError("other", `cannot listen on ${path}: ${(e as Error).message}`);
    }
    Deno.chmodSync(path, this.#socketMode);
    this.#ino = Deno.lstatSync(path).ino;
    return listener;
  }

  /** Connects to the socket. */
  async connect(): Promise<StreamConn> {
    try {
      return await Deno.connect({ transport: "unix", path: this.address });
    } catch (e) {
      throw connectError(e, this.address);
    }
  }

  /** Removes the socket file if it is still the one this transport bound. */
  cleanup(): void {
    if (this.#ino === null) return;
    try {
      if (Deno.lstatSync(this.address).ino === this.#ino) Deno.removeSync(this.address);
    } catch {
      // already gone
    }
    this.#ino = null;
  }
}

async function isLive(path: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns a connect failure into a {@linkcode TransportError} with a short reason.
 *
 * @param e the thrown value
 * @param path the socket path
 * @returns the error (`no_socket`, `refused`, `denied` or `other`)
 */
export function connectError(e: unknown, path: string): TransportError {
  if (e instanceof Deno.errors.NotFound) return new TransportError("no_socket", "no such socket");
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new TransportError("refused", "connection refused (stale socket: nothing is listening)");
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new TransportError("denied", "permission denied");
  }
  return new TransportError("other", `${(e as Error).message ?? String(e)} (${path})`);
}
