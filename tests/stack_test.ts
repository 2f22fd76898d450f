/**
 * Operating a whole stack with real processes, as the design documents'
 * quick start does with manage.sh: `torq up -d` with services, `torq status`,
 * `torq logs [-f]`, `torq restart`, `torq down`, a foreground `torq up` as the
 * systemd unit runs it, and the configuration check of `services:`.
 *
 * Every stack runs in a temporary socket directory with the HTTP API on port
 * 0, and is stopped (by force if need be: torq up, its services' process
 * groups) and removed at the end of its test, also when the test fails.
 */

import assert from "node:assert/strict";
import { ROOT, runTorq, TORQ_RUN } from "./_support/relay.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether a process runs (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** Every process whose environment names this socket directory (services, whatever they started). */
function processesOf(dir: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
      if (env.includes(`TORQ_SOCKET_DIR=${dir}`)) out.push(Number(e.name));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await delay(100);
  }
}

interface ServiceJson {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
  last_exit: { code: number; signal: string | null; at: string } | null;
  reason: string | null;
  command: string;
  log: string;
}

interface StatusJson {
  ok: boolean;
  relays: { name: string; socket: string; state: string }[];
  up?: { pid: number; phase: string; detached: boolean; dir: string };
  services?: ServiceJson[];
}

/** A stack directory with a configuration file; `close()` stops whatever runs there. */
interface StackDir {
  dir: string;
  config: string;
  torq(args: string[], timeoutMs?: number): ReturnType<typeof runTorq>;
  status(): Promise<StatusJson>;
  service(name: string): Promise<ServiceJson>;
  close(): Promise<void>;
}

