// The examples in JSDoc are code: `deno check --doc-only` type-checks every
// ```ts block of the library, the CLI and the root face, so an example that names
// an undefined value or calls an API wrongly fails the build. (`deno test --doc`
// would also run them; they start relays and connect to sockets, so they are
// checked, not run.)
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${root}${dir}`)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...sources(path));
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) out.push(path);
  }
  return out;
}

Deno.test("the JSDoc examples of mod.ts, src/ and cli/ type-check", async () => {
  const files = ["mod.ts", ...sources("src"), ...sources("cli")];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--doc-only", "--config", `${root}deno.json`, ...files],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `deno check --doc-only failed:\n${out}`);
});
