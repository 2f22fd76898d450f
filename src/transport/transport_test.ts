import assert from "node:assert/strict";
import { TransportError } from "./transport.ts";
import { connectError, UnixTransport } from "./unix.ts";
import { TcpTransport } from "./tcp.ts";

Deno.test("TransportError keeps the error it wraps as its cause", () => {
  const original = new Deno.errors.AddrInUse("Address in use");
  const e = new TransportError("in_use", "127.0.0.1:1 is already in use", { cause: original });
  assert.equal(e.cause, original);
  assert.equal(e.reason, "in_use");
  assert.equal(e.name, "TransportError");
  assert.equal(new TransportError("other", "no cause").cause, undefined);
});

Deno.test("connectError() names the reason and keeps the original error as cause", () => {
  const cases: [Error, string][] = [
    [new Deno.errors.NotFound("No such file"), "no_socket"],
    [new Deno.errors.ConnectionRefused("Connection refused"), "refused"],
    [new Deno.errors.PermissionDenied("Permission denied"), "denied"],
    [new Error("Something else"), "other"],
  ];
  for (const [original, reason] of cases) {
    const e = connectError(original, "/tmp/x.sock");
    assert.equal(e.reason, reason);
    assert.equal(e.cause, original, reason);
  }
});

Deno.test("a failed listen or connect is a TransportError whose cause is the system error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const unix = new UnixTransport(`${dir}/missing/x.sock`);
    const connect = await unix.connect().then(() => null, (e) => e);
    assert.ok(connect instanceof TransportError);
    assert.ok(connect.cause instanceof Deno.errors.NotFound, String(connect.cause));
    const tcp = new TcpTransport("127.0.0.1", 1);
    const refused = await tcp.connect().then(() => null, (e) => e);
    assert.ok(refused instanceof TransportError);
    assert.equal(refused.reason, "refused");
    assert.ok(refused.cause instanceof Error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