async function stackDir(yaml: string): Promise<StackDir> {
  const dir = await Deno.makeTempDir({ prefix: "torq_stack_test_" });
  const config = `${dir}/stack.yaml`;
  await Deno.writeTextFile(config, yaml);
  const withDir = (args: string[]) => [...args, "--socket-dir", dir];
  const torq = (args: string[], timeoutMs = 60_000) => runTorq(withDir(args), timeoutMs);
  const status = async () => {
    const r = await torq(["status", "--json", "--config", config]);
    return JSON.parse(r.stdout) as StatusJson;
  };
  const seen = new Set<number>();
  const remember = (s: StatusJson) => {
    if (s.up !== undefined) seen.add(s.up.pid);
    for (const x of s.services ?? []) if (x.pid !== null) seen.add(x.pid);
    return s;
  };
  return {
    dir,
    config,
    torq,
    status: async () => remember(await status()),
    service: async (name) => {
      const s = remember(await status());
      const found = s.services?.find((x) => x.name === name);
      assert.ok(found !== undefined, `service ${name} in ${JSON.stringify(s)}`);
      return found;
    },
    close: async () => {
      try {
        await torq(["down", "--timeout", "20"], 60_000);
      } finally {
        let pid: number | null = null;
        try {
          pid = Number(Deno.readTextFileSync(`${dir}/up.pid`).trim()) || null;
        } catch {
          // none
        }
        for (const p of [...seen, ...(pid === null ? [] : [pid]), ...processesOf(dir)]) {
          try {
            Deno.kill(-p, "SIGKILL");
          } catch {
            // not a group leader, or gone
          }
          try {
            Deno.kill(p, "SIGKILL");
          } catch {
            // gone
          }
        }
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

const SERVICES = `services:
  ticker:
    command: sh
    args: [-c, 'echo "ticker up in $TORQ_SOCKET_DIR"; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done']
    after: [market_data]
  watcher:
    command: sh
    args: [-c, 'echo watching; exec sleep 600']
    after: [ticker, execution]
`;

Deno.test("torq up -d: status shows relays and services, restart NAME changes only that pid, down leaves nothing", async () => {
  const s = await stackDir(SERVICES);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    assert.match(
      up.stdout,
      /^torq up: running in the background \(pid \d+\), 3 relays, 2 services$/m,
    );
    assert.match(up.stdout, /^ {2}ticker +pid \d+ +sh -c /m);
    assert.match(up.stdout, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);

    const status = await s.status();
    assert.equal(status.ok, true, JSON.stringify(status));
    assert.deepEqual(status.relays.map((r) => [r.name, r.state]), [
      ["market_data", "running"],
      ["signal", "running"],
      ["execution", "running"],
    ]);
    assert.equal(status.up?.detached, true);
    assert.equal(status.up?.phase, "running");
    assert.deepEqual(status.services?.map((x) => [x.name, x.state, x.restarts]), [
      ["ticker", "running", 0],
      ["watcher", "running", 0],
    ]);
    const upPid = status.up!.pid;
    const [ticker, watcher] = status.services!;
    assert.ok(alive(upPid) && alive(ticker!.pid!) && alive(watcher!.pid!));

    const text = await s.torq(["status", "--config", s.config]);
    assert.equal(text.code, 0, text.stderr + text.stdout);
    assert.match(text.stdout, /^SERVICE +STATE +PID +UPTIME +RESTARTS +LAST EXIT$/m);
    assert.match(text.stdout, new RegExp(`^ticker +running +${ticker!.pid} +\\d+s +0 +-$`, "m"));
    assert.match(text.stdout, /^2 of 2 services running \(torq up pid \d+, in the background\)$/m);

    const restart = await s.torq(["restart", "ticker"]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /^restarted ticker \(pid \d+\)$/m);
    const after = await s.status();
    const [ticker2, watcher2] = after.services!;
    assert.notEqual(ticker2!.pid, ticker!.pid, "ticker has a new process");
    assert.equal(ticker2!.restarts, 1);
    assert.equal(watcher2!.pid, watcher!.pid, "watcher was not touched");
    assert.equal(after.up!.pid, upPid, "torq up itself was not touched");
    assert.ok(!alive(ticker!.pid!), "the old ticker is gone");

    const unknown = await s.torq(["restart", "nope"]);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr.trim(),
      'torq restart: Cannot restart "nope": no such relay or service (market_data, signal, execution, ticker, watcher)',
    );

    const down = await s.torq(["down"]);
    assert.equal(down.code, 0, down.stderr + down.stdout);
    assert.deepEqual(
      down.stdout.trim().split("\n").map((l) => l.replace(/\(pid \d+.*\)$/, "(…)")),
      [
        "stopped watcher (…)",
        "stopped ticker (…)",
        "stopped relay market_data",
        "stopped relay signal",
        "stopped relay execution",
        "stopped torq up (…)",
      ],
    );
    for (const pid of [upPid, ticker2!.pid!, watcher2!.pid!]) {
      assert.ok(!alive(pid), `process ${pid} is gone`);
    }
    const left = [...Deno.readDirSync(s.dir)].map((e) => e.name).sort();
    assert.deepEqual(left, [
      "execution.journal",
      "stack.yaml",
      "ticker.log",
      "up.log",
      "watcher.log",
    ], "no socket, no pid file left");
    const again = await s.torq(["down"]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.trim(), `torq down: no torq up is running in ${s.dir}`);
  } finally {
    await s.close();
  }
});

Deno.test("torq up -d: a second one refuses with one line; a stack that cannot start says why", async () => {
  const s = await stackDir(SERVICES);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const pid = (await s.status()).up!.pid;
    const second = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr.trim(),
      `torq up: already running in ${s.dir} (pid ${pid}); stop it with 'torq down'`,
    );
    const foreground = await s.torq(["up", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(foreground.code, 1);
    assert.equal(foreground.stderr.trim(), second.stderr.trim(), "the foreground refuses alike");
    assert.ok(alive(pid), "the running stack was not disturbed");
  } finally {
    await s.close();
  }

  const broken = await stackDir(`services:
  first:
    command: sleep
    args: [600]
  collector:
    command: /nonexistent/collector
    after: [first]
`);
  try {
    const up = await broken.torq(["up", "-d", "--config", broken.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 1, up.stdout);
    assert.equal(
      up.stderr.trim(),
      'torq up: Cannot start service "collector": command "/nonexistent/collector" not found',
    );
    const left = [...Deno.readDirSync(broken.dir)].map((e) => e.name);
    assert.ok(
      !left.some((n) => n.endsWith(".sock") || n === "up.pid" || n === "up.ctl"),
      `${left}`,
    );
    const log = Deno.readTextFileSync(`${broken.dir}/first.log`);
    const first = Number(/started, pid (\d+)/.exec(log)?.[1]);
    assert.ok(first > 0 && !alive(first), "the service started before it was stopped again");
  } finally {
    await broken.close();
  }
});

Deno.test("torq up -d: a crashing service is restarted with backoff and failed at the burst limit", async () => {
  const s = await stackDir(`services:
  crasher:
    command: sh
    args: [-c, 'echo "crash at $(date +%s%N)"; exit 3']
    restart_delay_ms: 100
    restart_max_delay_ms: 5000
    start_limit_burst: 4
    start_limit_interval_ms: 60000
  steady:
    command: sleep
    args: [600]
`);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const failed = await waitFor("the crasher to fail", async () => {
      const c = await s.service("crasher");
      return c.state === "failed" ? c : undefined;
    });
    assert.equal(failed.restarts, 3);
    assert.equal(failed.pid, null);
    assert.equal(failed.last_exit?.code, 3);
    assert.equal(failed.reason, "start limit hit: 4 starts within 60 s, last status 3");
    const log = Deno.readTextFileSync(`${s.dir}/crasher.log`);
    assert.deepEqual([...log.matchAll(/restarting in (\d+ ms)/g)].map((m) => m[1]), [
      "100 ms",
      "200 ms",
      "400 ms",
    ]);
    // The starts are at least the backoff apart (measured by the service itself).
    const starts = [...log.matchAll(/crash at (\d+)/g)].map((m) =>
      Number(BigInt(m[1]!) / 1_000_000n)
    );
    assert.equal(starts.length, 4);
    [100, 200, 400].forEach((ms, i) => {
      assert.ok(starts[i + 1]! - starts[i]! >= ms, `start ${i + 2} came ${ms} ms or more later`);
    });
    assert.equal((await s.service("steady")).state, "running", "the other service runs on");

    const status = await s.torq(["status", "--config", s.config]);
    assert.equal(status.code, 1, "a failed service makes status exit 1");
    assert.match(status.stdout, /^crasher +failed +- +- +3 +status 3, \d+s ago$/m);
    assert.match(status.stdout, /^crasher: start limit hit: 4 starts within 60 s, last status 3$/m);
    assert.match(status.stdout, /^1 of 2 services running, 1 failed /m);

    // The dashboard's API and /metrics show the same.
    const url = JSON.parse((await s.torq(["status", "--json", "--config", s.config])).stdout);
    const base = /^dashboard: (\S+)$/m.exec(up.stdout)![1]!;
    const api = await (await fetch(`${base}api/services`)).json();
    assert.deepEqual(
      api.services.map((x: ServiceJson) => [x.name, x.state, x.restarts]),
      [["crasher", "failed", 3], ["steady", "running", 0]],
    );
    const metrics = await (await fetch(`${base}metrics`)).text();
    assert.match(metrics, /^torq_service_restarts_total\{service="crasher"\} 3$/m);
    assert.match(metrics, /^torq_service_failed\{service="crasher"\} 1$/m);
    assert.match(metrics, /^torq_service_up\{service="steady"\} 1$/m);
    assert.equal(url.ok, false);

    // restart NAME runs a failed service again, its counters reset.
    const restart = await s.torq(["restart", "crasher"]);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor("the crasher to fail again", async () => {
      const c = await s.service("crasher");
      return c.state === "failed" && c.restarts === 7 ? c : undefined;
    });
  } finally {
    await s.close();
  }
});

Deno.test("torq logs: last lines merged by time, -n, --since, and -f shows lines written later", async () => {
  const s = await stackDir(SERVICES);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    await waitFor(
      "a few ticks",
      async () => (await s.torq(["logs", "ticker", "-n", "all"])).stdout.includes("tick 3"),
    );

    const all = await s.torq(["logs", "-n", "3"]);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split("\n");
    assert.deepEqual([...new Set(lines.map((l) => /^\[(\w+)\]/.exec(l)?.[1]))].sort(), [
      "ticker",
      "up",
      "watcher",
    ]);
    const times = lines.map((l) => Date.parse(/\] +(\S+)/.exec(l)![1]!));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), "merged by time");

    const one = await s.torq(["logs", "watcher", "-n", "all"]);
    assert.match(one.stdout, /^\S+Z torq up: started, pid \d+: sh -c /m);
    assert.match(one.stdout, /^\S+Z watching$/m, "a single log has no prefix");
    const relay = await s.torq(["logs", "signal"]);
    assert.match(relay.stdout, /^\S+Z INFO {2}\[signal\] listening address=/m);
    assert.doesNotMatch(relay.stdout, /\[market_data\]/);
    const future = await s.torq([
      "logs",
      "ticker",
      "--since",
      new Date(Date.now() + 60_000).toISOString(),
    ]);
    assert.equal(future.stdout, "");
    const bad = await s.torq(["logs", "nope"]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim(),
      `torq logs: Cannot find log "nope": the logs are up, ticker, watcher (in ${s.dir})`,
    );

    // -f: print what the ticker writes from now on.
    const start = Date.now();
    const follow = new Deno.Command(Deno.execPath(), {
      args: [...TORQ_RUN, "logs", "ticker", "-f", "-n", "0", "--socket-dir", s.dir],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let out = "";
    const reading = (async () => {
      for await (const t of follow.stdout.pipeThrough(new TextDecoderStream())) out += t;
    })();
    try {
      await waitFor("followed ticks", () => Promise.resolve(out.match(/tick \d+/g)?.length! >= 3));
    } finally {
      follow.kill("SIGINT");
      await follow.status;
      await reading;
    }
    const followed = out.trimEnd().split("\n");
    for (const line of followed) {
      assert.match(line, /^\S+Z tick \d+$/);
      assert.ok(
        Date.parse(line.split(" ")[0]!) >= start - 1000,
        `${line} was written after -f started`,
      );
    }
    const ticks = followed.map((l) => Number(l.split(" ").at(-1)));
    assert.deepEqual(
      ticks,
      ticks.map((_, i) => ticks[0]! + i),
      "consecutive, none lost or doubled",
    );
  } finally {
    await s.close();
  }
});

