/**
 * Counting things in messages.
 *
 * @module
 */

/**
 * A count and its noun, singular for one: `1 frame`, `2 frames`.
 *
 * @param n the count
 * @param word the singular noun
 * @param many the plural (default `word` + "s")
 * @returns e.g. `3 consumers`
 * @example
 * ```ts
 * plural(1, "frame"); // "1 frame"
 * plural(2, "entry", "entries"); // "2 entries"
 * ```
 */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
