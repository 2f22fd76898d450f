import assert from "node:assert/strict";
import { Relay } from "./relay.ts";
import { SIGNAL_LOGIC } from "./logic.ts";
import { Logger } from "../log/logger.ts";
import { MessageBuilder } from "../protocol/builder.ts";

async function readSome(conn: Deno.Conn, ms: number): Promise<number> {
  const buf = new Uint8Array(65536);
  let total = 0;
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
  } catch {
    // closed by the timer
  } finally {
    clearTimeout(timer);
  }
  return total;
}

Deno.test("Relay.reload() applies new limits to live connections and reports what changed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const lines: string[] = [];
  const relay = new Relay({ ...SIGNAL_LOGIC, socketPath: path }, {
    logger: new Logger({ level: "info", format: "json", sink: (l) => lines.push(l) }),
  });
  await relay.start();
  const consumer = await Deno.connect({ transport: "unix", path });
  const producer = await Deno.connect({ transport: "unix", path });
  try {
    const changed = relay.reload({ maxMessageSize: 1024, maxQueueFrames: 500, name: "ignored" });
    assert.deepEqual(changed, ["maxMessageSize: 32768 → 1024", "maxQueueFrames: 10000 → 500"]);
    assert.equal(relay.logic.name, "signal", "identity is not reloadable");
    assert.ok(lines.some((l) => JSON.parse(l).msg === "reloaded"));
    assert.deepEqual(
      relay.reload({ maxQueueFrames: 500 }),
      [],
      "nothing changed, nothing reported",
    );
    const b = new MessageBuilder({ domain: 2, source: 20 });
    await producer.write(b.begin().addTlv(202, new Uint8Array(2000)).build()); // over the new limit
    await producer.write(b.begin().addTlv(202, new Uint8Array(100)).build());
    assert.equal(
      await readSome(consumer, 300),
      32 + 2 + 100,
      "only the frame within the new limit",
    );
    assert.equal(relay.stats().rejects.PayloadTooLarge, 1);
  } finally {
    producer.close();
    try {
      consumer.close();
    } catch {
      // closed by readSome
    }
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
