import assert from "node:assert/strict";
import { isUpProcess, runningPid, StackBusyError, stackFiles, StackLock } from "./files.ts";

Deno.test("StackLock makes one torq up per directory, and takes over a stale pid file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_lock_test_" });
  const files = stackFiles(`${dir}/stack`);
  // A process whose arguments include "up", standing for another torq up.
  const other = new Deno.Command("sh", { args: ["-c", "sleep 60; :", "up"] }).spawn();
  try {
    const lock = StackLock.acquire(files.dir);
    assert.equal(Deno.readTextFileSync(files.pid), `${Deno.pid}\n`);
    assert.equal((Deno.statSync(files.dir).mode! & 0o777).toString(8), "750");
    lock.release();
    assert.throws(() => Deno.statSync(files.pid), Deno.errors.NotFound);

    Deno.writeTextFileSync(files.pid, `${other.pid}\n`);
    assert.ok(isUpProcess(other.pid));
    assert.equal(runningPid(files.dir), other.pid);
    assert.throws(
      () => StackLock.acquire(files.dir),
      (e) =>
        e instanceof StackBusyError && e.pid === other.pid &&
        e.message ===
          `already running in ${files.dir} (pid ${other.pid}); stop it with 'torq down'`,
    );

    other.kill("SIGKILL");
    await other.status;
    assert.equal(runningPid(files.dir), null, "a dead process's pid file is stale");
    const taken = StackLock.acquire(files.dir);
    assert.equal(Deno.readTextFileSync(files.pid), `${Deno.pid}\n`);
    taken.release();
  } finally {
    try {
      other.kill("SIGKILL");
      await other.status;
    } catch {
      // ended
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isUpProcess() is false for other programs and for no process", () => {
  assert.equal(isUpProcess(1 << 30), false);
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    assert.equal(isUpProcess(sleeper.pid), false);
  } finally {
    sleeper.kill("SIGKILL");
  }
});
