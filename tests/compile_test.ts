// `deno task compile` and `deno task dist` (deploy/build.ts) build the one-file torq from the
// bundled program, with the runtime flags bin/torq lists. deno compile needs Deno's `denort`, which
// this machine cannot download; pointed at any runtime (DENORT_BIN) it still prints the files it
// embeds, which is what the first test checks. Running a compiled binary needs a real denort: that
// test runs only when DENORT_BIN names one and says so when it does not. tests/dist_test.ts runs
// the self-extracting dist/torq, which needs no denort.
import assert from "node:assert/strict";
import { compileArgs, fillStub, runtimeFlags } from "../deploy/build.ts";

const root = new URL("../", import.meta.url).pathname;
const denort = Deno.env.get("DENORT_BIN");

Deno.test("deno task compile embeds only the bundled program: no node_modules, a few MB", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "torq-compile-" });
  try {
    // Any runtime will do for the list: the result is not run.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}deploy/build.ts`, "compile", "--output", `${tmp}/torq`],
      cwd: root,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    const files = /^Files: ([\d.]+)(KB|MB|GB)$/m.exec(text);
    assert.ok(files !== null, `no "Files:" line in:\n${text}`);
    const mb = Number(files[1]) * ({ KB: 1e-3, MB: 1, GB: 1e3 } as const)[files[2] as "KB"];
    assert.ok(mb < 5, `embedded ${files[1]} ${files[2]}, expected the bundle alone (< 5 MB)`);
    const embedded = [...text.matchAll(/^[├└]── (\S+) \(/gm)].map((m) => m[1]!);
    assert.ok(embedded.includes("main.js"), embedded.join(", "));
    assert.deepEqual(embedded.filter((f) => !f.endsWith(".js")), [], "only the bundle's .js files");
    assert.doesNotMatch(text, /node_modules|puppeteer|@types/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("every way of running torq passes bin/torq's V8 flags and permissions", () => {
  // The relay's memory bound rests on these flags (BENCHMARKS.md, soak), on FFI (malloc_trim)
  // and on reading /proc (descriptors, threads, pid files), which Deno allows only with
  // --allow-all; bin/torq is their one source.
  const flags = runtimeFlags();
  assert.match(flags.v8Flags, /--max-semi-space-size=\d+/);
  assert.match(flags.v8Flags, /--heap-growing-percent=\d+/);
  assert.deepEqual(flags.permissions, ["--allow-all"], "torq may call libc and read /proc");
  const tasks = (JSON.parse(Deno.readTextFileSync(`${root}deno.json`)) as {
    tasks: Record<string, string>;
  }).tasks;
  assert.equal(tasks.torq, "bin/torq", "deno task torq runs the launcher");
  assert.match(tasks.compile!, /deploy\/build\.ts compile$/);
  assert.match(tasks.dist!, /deploy\/build\.ts dist$/);
  const args = compileArgs("main.js", "torq");
  assert.ok(args.includes(`--v8-flags=${flags.v8Flags}`));
  for (const p of flags.permissions) assert.ok(args.includes(p), p);
  const stub = fillStub(Deno.readTextFileSync(`${root}deploy/dist_stub.sh`), {
    payloadId: "0123456789abcdef",
    denoVersion: Deno.version.deno,
    flags,
  });
  assert.ok(stub.includes(`--v8-flags="${flags.v8Flags}"`));
  assert.ok(stub.includes(` ${flags.permissions.join(" ")} "$dir/app/main.js"`));
  assert.equal(stub.split("\n").length, Number(/tail -n \+(\d+)/.exec(stub)![1]));
});

Deno.test({
  name: "a torq compiled with a real denort runs with no files beside it",
  ignore: denort === undefined,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const build = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${root}deploy/build.ts`, "compile", "--output", `${tmp}/torq`],
        cwd: root,
        env: { DENORT_BIN: denort! },
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
      const run = await new Deno.Command(`${tmp}/torq`, { args: ["tlv-info", "32"], cwd: tmp })
        .output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(new TextDecoder().decode(run.stdout), /ArbitrageSignal/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

if (denort === undefined) {
  console.log(
    "compile_test: the compiled binary was not run: DENORT_BIN is not set and deno compile " +
      "cannot download denort here (tests/dist_test.ts runs dist/torq instead)",
  );
}
