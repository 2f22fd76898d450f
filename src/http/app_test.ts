import assert from "node:assert/strict";
import { createApp, hostAllowed, TOKEN_COOKIE, tokenMatches } from "./app.ts";
import { Hub } from "./hub.ts";
import { dashboardAssets } from "./dashboard/mod.ts";
import type {
  ConnectionsResponse,
  ErrorResponse,
  HealthResponse,
  RejectsResponse,
  RelaysResponse,
  StatsEvent,
  TimelineResponse,
  TlvTypeJson,
} from "./api.ts";
import {
  bounded,
  connect,
  readBytes,
  startTestRelays,
  type TestRelays,
  tradeFrames,
  waitFor,
  writeAll,
  wrongDomainFrame,
} from "./_testing.ts";

/** One parsed Server-Sent Event. */
interface SseEvent {
  event: string;
  data: string;
}

/**
 * Reads SSE events from a body until `until` holds for one; each read is
 * bounded by WAIT_MS. Comments are returned as events named `:`.
 */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: (e: SseEvent) => boolean,
): Promise<SseEvent[]> {
  const dec = new TextDecoder();
  const events: SseEvent[] = [];
  let text = "";
  while (true) {
    const { value, done } = await bounded("the next SSE chunk", reader.read());
    if (done) throw new Error(`Stream ended; events so far: ${JSON.stringify(events)}`);
    text += dec.decode(value, { stream: true });
    let end;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const e: SseEvent = { event: "message", data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) e.event = ":";
        else if (line.startsWith("event: ")) e.event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      e.data = data.join("\n");
      events.push(e);
      if (until(e)) return events;
    }
  }
}

async function withRelays(fn: (env: TestRelays, hub: Hub) => Promise<void>): Promise<void> {
  const env = await startTestRelays();
  const hub = new Hub(env.relays, { intervalMs: 60_000 });
  try {
    await fn(env, hub);
  } finally {
    hub.stop();
    await env.stop();
  }
}

Deno.test("tokenMatches() compares tokens of any length", () => {
  assert.equal(tokenMatches("s3cret", "s3cret"), true);
  assert.equal(tokenMatches("s3cre", "s3cret"), false);
  assert.equal(tokenMatches("", "s3cret"), false);
  assert.equal(tokenMatches("s3cret-and-more", "s3cret"), false);
});

Deno.test("hostAllowed() takes loopback names and the allowed ones, with any port", () => {
  const none = new Set<string>();
  for (
    const host of [
      "localhost",
      "LOCALHOST:7420",
      "localhost.:7420",
      "dash.localhost:7420",
      "127.0.0.1",
      "127.0.0.1:7420",
      "127.1.2.3:80",
      "[::1]",
      "[::1]:7420",
    ]
  ) assert.equal(hostAllowed(host, none), true, host);
  for (
    const host of [
      "attacker.test",
      "attacker.test:7420",
      "localhost.attacker.test",
      "127.0.0.1.attacker.test:7420",
      "[::2]:7420",
      "0.0.0.0:7420",
      "",
      "localhost:7420:1",
      "local host",
    ]
  ) assert.equal(hostAllowed(host, none), false, host);
  const mine = new Set(["torq.internal", "dash.example:8443"]);
  assert.equal(hostAllowed("torq.internal:7420", mine), true);
  assert.equal(hostAllowed("Torq.Internal", mine), true);
  assert.equal(hostAllowed("dash.example:8443", mine), true);
  assert.equal(hostAllowed("dash.example:7420", mine), false, "a name:port entry allows that port");
});

Deno.test("createApp() with allowedHosts answers other Host names 403 on every route", async () => {
  await withRelays(async (_env, hub) => {
    const app = createApp(hub, { allowedHosts: ["torq.internal"] });
    for (const path of ["/", "/healthz", "/metrics", "/api/relays", "/api/stream", "/nope"]) {
      const res = await app.request(path, { headers: { Host: "attacker.test:7420" } });
      assert.equal(res.status, 403, path);
      const body = await res.json() as ErrorResponse;
      assert.match(
        body.error,
        /^Forbidden: this server answers to localhost, 127\.0\.0\.1 and \[::1\] and torq\.internal, not to Host "attacker\.test:7420"/,
      );
    }
    for (const host of ["localhost:7420", "torq.internal"]) {
      const res = await app.request("/api/tlv-types", { headers: { Host: host } });
      assert.equal(res.status, 200, host);
      await res.body?.cancel();
    }
  });
});

