/**
 * The `--since` of `torq logs` and `torq journal`: a duration back from now or
 * an ISO-8601 date or time, read the same way by both.
 *
 * @module
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/**
 * Reads a `--since` value: a duration back from `nowMs` (`500ms`, `90s`,
 * `15m`, `1.5h`, `2d`) or an ISO-8601 date or time (`2026-07-01`,
 * `2026-07-01T12:00:00.123456789Z`; without a zone it is UTC).
 *
 * @param text the value
 * @param nowMs the current time, ms since the epoch
 * @returns ns since the epoch (exact to the ns for ISO fractions), or null when the text is neither
 * @example
 * ```ts
 * sinceNs("15m", 900_000); // 0n
 * sinceNs("1970-01-01T00:00:01.5Z", 0); // 1_500_000_000n
 * sinceNs("yesterday", 0); // null
 * ```
 */
export function sinceNs(text: string, nowMs: number): bigint | null {
  const t = text.trim();
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  if (d !== null) return BigInt(Math.round(nowMs - Number(d[1]) * UNIT_MS[d[2]!]!)) * 1_000_000n;
  const iso = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?(Z|[+-]\d\d:?\d\d)?$/i.exec(t);
  if (iso === null) return null;
  const ms = Date.parse(iso[4] === undefined ? `${t}Z` : t);
  if (Number.isNaN(ms)) return null;
  const frac = iso[3] === undefined ? 0n : BigInt(iso[3].slice(1).padEnd(9, "0")) % 1_000_000n;
  return BigInt(ms) * 1_000_000n + frac;
}
