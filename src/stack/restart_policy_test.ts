import assert from "node:assert/strict";
import { describeExit, formatDelay, type RestartRules, RestartTracker } from "./restart_policy.ts";

const RULES: RestartRules = {
  restart: "on-failure",
  restart_delay_ms: 100,
  restart_max_delay_ms: 1_000,
  start_limit_burst: 5,
  start_limit_interval_ms: 60_000,
};

const FAIL = { code: 1, signal: null };
const OK = { code: 0, signal: null };

Deno.test("RestartTracker doubles the delay per fast crash up to the cap", () => {
  const t = new RestartTracker({ ...RULES, start_limit_burst: 0 });
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    t.started(now);
    now += 10;
    const d = t.exited(now, FAIL);
    assert.equal(d.action, "restart");
    if (d.action === "restart") delays.push(d.delayMs);
    now += delays.at(-1)!;
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});

Deno.test("RestartTracker starts the doubling over after a long run", () => {
  const t = new RestartTracker(RULES);
  t.started(0);
  assert.deepEqual(t.exited(10, FAIL), { action: "restart", delayMs: 100 });
  t.started(110);
  assert.deepEqual(t.exited(120, FAIL), { action: "restart", delayMs: 200 });
  t.started(320);
  assert.deepEqual(t.exited(320 + 60_000, FAIL), { action: "restart", delayMs: 100 });
});

Deno.test("RestartTracker gives up at the start limit, like StartLimitBurst", () => {
  const t = new RestartTracker(RULES);
  let now = 0;
  for (let i = 0; i < 4; i++) {
    t.started(now);
    const d = t.exited(now + 5, FAIL);
    assert.equal(d.action, "restart", `exit ${i + 1}`);
    now += 5 + (d.action === "restart" ? d.delayMs : 0);
  }
  t.started(now);
  assert.deepEqual(t.exited(now + 5, { code: 134, signal: "SIGABRT" }), {
    action: "failed",
    reason: "start limit hit: 5 starts within 60 s, last signal SIGABRT",
  });
  t.reset();
  t.started(now + 10);
  assert.equal(t.exited(now + 20, FAIL).action, "restart", "a reset starts counting again");
});

Deno.test("RestartTracker counts only the starts inside the window", () => {
  const t = new RestartTracker({ ...RULES, start_limit_burst: 2, start_limit_interval_ms: 1000 });
  t.started(0);
  assert.equal(t.exited(10, FAIL).action, "restart");
  t.started(2_000); // the first start has left the window
  assert.equal(t.exited(2_010, FAIL).action, "restart");
  t.started(2_500);
  assert.equal(t.exited(2_510, FAIL).action, "failed");
});

Deno.test("RestartTracker follows the restart policy", async (t) => {
  const cases: [RestartRules["restart"], { code: number; signal: string | null }, string][] = [
    ["on-failure", OK, "exited"],
    ["on-failure", FAIL, "restart"],
    ["on-failure", { code: 143, signal: "SIGTERM" }, "restart"],
    ["always", OK, "restart"],
    ["always", FAIL, "restart"],
    ["never", OK, "exited"],
    ["never", FAIL, "failed"],
  ];
  for (const [restart, status, action] of cases) {
    await t.step(`${restart}, ${describeExit(status)} → ${action}`, () => {
      const tracker = new RestartTracker({ ...RULES, restart });
      tracker.started(0);
      assert.equal(tracker.exited(10, status).action, action);
    });
  }
});

Deno.test("formatDelay() and describeExit() read well", () => {
  assert.deepEqual([250, 1000, 1500, 60_000, 600_000].map(formatDelay), [
    "250 ms",
    "1 s",
    "1.5 s",
    "60 s",
    "10 min",
  ]);
  assert.equal(describeExit({ code: 3, signal: null }), "status 3");
  assert.equal(describeExit({ code: 137, signal: "SIGKILL" }), "signal SIGKILL");
});
