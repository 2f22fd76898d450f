/**
 * A log-linear latency histogram in the manner of HdrHistogram: fixed buckets,
 * constant memory, O(1) allocation-free recording, exact count/min/max, and
 * percentiles read from the bucket counts (never from a list of samples).
 *
 * Layout (defaults): values are nanoseconds, bucketed in units of 1 µs.
 * `[0, 1024)` µs has one bucket per µs; each further power-of-two range
 * `[2^k, 2^(k+1))` µs has 512 buckets, so a bucket is at most 1/512 (0.2 %)
 * of its values wide: 2 µs wide above ~1 ms, 4 µs above ~2 ms, … about 131 ms
 * wide near 60 s. Values above the highest trackable value (60 s) land in the
 * last bucket and are counted as {@linkcode Histogram.overflows}; negative
 * values (clock steps) land in the first and are counted as
 * {@linkcode Histogram.underflows}. Min and max are kept exactly.
 *
 * @module
 */

/** Options of a {@linkcode Histogram}. */
export interface HistogramOptions {
  /** Width of one linear bucket in nanoseconds (default 1,000: 1 µs resolution). */
  unitNs?: number;
  /** Number of linear buckets, a power of two ≥ 2 (default 1,024: 1 µs up to ~1 ms). */
  linearBuckets?: number;
  /** Highest trackable value in nanoseconds (default 60 s). */
  highestNs?: number;
}

/** Percentiles and extremes of a {@linkcode Histogram}, all in nanoseconds. */
export interface HistogramSummary {
  /** Recorded values. */
  count: number;
  /** Smallest value (exact; 0 when empty). */
  minNs: number;
  /** Mean of the recorded values (exact sum / count; 0 when empty). */
  meanNs: number;
  /** 50th percentile. */
  p50Ns: number;
  /** 90th percentile. */
  p90Ns: number;
  /** 99th percentile. */
  p99Ns: number;
  /** 99.9th percentile. */
  p999Ns: number;
  /** Largest value (exact; 0 when empty). */
  maxNs: number;
}

/**
 * Fixed-bucket log-linear histogram of nanosecond values.
 *
 * @example
 * ```ts
 * const h = new Histogram();
 * for (let us = 1; us <= 1000; us++) h.record(us * 1000);
 * h.percentile(50); // 500_000 (ns), within one bucket of the true median
 * h.summary().maxNs; // 1_000_000
 * ```
 */
export class Histogram {
  /** Width of a linear bucket in ns. */
  readonly unitNs: number;
  /** Number of linear buckets. */
  readonly linearBuckets: number;
  /** Highest trackable value in ns. */
  readonly highestNs: number;
  /** Values above {@linkcode highestNs} (recorded in the last bucket). */
  overflows = 0;
  /** Negative values (recorded as 0). */
  underflows = 0;

  readonly #counts: Float64Array;
  readonly #half: number;
  readonly #shift0: number;
  readonly #highestUnits: number;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** @param options bucket layout (defaults: 1 µs units, 1,024 linear buckets, 60 s) */
  constructor(options: HistogramOptions = {}) {
    const unit = options.unitNs ?? 1000;
    const linear = options.linearBuckets ?? 1024;
    const highest = options.highestNs ?? 60e9;
    if (!(unit > 0)) throw new RangeError(`Cannot make histogram: unitNs ${unit} is not positive`);
    if (!Number.isInteger(linear) || linear < 2 || (linear & (linear - 1)) !== 0) {
      throw new RangeError(
        `Cannot make histogram: linearBuckets ${linear} is not a power of two ≥ 2`,
      );
    }
    const highestUnits = Math.floor(highest / unit);
    if (!(highestUnits >= linear) || highestUnits >= 2 ** 31) {
      throw new RangeError(
        `Cannot make histogram: highestNs ${highest} is not between ${linear} and 2^31 units`,
      );
    }
    this.unitNs = unit;
    this.linearBuckets = linear;
    this.highestNs = highest;
    this.#half = linear / 2;
    this.#shift0 = 31 - Math.clz32(linear); // log2(linear)
    this.#highestUnits = highestUnits;
    this.#counts = new Float64Array(this.#indexOfUnits(highestUnits) + 1);
  }

  /** Number of buckets. */
  get bucketCount(): number {
    return this.#counts.length;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#count;
  }

  /** Smallest recorded value in ns (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** Largest recorded value in ns (0 when empty). */
  get max(): number {
    return this.#count === 0 ? 0 : this.#max;
  }

