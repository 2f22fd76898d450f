import assert from "node:assert/strict";
import { loadConfig, relayConfig } from "../config/mod.ts";
import { relayLogicFromConfig } from "./from_config.ts";
import { RELOADABLE, RELOADABLE_CONFIG_KEYS, RELOADABLE_SETTINGS } from "./reloadable.ts";

Deno.test("every reloadable setting comes from the configuration key the table names", () => {
  for (const [setting, key] of Object.entries(RELOADABLE_SETTINGS)) {
    const base = relayConfig(loadConfig(), "execution");
    const [section, name] = key.split(".") as [string, string];
    const value = (base as unknown as Record<string, Record<string, unknown>>)[section]![name];
    // A different valid value: booleans flip, numbers grow, the slow-consumer policy changes.
    const next = typeof value === "boolean"
      ? !value
      : typeof value === "number"
      ? value + 1
      : value === "disconnect"
      ? "backpressure"
      : "disconnect";
    const config = loadConfig({
      overrides: { relays: { execution: { [section]: { [name]: next } } } },
    });
    const before = relayLogicFromConfig(base, null) as unknown as Record<string, unknown>;
    const after = relayLogicFromConfig(relayConfig(config, "execution"), null) as unknown as Record<
      string,
      unknown
    >;
    assert.notEqual(after[setting], before[setting], `${setting} does not follow ${key}`);
    assert.equal(after[setting], next, `${setting} from ${key}`);
  }
});

Deno.test("RELOADABLE lists the table's settings in order; the config keys add the log level", () => {
  assert.deepEqual(RELOADABLE, Object.keys(RELOADABLE_SETTINGS));
  assert.deepEqual(
    [...RELOADABLE_CONFIG_KEYS],
    ["logging.level", ...Object.values(RELOADABLE_SETTINGS)],
  );
});
