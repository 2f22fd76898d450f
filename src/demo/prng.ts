/**
 * A small seeded pseudo-random generator (mulberry32) for the demo tools:
 * the same seed gives the same sequence on every platform, because only
 * 32-bit integer arithmetic feeds it. Not for cryptography.
 *
 * @module
 */

const TWO32 = 4294967296;

/**
 * A seeded generator of uniform numbers, integers, choices and bytes.
 *
 * @example
 * ```ts
 * const rng = new Prng(7);
 * rng.int(10, 300); // the same value for seed 7, every time
 * ```
 */
export class Prng {
  /** The seed this generator started from (an unsigned 32-bit integer). */
  readonly seed: number;
  #state: number;

  /**
   * Creates a generator.
   *
   * @param seed any integer; reduced to 32 bits
   */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /**
   * The next unsigned 32-bit value.
   *
   * @returns an integer in [0, 2³²)
   * @example
   * ```ts
   * new Prng(1).nextU32(); // 2693262067
   * ```
   */
  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * A uniform number in [0, 1).
   *
   * @returns the number
   * @example
   * ```ts
   * const u = new Prng(1).float(); // 0 <= u < 1
   * ```
   */
  float(): number {
    return this.nextU32() / TWO32;
  }

  /**
   * A uniform number in [min, max).
   *
   * @param min lower bound
   * @param max upper bound
   * @returns the number
   * @example
   * ```ts
   * new Prng(1).uniform(0.5, 2.0);
   * ```
   */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /**
   * A uniform integer in [min, max], both included (ranges up to 2³² values).
   *
   * @param min smallest value
   * @param max largest value
   * @returns the integer
   * @example
   * ```ts
   * new Prng(1).int(10, 300);
   * ```
   */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /**
   * One element chosen uniformly.
   *
   * @param items a non-empty list
   * @returns one of its elements
   * @example
   * ```ts
   * new Prng(1).pick(["a", "b", "c"]);
   * ```
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /**
   * Random bytes.
   *
   * @param n how many
   * @returns `n` new bytes
   * @example
   * ```ts
   * new Prng(1).bytes(20); // e.g. a pool address
   * ```
   */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let v = this.nextU32();
      for (let j = i; j < Math.min(i + 4, n); j++) {
        out[j] = v & 0xff;
        v >>>= 8;
      }
    }
    return out;
  }
}

/**
 * A fresh seed from the system's random source, for runs without `--seed`.
 *
 * @returns an unsigned 32-bit seed
 * @example
 * ```ts
 * const rng = new Prng(randomSeed());
 * ```
 */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * Parses a `--seed` value: a decimal integer 0–4294967295.
 *
 * @param text the option's text
 * @returns the seed, or `undefined` when the text is not such an integer
 * @example
 * ```ts
 * parseSeed("7"); // 7
 * parseSeed("-1"); // undefined
 * ```
 */
export function parseSeed(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n <= 0xffff_ffff ? n : undefined;
}
