import assert from "node:assert/strict";
import { didYouMean, editDistance, suggest } from "./suggest.ts";

Deno.test("editDistance() counts typos, swaps of neighbours once, case-insensitively", () => {
  assert.equal(editDistance("signal", "signal"), 0);
  assert.equal(editDistance("sgnal", "signal"), 1);
  assert.equal(editDistance("singal", "signal"), 1);
  assert.equal(editDistance("Signal", "sIGNAL"), 0);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("suggest() offers close names and names a partial one begins", () => {
  assert.deepEqual(suggest("Arbitrage", ["ArbitrageSignal", "Trade", "Quote"]), [
    "ArbitrageSignal",
  ]);
  assert.deepEqual(suggest("signals", ["market_data", "signal", "execution"]), ["signal"]);
  assert.deepEqual(suggest("relys", ["relay", "replay", "up"]), ["relay"]);
  assert.deepEqual(suggest("zzz", ["relay", "up"]), []);
  assert.deepEqual(suggest("up", ["up", "ups"]), ["ups"], "an exact match is not a suggestion");
  assert.equal(suggest("a", ["ab", "ac", "ad", "ae"]).length, 3, "at most three");
});

Deno.test("didYouMean() is a clause for an error message, or nothing", () => {
  assert.equal(didYouMean("sgnal", ["signal", "execution"]), '; did you mean "signal"?');
  assert.equal(
    didYouMean("rplay", ["replay", "relay"]),
    '; did you mean "relay" or "replay"?',
  );
  assert.equal(didYouMean("xyzzy", ["signal"]), "");
});
