/**
 * Small helpers the bench modules share. Internal: not exported from `mod.ts`.
 *
 * @module
 */

/**
 * Waits for every promise to settle, or `ms`, whichever comes first.
 *
 * @param promises what to wait for (their results are ignored)
 * @param ms the bound
 * @returns once settled or after `ms`
 */
export async function settle(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((r) => (timer = setTimeout(r, ms))),
  ]);
  clearTimeout(timer);
}

/**
 * An error as one line, without the OS error number Deno appends.
 *
 * @param e anything thrown
 * @returns its message
 */
export function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/ \(os error \d+\)$/, "");
}

/**
 * `x` rounded to `digits` decimals.
 *
 * @param x the number
 * @param digits decimals kept
 * @returns the rounded number
 */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