Deno.test("createApp() with a token guards every route but /healthz", async (t) => {
  await withRelays(async (_env, hub) => {
    const app = createApp(hub, { token: "s3cret" });
    const routes = [
      "/",
      "/metrics",
      "/api/relays",
      "/api/connections",
      "/api/rejects",
      "/api/timeline",
      "/api/tlv-types",
      "/api/stream",
      "/no/such/route",
    ];
    await t.step("401 with WWW-Authenticate and no data without a token", async () => {
      for (const path of routes) {
        const res = await app.request(path);
        assert.equal(res.status, 401, path);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, path);
        const body = await res.json() as ErrorResponse;
        assert.deepEqual(Object.keys(body), ["error"], path);
      }
    });
    await t.step("401 with a wrong token, in any place", async () => {
      for (const init of [{ headers: { Authorization: "Bearer s3cre" } }, {}]) {
        assert.equal((await app.request("/api/relays?token=nope", init)).status, 401);
      }
      const res = await app.request("/api/relays", { headers: { Authorization: "Basic s3cret" } });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });
    await t.step("200 with Authorization: Bearer", async () => {
      for (const path of routes.filter((p) => p !== "/api/stream" && p !== "/no/such/route")) {
        const res = await app.request(path, { headers: { Authorization: "Bearer s3cret" } });
        assert.equal(res.status, 200, path);
        await res.body?.cancel();
      }
    });
    await t.step("200 with ?token=, which also sets the cookie", async () => {
      const res = await app.request("/?token=s3cret");
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const setCookie = res.headers.get("set-cookie") ?? "";
      assert.match(setCookie, new RegExp(`^${TOKEN_COOKIE}=s3cret;`));
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      const again = await app.request("/api/relays", {
        headers: { Cookie: `other=1; ${TOKEN_COOKIE}=s3cret` },
      });
      assert.equal(again.status, 200);
      await again.body?.cancel();
    });
    await t.step("/healthz needs no token", async () => {
      const res = await app.request("/healthz");
      assert.equal(res.status, 200);
      const h = await res.json() as HealthResponse;
      assert.equal(h.status, "ok");
    });
  });
});

