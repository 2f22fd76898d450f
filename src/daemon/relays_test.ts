import assert from "node:assert/strict";
import { parseConfigText } from "../config/mod.ts";
import { Logger } from "../log/logger.ts";
import { startRelays } from "./relays.ts";

Deno.test("RelayService.restart() replaces one relay on its socket and leaves the others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_service_test_" });
  const lines: string[] = [];
  const service = await startRelays(
    parseConfigText("", "torq.yaml"),
    ["market_data", "signal", "execution"],
    { socketDir: dir, logger: new Logger({ sink: (l) => lines.push(l) }) },
  );
  try {
    const [md, signal, execution] = service.relays;
    const client = await Deno.connect({ transport: "unix", path: `${dir}/signals.sock` });
    const relay = await service.restart("signal");
    assert.notEqual(relay, signal);
    assert.deepEqual(service.relays, [md, relay, execution], "it takes the old one's place");
    assert.equal(relay.address, `${dir}/signals.sock`);
    const n = await client.read(new Uint8Array(16)).catch(() => null);
    assert.equal(n, null, "the old relay's connection was closed");
    client.close();
    const again = await Deno.connect({ transport: "unix", path: `${dir}/signals.sock` });
    again.close(); // a listener answers on the same path
    assert.ok(lines.some((l) => l.includes("[signal] restarted")));
    await assert.rejects(
      // @ts-expect-error: a name this service does not run
      () => service.restart("nope"),
      /Cannot restart relay "nope": this service runs market_data, signal, execution/,
    );
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
