// `deno task dist` builds dist/torq, one file for linux-x64 carrying the runtime and the bundled
// program. Copied alone into an empty directory and run with a PATH that holds only the few POSIX
// tools its unpacking uses (no node, npm or deno) and an empty HOME, it runs `torq tlv-info 20`, a
// `torq relay signal` and `torq demo arbitrage` against that relay, which SIGTERM then stops.
import assert from "node:assert/strict";
import { findExecutable } from "./_support/prerequisites.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const WAIT_MS = 30_000;
const dec = new TextDecoder();
/** The tools dist/torq's script uses, linked into the test's PATH one by one. */
const TOOLS = ["sh", "tail", "gzip", "tar", "mkdir", "mktemp", "mv", "rm", "id"];

Deno.test("dist/torq runs alone: no node, npm, deno or checkout", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "torq-dist-" });
  const run = `${tmp}/run`;
  const bin = `${tmp}/bin`;
  const home = `${tmp}/home`;
  for (const d of [run, bin, home]) await Deno.mkdir(d);
  let relay: Deno.ChildProcess | null = null;
  try {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}deploy/build.ts`, "dist", "--output", `${tmp}/torq`],
      cwd: ROOT,
    }).output();
    assert.equal(build.code, 0, dec.decode(build.stderr));
    assert.match(dec.decode(build.stdout), /^built .*torq \(\d+\.\d MB, linux-x64\)\n$/);
    await Deno.rename(`${tmp}/torq`, `${run}/torq`);
    for (const tool of TOOLS) {
      const path = findExecutable(tool, Deno.env.get("PATH") ?? "");
      assert.ok(path !== null, `${tool} is on this machine`);
      await Deno.symlink(path, `${bin}/${tool}`);
    }
    for (const absent of ["node", "npm", "npx", "deno"]) {
      assert.equal(findExecutable(absent, bin), null, `${absent} is not reachable`);
    }
    assert.deepEqual([...Deno.readDirSync(run)].map((e) => e.name), ["torq"]);
    const env = { PATH: bin, HOME: home };
    const torq = (args: string[]) =>
      new Deno.Command(`${run}/torq`, { args, cwd: run, env, clearEnv: true }).output();

    await t.step("torq tlv-info 20", async () => {
      const out = await torq(["tlv-info", "20"]);
      assert.equal(out.code, 0, dec.decode(out.stderr));
      assert.equal(dec.decode(out.stderr), "");
      assert.match(dec.decode(out.stdout), /^SignalIdentity \(type 20\)\n/);
      assert.match(dec.decode(out.stdout), /strategy_id/);
    });

    await t.step(
      "under systemd it unpacks into $CACHE_DIRECTORY, and a read-only one will do",
      async () => {
        const cache = `${tmp}/cache`;
        await Deno.mkdir(cache, { mode: 0o700 });
        const env = { PATH: bin, CACHE_DIRECTORY: cache }; // no HOME, as for a system user
        const first = await new Deno.Command(`${run}/torq`, {
          args: ["--version"],
          cwd: run,
          env,
          clearEnv: true,
        }).output();
        assert.equal(first.code, 0, dec.decode(first.stderr));
        const unpacked = [...Deno.readDirSync(cache)].map((e) => e.name);
        assert.equal(unpacked.length, 1, unpacked.join(", "));
        assert.ok(Deno.statSync(`${cache}/${unpacked[0]}/deno`).isFile);
        await Deno.chmod(cache, 0o500);
        try {
          const again = await new Deno.Command(`${run}/torq`, {
            args: ["--version"],
            cwd: run,
            env,
            clearEnv: true,
          }).output();
          assert.equal(again.code, 0, dec.decode(again.stderr));
          assert.equal(dec.decode(again.stdout), dec.decode(first.stdout));
        } finally {
          await Deno.chmod(cache, 0o700);
        }
      },
    );

    const socket = `${run}/sockets/signals.sock`;
    await t.step("torq relay signal, then torq demo arbitrage against it", async () => {
      relay = new Deno.Command(`${run}/torq`, {
        args: ["relay", "signal", "--socket", socket],
        cwd: run,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const logs = Promise.all([
        new Response(relay.stdout).text(),
        new Response(relay.stderr).text(),
      ]);
      const deadline = Date.now() + WAIT_MS;
      while (!(await exists(socket))) {
        assert.ok(Date.now() < deadline, `no relay socket after ${WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const demo = await torq([
        "demo",
        "arbitrage",
        "--socket",
        socket,
        "--count",
        "3",
        "--rate",
        "20",
        "--seed",
        "1",
      ]);
      assert.equal(demo.code, 0, dec.decode(demo.stderr));
      assert.match(dec.decode(demo.stdout), new RegExp(`Sent 3 arbitrage signals to ${socket}`));
      relay.kill("SIGTERM");
      const status = await relay.status;
      const [, stderr] = await logs;
      assert.equal(status.code, 0, stderr);
      assert.match(stderr, /\[signal\] listening/);
      assert.equal(await exists(socket), false, "the relay removed its socket");
      relay = null;
    });
  } finally {
    const r = relay as Deno.ChildProcess | null;
    if (r !== null) {
      try {
        r.kill("SIGKILL");
      } catch {
        // exited
      }
      await r.status;
    }
    await Deno.remove(tmp, { recursive: true });
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
