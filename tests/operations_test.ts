/**
 * Operations, with real processes: `torq status` against down, stale and
 * running relays (with and without the HTTP API), SIGHUP reloading a running
 * `torq relay` without dropping its connections, and the deployment files
 * (`systemd-analyze verify` of deploy/torq.service, the production
 * configuration they rely on).
 */

import assert from "node:assert/strict";
import { MessageBuilder } from "../src/protocol/builder.ts";
import {
  assertAllClosed,
  close,
  connect,
  type LogLine,
  readFrames,
  ROOT,
  runTorq,
  send,
  startRelay,
  TORQ_RUN,
} from "./_support/relay.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Unix socket file nobody listens on: its process exited without removing it. */
async function staleSocket(path: string): Promise<void> {
  const script = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script] }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.ok(Deno.lstatSync(path).isSocket, "the socket file was left behind");
}

interface StatusJson {
  ok: boolean;
  relays: {
    name: string;
    socket: string;
    state: string;
    reason?: string;
    uptime_ms?: number;
    connections?: number;
    rates?: Record<string, number>;
  }[];
  http?: { url: string; state: string; error?: string };
}

Deno.test("torq status: down, stale socket and running relays; exit 1 unless all run", async () => {
  const relay = await startRelay("signal");
  const dir = relay.dir;
  try {
    // The signal relay of the test runs at <dir>/x.sock; point the config's signal path there.
    await staleSocket(`${dir}/market_data.sock`);
    const args = [
      "status",
      "--set",
      `socket_dir=${dir}`,
      "--set",
      `relays.signal.transport.path=${relay.path}`,
      "--http",
      "none",
    ];
    const text = await runTorq(args);
    assert.equal(text.code, 1, text.stderr);
    const lines = text.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^RELAY +STATE +SOCKET +UPTIME +CONNS +MSGS IN\/S +OUT\/S +DROPS\/S$/);
    assert.match(lines[1]!, new RegExp(`^market_data +stale socket +${dir}/market_data\\.sock +-`));
    assert.match(lines[2]!, new RegExp(`^signal +running +${relay.path} +-`));
    assert.match(lines[3]!, new RegExp(`^execution +down +${dir}/execution\\.sock +-`));
    assert.ok(
      lines.includes("market_data: stale socket (socket file left behind: connection refused)"),
    );
    assert.ok(lines.includes("execution: down (no socket file)"));
    assert.equal(lines.at(-1), "2 of 3 relays not running");

    const json = await runTorq([...args, "--json"]);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as StatusJson;
    assert.equal(report.ok, false);
    assert.deepEqual(report.relays.map((r) => [r.name, r.state]), [
      ["market_data", "stale"],
      ["signal", "running"],
      ["execution", "down"],
    ]);
    assert.equal(report.http, undefined, "--http none skips the API");
    assert.ok(relay.exited() === false, "probing did not disturb the relay");
  } finally {
    await relay.stop();
  }
});

Deno.test("torq status: every relay of 'torq up' running, with uptime, connections and rates from the HTTP API", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_status_test_" });
  const up = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, "up", "--socket-dir", dir, "--http", "127.0.0.1:0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = up.stderr.pipeTo(new WritableStream()).catch(() => {});
  let stdout = "";
  const reading = (async () => {
    for await (const t of up.stdout.pipeThrough(new TextDecoderStream())) stdout += t;
  })();
  try {
    const deadline = Date.now() + 20_000;
    while (!/dashboard: http:\/\/127\.0\.0\.1:\d+/.test(stdout) && Date.now() < deadline) {
      await delay(20);
    }
    const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    assert.ok(url !== undefined, `torq up did not start within 20 s: ${stdout}`);
    const client = await connect(`${dir}/signals.sock`);
    try {
      const r = await runTorq(["status", "--set", `socket_dir=${dir}`, "--http", url, "--json"]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(r.stdout) as StatusJson;
      assert.equal(report.ok, true);
      assert.deepEqual(report.http, { url, state: "ok" });
      for (const relay of report.relays) {
        assert.equal(relay.state, "running", relay.name);
        assert.equal(typeof relay.uptime_ms, "number");
        assert.ok(relay.uptime_ms! >= 0);
        assert.deepEqual(Object.keys(relay.rates ?? {}).sort(), [
          "bytes_in_per_sec",
          "drops_per_sec",
          "msgs_in_per_sec",
          "msgs_out_per_sec",
        ]);
      }
      const signal = report.relays.find((x) => x.name === "signal")!;
      assert.ok(signal.connections! >= 1, "the open client counts");

      const text = await runTorq(["status", "--set", `socket_dir=${dir}`, "--http", url]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^signal +running +\S+signals\.sock +\d+(s|m\d\ds) +\d+ /m);
      assert.match(text.stdout, /all 3 relays running\n$/);
    } finally {
      await close(client);
    }
  } finally {
    up.kill("SIGTERM");
    const status = await up.status;
    await reading;
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert.equal(status.code, 0);
  }
  await assertAllClosed();
});

