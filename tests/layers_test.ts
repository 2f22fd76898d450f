// The layers of ARCHITECTURE.md: src/protocol is pure (no Deno APIs, no I/O),
// nothing imports from cli/, and imports point one way.
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

function imports(path: string): string[] {
  const text = Deno.readTextFileSync(`${root}${path}`);
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1]!);
}

Deno.test("src/protocol and src/text use no Deno APIs and import nothing outside themselves but node:zlib", () => {
  for (const file of [...sources("src/protocol"), ...sources("src/text")]) {
    const text = Deno.readTextFileSync(`${root}${file}`);
    assert.doesNotMatch(text, /\bDeno\./, `${file} uses a Deno API`);
    for (const spec of imports(file)) {
      assert.ok(spec.startsWith("./") || spec === "node:zlib", `${file} imports ${spec}`);
    }
  }
});

Deno.test("nothing under src/ imports from cli/", () => {
  for (const file of sources("src")) {
    for (const spec of imports(file)) assert.ok(!spec.includes("/cli/"), `${file} imports ${spec}`);
  }
});

Deno.test("lower layers never import higher ones", () => {
  const rank: Record<string, number> = {
    protocol: 0,
    text: 0,
    log: 1,
    config: 1,
    transport: 1,
    relay: 2,
    client: 2,
    bridge: 3,
    tools: 3,
    http: 3,
    stack: 4,
  };
  for (const file of sources("src")) {
    const layer = file.split("/")[1]!;
    for (const spec of imports(file)) {
      const m = spec.match(/^\.\.\/([a-z]+)\//);
      if (m === null || rank[m[1]!] === undefined || rank[layer] === undefined) continue;
      assert.ok(rank[m[1]!]! <= rank[layer]!, `${file} (${layer}) imports ${spec}`);
    }
  }
});

/**
 * The modules a file loads when imported: its static imports and re-exports,
 * followed through relative paths (`import type`, `export type` and dynamic
 * `import()` load nothing). Bare specifiers are returned as they are.
 */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    if (!path.endsWith(".ts")) return;
    const text = Deno.readTextFileSync(`${root}${path}`);
    const statements = text.matchAll(
      /^(?:import|export)\s+(?!type\b)(?:[^;"']*?\sfrom\s+)?"([^"]+)"/gm,
    );
    for (const [, spec] of statements) {
      visit(spec!.startsWith(".") ? new URL(spec!, `file:///${path}`).pathname.slice(1) : spec!);
    }
  };
  visit(entry);
  return seen;
}

Deno.test("torq up and torq relay load no NATS code unless a bridge is enabled", () => {
  // The bridge and the NATS client are imported on demand (src/bridge/start.ts): a
  // static import of them costs every relay process megabytes of heap.
  // cli/_http.ts imports the HTTP API's modules when `http.listen` is set (the default).
  const http = ["src/http/hub.ts", "src/http/server.ts"];
  for (const entry of ["cli/up.ts", "cli/relay.ts", ...http]) {
    const graph = staticGraph(entry);
    const reaches = http.includes(entry) ? "src/protocol/header.ts" : "src/relay/relay.ts";
    assert.ok(graph.has(reaches), `the walk from ${entry} reaches ${reaches}`);
    const nats = [...graph].filter((m) => /nats/i.test(m));
    assert.deepEqual(nats, [], `${entry} loads ${nats.join(", ")}`);
  }
});

Deno.test("cli subcommands share helpers through cli/_*.ts only, never import each other", () => {
  for (const e of Deno.readDirSync(`${root}cli`)) {
    if (!e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    for (const spec of imports(`cli/${e.name}`)) {
      if (!spec.startsWith("./")) continue;
      const ok = spec.startsWith("./_") || (e.name === "main.ts" && spec !== "./main.ts");
      assert.ok(ok, `cli/${e.name} imports ${spec}`);
    }
  }
});
