// The install step of `npm test` (tests/_support/prerequisites.ts), tried on PATHs made for the
// test instead of by removing packages: a directory of stand-in executables, with or without
// apt-get, as root or not, planned in-process and run as a real process in --dry-run mode.
import assert from "node:assert/strict";
import { findExecutable, planPrerequisites, PREREQUISITES } from "./_support/prerequisites.ts";

const SCRIPT = new URL("./_support/prerequisites.ts", import.meta.url).pathname;

/** A temporary directory holding executable stand-ins for `names`. */
function fakeBin(names: readonly string[]): string {
  const dir = Deno.makeTempDirSync({ prefix: "torq-prereq-" });
  for (const n of names) {
    Deno.writeTextFileSync(`${dir}/${n}`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  }
  return dir;
}

const ALL = PREREQUISITES.map((p) => p.command);

Deno.test("prerequisites: nothing to do when every program is on the PATH", () => {
  const dir = fakeBin(ALL);
  try {
    assert.deepEqual(planPrerequisites({ path: dir, uid: 1000 }), { action: "none" });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("prerequisites: a non-root user gets one line with the exact sudo command", () => {
  const dir = fakeBin(["chromium", "systemd-analyze", "apt-get"]);
  try {
    const plan = planPrerequisites({ path: dir, uid: 1000 });
    assert.equal(plan.action, "fail");
    assert.ok(plan.action === "fail");
    assert.deepEqual(plan.packages, ["nats-server"]);
    assert.equal(
      plan.line,
      "npm test: missing nats-server (tests/bridge_test.ts); install with: " +
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends nats-server",
    );
    assert.ok(!plan.line.includes("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("prerequisites: root with apt-get installs the missing packages, systemd for systemd-analyze", () => {
  const dir = fakeBin(["chromium", "apt-get"]);
  try {
    assert.deepEqual(planPrerequisites({ path: dir, uid: 0 }), {
      action: "install",
      packages: ["nats-server", "systemd"],
      command: [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "--no-install-recommends", "nats-server", "systemd"],
      ],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("prerequisites: root without apt-get stops with the command, without sudo", () => {
  const dir = fakeBin([]);
  try {
    const plan = planPrerequisites({ path: dir, uid: 0 });
    assert.ok(plan.action === "fail");
    assert.match(plan.line, /^npm test: missing chromium \(tests\/dashboard_browser_test\.ts\), /);
    assert.match(
      plan.line,
      /install with: apt-get update && apt-get install -y --no-install-recommends chromium nats-server systemd$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("prerequisites: findExecutable skips files that are not executable", () => {
  const dir = fakeBin([]);
  try {
    Deno.writeTextFileSync(`${dir}/nats-server`, "not a program", { mode: 0o644 });
    assert.equal(findExecutable("nats-server", dir), null);
    Deno.chmodSync(`${dir}/nats-server`, 0o755);
    assert.equal(findExecutable("nats-server", `/nonexistent:${dir}`), `${dir}/nats-server`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

async function runScript(path: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "--allow-env", "--allow-read", "--allow-sys", SCRIPT, ...args],
    env: { PATH: path, NO_COLOR: "1" },
    clearEnv: true,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("prerequisites script: a missing program stops the run with one line and exit 1", async () => {
  // As the user running the tests (root on CI): the line names the packages either way.
  const dir = fakeBin(["chromium", "systemd-analyze"]);
  try {
    const r = await runScript(dir, []);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^npm test: missing nats-server \(tests\/bridge_test\.ts\); install with: /,
    );
    assert.match(r.stderr, /apt-get install -y --no-install-recommends nats-server\n$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "prerequisites script: as root with apt-get, --dry-run says what it would install",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = fakeBin(["systemd-analyze", "apt-get"]);
    try {
      const r = await runScript(dir, ["--dry-run"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr,
        "npm test: installing chromium, nats-server (apt-get update -qq && apt-get install -y " +
          "--no-install-recommends chromium nats-server) [dry run: nothing done]\n",
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("prerequisites script: with everything present it prints nothing and exits 0", async () => {
  const dir = fakeBin(ALL);
  try {
    const r = await runScript(dir, []);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
