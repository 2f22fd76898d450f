import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { natsBridgeOptions, startBridges } from "./bridges.ts";

Deno.test("natsBridgeOptions() is null while disabled and maps every key when enabled", () => {
  assert.equal(natsBridgeOptions(loadConfig().relays.execution), null);
  const config = loadConfig({
    overrides: {
      relays: {
        execution: {
          bridge: {
            nats: {
              enabled: true,
              servers: ["nats://127.0.0.1:4333"],
              direction: "out",
              jetstream: { storage: "memory" },
            },
          },
        },
      },
    },
  });
  assert.deepEqual(natsBridgeOptions(config.relays.execution), {
    servers: ["nats://127.0.0.1:4333"],
    subjectPrefix: "torq",
    subjectTopic: false,
    direction: "out",
    token: null,
    user: null,
    password: null,
    credsFile: null,
    jetstream: {
      stream: null,
      storage: "memory",
      durable: null,
      duplicateWindowMs: 120_000,
      ackTimeoutMs: 5_000,
    },
    reconnectInitialMs: 100,
    reconnectMaxMs: 5000,
    maxPendingFrames: 100_000,
  });
});

Deno.test("startBridges() starts nothing when no bridge is enabled", async () => {
  const service = await startBridges([], loadConfig());
  assert.deepEqual(service.bridges, []);
  await service.stop();
});
