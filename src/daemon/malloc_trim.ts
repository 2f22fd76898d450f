/**
 * Giving freed memory back to the operating system, for long-running relay
 * processes on glibc.
 *
 * glibc's allocator keeps what a program frees for reuse, in one arena per
 * thread that allocated it. A relay process has several such threads (V8's
 * compiler and GC workers, the runtime's I/O threads), so memory freed after a
 * burst stays resident in arenas that may never be used again, and resident
 * memory ratchets up over hours. `malloc_trim(0)` returns the free pages of
 * every arena. It is called through FFI every few seconds when the process may
 * use FFI (`--allow-ffi`, which the `torq` task and the compiled binary have);
 * elsewhere (other C libraries, no permission) this does nothing.
 *
 * @module
 */

/** How often to trim by default. */
export const TRIM_EVERY_MS = 10_000;

/**
 * Starts trimming glibc's free memory every `everyMs` (the timer does not keep
 * the process alive).
 *
 * @param everyMs period in milliseconds
 * @returns a function that stops it, and whether trimming runs at all
 * @example
 * ```ts
 * const trim = startMallocTrim();
 * // ... serve ...
 * trim.stop();
 * ```
 */
export function startMallocTrim(
  everyMs: number = TRIM_EVERY_MS,
): { active: boolean; stop: () => void } {
  const trim = openMallocTrim();
  if (trim === null) return { active: false, stop: () => {} };
  const timer = setInterval(trim, everyMs);
  Deno.unrefTimer(timer);
  return { active: true, stop: () => clearInterval(timer) };
}

/** `malloc_trim(0)` as a function, or null where it cannot be called. */
function openMallocTrim(): (() => void) | null {
  if (Deno.build.os !== "linux") return null;
  // Query first: dlopen without the permission would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    const libc = Deno.dlopen(
      "libc.so.6",
      {
        malloc_trim: { parameters: ["usize"], result: "i32" },
      } as const,
    );
    return () => void libc.symbols.malloc_trim(0n);
  } catch {
    return null; // not glibc (musl has no malloc_trim)
  }
}
