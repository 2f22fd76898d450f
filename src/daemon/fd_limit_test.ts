import assert from "node:assert/strict";
import {
  openDescriptors,
  openFileLimit,
  planDescriptors,
  raiseOpenFileLimit,
  SPARE_DESCRIPTORS,
} from "./fd_limit.ts";

Deno.test("openFileLimit() reads 'Max open files' of /proc/self/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             63431                63431                processes ",
    "Max open files            1024                 524288               files     ",
  ].join("\n");
  assert.deepEqual(openFileLimit(text), { soft: 1024, hard: 524288 });
  assert.deepEqual(
    openFileLimit("Max open files            unlimited            unlimited            files"),
    { soft: Infinity, hard: Infinity },
  );
  assert.equal(openFileLimit("nothing here"), null);
  if (Deno.build.os === "linux") {
    const live = openFileLimit();
    assert.ok(live !== null && live.soft > 0 && live.hard >= live.soft);
    const open = openDescriptors();
    assert.ok(open !== null && open >= 3, `${open}`);
  }
});

Deno.test("openFileLimit() through getrlimit agrees with /proc/self/limits; raising below the soft limit changes nothing", () => {
  if (Deno.build.os !== "linux") return;
  const fromProc = openFileLimit(Deno.readTextFileSync("/proc/self/limits"));
  const fromLibc = openFileLimit();
  assert.deepEqual(fromLibc, fromProc);
  // Asking for no more than the soft limit changes nothing and says what is in effect.
  assert.equal(raiseOpenFileLimit(1), fromLibc!.soft);
  assert.deepEqual(openFileLimit(), fromLibc);
});

Deno.test("planDescriptors() keeps the caps when they fit", () => {
  const plan = planDescriptors(20_000, { open: 20, wanted: [1000, 100, 50, 64] });
  assert.equal(plan.fits, true);
  assert.deepEqual(plan.caps, [1000, 100, 50, 64]);
  assert.equal(plan.needed, 20 + SPARE_DESCRIPTORS + 1214);
});

Deno.test("planDescriptors() shares what the limit leaves: small caps kept, the rest split evenly", () => {
  // 400 - (20 + 32) = 348 left: execution keeps 50, HTTP 64, signal 100; market data gets 134.
  const plan = planDescriptors(400, { open: 20, wanted: [1000, 100, 50, 64] });
  assert.equal(plan.fits, false);
  assert.deepEqual(plan.caps, [134, 100, 50, 64]);
  // 256: 204 left, about four times 51: execution keeps its 50, the rest is split evenly.
  const tight = planDescriptors(256, { open: 20, wanted: [1000, 100, 50, 128] });
  assert.deepEqual(tight.caps, [52, 51, 50, 51]);
  assert.equal(tight.caps.reduce((a, b) => a + b), 256 - tight.reserved);
  // One relay under ulimit -n 128.
  assert.deepEqual(planDescriptors(128, { open: 24, wanted: [100] }).caps, [72]);
  // Nothing left: every cap stays 1.
  assert.deepEqual(planDescriptors(40, { open: 30, wanted: [5, 5] }).caps, [1, 1]);
});
