/**
 * File descriptors: how many the process may open (`ulimit -n`), how many it
 * holds, and how `max_connections` of the relays and the HTTP server's cap fit
 * in between. Every accepted connection holds one descriptor; when the table is
 * full, accept() fails (EMFILE) and clients wait in the kernel's backlog. So the
 * relays must refuse connections (accept and close) before that happens:
 * {@linkcode planDescriptors} lowers each relay's cap to its share of what the
 * limit leaves, and the service warns when it does.
 *
 * Deno has no `getrlimit`: with `--allow-ffi` (the `torq` task and the compiled
 * binary have it) the limits come from libc's `getrlimit`, and the soft limit
 * is raised towards the hard one when the caps need it, as Go programs do at
 * start; a shell's `ulimit -n N` sets both, and then nothing can be raised.
 * Without FFI they are read from `/proc/self/limits` (Linux; Deno allows it
 * only with `--allow-all`).
 *
 * @module
 */

import { glibcFfi, procSelfEntries } from "./proc_self.ts";

/** Descriptors kept free beyond those open at start: journal, log files, bridges, probes. */
export const SPARE_DESCRIPTORS = 32;

/** The process's open-file limits. */
export interface OpenFileLimit {
  /** Soft limit: what the process may open now. */
  soft: number;
  /** Hard limit: how far the soft one may be raised. */
  hard: number;
}

/**
 * The open-file limits: libc's `getrlimit` where FFI may be used, else the
 * `Max open files` line of `/proc/self/limits`.
 *
 * @param text the limits file's text to parse instead (tests)
 * @returns the limits ("unlimited" as `Infinity`), or null where they cannot be read
 * @example
 * ```ts
 * openFileLimit()?.soft; // e.g. 1024
 * ```
 */
export function openFileLimit(text?: string): OpenFileLimit | null {
  let source = text;
  if (source === undefined) {
    const fromLibc = withRlimit((limit) => limit);
    if (fromLibc !== null) return fromLibc;
    try {
      source = Deno.readTextFileSync("/proc/self/limits");
    } catch {
      return null; // not Linux, or refused (Deno wants --allow-all for /proc/self)
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(source);
  if (m === null) return null;
  const value = (s: string) => (s === "unlimited" ? Infinity : Number(s));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

/**
 * How many descriptors the process holds now (entries of `/proc/self/fd`).
 *
 * @returns the count, or null where it cannot be read
 */
export function openDescriptors(): number | null {
  const fds = procSelfEntries("fd");
  return fds === null ? null : fds.length - 1; // the directory being read
}

/**
 * Raises the soft open-file limit to `wanted` (at most the hard limit) through
 * `setrlimit`, when the process may use FFI on Linux.
 *
 * @param wanted the soft limit wished for
 * @returns the soft limit in effect afterwards, or null when it could not be changed
 */
export function raiseOpenFileLimit(wanted: number): number | null {
  return withRlimit((limit, setSoft) => {
    const soft = Math.min(Math.floor(wanted), limit.hard);
    if (soft <= limit.soft) return limit.soft;
    return setSoft(soft) ? soft : null;
  });
}

/** `RLIMIT_NOFILE` of <sys/resource.h> (Linux). */
const RLIMIT_NOFILE = 7;

/**
 * Calls `use` with the open-file limits `getrlimit` reads and a function that
 * sets the soft one (`setrlimit`), when libc may be called through FFI.
 *
 * @returns what `use` returned, or null when libc cannot be called or the limits read
 */
function withRlimit<T>(
  use: (limit: OpenFileLimit, setSoft: (soft: number) => boolean) => T,
): T | null {
  if (!glibcFfi()) return null;
  let libc;
  try {
    libc = Deno.dlopen(
      "libc.so.6",
      {
        getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
        setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      } as const,
    );
  } catch {
    return null; // not glibc
  }
  try {
    const rlimit = new BigUint64Array(2); // struct rlimit { rlim_cur, rlim_max }
    if (libc.symbols.getrlimit(RLIMIT_NOFILE, rlimit) !== 0) return null;
    // RLIM_INFINITY is all ones: "unlimited".
    const value = (v: bigint) => (v >= 2n ** 53n ? Infinity : Number(v));
    return use({ soft: value(rlimit[0]!), hard: value(rlimit[1]!) }, (soft) => {
      rlimit[0] = BigInt(soft);
      return libc.symbols.setrlimit(RLIMIT_NOFILE, rlimit) === 0;
    });
  } finally {
    libc.close();
  }
}

/** What {@linkcode planDescriptors} decided. */
export interface DescriptorPlan {
  /** The soft limit planned for. */
  limit: number;
  /** Descriptors kept for everything but connections (open at start plus a spare). */
  reserved: number;
  /** Descriptors needed for every cap as asked (reserved plus every cap). */
  needed: number;
  /** Whether every cap fits as asked. */
  fits: boolean;
  /** Each cap in effect, in the order asked: as asked, or its share of what is left. */
  caps: number[];
}

/**
 * Fits connection caps (each relay's `max_connections`, the HTTP server's) into
 * the open-file limit. What the limit leaves after the reserve is shared out so
 * that a small cap is kept and the larger ones split the rest evenly (water
 * filling); every cap stays at least 1.
 *
 * @param limit the soft open-file limit
 * @param options descriptors open now and the caps asked for
 * @returns the plan
 * @example
 * ```ts
 * planDescriptors(400, { open: 20, wanted: [1000, 100, 50, 64] }).caps;
 * // [134, 100, 50, 64]: 348 left after 52 reserved
 * ```
 */
export function planDescriptors(
  limit: number,
  options: { open: number; wanted: readonly number[] },
): DescriptorPlan {
  const reserved = options.open + SPARE_DESCRIPTORS;
  const wanted = options.wanted;
  const needed = reserved + wanted.reduce((a, b) => a + b, 0);
  if (needed <= limit) return { limit, reserved, needed, fits: true, caps: [...wanted] };
  let left = Math.max(0, limit - reserved);
  const caps = wanted.map(() => 0);
  const order = wanted.map((_, i) => i).sort((a, b) => wanted[a]! - wanted[b]!);
  order.forEach((i, k) => {
    const share = Math.floor(left / (order.length - k));
    caps[i] = Math.max(1, Math.min(wanted[i]!, share));
    left = Math.max(0, left - caps[i]!);
  });
  return { limit, reserved, needed, fits: false, caps };
}
