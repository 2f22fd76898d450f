import assert from "node:assert/strict";
import { Logger } from "./logger.ts";

Deno.test("Logger.setLevel() reaches the loggers made with with(), both ways", () => {
  const lines: string[] = [];
  const root = new Logger({ level: "warn", format: "json", sink: (l) => lines.push(l) });
  const child = root.with({ relay: "signal" });
  child.info("hidden");
  assert.equal(lines.length, 0);
  assert.equal(child.level, "warn");

  root.setLevel("debug"); // SIGHUP reload sets the level on the logger it built
  child.debug("shown");
  assert.equal(JSON.parse(lines[0]!).relay, "signal");
  assert.equal(child.level, "debug");

  child.with({ conn: 3 }).setLevel("error");
  assert.equal(root.level, "error");
  assert.equal(root.enabled("warn"), false);
});