Deno.test("createApp() serves the API over real relays with traffic", async (t) => {
  await withRelays(async (env, hub) => {
    const app = createApp(hub);
    const md = env.relay("market_data");
    const consumer = await connect(md);
    const producer = await connect(md);
    try {
      await waitFor("both connections", () => md.stats().connections.current === 2);
      await writeAll(producer, tradeFrames(10));
      await readBytes(consumer, 740);
      await writeAll(producer, wrongDomainFrame());
      await waitFor("the wrong-domain frame", () => md.stats().framesIn === 11);
      hub.tick();

      await t.step("GET /api/relays: counters and rates of every relay", async () => {
        const res = await app.request("/api/relays");
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("cache-control"), "no-store");
        const body = await res.json() as RelaysResponse;
        assert.deepEqual(body.relays.map((r) => r.name), ["market_data", "signal", "execution"]);
        assert.deepEqual(body.rates.map((r) => r.name), ["market_data", "signal", "execution"]);
        assert.equal(body.relays[0]!.framesIn, 11);
        assert.equal(body.relays[0]!.drops.WrongDomain, 1);
        assert.equal(body.relays[0]!.connectionsDetail.length, 2);
        assert.ok(body.rates[0]!.msgsInPerSec > 0);
        assert.equal(body.process.pid, Deno.pid);
        assert.ok(body.process.rssBytes > body.process.heapUsedBytes);
        assert.ok(body.process.heapUsedBytes > 0);
      });
      await t.step("GET /api/connections: sorted rows with their relay", async () => {
        const res = await app.request("/api/connections?sort=msgs_in&order=desc");
        const body = await res.json() as ConnectionsResponse;
        assert.deepEqual(body.connections.map((c) => [c.relay, c.framesIn]), [
          ["market_data", 11],
          ["market_data", 0],
        ]);
        assert.equal(typeof body.connections[0]!.queuePercent, "number");
        const asc = await (await app.request("/api/connections?sort=msgs_out&order=asc&limit=1"))
          .json() as ConnectionsResponse;
        assert.deepEqual(asc.connections.map((c) => c.framesOut), [0]);
        const one = await (await app.request("/api/connections?relay=signal"))
          .json() as ConnectionsResponse;
        assert.deepEqual(one.connections, []);
      });
      await t.step("GET /api/connections: bad parameters", async () => {
        for (const q of ["sort=size", "order=up", "limit=-1", "limit=x"]) {
          const res = await app.request(`/api/connections?${q}`);
          assert.equal(res.status, 400, q);
          assert.match((await res.json() as ErrorResponse).error, /must be/);
        }
        const res = await app.request("/api/connections?relay=nope");
        assert.equal(res.status, 404);
        assert.match((await res.json() as ErrorResponse).error, /No relay "nope"/);
      });
      await t.step("GET /api/rejects: the wrong-domain frame with evidence", async () => {
        const body = await (await app.request("/api/rejects?relay=market_data"))
          .json() as RejectsResponse;
        assert.equal(body.rejects.length, 1);
        assert.equal(body.rejects[0]!.relay, "market_data");
        assert.equal(body.rejects[0]!.code, "WrongDomain");
        assert.match(body.rejects[0]!.head, /^efbeadde02/);
      });
      await t.step("GET /api/timeline: one point per tick", async () => {
        hub.tick();
        const body = await (await app.request("/api/timeline?relay=market_data&seconds=1"))
          .json() as TimelineResponse;
        assert.deepEqual(Object.keys(body.timeline), ["market_data"]);
        assert.equal(body.timeline.market_data!.length, 1);
        const all = await (await app.request("/api/timeline")).json() as TimelineResponse;
        assert.equal(all.timeline.signal!.length, 2);
      });
      await t.step("GET /api/tlv-types: the registry", async () => {
        const body = await (await app.request("/api/tlv-types")).json() as TlvTypeJson[];
        const arb = body.find((x) => x.type === 32);
        assert.deepEqual(arb && { name: arb.name, domain: arb.domain, size: arb.size }, {
          name: "ArbitrageSignal",
          domain: "signal",
          size: "170 bytes",
        });
      });
      await t.step("GET / and the assets", async () => {
        const res = await app.request("/");
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
        assert.match(await res.text(), /<html/i);
        for (const [path, asset] of Object.entries(dashboardAssets())) {
          const r = await app.request(path);
          assert.equal(r.status, 200, path);
          assert.equal(r.headers.get("content-type"), asset.type, path);
          const body = new Uint8Array(await r.arrayBuffer());
          const want = typeof asset.body === "string"
            ? new TextEncoder().encode(asset.body)
            : asset.body;
          assert.equal(body.length, want.length, path);
        }
      });
      await t.step("unknown routes answer 404 with an error body", async () => {
        const res = await app.request("/api/nothing");
        assert.equal(res.status, 404);
        assert.deepEqual(await res.json(), { error: "No route /api/nothing" });
      });
    } finally {
      consumer.close();
      producer.close();
    }
  });
});

Deno.test("GET /api/stream delivers stats events and ends on disconnect", async () => {
  await withRelays(async (_env, hub) => {
    const app = createApp(hub);
    hub.tick();
    const res = await app.request("/api/stream");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.getReader();
    try {
      const first = await readEvents(reader, (e) => e.event === "stats");
      assert.equal(first[0]!.event, ":", "the stream opens with a comment");
      const replayed = JSON.parse(first.at(-1)!.data) as StatsEvent;
      assert.equal(replayed.time, hub.latest()!.time, "the latest event comes first");
      assert.equal(hub.listenerCount, 1);
      const event = hub.tick(replayed.time + 1000);
      const live = await readEvents(reader, (e) => e.event === "stats");
      const got = JSON.parse(live.at(-1)!.data) as StatsEvent;
      assert.equal(got.time, event.time);
      assert.deepEqual(got.points.map((p) => p.name), ["market_data", "signal", "execution"]);
      assert.deepEqual(got.relays.map((r) => r.connectionsDetail), [[], [], []]);
    } finally {
      await reader.cancel();
    }
    assert.equal(hub.listenerCount, 0, "the listener is removed on disconnect");
  });
});

Deno.test("GET /api/stream sends heartbeats and closes when the hub stops", async () => {
  await withRelays(async (_env, hub) => {
    const app = createApp(hub, { heartbeatMs: 20 });
    const res = await app.request("/api/stream");
    const reader = res.body!.getReader();
    try {
      const events = await readEvents(reader, (e) => e.event === ":" && e.data === "");
      assert.ok(events.length >= 1);
      await readEvents(reader, (e) => e.event === ":");
      hub.closeListeners();
      await bounded(
        "the stream to end",
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })(),
      );
    } finally {
      await reader.cancel();
    }
  });
});
