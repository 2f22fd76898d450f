// The supervisor with real processes (small sh scripts). Every wait is for a
// condition, bounded; every test stops what it started, also when it fails.
import assert from "node:assert/strict";
import { parseConfigText } from "../config/mod.ts";
import { Logger } from "../log/logger.ts";
import { ServiceStartError, type ServiceStatus, Supervisor } from "./supervisor.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** A supervisor over `services:` given as YAML, logging into a temporary directory. */
async function withSupervisor(
  yaml: string,
  body: (s: Supervisor, ctx: { dir: string; echoed: string[]; logged: string[] }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "torq_supervisor_test_" });
  const config = parseConfigText(yaml, "torq.yaml");
  const echoed: string[] = [];
  const logged: string[] = [];
  const supervisor = new Supervisor(config.services, {
    logDir: dir,
    torqCommand: [Deno.execPath()],
    cwd: dir,
    env: { TORQ_SOCKET_DIR: dir },
    echo: (name, line) => echoed.push(`[${name}] ${line}`),
    logger: new Logger({ format: "json", sink: (l) => logged.push(l) }),
  });
  try {
    await body(supervisor, { dir, echoed, logged });
  } finally {
    await supervisor.stop();
    supervisor.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function status(s: Supervisor, name: string): ServiceStatus {
  return s.status().find((x) => x.name === name)!;
}

function logText(dir: string, name: string): string {
  return Deno.readTextFileSync(`${dir}/${name}.log`);
}

Deno.test("Supervisor starts services dependencies first, with their environment and output captured", async () => {
  const yaml = `services:
  strategy:
    command: sh
    args: [-c, 'echo "strategy in $TORQ_SOCKET_DIR as $TORQ_SERVICE, venue $VENUE"; exec sleep 60']
    environment: {VENUE: kraken}
    after: [feed, signal]
  feed:
    command: sh
    args: [-c, 'echo feed up; echo oops >&2; exec sleep 60']
    after: [market_data]
  off:
    command: sh
    enabled: false
`;
  await withSupervisor(yaml, async (s, { dir, echoed, logged }) => {
    assert.deepEqual(s.names, ["feed", "strategy"], "dependencies first; disabled left out");
    await s.start();
    await waitFor("both services' output", () => echoed.length >= 3);
    assert.deepEqual(
      logged.map((l) => JSON.parse(l)).filter((l) => l.msg === "service started").map((l) =>
        l.service
      ),
      ["feed", "strategy"],
    );
    assert.ok(echoed.includes(`[strategy] strategy in ${dir} as strategy, venue kraken`));
    assert.ok(echoed.includes("[feed] feed up") && echoed.includes("[feed] oops"));
    const feedLog = logText(dir, "feed");
    assert.match(
      feedLog,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z torq up: started, pid \d+: sh -c /m,
    );
    assert.match(feedLog, /^\d{4}-\d\d-\d\dT[\d:.]+Z feed up$/m);
    assert.match(feedLog, /^\d{4}-\d\d-\d\dT[\d:.]+Z oops$/m);
    for (const st of s.status()) {
      assert.equal(st.state, "running", st.name);
      assert.ok(st.pid !== null && alive(st.pid));
      assert.equal(st.restarts, 0);
    }
    const stopped = await s.stop();
    assert.deepEqual(stopped.map((x) => [x.name, x.how]), [
      ["strategy", "stopped"],
      ["feed", "stopped"],
    ]);
    assert.deepEqual(s.status().map((x) => [x.state, x.pid]), [["stopped", null], [
      "stopped",
      null,
    ]]);
  });
});

Deno.test("Supervisor restarts a crashing service with doubling delays and fails it at the start limit", async () => {
  const yaml = `services:
  crasher:
    command: sh
    args: [-c, 'echo crash; exit 3']
    restart_delay_ms: 50
    restart_max_delay_ms: 1000
    start_limit_burst: 4
    start_limit_interval_ms: 60000
`;
  await withSupervisor(yaml, async (s, { dir }) => {
    await s.start();
    const failed = await waitFor("the start limit", () => {
      const st = status(s, "crasher");
      return st.state === "failed" ? st : undefined;
    });
    assert.equal(failed.restarts, 3);
    assert.equal(failed.pid, null);
    assert.equal(failed.lastExit?.code, 3);
    assert.equal(failed.reason, "start limit hit: 4 starts within 60 s, last status 3");
    const log = logText(dir, "crasher");
    assert.equal(log.match(/Z crash$/gm)?.length, 4);
    const delays = [...log.matchAll(/restarting in (\d+ ms)/g)].map((m) => m[1]);
    assert.deepEqual(delays, ["50 ms", "100 ms", "200 ms"]);
    assert.match(log, /torq up: failed: exited with status 3 after .*start limit hit/);
  });
});

Deno.test("Supervisor: restart policies always, on-failure and never", async () => {
  const yaml = `services:
  done:
    command: sh
    args: [-c, 'exit 0']
  broken:
    command: sh
    args: [-c, 'exit 2']
    restart: never
  looper:
    command: sh
    args: [-c, 'echo run; exit 0']
    restart: always
    restart_delay_ms: 20
    start_limit_burst: 0
`;
  await withSupervisor(yaml, async (s) => {
    await s.start();
    await waitFor(
      "done and broken to end",
      () => status(s, "done").state === "exited" && status(s, "broken").state === "failed",
    );
    assert.equal(status(s, "done").reason, "exited with status 0");
    assert.equal(status(s, "broken").reason, "exited with status 2");
    await waitFor("looper's restarts", () => status(s, "looper").restarts >= 3);
  });
});

Deno.test("Supervisor stops with the stop signal, then SIGKILL after the grace period", async () => {
  const yaml = `services:
  polite:
    command: sh
    args: [-c, 'trap "echo bye; exit 0" USR1; echo ready; while :; do sleep 0.05; done']
    stop_signal: SIGUSR1
  stubborn:
    command: sh
    args: [-c, 'trap "" TERM; echo ready; while :; do sleep 0.05; done']
    stop_timeout_ms: 300
`;
  await withSupervisor(yaml, async (s, { echoed }) => {
    await s.start();
    await waitFor("both ready", () => echoed.filter((l) => l.endsWith(" ready")).length === 2);
    const [stubborn, polite] = await s.stop();
    assert.equal(stubborn?.name, "stubborn");
    assert.equal(stubborn?.how, "killed");
    assert.deepEqual(stubborn?.exit, { code: 137, signal: "SIGKILL" });
    assert.equal(polite?.how, "stopped");
    assert.equal(polite?.signal, "SIGUSR1");
    assert.deepEqual(polite?.exit, { code: 0, signal: null });
    assert.ok(echoed.includes("[polite] bye"));
  });
});

Deno.test("Supervisor kills what a service left in its process group", async () => {
  const yaml = `services:
  parent:
    command: sh
    args: [-c, 'sleep 300 & echo "child $!"; wait']
`;
  await withSupervisor(yaml, async (s, { echoed }) => {
    await s.start();
    const line = await waitFor("the child's pid", () => echoed.find((l) => l.includes("child")));
    const child = Number(line.split(" ").at(-1));
    assert.ok(alive(child));
    await s.stop();
    await waitFor("the child to be gone", () => !alive(child));
  });
});

Deno.test("Supervisor.restart() replaces one service's process and leaves the others alone", async () => {
  const yaml = `services:
  a:
    command: sleep
    args: [60]
  b:
    command: sleep
    args: [60]
`;
  await withSupervisor(yaml, async (s) => {
    await s.start();
    const before = s.status();
    const stopped = await s.restart("b");
    assert.equal(stopped.pid, before[1]!.pid);
    const after = s.status();
    assert.equal(after[0]!.pid, before[0]!.pid, "a keeps its process");
    assert.notEqual(after[1]!.pid, before[1]!.pid, "b has a new one");
    assert.equal(after[1]!.state, "running");
    assert.equal(after[1]!.restarts, 1);
    assert.ok(!alive(before[1]!.pid!));
    assert.equal(s.has("c"), false);
    await assert.rejects(
      () => s.restart("c"),
      /Cannot find service "c": the services are "a", "b"/,
    );
  });
});

Deno.test("Supervisor.start() names a service that cannot start and stops those started", async () => {
  const yaml = `services:
  first:
    command: sleep
    args: [60]
  missing:
    command: /nonexistent/collector
    after: [first]
  nowhere:
    command: sleep
    working_dir: /nonexistent
`;
  await withSupervisor(yaml, async (s, { dir }) => {
    const error = await s.start().then(() => null, (e) => e);
    assert.ok(error instanceof ServiceStartError);
    assert.equal(error.service, "missing");
    assert.equal(
      error.message,
      'Cannot start service "missing": command "/nonexistent/collector" not found',
    );
    assert.equal(status(s, "first").state, "stopped", "the started service was stopped");
    assert.match(logText(dir, "missing"), /torq up: Cannot start service "missing"/);
  });
  await withSupervisor(
    "services:\n  nowhere:\n    command: sleep\n    working_dir: /nonexistent\n",
    async (s) => {
      await assert.rejects(
        () => s.start(),
        /Cannot start service "nowhere": working directory "\/nonexistent" is not a directory/,
      );
    },
  );
});
