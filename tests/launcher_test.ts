// bin/torq, the `torq` command of package.json "bin" (npx torq, npm link, npm install -g): run
// through a symlink as npm installs it, from a directory of the caller's, it reads relative paths
// from that directory, prints exactly what the CLI prints, and is the relay process itself, so
// SIGTERM stops the relay and removes its socket.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const WAIT_MS = 20_000;
const dec = new TextDecoder();

/** A temporary directory with `bin/torq` symlinked into it (as `npm link` does). */
function linked(): { dir: string; torq: string } {
  const dir = Deno.makeTempDirSync({ prefix: "torq-launcher-" });
  Deno.mkdirSync(`${dir}/bin`);
  Deno.symlinkSync(`${ROOT}bin/torq`, `${dir}/bin/torq`);
  return { dir, torq: `${dir}/bin/torq` };
}

Deno.test("bin/torq reads relative paths from the caller's directory, through a symlink", async () => {
  const { dir, torq } = linked();
  try {
    Deno.writeTextFileSync(
      `${dir}/mybad.yaml`,
      "relays:\n  signal:\n    validation:\n      checksum: yes\n",
    );
    Deno.writeTextFileSync(`${dir}/good.yaml`, "logging:\n  level: warn\n");
    const bad = await new Deno.Command(torq, { args: ["config", "check", "mybad.yaml"], cwd: dir })
      .output();
    assert.equal(bad.code, 1);
    assert.match(
      dec.decode(bad.stderr),
      /checksum: expected boolean, got "yes" \(line 4 of mybad\.yaml\)/,
    );
    const good = await new Deno.Command(torq, { args: ["config", "check", "good.yaml"], cwd: dir })
      .output();
    assert.equal(good.code, 0, dec.decode(good.stderr));
    assert.match(dec.decode(good.stdout), /^# configuration is valid: good\.yaml\n/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bin/torq prints nothing of its own: the same bytes as the CLI run directly", async () => {
  const { dir, torq } = linked();
  try {
    const viaBin = await new Deno.Command(torq, { args: ["tlv-info", "20"], cwd: dir }).output();
    const direct = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli/main.ts`, "tlv-info", "20"],
      cwd: ROOT,
    }).output();
    assert.equal(viaBin.code, 0);
    assert.equal(dec.decode(viaBin.stderr), "");
    assert.equal(dec.decode(viaBin.stdout), dec.decode(direct.stdout));
    assert.match(dec.decode(viaBin.stdout), /^SignalIdentity \(type 20\)\n/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bin/torq is replaced by the runtime: SIGTERM to it stops the relay and removes the socket", async () => {
  const { dir, torq } = linked();
  const socket = `${dir}/s/signals.sock`;
  const child = new Deno.Command(torq, {
    args: ["relay", "signal", "--socket", socket, "--log-level", "warn"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  try {
    const deadline = Date.now() + WAIT_MS;
    while (!(await exists(socket))) {
      assert.ok(Date.now() < deadline, `no socket at ${socket} after ${WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The pid we started runs the relay itself (no shell or wrapper in between).
    const cmdline = Deno.readTextFileSync(`/proc/${child.pid}/cmdline`).split("\0");
    assert.ok(cmdline.some((a) => a.endsWith("cli/main.ts")), cmdline.join(" "));
    child.kill("SIGTERM");
    const status = await child.status;
    const [stdout, stderr] = await out;
    assert.equal(status.code, 0, stderr);
    assert.equal(stdout, "");
    assert.equal(await exists(socket), false, "the relay removed its socket");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