Deno.test("torq restart RELAY restarts one relay on its socket and leaves the services alone", async () => {
  const s = await stackDir(SERVICES);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const before = await s.status();
    const r = await s.torq(["restart", "signal"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "restarted relay signal");
    const after = await s.status();
    assert.equal(after.ok, true);
    assert.deepEqual(after.services!.map((x) => x.pid), before.services!.map((x) => x.pid));
    const conn = await Deno.connect({ transport: "unix", path: `${s.dir}/signals.sock` });
    conn.close();
    const log = await s.torq(["logs", "signal", "-n", "all"]);
    assert.match(log.stdout, /\[signal\] stopped/);
    assert.match(log.stdout, /\[signal\] restarted/);
  } finally {
    await s.close();
  }
});

Deno.test("torq up in the foreground (as the systemd unit runs it): [name] lines, SIGTERM stops services first", async () => {
  const s = await stackDir(SERVICES);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...TORQ_RUN,
      "up",
      "--config",
      s.config,
      "--socket-dir",
      s.dir,
      "--http",
      "127.0.0.1:0",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const reading = Promise.all([
    (async () => {
      for await (const t of child.stdout.pipeThrough(new TextDecoderStream())) out += t;
    })(),
    (async () => {
      for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) err += t;
    })(),
  ]);
  let code: number | null = null;
  try {
    await waitFor(
      "ticks on the terminal",
      () => Promise.resolve(/^\[ticker\] +tick 2$/m.test(out)),
    );
    assert.match(out, /^services: ticker \(pid \d+\), watcher \(pid \d+\)$/m);
    assert.match(out, new RegExp(`^\\[ticker\\]  ticker up in ${s.dir}$`, "m"));
    assert.match(out, /^\[watcher\] watching$/m);
    const pids = (await s.status()).services!.map((x) => x.pid!);
    child.kill("SIGTERM");
    code = (await child.status).code;
    await reading;
    assert.equal(code, 0, err);
    for (const pid of pids) assert.ok(!alive(pid), `service ${pid} stopped`);
    const order = [...err.matchAll(/service stopped service=(\w+)|\[(\w+)\] stopped/g)].map((m) =>
      m[1] ?? m[2]
    );
    assert.deepEqual(order, ["watcher", "ticker", "market_data", "signal", "execution"]);
    const left = [...Deno.readDirSync(s.dir)].map((e) => e.name);
    assert.ok(!left.some((n) => n.endsWith(".sock") || n.startsWith("up.")), `${left}`);
  } finally {
    if (code === null) {
      child.kill("SIGTERM"); // lets it stop its services; SIGKILL would leave them running
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await child.status;
      clearTimeout(timer);
      await reading.catch(() => {});
    }
    await s.close();
  }
});

