/**
 * A fixed-bucket latency histogram for the relay's metrics: frame arrival time
 * minus the header timestamp, in power-of-two microsecond buckets (1 µs … 2^25 µs
 * ≈ 33 s, then +Inf). Recording is allocation-free: a `Math.clz32` and an
 * increment. Exposed as Prometheus buckets and approximate percentiles.
 *
 * @module
 */

/** Number of finite buckets: upper bounds 2^0 … 2^25 µs. */
const FINITE = 26;
/** Upper bound of the last finite bucket in µs. */
const LARGEST = 2 ** (FINITE - 1);

/**
 * Latency histogram with power-of-two microsecond buckets.
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * h.record(12.5); // µs
 * h.percentile(0.99); // ≈ 16
 * ```
 */
export class LatencyHistogram {
  /** Counts per bucket; the last is +Inf. */
  readonly counts: Float64Array = new Float64Array(FINITE + 1);
  /** Samples whose timestamp was ahead of the relay's clock (skew). */
  ahead = 0;
  /** Sum of recorded latencies in µs. */
  sum = 0;
  /** Number of samples. */
  count = 0;
  /** Largest sample in µs. */
  max = 0;

  /**
   * Records one latency.
   *
   * @param us microseconds (negative: counted as clock skew, recorded as 0)
   */
  record(us: number): void {
    if (us < 0) {
      this.ahead++;
      us = 0;
    }
    // ceil(us) - 1 is below 2^25 here, so it fits the 32 bits clz32 looks at.
    this.counts[us <= 1 ? 0 : us > LARGEST ? FINITE : 32 - Math.clz32(Math.ceil(us) - 1)]!++;
    this.sum += us;
    this.count++;
    if (us > this.max) this.max = us;
  }

  /**
   * Upper bound of bucket `i` in µs (Infinity for the last).
   *
   * @param i bucket index
   * @returns the bound
   */
  static bound(i: number): number {
    return i >= FINITE ? Infinity : 2 ** i;
  }

  /**
   * An approximate percentile (upper bound of the bucket holding it, capped by the max).
   *
   * @param q quantile in [0, 1]
   * @returns microseconds, or 0 with no samples
   */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i <= FINITE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(LatencyHistogram.bound(i), this.max);
    }
    return this.max;
  }

  /** Cumulative `[le_seconds, count]` pairs for Prometheus, ending with `+Inf`. */
  buckets(): [string, number][] {
    const out: [string, number][] = [];
    let cum = 0;
    for (let i = 0; i <= FINITE; i++) {
      cum += this.counts[i]!;
      out.push([i >= FINITE ? "+Inf" : String(LatencyHistogram.bound(i) / 1e6), cum]);
    }
    return out;
  }
}
