/**
 * "Did you mean …?" for names a user typed: subcommands, options, domains,
 * TLV type names, configuration keys. Pure (no I/O), so every layer may use it.
 *
 * @module
 */

/**
 * The edit distance between two strings (insertions, deletions, substitutions
 * and swaps of two neighbours each count 1), compared case-insensitively.
 *
 * @param a one string
 * @param b the other
 * @returns the distance
 * @example
 * ```ts
 * editDistance("sgnal", "signal"); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= t.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[s.length]![t.length]!;
}

/**
 * The candidates a mistyped or partial name most likely meant: the closest
 * ones within a small edit distance (about one typo per three letters), else
 * those that begin with it, else those that contain it. At most `max`.
 *
 * @param word what the user typed
 * @param candidates the valid names
 * @param max how many to return (default 3)
 * @returns the suggestions, possibly none
 * @example
 * ```ts
 * suggest("Arbitrage", ["ArbitrageSignal", "Trade"]); // ["ArbitrageSignal"]
 * suggest("relays.signals", ["relays.signal", "relays.execution"]); // ["relays.signal"]
 * ```
 */
export function suggest(word: string, candidates: Iterable<string>, max = 3): string[] {
  const w = word.toLowerCase();
  if (w === "") return [];
  const scored: { name: string; score: number }[] = [];
  const seen = new Set<string>();
  for (const name of candidates) {
    if (seen.has(name) || name.toLowerCase() === w) continue;
    seen.add(name);
    const n = name.toLowerCase();
    const d = editDistance(w, n);
    if (d <= Math.max(1, Math.ceil(Math.max(w.length, n.length) / 3))) {
      scored.push({ name, score: d });
    } else if (w.length >= 3 && (n.startsWith(w) || w.startsWith(n) && n.length >= 3)) {
      scored.push({ name, score: 100 + Math.abs(n.length - w.length) });
    } else if (w.length >= 4 && n.includes(w)) {
      scored.push({ name, score: 200 + n.length });
    }
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  // Only the best kind of match: the closest typos, else the names it begins, else contains.
  const best = scored[0]?.score ?? 0;
  const keep = best < 100
    ? (s: { score: number }) => s.score === best
    : (s: { score: number }) => Math.floor(s.score / 100) === Math.floor(best / 100);
  return scored.filter(keep).slice(0, max).map((s) => s.name);
}

/**
 * A clause to append to an error message: `; did you mean "signal"?`, or an
 * empty string when nothing is close.
 *
 * @param word what the user typed
 * @param candidates the valid names
 * @returns the clause or ""
 * @example
 * ```ts
 * `unknown domain "sgnal"${didYouMean("sgnal", ["signal", "execution"])}`;
 * // 'unknown domain "sgnal"; did you mean "signal"?'
 * ```
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const found = suggest(word, candidates);
  if (found.length === 0) return "";
  const quoted = found.map((f) => JSON.stringify(f));
  const list = quoted.length === 1
    ? quoted[0]
    : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
  return `; did you mean ${list}?`;
}
