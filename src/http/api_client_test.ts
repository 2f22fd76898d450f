import assert from "node:assert/strict";
import { HttpApiClient, HttpApiError, normalizeApiUrl } from "./api_client.ts";
import { Hub } from "./hub.ts";
import { serveHttp } from "./server.ts";
import { startTestRelays } from "./_testing.ts";

Deno.test("normalizeApiUrl() adds the scheme and drops the trailing slash", () => {
  assert.equal(normalizeApiUrl("127.0.0.1:7420"), "http://127.0.0.1:7420");
  assert.equal(normalizeApiUrl("http://localhost:7420/"), "http://localhost:7420");
  assert.equal(normalizeApiUrl("https://torq.example/base/"), "https://torq.example/base");
  assert.throws(() => normalizeApiUrl("ftp://x"), HttpApiError);
});

Deno.test("HttpApiClient reads the API and names every failure in one line", async (t) => {
  const env = await startTestRelays();
  const hub = new Hub(env.relays, { intervalMs: 60_000 });
  const server = serveHttp(hub, { listen: "127.0.0.1:0", token: "t" });
  const base = server.url.slice(0, -1);
  try {
    await t.step("relays() and connections() with the token", async () => {
      const api = new HttpApiClient(server.url, { token: "t" });
      assert.equal(api.url, base);
      assert.equal((await api.relays()).relays.length, 3);
      assert.deepEqual(await api.connections({ sort: "id" }), { connections: [] });
    });
    await t.step("401 without or with a wrong token", async () => {
      await assert.rejects(new HttpApiClient(base).relays(), {
        name: "HttpApiError",
        reason: "unauthorized",
        message:
          `Cannot read the Torq HTTP API at ${base}: it requires a token (pass --token or set TORQ_HTTP_TOKEN)`,
      });
      await assert.rejects(new HttpApiClient(base, { token: "x" }).relays(), {
        reason: "unauthorized",
        message: `Cannot read the Torq HTTP API at ${base}: the token was refused`,
      });
    });
    await t.step("an error status with the server's reason", async () => {
      await assert.rejects(new HttpApiClient(base, { token: "t" }).connections({ sort: "x" }), {
        reason: "status",
        message: new RegExp(
          `^Cannot read /api/connections\\?sort=x from the Torq HTTP API at ${base}: HTTP 400: sort must be`,
        ),
      });
    });
    await t.step("an answer that is not JSON", async () => {
      await assert.rejects(new HttpApiClient(base, { token: "t" }).get("/metrics"), {
        reason: "bad_response",
      });
    });
  } finally {
    await server.shutdown();
    hub.stop();
    await env.stop();
  }
  await t.step("nothing listening", async () => {
    await assert.rejects(new HttpApiClient(base).relays(), {
      reason: "unreachable",
      message:
        `Cannot reach the Torq HTTP API at ${base}: connection refused (is 'torq up' running?)`,
    });
  });
});
