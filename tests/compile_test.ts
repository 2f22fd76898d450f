// `deno task compile` builds the single `torq` executable. Deno fetches its
// `denort` runtime from a release host this machine cannot reach, so the test
// runs only when DENORT_BIN points at a denort of the same Deno version.
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");
const root = new URL("../", import.meta.url).pathname;
if (denort === undefined) {
  console.log(
    "compile_test: skipped: DENORT_BIN is not set, and deno compile cannot download denort here " +
      "(see ../shared/guides/ENVIRONMENT.md)",
  );
}

Deno.test({
  name: "deno task compile builds a torq binary that runs with no files beside it",
  ignore: denort === undefined,
  async fn() {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      env: { DENORT_BIN: denort! },
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const tmp = await Deno.makeTempDir();
    try {
      await Deno.copyFile(`${root}dist/torq`, `${tmp}/torq`);
      await Deno.chmod(`${tmp}/torq`, 0o755);
      const run = await new Deno.Command(`${tmp}/torq`, { args: ["tlv-info", "32"], cwd: tmp })
        .output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(new TextDecoder().decode(run.stdout), /ArbitrageSignal/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("the torq binary is compiled with the V8 heap flags and permissions `deno task torq` runs with", () => {
  // The relay's memory bound rests on these flags (BENCHMARKS.md, soak) and on
  // --allow-ffi (malloc_trim); the two ways of running torq must not drift apart.
  const tasks = (JSON.parse(Deno.readTextFileSync(`${root}deno.json`)) as {
    tasks: Record<string, string>;
  }).tasks;
  const flags = (task: string) =>
    tasks[task]!.split(/\s+/).filter((w) =>
      w.startsWith("--v8-flags=") || w.startsWith("--allow-")
    );
  const torq = flags("torq");
  assert.equal(torq.filter((f) => f.startsWith("--v8-flags=")).length, 1, "torq sets --v8-flags");
  assert.match(torq.join(" "), /--max-semi-space-size=\d+/);
  assert.ok(torq.includes("--allow-ffi"), "torq may call malloc_trim");
  assert.deepEqual(flags("compile"), torq);
});