Deno.test("a bad services: entry is reported with its line by config check and by up", async () => {
  const s = await stackDir(`services:
  feed:
    command: torq
    after: [market_data, strategy]
  strategy:
    command: torq
    restart: sometimes
`);
  try {
    const check = await runTorq(["config", "check", s.config]);
    assert.equal(check.code, 1);
    assert.equal(
      check.stderr.trim(),
      `torq config check: Cannot load configuration: services.strategy.restart: expected one of "always", "on-failure" or "never", got "sometimes" (line 7 of ${s.config})`,
    );
    const up = await s.torq(["up", "-d", "--config", s.config]);
    assert.equal(up.code, 1);
    assert.match(up.stderr, /services\.strategy\.restart: .* \(line 7 of /);
    assert.deepEqual([...Deno.readDirSync(s.dir)].map((e) => e.name), ["stack.yaml"]);
  } finally {
    await s.close();
  }
});

Deno.test("config/examples/pipeline_stack.yaml: collectors, strategy, portfolio and orders as services", async () => {
  const s = await stackDir("");
  const example = `${ROOT}config/examples/pipeline_stack.yaml`;
  try {
    const up = await s.torq(["up", "-d", "--config", example, "--http", "127.0.0.1:0"], 120_000);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const status = await s.status();
    assert.deepEqual(status.services!.map((x) => [x.name, x.state]), [
      ["kraken_feed", "running"],
      ["coinbase_feed", "running"],
      ["strategy", "running"],
      ["portfolio", "running"],
      ["orders", "running"],
    ]);
    // Trades from both collectors become signals, signals become orders on the execution relay.
    const read = (name: string) => {
      try {
        return Deno.readTextFileSync(`${s.dir}/${name}.log`);
      } catch {
        return "";
      }
    };
    await waitFor("orders to reach the execution relay", () =>
      Promise.resolve(
        /🧾 order #\d+ buy .* on (Kraken|Coinbase)/.test(read("orders")) &&
          /🧾 order #\d+ sell /.test(read("orders")),
      ), 120_000);
    assert.match(read("kraken_feed"), /📈 trade Kraken BTC-USD/);
    assert.doesNotMatch(read("kraken_feed"), /📈 trade Coinbase/);
    assert.match(read("coinbase_feed"), /📈 trade Coinbase BTC-USD/);
    assert.match(read("strategy"), /📊 signal BTC-USD buy (Kraken|Coinbase) @ /);
    const down = await s.torq(["down"]);
    assert.equal(down.code, 0, down.stderr + down.stdout);
    assert.equal(down.stdout.split("\n").filter((l) => /^stopped \w+ \(pid/.test(l)).length, 5);
  } finally {
    await s.close();
  }
});

Deno.test("torq down after torq up was killed kills the services it left running and removes its sockets", async () => {
  // Quiet services: one that writes would die of SIGPIPE once torq up no longer reads its output.
  const s = await stackDir(`services:
  ticker:
    command: sleep
    args: [600]
  watcher:
    command: sh
    args: [-c, 'sleep 600 & wait']
`);
  try {
    const up = await s.torq(["up", "-d", "--config", s.config, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const status = await s.status();
    const [ticker, watcher] = status.services!.map((x) => x.pid!);
    Deno.kill(status.up!.pid, "SIGKILL");
    await waitFor("torq up to be gone", () => Promise.resolve(!alive(status.up!.pid)));
    assert.ok(alive(watcher!), "its services outlive it (they run in sessions of their own)");
    const down = await s.torq(["down"]);
    assert.equal(down.code, 1, "something had to be killed");
    const lines = down.stdout.trim().split("\n");
    assert.equal(lines[0], `torq down: no torq up is running in ${s.dir}`);
    assert.deepEqual(
      lines.slice(1).sort(),
      [
        `killed ticker (pid ${ticker}): left running by a torq up that is gone`,
        `killed watcher (pid ${watcher}): left running by a torq up that is gone`,
      ].sort(),
    );
    await waitFor(
      "the services to be gone",
      () => Promise.resolve(!alive(ticker!) && !alive(watcher!)),
    );
    const left = [...Deno.readDirSync(s.dir)].map((e) => e.name);
    assert.ok(
      !left.some((n) => n.endsWith(".sock") || n.startsWith("up.p") || n === "up.ctl"),
      `${left}`,
    );
  } finally {
    await s.close();
  }
});
