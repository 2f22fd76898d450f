/**
 * What the relay process reads about itself and calls in libc, and when it may.
 * Deno refuses every path under `/proc` unless the process has `--allow-all`
 * (which `torq` runs with, see bin/torq); libc is called through FFI on Linux
 * with `--allow-ffi`.
 *
 * @module
 */

/**
 * The names in `/proc/self/<sub>` (without `.` and `..`).
 *
 * @param sub the directory under `/proc/self`, e.g. `fd` or `task`
 * @returns the names, or null where the directory cannot be read (not Linux, or
 *   no `--allow-all`)
 * @example
 * ```ts
 * procSelfEntries("task")?.length; // threads of this process
 * ```
 */
export function procSelfEntries(sub: string): string[] | null {
  try {
    return [...Deno.readDirSync(`/proc/self/${sub}`)].map((e) => e.name);
  } catch {
    return null;
  }
}

/**
 * Whether libc may be called through FFI here: Linux on x86_64 or aarch64, and
 * the permission granted (queried first: dlopen without it would prompt on a
 * terminal).
 *
 * @returns true when `Deno.dlopen("libc.so.6", …)` may be tried
 */
export function glibcFfi(): boolean {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return false;
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}
