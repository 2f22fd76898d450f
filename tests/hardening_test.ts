/**
 * Hardening (issue 14): no outage from running out of file descriptors, idle
 * HTTP clients, signals at start-up or bad configuration files. Every test runs
 * the real `torq` CLI with real sockets and real HTTP.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connect,
  connectMany,
  makeFrames,
  PROFILES,
  readFrames,
  ROOT,
  runTorq,
  send,
  startRelay,
} from "./_support/relay.ts";

// =============================================================================================
// Configuration files: linear time, bounded output, bounded size.

Deno.test("torq relay --config: 1 MiB of unknown keys is reported in a few lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_hard_" });
  try {
    // About 88,000 unknown keys in just under 1 MiB: the old loader took minutes and printed
    // one line for each.
    const lines = ["logging:"];
    let size = 9;
    for (let i = 0; size + 20 < 1_048_576; i++) {
      const line = `  k${i}: 1`;
      lines.push(line);
      size += line.length + 1;
    }
    const file = `${dir}/many.yaml`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const r = await runTorq(
      ["relay", "signal", "--socket", `${dir}/s.sock`, "--config", file],
      60_000,
    );
    assert.equal(r.code, 1, r.stderr.slice(0, 2000));
    const out = r.stderr.trimEnd().split("\n");
    const problems = lines.length - 1;
    assert.equal(out[0], `torq relay: Cannot load configuration: ${problems} problems`);
    assert.equal(out.length, 22, "20 problems and a count of the rest");
    assert.equal(out[1], `  logging.k0: unknown key (line 2 of ${file})`);
    assert.equal(out[21], `  … and ${problems - 20} more`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq relay --config: a file over 1 MiB is refused with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_hard_" });
  try {
    const file = `${dir}/big.yaml`;
    // 10 MiB: the old loader ran out of its minute on this, holding hundreds of MB.
    await Deno.writeTextFile(file, "logging:\n" + "  k: 1\n".repeat(1_500_000));
    const size = (await Deno.stat(file)).size;
    for (const args of [["relay", "signal", "--socket", `${dir}/s.sock`], ["config", "check"]]) {
      const r = await runTorq([...args, "--config", file]);
      assert.equal(r.code, 1, r.stderr.slice(0, 2000));
      assert.equal(
        r.stderr,
        `torq ${
          args[0]
        }: Cannot load configuration: Cannot use file: it has ${size} bytes, more than ` +
          `the 1 MiB (1048576 bytes) a configuration or schema file may have (${file})\n`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// =============================================================================================
// Signals during the start-up.

/**
 * Spawns `torq <args>`, sends `signal` the moment a stderr line matches `ready`
 * and returns the exit status.
 */
async function signalWhenReady(
  args: string[],
  ready: RegExp,
  signal: Deno.Signal = "SIGTERM",
): Promise<{ code: number; signal: Deno.Signal | null; stderr: string; sawReady: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/main.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  let text = "";
  let sawReady = false;
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (!sawReady && ready.test(text)) {
      sawReady = true;
      child.kill(signal);
    }
  }
  const status = await child.status;
  clearTimeout(killer);
  return { code: status.code, signal: status.signal, stderr: text, sawReady };
}

Deno.test("torq relay: SIGTERM right after 'listening' exits 0 and removes the socket, every time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_hard_" });
  try {
    // The old relay installed its handler after the line: 1 run in 6 died of the signal (143).
    for (let i = 0; i < 20; i++) {
      const socket = `${dir}/s${i}.sock`;
      const r = await signalWhenReady(
        ["relay", "signal", "--socket", socket, "--log-format", "json"],
        /"msg":"listening"/,
      );
      assert.ok(r.sawReady, r.stderr);
      assert.equal(r.code, 0, `run ${i}: ${r.signal ?? ""} ${r.stderr}`);
      assert.throws(() => Deno.lstatSync(socket), Deno.errors.NotFound, `run ${i}: socket left`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq up: SIGTERM or SIGINT at the first 'listening' line stops all three relays cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_hard_" });
  try {
    for (let i = 0; i < 8; i++) {
      const sockets = `${dir}/up${i}`;
      const r = await signalWhenReady(
        ["up", "--socket-dir", sockets, "--http", "127.0.0.1:0", "--log-format", "json"],
        /"msg":"listening"/,
        i % 2 === 0 ? "SIGTERM" : "SIGINT",
      );
      assert.ok(r.sawReady, r.stderr);
      assert.equal(r.code, 0, `run ${i}: ${r.signal ?? ""} ${r.stderr}`);
      const left = [...Deno.readDirSync(sockets)].map((e) => e.name).filter((n) =>
        n.endsWith(".sock")
      );
      assert.deepEqual(left, [], `run ${i}: sockets left`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// =============================================================================================
// File descriptors.

/**
 * Starts a read on every connection and waits until `expected` of them have
 * ended (EOF or reset), bounded; returns the indexes of those that ended.
 */
async function waitForEnded(
  conns: readonly Deno.Conn[],
  expected: number,
  timeoutMs = 15_000,
): Promise<Set<number>> {
  const ended = new Set<number>();
  const buf = new Uint8Array(64);
  conns.forEach((c, i) => {
    c.read(buf).then((n) => n === null && ended.add(i), () => ended.add(i));
  });
  const deadline = Date.now() + timeoutMs;
  while (ended.size < expected && Date.now() < deadline) await delay(20);
  await delay(200); // and no more than that
  return ended;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `condition()` holds; fails the test after `timeoutMs`. */
async function until(
  condition: () => boolean,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

Deno.test("torq relay under ulimit -n 128: 300 clients are capped and refused, never EMFILE; new clients are served after", async () => {
  const p = PROFILES[1]!;
  const relay = await startRelay(p.arg, { openFileLimit: 128 });
  const clients: Deno.UnixConn[] = [];
  try {
    const warning = await relay.waitForLog((l) => /open file limit/.test(l.msg));
    assert.equal(warning.open_file_limit, 128);
    const m = /^signal 100 → (\d+)$/.exec(String(warning.max_connections));
    assert.ok(m !== null, String(warning.max_connections));
    const cap = Number(m[1]);
    assert.ok(cap > 10 && cap < 100, `cap ${cap}`);
    for (let i = 0; i < 300; i++) clients.push(await connect(relay.path));
    const ended = await waitForEnded(clients, 300 - cap);
    assert.equal(ended.size, 300 - cap, "every client over the cap is refused (closed) at once");
    assert.equal(relay.logs().filter((l) => l.msg.startsWith("accept failed")).length, 0);
    const refusals = relay.logs().filter((l) => l.msg.startsWith("refusing connection"));
    assert.ok(refusals.length >= 1 && refusals.length <= 5, `${refusals.length} refusal lines`);
    await close(...clients.splice(0));
    await until(() => relay.logs().filter((l) => l.msg === "connection closed").length === cap);
    // The relay still accepts and serves.
    const [consumer, producer] = await connectMany(relay.path, 2);
    clients.push(consumer!, producer!);
    const frames = makeFrames(p, 3);
    await send(producer!, concat(frames));
    assertFrames(await readFrames(consumer!, 3), frames);
  } finally {
    await close(...clients);
    const r = await relay.stop();
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    await assertAllClosed();
  }
});