Deno.test("torq relay: SIGHUP reloads limits and log level, keeps connections, survives a bad config", async () => {
  const work = await Deno.makeTempDir({ prefix: "torq_reload_test_" });
  const file = `${work}/torq.yaml`;
  const config = (maxMessageSize: number, level: string) =>
    `logging:\n  level: ${level}\nrelays:\n  signal:\n    validation:\n      max_message_size: ${maxMessageSize}\n`;
  await Deno.writeTextFile(file, config(4096, "info"));
  const relay = await startRelay("signal", { args: ["--config", file] });
  try {
    const consumer = await connect(relay.path);
    const producer = await connect(relay.path);
    const b = new MessageBuilder({ domain: 2, source: 20 });
    const frame = (valueBytes: number) => b.begin().addTlv(202, new Uint8Array(valueBytes)).build();
    // Under the first limit a 2 KB frame passes.
    await send(producer, frame(2000));
    assert.equal((await readFrames(consumer, 1))[0]!.length, 32 + 5 + 2000);

    await Deno.writeTextFile(file, config(1024, "debug"));
    let from = relay.logs().length;
    relay.child.kill("SIGHUP");
    const changed = await relay.waitForLog(
      (l) => l.msg === "reloaded" && String(l.changes).includes("maxMessageSize"),
      10_000,
      from,
    );
    assert.equal(changed.changes, "maxMessageSize: 4096 → 1024");
    const level = await relay.waitForLog(
      (l) => l.msg === "reloaded" && String(l.changes).startsWith("logging.level"),
      10_000,
      from,
    );
    assert.equal(level.changes, "logging.level: info → debug");
    await relay.waitForLog((l) => l.msg === "configuration reloaded", 10_000, from);

    // The same connections: the 2 KB frame is now dropped (PayloadTooLarge: skipped while
    // re-framing), the small one sent after it is the next to arrive.
    await send(producer, frame(2000), frame(100));
    const [small] = await readFrames(consumer, 1);
    assert.equal(small!.length, 32 + 2 + 100);

    // A configuration that does not load is logged, and the running one is kept.
    await Deno.writeTextFile(file, config(1024, "loud"));
    from = relay.logs().length;
    relay.child.kill("SIGHUP");
    const failed = await relay.waitForLog((l) => l.level === "error", 10_000, from);
    assert.equal(failed.msg, "reload failed: keeping the running configuration");
    assert.match(String(failed.error), /logging\.level: expected one of .*"loud"/);
    await send(producer, frame(900));
    assert.equal((await readFrames(consumer, 1))[0]!.length, 32 + 5 + 900);
    assert.equal(relay.exited(), false);

    await close(consumer, producer);
    const result = await relay.stop();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      !relay.logs().some((l) => l.msg === "connection closed" && l.level === "warn"),
      "no connection was dropped",
    );
  } finally {
    await relay.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  await assertAllClosed();
});

