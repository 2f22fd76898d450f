/**
 * The files a running `torq up` keeps in its socket directory, and the lock
 * that makes it the only one there:
 *
 * - `up.pid`: its process id. Created exclusively, so of two `torq up`s
 *   started at once one wins; a file left by a process that is gone is
 *   replaced.
 * - `up.ctl`: its control socket (mode 0600), see `control.ts`.
 * - `up.log`: its own log (relays and supervisor) when it runs detached.
 * - `<service>.log`: each service's output.
 *
 * @module
 */

import { join, resolve } from "node:path";

/** Paths of a stack's own files in its socket directory. */
export interface StackFiles {
  /** The socket directory. */
  dir: string;
  /** `up.pid`. */
  pid: string;
  /** `up.ctl`, the control socket. */
  control: string;
  /** `up.log`, the detached process's own log. */
  log: string;
}

/**
 * The paths of a stack's files.
 *
 * @param dir the socket directory
 * @returns the paths
 * @example
 * ```ts
 * stackFiles("/tmp/torq").control; // "/tmp/torq/up.ctl"
 * ```
 */
export function stackFiles(dir: string): StackFiles {
  return {
    dir,
    pid: join(dir, "up.pid"),
    control: join(dir, "up.ctl"),
    log: join(dir, "up.log"),
  };
}

/** Another `torq up` runs in the directory. */
export class StackBusyError extends Error {
  /** Its process id. */
  readonly pid: number;

  /**
   * @param dir the socket directory
   * @param pid the running process
   */
  constructor(dir: string, pid: number) {
    super(`already running in ${dir} (pid ${pid}); stop it with 'torq down'`);
    this.name = "StackBusyError";
    this.pid = pid;
  }
}

/**
 * Whether a process runs that could be a `torq up`: it exists, is not a
 * zombie, and has `up` among its arguments (a recycled pid of some other
 * program does not count). Linux (`/proc`).
 *
 * @param pid the process id
 * @returns true when it runs
 * @example
 * ```ts
 * isUpProcess(Deno.pid); // true only inside a `torq up`
 * ```
 */
export function isUpProcess(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    if (/^\d+ \(.*\) [ZX] /s.test(stat)) return false;
    const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return args.includes("up");
  } catch {
    return false;
  }
}

/**
 * The process id of the `torq up` running in a directory, from its pid file.
 *
 * @param dir the socket directory
 * @returns the pid, or null when none runs (no file, or a stale one)
 */
export function runningPid(dir: string): number | null {
  const pid = readPid(stackFiles(dir).pid);
  return pid !== null && isUpProcess(pid) ? pid : null;
}

/** A service process of some `torq up`, found by its environment. */
export interface ServiceProcessInfo {
  /** Its process id (the leader of its process group). */
  pid: number;
  /** Its `TORQ_SERVICE`. */
  name: string;
}

/**
 * The service processes of the stack in `dir` that are still running, found
 * by the environment `torq up` gives each service (`TORQ_SERVICE` and
 * `TORQ_SOCKET_DIR`): what a `torq up` that was killed left behind. Only the
 * leaders of their process groups (the processes `torq up` started); Linux
 * (`/proc`), processes of other users are not seen.
 *
 * @param dir the socket directory
 * @returns the processes, by pid
 */
export function serviceProcesses(dir: string): ServiceProcessInfo[] {
  const want = resolve(dir);
  const out: ServiceProcessInfo[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")];
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    try {
      const env = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      const name = env.find((v) => v.startsWith("TORQ_SERVICE="))?.slice(13);
      const socketDir = env.find((v) => v.startsWith("TORQ_SOCKET_DIR="))?.slice(16);
      if (name === undefined || socketDir === undefined || resolve(socketDir) !== want) continue;
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z" && Number(pgrp) === pid) out.push({ pid, name });
    } catch {
      // gone, or another user's
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

function readPid(path: string): number | null {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * The lock of one socket directory: its `up.pid`, holding this process's id.
 *
 * @example
 * ```ts
 * const lock = StackLock.acquire("/tmp/torq-dev");
 * try {
 *   // run the stack
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export class StackLock {
  /** The stack's files. */
  readonly files: StackFiles;
  #held = true;

  private constructor(files: StackFiles) {
    this.files = files;
  }

  /**
   * Takes the directory (creating it with mode 0750 when missing).
   *
   * @param dir the socket directory
   * @param pid the id to write (default this process's)
   * @returns the lock
   * @throws {StackBusyError} when a `torq up` runs there
   */
  static acquire(dir: string, pid: number = Deno.pid): StackLock {
    const files = stackFiles(dir);
    try {
      Deno.lstatSync(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
      Deno.chmodSync(dir, 0o750);
    }
    for (let attempt = 0;; attempt++) {
      try {
        const file = Deno.openSync(files.pid, { write: true, createNew: true, mode: 0o644 });
        try {
          file.writeSync(new TextEncoder().encode(`${pid}\n`));
        } finally {
          file.close();
        }
        return new StackLock(files);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || attempt > 0) throw e;
      }
      const other = readPid(files.pid);
      if (other !== null && other !== pid && isUpProcess(other)) {
        throw new StackBusyError(dir, other);
      }
      // Left behind by a process that is gone: take it over.
      Deno.removeSync(files.pid);
    }
  }

  /** Releases the lock at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Removes the pid file. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      Deno.removeSync(this.files.pid);
    } catch {
      // already gone
    }
  }
}
