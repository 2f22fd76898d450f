/**
 * Unix-domain stream sockets: the relays' default transport (PROTOCOL.md 3.4, 7.7).
 * `listen()` creates the socket directory (mode 0750 when it creates it),
 * refuses a directory others could tamper with (see {@linkcode checkSocketDir}),
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
  /**
   * Use the socket directory even when {@linkcode checkSocketDir} finds it unsafe: a
   * symbolic link, owned by another user, or writable by group or others without the
   * sticky bit (default false; `transport.allow_foreign_dir` in the configuration).
   */
  allowForeignDir?: boolean;
  /**
   * Accept a socket mode that lets every local user connect (`o+w`, e.g. 0666 or
   * 0777): anyone on the host could then publish and subscribe (default false;
   * `transport.allow_world_socket` in the configuration).
   */
  allowWorldSocket?: boolean;
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
  readonly #allowForeignDir: boolean;
  readonly #allowWorldSocket: boolean;
  #ino: number | null = null;

  /**
   * @param path socket path
   * @param options file modes
   */
  constructor(path: string, options: UnixTransportOptions = {}) {
    this.address = path;
    this.#socketMode = options.socketMode ?? 0o660;
    this.#dirMode = options.dirMode ?? 0o750;
    this.#allowForeignDir = options.allowForeignDir ?? false;
    this.#allowWorldSocket = options.allowWorldSocket ?? false;
  }

  /**
   * Prepares the directory and path, then listens.
   *
   * @throws {TransportError} `unsafe_mode` for a socket mode every local user could
   *   connect through, `unsafe_dir` for a directory others could tamper with,
   *   `in_use` when a live relay answers on the path, `not_socket` for another file there
   */
  async listen(): Promise<TransportListener> {
    const path = this.address;
    if (!this.#allowWorldSocket) checkSocketMode(path, this.#socketMode);
    const dir = dirname(path);
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.lstatSync(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (info === null) {
      Deno.mkdirSync(dir, { recursive: true, mode: this.#dirMode });
      Deno.chmodSync(dir, this.#dirMode);
      info = Deno.lstatSync(dir); // judged like any other: it may have been made by someone else
    }
    const uid = currentUid();
    if (!this.#allowForeignDir) checkSocketDir(dir, info, uid);
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
      throw new TransportError("other", `Cannot listen on ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    Deno.chmodSync(path, this.#socketMode);
    const bound = Deno.lstatSync(path);
    this.#ino = bound.ino;
    if (uid === null && !this.#allowForeignDir) {
      // Without the uid (no --allow-sys), the socket just bound tells who we are.
      try {
        checkSocketDir(dir, info, bound.uid);
      } catch (e) {
        listener.close();
        this.cleanup();
        throw e;
      }
    }
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

/**
 * Refuses a socket directory another local user could tamper with (replace the
 * socket, or make the relay bind where they choose). Accepted: a directory owned
 * by `uid` and writable only by its owner (`/tmp/torq` is created 0750), or a
 * root-owned or own directory with the sticky bit, like `/tmp` itself (nobody
 * else may rename or remove the socket there). Refused: a symbolic link, a
 * directory owned by another user, and one writable by group or others without
 * the sticky bit. `transport.allow_foreign_dir: true` skips this check, for a
 * directory an administrator prepared (e.g. a group-shared `/run/torq`).
 *
 * @param dir the directory (for messages)
 * @param info its `lstat` (a symlink is not followed)
 * @param uid the current user's id; null skips the ownership rule
 * @throws {TransportError} `unsafe_dir` naming the rule that failed
 * @example
 * ```ts
 * checkSocketDir("/tmp/torq", Deno.lstatSync("/tmp/torq"), Deno.uid());
 * ```
 */
export function checkSocketDir(dir: string, info: Deno.FileInfo, uid: number | null): void {
  const refuse = (why: string) =>
    new TransportError(
      "unsafe_dir",
      `socket directory ${dir} ${why}; refusing to use it (transport.allow_foreign_dir allows it)`,
    );
  if (info.isSymlink) throw refuse("is a symbolic link");
  if (!info.isDirectory) throw refuse("is not a directory");
  const mode = info.mode === null ? null : info.mode & 0o7777;
  const sticky = mode !== null && (mode & 0o1000) !== 0;
  if (uid !== null && info.uid !== null && info.uid !== uid && !(sticky && info.uid === 0)) {
    throw refuse(`is owned by uid ${info.uid}, not by this user (uid ${uid})`);
  }
  if (mode !== null && (mode & 0o022) !== 0 && !sticky) {
    // Others first: 0777 is writable by everyone, not merely by a group.
    const who = (mode & 0o002) !== 0 ? "others" : "its group";
    throw refuse(`is writable by ${who} (mode ${octal(mode)}) without the sticky bit`);
  }
}

/**
 * Refuses a socket mode that lets every local user connect: connecting to a Unix
 * socket needs write permission on it, so `o+w` (0666, 0777, 0662 …) opens the
 * relay to anyone on the host. `transport.allow_world_socket: true` allows it.
 *
 * @param path the socket path (for the message)
 * @param mode the permission bits
 * @throws {TransportError} `unsafe_mode`
 * @example
 * ```ts
 * checkSocketMode("/tmp/torq/signals.sock", 0o660); // fine
 * ```
 */
export function checkSocketMode(path: string, mode: number): void {
  if ((mode & 0o002) === 0) return;
  throw new TransportError(
    "unsafe_mode",
    `socket mode ${octal(mode)} would make ${path} writable by others, so any local user could ` +
      `publish and subscribe; refusing it (use "0660" and a group, or set transport.allow_world_socket)`,
  );
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

/** The process's user id, or null when it cannot be read (no `--allow-sys`, Windows). */
function currentUid(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null;
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
  const cause = { cause: e };
  if (e instanceof Deno.errors.NotFound) {
    return new TransportError("no_socket", "no such socket", cause);
  }
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new TransportError(
      "refused",
      "connection refused (stale socket: nothing is listening)",
      cause,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new TransportError("denied", "permission denied", cause);
  }
  return new TransportError("other", `${(e as Error).message ?? String(e)} (${path})`, cause);
}
