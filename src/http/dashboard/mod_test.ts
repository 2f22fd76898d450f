import assert from "node:assert/strict";
import { CONTENT_TYPES, dashboardAssets } from "./mod.ts";
import { FIXED_POINT_NAME } from "../../format/decode_format.ts";

const HERE = new URL("./", import.meta.url);

/** Every `src`/`href` of the page, as the paths a browser at `/` would request. */
function referencedPaths(html: string): string[] {
  const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  return refs.map((r) => new URL(r, "http://torq.invalid/").pathname);
}

Deno.test("dashboardAssets() serves the page, its script, styles and uPlot", () => {
  const assets = dashboardAssets();
  const expected: Record<string, string> = {
    "/": CONTENT_TYPES.html,
    "/assets/app.js": CONTENT_TYPES.js,
    "/assets/style.css": CONTENT_TYPES.css,
    "/assets/favicon.svg": CONTENT_TYPES.svg,
    "/assets/uPlot.min.js": CONTENT_TYPES.js,
    "/assets/uPlot.min.css": CONTENT_TYPES.css,
  };
  assert.deepEqual(Object.keys(assets).sort(), Object.keys(expected).sort());
  for (const [path, type] of Object.entries(expected)) {
    const asset = assets[path]!;
    assert.equal(asset.type, type, path);
    assert.ok(asset.body.length > 0, `${path} is empty`);
  }
});

Deno.test("dashboardAssets() embeds the files themselves, byte for byte", async () => {
  const assets = dashboardAssets();
  const own: Record<string, string> = {
    "/": "index.html",
    "/assets/app.js": "app.js",
    "/assets/style.css": "style.css",
    "/assets/favicon.svg": "favicon.svg",
  };
  for (const [path, file] of Object.entries(own)) {
    assert.equal(assets[path]!.body, await Deno.readTextFile(new URL(file, HERE)), path);
  }
  // uPlot comes from the npm package, not from a copy in the repository.
  const js = String(assets["/assets/uPlot.min.js"]!.body);
  assert.match(js, /uPlot/);
  assert.match(String(assets["/assets/uPlot.min.css"]!.body), /\.uplot/);
});

Deno.test("dashboardAssets() has every asset the page references", () => {
  const assets = dashboardAssets();
  const refs = referencedPaths(String(assets["/"]!.body));
  assert.ok(refs.length >= 4, `too few references: ${refs.join(", ")}`);
  for (const path of refs) assert.ok(assets[path] !== undefined, `the page references ${path}`);
});

Deno.test("dashboard script calls only routes of the API contract, by relative URL", async () => {
  const app = String(dashboardAssets()["/assets/app.js"]!.body);
  const contract = await Deno.readTextFile(new URL("../api.ts", HERE));
  const routes = new Set([...contract.matchAll(/\| `\/(api\/[a-z-]+|healthz)/g)].map((m) => m[1]!));
  const used = new Set([...app.matchAll(/["`]((?:api\/[a-z-]+)|healthz)\b/g)].map((m) => m[1]!));
  for (const route of ["api/relays", "api/timeline", "api/connections", "api/rejects"]) {
    assert.ok(used.has(route), `app.js does not use ${route}`);
  }
  assert.ok(used.has("api/stream"), "app.js does not follow the event stream");
  for (const route of used) assert.ok(routes.has(route), `${route} is not in src/http/api.ts`);
  // Absolute "/api/..." would break behind a path prefix; the page is served at "/".
  assert.doesNotMatch(app, /["`]\/api\//);
});

Deno.test("the dashboard shows fixed-point fields by the decoder's rule", async () => {
  const app = await Deno.readTextFile(new URL("./app.js", HERE));
  const rule = /const FIXED_POINT_NAME =\s*\/(.+)\/;/.exec(app)?.[1];
  assert.equal(rule, FIXED_POINT_NAME.source);
});
