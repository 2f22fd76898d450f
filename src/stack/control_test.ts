import assert from "node:assert/strict";
import { ControlError, type ControlHandlers, controlRequest, ControlServer } from "./control.ts";
import type { StackStatus } from "./control.ts";

const STATUS: StackStatus = {
  pid: 42,
  startedAt: 1_700_000_000_000,
  dir: "/tmp/x",
  phase: "running",
  detached: true,
  http: null,
  relays: [],
  services: [],
};

function handlers(log: string[]): ControlHandlers {
  return {
    status: () => STATUS,
    restart: (name) => {
      log.push(`restart ${name}`);
      if (name === "nope") return Promise.reject(new RangeError('Cannot find service "nope"'));
      return Promise.resolve({ restarted: [{ name: name ?? "all", kind: "service", pid: 7 }] });
    },
    down: () => Promise.resolve({ pid: 42, services: [], relays: ["signal"] }),
  };
}

Deno.test("ControlServer answers status, restart and down over a 0600 socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_control_test_" });
  const path = `${dir}/up.ctl`;
  const log: string[] = [];
  const server = ControlServer.listen(path, handlers(log));
  try {
    assert.equal((Deno.statSync(path).mode! & 0o777).toString(8), "600");
    assert.deepEqual(await controlRequest(path, { op: "status" }), STATUS);
    assert.deepEqual(await controlRequest(path, { op: "restart", name: "feed" }), {
      restarted: [{ name: "feed", kind: "service", pid: 7 }],
    });
    await assert.rejects(
      () => controlRequest(path, { op: "restart", name: "nope" }),
      (e) =>
        e instanceof ControlError && e.reason === "refused" &&
        e.message === 'Cannot find service "nope"',
    );
    assert.deepEqual(await controlRequest(path, { op: "down" }), {
      pid: 42,
      services: [],
      relays: ["signal"],
    });
    assert.deepEqual(log, ["restart feed", "restart nope"]);
  } finally {
    await server.close();
  }
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, "close() removes the socket");
  await assert.rejects(
    () => controlRequest(path, { op: "status" }),
    (e) => e instanceof ControlError && e.reason === "not_running",
  );
  // A socket file nobody listens on: its process exited without removing it.
  const script = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`;
  assert.ok((await new Deno.Command(Deno.execPath(), { args: ["eval", script] }).output()).success);
  await assert.rejects(
    () => controlRequest(path, { op: "status" }),
    (e) => e instanceof ControlError && e.reason === "stale",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("controlRequest() gives up after its bound", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_control_test_" });
  const path = `${dir}/up.ctl`;
  const listener = Deno.listen({ transport: "unix", path });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) accepted.push(c); // never answers
  })();
  try {
    await assert.rejects(
      () => controlRequest(path, { op: "status" }, { timeoutMs: 200 }),
      (e) => e instanceof ControlError && e.reason === "timeout",
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of accepted) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
