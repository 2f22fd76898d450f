import assert from "node:assert/strict";
import { HttpServeError, parseListen, serveHttp } from "./server.ts";
import { Hub } from "./hub.ts";
import type { HealthResponse, StatsEvent } from "./api.ts";
import { bounded, startTestRelays } from "./_testing.ts";

Deno.test("parseListen() reads host:port and [v6]:port", async (t) => {
  const ok: [string, { hostname: string; port: number }][] = [
    ["127.0.0.1:7420", { hostname: "127.0.0.1", port: 7420 }],
    ["localhost:0", { hostname: "localhost", port: 0 }],
    ["[::1]:8080", { hostname: "::1", port: 8080 }],
    ["0.0.0.0:65535", { hostname: "0.0.0.0", port: 65535 }],
  ];
  for (const [text, want] of ok) {
    await t.step(text, () => assert.deepEqual(parseListen(text), want));
  }
  for (const bad of ["7420", "127.0.0.1", "127.0.0.1:70000", "host:port", "::1:80", ""]) {
    await t.step(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseListen(bad), (e: unknown) => {
        assert.ok(e instanceof HttpServeError);
        assert.equal(e.reason, "bad_address");
        assert.match(e.message, /^Cannot listen on ".*": expected HOST:PORT/);
        return true;
      });
    });
  }
});

Deno.test("serveHttp() binds port 0, serves, streams, and shuts down with a stream open", async () => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays, { intervalMs: 60_000 });
  const server = serveHttp(hub, { listen: "127.0.0.1:0", token: "t0k" });
  try {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    const health = await fetch(new URL("/healthz", server.url));
    assert.equal(health.status, 200);
    assert.equal((await health.json() as HealthResponse).status, "ok");
    const denied = await fetch(new URL("/api/relays", server.url));
    assert.equal(denied.status, 401);
    await denied.body?.cancel();

    hub.tick();
    const stream = await fetch(new URL("/api/stream?token=t0k", server.url));
    assert.equal(stream.status, 200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: stats\ndata: ")) {
      const { value, done } = await bounded("a stats event", reader.read());
      assert.equal(done, false);
      text += value;
    }
    const data = text.slice(text.indexOf("event: stats\ndata: ") + 19).split("\n")[0]!;
    assert.equal((JSON.parse(data) as StatsEvent).points.length, 3);

    await bounded("the shutdown", server.shutdown());
    await bounded("the server to finish", server.finished);
    while (!(await bounded("the stream to end", reader.read())).done) { /* drain */ }
  } finally {
    await server.shutdown();
    hub.stop();
    await env.stop();
  }
});

Deno.test("serveHttp() drops a stream's listener when the client goes away", async () => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays, { intervalMs: 60_000 });
  const server = serveHttp(hub, { listen: "127.0.0.1:0", heartbeatMs: 10 });
  try {
    const res = await fetch(new URL("/api/stream", server.url));
    const reader = res.body!.getReader();
    await bounded("the first chunk", reader.read());
    assert.equal(hub.listenerCount, 1);
    await reader.cancel();
    await bounded(
      "the listener to go",
      (async () => {
        while (hub.listenerCount > 0) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
  } finally {
    await server.shutdown();
    hub.stop();
    await env.stop();
  }
});

Deno.test("serveHttp() reports a port in use as one line", async () => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays);
  const first = serveHttp(hub, { listen: "127.0.0.1:0" });
  try {
    assert.throws(() => serveHttp(hub, { listen: `127.0.0.1:${first.port}` }), (e: unknown) => {
      assert.ok(e instanceof HttpServeError);
      assert.equal(e.reason, "in_use");
      assert.equal(e.message, `Cannot listen on 127.0.0.1:${first.port}: address already in use`);
      return true;
    });
  } finally {
    await first.shutdown();
    await env.stop();
  }
});

Deno.test("serveHttp() stops when its signal is aborted", async () => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays);
  const ac = new AbortController();
  const server = serveHttp(hub, { listen: "127.0.0.1:0", signal: ac.signal });
  try {
    ac.abort();
    await bounded("the server to finish", server.finished);
  } finally {
    await env.stop();
  }
});
