import assert from "node:assert/strict";
import { Backoff, backoffDelay, nextTurn, sleep } from "./delay.ts";

Deno.test("sleep() returns at once for an aborted signal", async () => {
  const stop = new AbortController();
  stop.abort();
  await sleep(3_600_000, stop.signal); // the timer sanitizer fails the test if one is left
});

Deno.test("sleep() ends when its signal aborts and leaves no timer behind", async () => {
  const stop = new AbortController();
  const slept = sleep(3_600_000, stop.signal);
  stop.abort();
  await slept;
});

Deno.test("sleep() without a signal waits out its time", async () => {
  let done = false;
  const slept = sleep(1).then(() => (done = true));
  assert.equal(done, false);
  await slept;
  assert.equal(done, true);
});

Deno.test("nextTurn() is a turn of the event loop, not a microtask: a due timer runs between turns", async () => {
  let fired = false;
  const timer = setTimeout(() => (fired = true), 0);
  let turns = 0;
  // Microtasks alone would never let the timer run; turns do, within a few milliseconds.
  while (!fired && turns < 100_000) {
    await nextTurn();
    turns++;
  }
  clearTimeout(timer);
  assert.ok(fired, `the timer did not run in ${turns} turns`);
  assert.ok(turns > 0, "the timer ran before the first turn");
});

Deno.test("backoffDelay() doubles per attempt up to the cap", () => {
  const o = { initialMs: 100, maxMs: 1_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 30].map((n) => backoffDelay(n, o)), [
    100,
    200,
    400,
    800,
    1_000,
    1_000,
  ]);
});

Deno.test("Backoff.next() gives the delay and doubles it; reset() starts again", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 350 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 350, 350]);
  assert.equal(b.delayMs, 350);
  b.reset();
  assert.equal(b.delayMs, 100);
  assert.equal(b.next(), 100);
});
