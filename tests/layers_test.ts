// The layers of ARCHITECTURE.md: src/protocol, src/text and src/io are pure (no Deno
// APIs, no I/O), nothing imports from cli/, imports point one way (down, never
// sideways, never in a cycle) and cross a folder's border through its face.
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

/** Folders that are pure TypeScript: no Deno APIs, no imports but their own files. */
const PURE = ["protocol", "text", "io"];

Deno.test("src/protocol, src/text and src/io use no Deno APIs and import nothing outside themselves but node:zlib", () => {
  for (const file of PURE.flatMap((dir) => sources(`src/${dir}`))) {
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

/**
 * The layers of ARCHITECTURE.md, lowest first. A folder imports only folders of
 * a lower rank: never a higher one, never one of its own rank.
 */
const RANK: Readonly<Record<string, number>> = {
  protocol: 0,
  text: 0,
  io: 0,
  log: 1,
  config: 1,
  format: 1,
  transport: 2,
  nats: 3,
  relay: 4,
  client: 4,
  bridge: 5,
  http: 5,
  demo: 5,
  bench: 5,
  tools: 5,
  daemon: 6,
  stack: 7,
};

/** The folders under src/. */
function folders(): string[] {
  return [...Deno.readDirSync(`${root}src`)].filter((e) => e.isDirectory).map((e) => e.name)
    .sort();
}

/** The src/ folder a relative import of `file` lands in, or null (same folder, a package …). */
function targetFolder(file: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const target = new URL(spec, `file:///${file}`).pathname.slice(1);
  const m = target.match(/^src\/([a-z_]+)\//);
  return m === null ? null : m[1]!;
}

/** Folder → the folders its files import (all of them: static, type-only, dynamic). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const folder of folders()) {
    const to = new Set<string>();
    for (const file of sources(`src/${folder}`)) {
      for (const spec of imports(file)) {
        const t = targetFolder(file, spec);
        if (t !== null && t !== folder) to.add(t);
      }
    }
    graph.set(folder, to);
  }
  return graph;
}

Deno.test("every folder under src/ has a rank and a mod.ts with a @module doc", () => {
  for (const folder of folders()) {
    assert.ok(RANK[folder] !== undefined, `src/${folder} has no rank in layers_test.ts`);
    const face = `${root}src/${folder}/mod.ts`;
    assert.match(Deno.readTextFileSync(face), /@module/, `src/${folder}/mod.ts has no @module`);
  }
});

Deno.test("a folder imports only folders of a lower rank, never one of its own rank", () => {
  for (const [folder, to] of folderGraph()) {
    for (const t of to) {
      assert.ok(
        RANK[t]! < RANK[folder]!,
        `src/${folder} (rank ${RANK[folder]}) imports src/${t} (rank ${RANK[t]})`,
      );
    }
  }
});

Deno.test("the folders under src/ import each other without a cycle", () => {
  const graph = folderGraph();
  const done = new Set<string>();
  const visit = (folder: string, path: string[]) => {
    assert.ok(!path.includes(folder), `cycle: ${[...path, folder].join(" → ")}`);
    if (done.has(folder)) return;
    for (const t of graph.get(folder) ?? []) visit(t, [...path, folder]);
    done.add(folder);
  };
  for (const folder of graph.keys()) visit(folder, []);
});

Deno.test("imports from another folder go through its mod.ts (or internal_mod.ts)", () => {
  for (const file of ["mod.ts", ...sources("src"), ...sources("cli")]) {
    const own = file.match(/^src\/([a-z_]+)\//)?.[1] ?? null;
    for (const spec of imports(file)) {
      const t = targetFolder(file, spec);
      if (t === null || t === own) continue;
      const target = new URL(spec, `file:///${file}`).pathname.slice(1);
      const faces = [`src/${t}/mod.ts`, `src/${t}/internal_mod.ts`];
      assert.ok(faces.includes(target), `${file} imports ${spec}: use src/${t}/mod.ts`);
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
  // The bridge and the NATS client are imported on demand (src/daemon/bridges.ts): a
  // static import of them costs every relay process megabytes of heap.
  // cli/_http.ts imports the HTTP API's face when `http.listen` is set (the default).
  const http = ["src/http/mod.ts"];
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
