/**
 * File descriptors: how many the process may open (`ulimit -n`), how many it
 * holds, and how `max_connections` of the relays and the HTTP server's cap fit
 * in between. Every accepted connection holds one descriptor; when the table is
 * full, accept() fails (EMFILE) and clients wait in the kernel's backlog. So the
 * relays must refuse connections (accept and close) before that happens:
 * {@linkcode planDescriptors} lowers each relay's cap to its share of what the
 * limit leaves, and the service warns when it does.
 *
 * Deno has no `getrlimit`; the limit is read from `/proc/self/limits` (Linux).
 * With `--allow-ffi` (the `torq` task and the compiled binary have it) the soft
 * limit is raised towards the hard one when the caps need it, as Go programs do
 * at start; a shell's `ulimit -n N` sets both, and then nothing can be raised.
 *
 * @module
 */

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
 * Reads the open-file limits (`Max open files` of `/proc/self/limits`).
 *
 * @param text the file's text (default: read it)
 * @returns the limits ("unlimited" as `Infinity`), or null where they cannot be read
 * @example
 * ```ts
 * openFileLimit()?.soft; // e.g. 1024
 * ```
 */
export function openFileLimit(text?: string): OpenFileLimit | null {
  let source = text;
  if (source === undefined) {
    if (!mayRead("/proc/self/limits")) return null;
    try {
      source = Deno.readTextFileSync("/proc/self/limits");
    } catch {
      return null; // not Linux, or no read permission
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
  if (!mayRead("/proc/self/fd")) return null;
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n - 1; // the directory being read
  } catch {
    return null;
  }
}

/** Whether `path` may be read without a permission prompt (which would stop a relay's start). */
function mayRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Raises the soft open-file limit to `wanted` (at most the hard limit) through
 * `setrlimit`, when the process may use FFI on Linux.
 *
 * @param wanted the soft limit wished for
 * @returns the soft limit in effect afterwards, or null when it could not be changed
 */
export function raiseOpenFileLimit(wanted: number): number | null {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return null;
  // Query first: dlopen without the permission would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  const RLIMIT_NOFILE = 7;
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
    return null;
  }
  try {
    const rlimit = new BigUint64Array(2); // struct rlimit { rlim_cur, rlim_max }
    if (libc.symbols.getrlimit(RLIMIT_NOFILE, rlimit) !== 0) return null;
    const target = BigInt(Math.floor(wanted)) < rlimit[1]!
      ? BigInt(Math.floor(wanted))
      : rlimit[1]!;
    if (target <= rlimit[0]!) return Number(rlimit[0]);
    rlimit[0] = target;
    if (libc.symbols.setrlimit(RLIMIT_NOFILE, rlimit) !== 0) return null;
    return Number(target);
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