  /** Mean of the recorded values in ns (0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  #indexOfUnits(u: number): number {
    if (u < this.linearBuckets) return u;
    const shift = 32 - Math.clz32(u) - this.#shift0; // ≥ 1
    return this.linearBuckets + (shift - 1) * this.#half + ((u >>> shift) - this.#half);
  }

  /**
   * The bucket a value falls in (clamped to the first and last bucket).
   *
   * @param ns value in nanoseconds
   * @returns bucket index
   */
  bucketIndex(ns: number): number {
    let u = Math.floor(ns / this.unitNs);
    if (!(u > 0)) u = 0; // negative or NaN
    else if (u > this.#highestUnits) u = this.#highestUnits;
    return this.#indexOfUnits(u);
  }

  /**
   * The smallest value (ns) that falls in bucket `i`.
   *
   * @param i bucket index
   * @returns the bucket's inclusive lower bound
   */
  bucketLowerBound(i: number): number {
    if (i < this.linearBuckets) return i * this.unitNs;
    const k = i - this.linearBuckets;
    const shift = Math.floor(k / this.#half) + 1;
    const sub = (k % this.#half) + this.#half;
    return sub * 2 ** shift * this.unitNs;
  }

  /**
   * One past the largest value (ns) that falls in bucket `i`.
   *
   * @param i bucket index
   * @returns the bucket's exclusive upper bound
   */
  bucketUpperBound(i: number): number {
    if (i < this.linearBuckets) return (i + 1) * this.unitNs;
    const k = i - this.linearBuckets;
    const shift = Math.floor(k / this.#half) + 1;
    const sub = (k % this.#half) + this.#half;
    return (sub + 1) * 2 ** shift * this.unitNs;
  }

  /**
   * Records one value. Allocation-free.
   *
   * @param ns value in nanoseconds
   */
  record(ns: number): void {
    this.#recordN(ns, 1);
  }

  /**
   * Records the same value `n` times.
   *
   * @param ns value in nanoseconds
   * @param n how many times (> 0)
   */
  recordMany(ns: number, n: number): void {
    if (n > 0) this.#recordN(ns, n);
  }

  #recordN(ns: number, n: number): void {
    let u = Math.floor(ns / this.unitNs);
    if (!(ns >= 0)) {
      this.underflows += n;
      ns = 0;
      u = 0;
    } else if (u > this.#highestUnits) {
      this.overflows += n;
      u = this.#highestUnits;
    }
    let i: number;
    if (u < this.linearBuckets) i = u;
    else {
      const shift = 32 - Math.clz32(u) - this.#shift0;
      i = this.linearBuckets + (shift - 1) * this.#half + ((u >>> shift) - this.#half);
    }
    this.#counts[i]! += n;
    this.#count += n;
    this.#sum += ns * n;
    if (ns < this.#min) this.#min = ns;
    if (ns > this.#max) this.#max = ns;
  }

  /**
   * Count of the values in bucket `i`.
   *
   * @param i bucket index
   * @returns its count
   */
  countAt(i: number): number {
    return this.#counts[i] ?? 0;
  }

  /**
   * The value at percentile `p`: the upper edge of the bucket holding the value
   * of rank ⌈p/100 · count⌉ (so it never understates), clamped to the exact
   * min and max. `percentile(100)` is the max.
   *
   * @param p percentile, 0–100
   * @returns nanoseconds (0 when empty)
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * this.#count));
    const counts = this.#counts;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) {
        const v = this.bucketUpperBound(i);
        return Math.min(Math.max(v, this.#min), this.#max);
      }
    }
    return this.#max;
  }

  /**
   * Adds another histogram's counts (same layout) to this one.
   *
   * @param other a histogram made with the same options
   * @returns this histogram
   * @throws {RangeError} when the layouts differ
   */
  merge(other: Histogram): this {
    if (
      other.unitNs !== this.unitNs || other.linearBuckets !== this.linearBuckets ||
      other.highestNs !== this.highestNs
    ) {
      throw new RangeError("Cannot merge histograms: bucket layouts differ");
    }
    const a = this.#counts;
    const b = other.#counts;
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    this.overflows += other.overflows;
    this.underflows += other.underflows;
    return this;
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
    this.overflows = 0;
    this.underflows = 0;
  }

  /**
   * Count, min, mean, p50/p90/p99/p99.9 and max.
   *
   * @returns the summary (ns)
   */
  summary(): HistogramSummary {
    return {
      count: this.#count,
      minNs: this.min,
      meanNs: this.mean,
      p50Ns: this.percentile(50),
      p90Ns: this.percentile(90),
      p99Ns: this.percentile(99),
      p999Ns: this.percentile(99.9),
      maxNs: this.max,
    };
  }
}