Deno.test("torq relay: SIGHUP compares with the applied configuration, not the last file read", async () => {
  const work = await Deno.makeTempDir({ prefix: "torq_reload_test_" });
  const file = `${work}/torq.yaml`;
  const config = (path: string, queue: number) =>
    `relays:\n  signal:\n    transport:\n      path: ${path}\n    performance:\n      max_queue_frames: ${queue}\n`;
  await Deno.writeTextFile(file, config(`${work}/a.sock`, 1000));
  const relay = await startRelay("signal", { args: ["--config", file] });
  /** Sends SIGHUP and returns the log lines of that reload. */
  const reload = async () => {
    const from = relay.logs().length;
    relay.child.kill("SIGHUP");
    await relay.waitForLog((l) => l.msg === "configuration reloaded", 10_000, from);
    return relay.logs().slice(from);
  };
  const restartWarnings = (lines: LogLine[]) =>
    lines.filter((l) => l.msg === "reload: these changes need a restart").map((l) => l.keys);
  try {
    // A new socket path cannot be applied: said once per reload while it differs...
    await Deno.writeTextFile(file, config(`${work}/b.sock`, 2000));
    const first = await reload();
    assert.deepEqual(restartWarnings(first), ["transport.path"]);
    assert.ok(
      first.some((l) => l.msg === "reloaded" && l.changes === "maxQueueFrames: 1000 → 2000"),
    );
    assert.deepEqual(restartWarnings(await reload()), ["transport.path"], "still not applied");
    // ...and nothing once the file is back to what runs.
    await Deno.writeTextFile(file, config(`${work}/a.sock`, 2000));
    const back = await reload();
    assert.deepEqual(restartWarnings(back), []);
    assert.ok(!back.some((l) => l.msg === "reloaded"), "nothing else changed");
    const result = await relay.stop();
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await relay.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
});

Deno.test("deploy/torq.service passes systemd-analyze verify", async (t) => {
  const unit = await Deno.readTextFile(`${ROOT}deploy/torq.service`);
  const which = await new Deno.Command("sh", { args: ["-c", "command -v systemd-analyze"] })
    .output();
  if (!which.success) {
    console.log("SKIPPED: systemd-analyze is not installed (Debian package systemd)");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "torq_unit_test_" });
  try {
    // verify checks that ExecStart's program exists: stand in for the installed binary.
    const copy = `${dir}/torq.service`;
    await Deno.writeTextFile(copy, unit.replaceAll("/usr/local/bin/torq", "/bin/true"));
    await t.step("verify: no errors, no warnings", async () => {
      const out = await new Deno.Command("systemd-analyze", { args: ["verify", copy] }).output();
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      if (/Failed to (connect|initialize)|not been booted with systemd/i.test(text)) {
        console.log(`SKIPPED: systemd-analyze cannot run here: ${text.trim().split("\n")[0]}`);
        return;
      }
      assert.equal(out.code, 0, text);
      assert.equal(text.trim(), "", "systemd-analyze printed warnings");
    });
    await t.step("a misspelt key is caught (the check works)", async () => {
      const bad = `${dir}/bad.service`;
      await Deno.writeTextFile(bad, unit.replace("NoNewPrivileges=", "NoNewPrivilege="));
      const out = await new Deno.Command("systemd-analyze", { args: ["verify", bad] }).output();
      assert.match(new TextDecoder().decode(out.stderr), /Unknown key 'NoNewPrivilege'/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy files agree with the production configuration, which loads and validates", async () => {
  const unit = await Deno.readTextFile(`${ROOT}deploy/torq.service`);
  const containerfile = await Deno.readTextFile(`${ROOT}deploy/Containerfile`);
  const check = await runTorq(["config", "check", "--env", "production"]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^socket_dir: \/run\/torq$/m);
  // The unit creates /run/torq (RuntimeDirectory=torq), runs as torq, starts production.
  for (
    const line of [
      "User=torq",
      "RuntimeDirectory=torq",
      "ExecStart=/usr/local/bin/torq up --env production --journal /var/lib/torq/execution.journal",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "Restart=on-failure",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
    ]
  ) assert.ok(unit.split("\n").includes(line), `deploy/torq.service lacks ${line}`);
  assert.match(unit, /^ReadWritePaths=.*\/var\/lib\/torq/m);
  assert.match(unit, /^LimitNOFILE=\d+$/m);
  assert.match(containerfile, /^COPY --chmod=0755 torq \/usr\/local\/bin\/torq$/m);
  assert.match(containerfile, /install -d -o torq -g torq -m 0750 \/run\/torq \/var\/lib\/torq/);
  assert.match(
    containerfile,
    /^CMD \["up", "--env", "production", "--journal", "\/var\/lib\/torq\/execution\.journal"\]$/m,
  );
});
