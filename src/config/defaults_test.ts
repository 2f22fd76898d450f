import assert from "node:assert/strict";
import {
  DEFAULT_CONFIG,
  ENVIRONMENT_OVERLAYS,
  ENVIRONMENTS,
  isEnvironmentName,
} from "./defaults.ts";
import { parseConfigText } from "./loader.ts";

const CONFIG_DIR = new URL("../../config/", import.meta.url);

Deno.test("DEFAULT_CONFIG is config/default.yaml as embedded", async () => {
  const onDisk = await Deno.readTextFile(new URL("default.yaml", CONFIG_DIR));
  assert.equal(DEFAULT_CONFIG.text, onDisk);
  assert.equal(DEFAULT_CONFIG.name, "config/default.yaml");
});

Deno.test("ENVIRONMENT_OVERLAYS are the files of config/environments/", async (t) => {
  for (const env of ENVIRONMENTS) {
    await t.step(env, async () => {
      const url = new URL(`environments/${env}.yaml`, CONFIG_DIR);
      assert.equal(ENVIRONMENT_OVERLAYS[env].text, await Deno.readTextFile(url));
      assert.equal(ENVIRONMENT_OVERLAYS[env].name, `config/environments/${env}.yaml`);
    });
  }
});

Deno.test("every overlay is valid on its own over the defaults", async (t) => {
  for (const env of ENVIRONMENTS) {
    await t.step(env, () => {
      const overlay = ENVIRONMENT_OVERLAYS[env];
      parseConfigText(overlay.text, overlay.name);
    });
  }
});

Deno.test("config/default.yaml spells out every relay section", () => {
  for (const section of ["relay", "transport", "validation", "topics", "performance", "logging"]) {
    const count = DEFAULT_CONFIG.text.split("\n").filter((l) =>
      l === `    ${section}:` || l.startsWith(`    ${section}: `)
    ).length;
    assert.equal(count, 3, section);
  }
});

Deno.test("isEnvironmentName() accepts the three environments only", () => {
  assert.ok(isEnvironmentName("production"));
  assert.ok(!isEnvironmentName("prod"));
  assert.ok(!isEnvironmentName(""));
});
