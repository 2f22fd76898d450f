import assert from "node:assert/strict";
import { ACCEPT_RETRY_MAX_MS, acceptEach, AcceptHealth } from "./accept.ts";
import { Logger } from "../log/logger.ts";
import type { StreamConn, TransportListener } from "./transport.ts";

/** An error as Deno reports a failed accept(2): a plain Error with the errno name as `code`. */
function osError(code: string, message: string): Error {
  return Object.assign(new Error(`${message} (os error 24)`), { code });
}

const conn = (): StreamConn & { closed: boolean } => ({
  closed: false,
  read: () => Promise.resolve(null),
  write: (p) => Promise.resolve(p.length),
  close() {
    this.closed = true;
  },
});

/** A pause of the script: accept() stays pending this long, as with an empty backlog. */
class Pause {
  constructor(readonly ms: number) {}
}

/** A listener that plays a script of accept() outcomes, then reports itself closed. */
function scripted(
  steps: (Error | StreamConn | Pause)[],
  onStep?: (i: number) => void,
): TransportListener {
  let i = 0;
  const next = (): Promise<StreamConn> => {
    onStep?.(i);
    const step = steps[i++];
    if (step === undefined) return Promise.reject(new Deno.errors.BadResource("closed"));
    if (step instanceof Pause) return new Promise((r) => setTimeout(r, step.ms)).then(next);
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  };
  return {
    accept: next,
    close() {},
    [Symbol.asyncIterator]: () => {
      throw new Error("not used");
    },
  };
}

function jsonLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: new Logger({ format: "json", sink: (l) => lines.push(JSON.parse(l)) }), lines };
}

Deno.test("acceptEach() survives EMFILE: retries with backoff, is unhealthy meanwhile, recovers", async () => {
  const health = new AcceptHealth();
  const { log, lines } = jsonLogger();
  const first = conn();
  const second = conn();
  const emfile = () => osError("EMFILE", "Too many open files");
  // A draining table: failures, a success, a failure (no longer unhealthy only after a quiet spell).
  const steps = [
    first,
    ...Array.from({ length: 8 }, emfile),
    second,
    emfile(),
    new Pause(50),
    new Pause(10),
  ];
  const during: boolean[] = [];
  const waits: number[] = [];
  const taken: StreamConn[] = [];
  await acceptEach(
    scripted(steps, (i) => during[i] = health.accepting),
    {
      health,
      log,
      stopping: () => false,
      onConnection: (c) => taken.push(c),
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      settleMs: 20,
    },
  );
  assert.deepEqual(taken, [first, second], "both connections were taken; the loop did not end");
  assert.deepEqual(waits, [10, 20, 40, 80, 160, 320, 500, 500, 10], "short backoff, capped");
  assert.equal(Math.max(...waits), ACCEPT_RETRY_MAX_MS);
  assert.deepEqual(during.slice(0, 3), [true, true, false], "unhealthy from the first failure");
  assert.equal(during[10], false, "a success alone does not end the episode");
  assert.equal(during[11], false, "nor does accept() waiting, until the settle time has passed");
  assert.equal(during[12], true, "accepting after a quiet spell");
  assert.equal(health.errors, 9);
  assert.equal(health.lastError, "Too many open files (EMFILE)");
  // Rate-limited: one error line for the burst (all within a second), one recovery line.
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, JSON.stringify(lines));
  assert.match(String(errors[0]!.msg), /^accept failed: not accepting connections/);
  assert.equal(errors[0]!.error, "Too many open files (EMFILE)");
  const again = lines.filter((l) => l.msg === "accepting connections again");
  assert.equal(again.length, 1, "one recovery line for the whole episode");
  assert.equal(again[0]!.failed_accepts, 9);
  // The listener then closed by itself (not by the relay): it no longer accepts.
  assert.equal(health.accepting, false);
});

Deno.test("acceptEach() ends quietly when the relay closes its listener", async () => {
  const health = new AcceptHealth();
  const { log, lines } = jsonLogger();
  let stopping = false;
  const c = conn();
  await acceptEach(scripted([c], () => stopping = true), {
    health,
    log,
    stopping: () => stopping,
    onConnection: () => {},
  });
  assert.deepEqual(lines, []);
  assert.equal(health.errors, 0);
  assert.equal(health.accepting, true, "a stopped relay's listener did not fail");
});

Deno.test("acceptEach() retries unknown errors too, and closes a connection its handler throws on", async () => {
  const health = new AcceptHealth();
  const { log, lines } = jsonLogger();
  const c = conn();
  await acceptEach(scripted([new Error("something odd"), c, new Pause(30)]), {
    health,
    log,
    stopping: () => false,
    onConnection: () => {
      throw new Error("cannot adopt");
    },
    sleep: () => Promise.resolve(),
    settleMs: 5,
  });
  assert.equal(health.errors, 1);
  assert.ok(c.closed);
  assert.deepEqual(lines.map((l) => l.msg), [
    "accept failed with an unexpected error; retrying",
    "cannot take an accepted connection; closed it",
    "accepting connections again",
  ]);
});
