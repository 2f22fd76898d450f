import assert from "node:assert/strict";
import { sinceNs } from "./since.ts";

Deno.test("sinceNs() reads durations back from now", () => {
  const now = 10_000_000;
  assert.equal(sinceNs("500ms", now), 9_999_500n * 1_000_000n);
  assert.equal(sinceNs("90s", now), 9_910_000n * 1_000_000n);
  assert.equal(sinceNs(" 1.5h ", 6_000_000), 600_000n * 1_000_000n);
  assert.equal(sinceNs("1d", 86_400_000), 0n);
});

Deno.test("sinceNs() reads ISO dates and times, UTC without a zone, exact to the ns", () => {
  assert.equal(sinceNs("1970-01-02", 0), 86_400_000n * 1_000_000n);
  assert.equal(sinceNs("1970-01-01T00:00:01Z", 0), 1_000_000_000n);
  assert.equal(sinceNs("1970-01-01T00:00:01", 0), 1_000_000_000n);
  assert.equal(sinceNs("1970-01-01T01:00:00+01:00", 0), 0n);
  assert.equal(sinceNs("1970-01-01T00:00:00.000000123Z", 0), 123n);
});

Deno.test("sinceNs() is null for anything else", () => {
  for (const t of ["yesterday", "", "10", "5w", "2026-13-45", "2026-07-01 12:00"]) {
    assert.equal(sinceNs(t, 0), null, t);
  }
});
