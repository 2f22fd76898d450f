import assert from "node:assert/strict";
import { MessageBuilder } from "../protocol/builder.ts";
import { Relay } from "../relay/relay.ts";
import { SIGNAL_LOGIC } from "../relay/logic.ts";
import { Logger } from "../log/logger.ts";
import { defaultDurableName, defaultStreamName, messageId, NatsBridge } from "./mod.ts";

Deno.test("messageId() is <domain>-<source>-<sequence>-<timestamp>", () => {
  const frame = new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence: 17, timestamp: 1_700_000_000_123_456_789n })
    .addTlv(200, new Uint8Array(8))
    .build();
  assert.equal(messageId(frame), "3-40-17-1700000000123456789");
});

Deno.test("defaultStreamName() and defaultDurableName() are valid JetStream names", () => {
  assert.equal(defaultStreamName("torq.execution"), "TORQ_EXECUTION");
  assert.match(
    defaultDurableName("exec.1", "/tmp/a.sock"),
    /^torq_exec_1_[A-Za-z0-9_-]+_[0-9a-f]{8}$/,
  );
});

Deno.test("defaultDurableName() is stable for one relay instance and differs between two on a host", () => {
  const a = defaultDurableName("execution", "/tmp/a/execution.sock");
  assert.equal(defaultDurableName("execution", "/tmp/a/execution.sock"), a);
  assert.notEqual(defaultDurableName("execution", "/tmp/b/execution.sock"), a);
});

Deno.test("NatsBridge keeps retrying while no server answers, reports it, and stops", async () => {
  const dir = await Deno.makeTempDir();
  const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: `${dir}/s.sock` }, {
    logger: new Logger({ level: "error" }),
  });
  await relay.start();
  try {
    // Port 1 on loopback: nothing listens there.
    const bridge = await NatsBridge.start(relay, {
      servers: ["nats://127.0.0.1:1"],
      reconnectInitialMs: 10,
      reconnectMaxMs: 20,
      logger: new Logger({ level: "error" }),
    });
    const deadline = Date.now() + 10_000;
    while (bridge.stats().lastError === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const s = relay.stats().bridges?.[0];
    assert.equal(s?.connected, false);
    assert.equal(s?.subject, "torq.signals");
    assert.equal(s?.direction, "both");
    assert.equal(s?.mode, "core");
    assert.notEqual(s?.lastError, null);
    await bridge.stop();
    await bridge.ready;
    assert.equal(relay.stats().bridges, undefined, "unregistered on stop");
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NatsBridge.start() fails on a credentials file it cannot read", async () => {
  const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: "/nonexistent/s.sock" });
  await assert.rejects(
    NatsBridge.start(relay, { servers: ["nats://127.0.0.1:1"], credsFile: "/nonexistent.creds" }),
    /cannot read credentials file \/nonexistent\.creds/,
  );
});
