// The HTTP API and dashboard from the command line: `torq up --http`, `torq
// relay --http`, `torq top --once` and `torq stats` as real processes against
// real relays on temporary sockets, with every wait bounded.
import assert from "node:assert/strict";
import { MessageBuilder } from "../src/protocol/builder.ts";
import type { HealthResponse, RelaysResponse } from "../src/http/api.ts";
import { runTorq } from "./_support/relay.ts";
import { startTorq } from "./_support/http.ts";

const WAIT_MS = 20_000;

/** Writes `n` Trades (74 bytes each) to a socket. */
async function publishTrades(path: string, n: number): Promise<void> {
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    for (let i = 0; i < n; i++) {
      const frame = b.begin().addPayload(1, {
        asset_id: 4779518966531048448n,
        price: 4512350000000n,
        volume: 12345678n,
        execution_timestamp_ns: 1700000000000000000n,
        venue_id: 101,
        asset_type: 51,
        reserved: 0,
        side: 0,
      }).finish();
      let off = 0;
      while (off < frame.length) off += await conn.write(frame.subarray(off));
    }
  } finally {
    conn.close();
  }
}

async function getJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return await res.json() as T;
}

/** Polls until `check` holds, bounded. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port nothing listens on (bound, then released). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("torq up --http serves the API; torq stats and torq top --once read it", async (t) => {
  const up = await startTorq((dir) => ["up", "--socket-dir", dir, "--http", "127.0.0.1:0"]);
  try {
    assert.match(up.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(up.stdout.some((l) => /^ {2}market_data +\S+market_data\.sock/.test(l)));
    await publishTrades(`${up.dir}/market_data.sock`, 12);
    await eventually("12 frames counted", async () => {
      const body = await getJson<RelaysResponse>(`${up.url}api/relays`);
      return body.relays[0]!.framesIn === 12;
    });

    await t.step("GET /healthz", async () => {
      const h = await getJson<HealthResponse>(`${up.url}healthz`);
      assert.equal(h.status, "ok");
      assert.equal(h.relays.length, 3);
    });
    await t.step("torq stats --json prints /api/relays", async () => {
      const r = await runTorq(["stats", "--json", "--http", up.url]);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout) as RelaysResponse;
      assert.deepEqual(body.relays.map((x) => x.name), ["market_data", "signal", "execution"]);
      assert.equal(body.relays[0]!.framesIn, 12);
      assert.equal(body.rates.length, 3);
    });
    await t.step("torq stats prints a summary", async () => {
      const r = await runTorq(["stats", "--http", up.url.replace("http://", "")]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^market_data {2}performance policy {2}up /m);
      assert.match(r.stdout, /^ {2}in +12 frames +888 B /m);
      assert.match(r.stdout, /^signal {2}standard policy, strict/m);
      assert.match(
        r.stdout,
        /^ {2}journal .*execution\.journal {2}\d+ records, 0 failures, 0 over the bound \(fsync interval\)$/m,
      );
    });
    await t.step("torq top --once prints one screen", async () => {
      const r = await runTorq(["top", "--once", "--http", up.url, "--sort", "msgs_in"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes("\x1b["), "no ANSI codes off a terminal");
      const lines = r.stdout.trimEnd().split("\n");
      assert.match(lines[0]!, /^torq top {2}http:\/\/127\.0\.0\.1:\d+ {2}.* by msgs_in$/);
      assert.match(r.stdout, /^RELAY +CONNS +IN\/S +OUT\/S/m);
      assert.match(r.stdout, /^market_data +\d/m);
      assert.match(r.stdout, /^execution +\d/m);
      for (const line of lines) assert.ok(line.length <= 80, `wider than 80 columns: ${line}`);
    });
  } finally {
    const { code, stderr } = await up.stop();
    assert.equal(code, 0, stderr);
  }
});

Deno.test("torq up --http with the port in use exits 1 with one line", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const dir = await Deno.makeTempDir({ prefix: "torq-http-cli-" });
  try {
    const r = await runTorq(["up", "--socket-dir", dir, "--http", `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `torq up: Cannot listen on 127.0.0.1:${port}: address already in use (choose another with --http HOST:PORT)\n`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no relay started");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq up --http rejects an address that is not HOST:PORT", async () => {
  const r = await runTorq(["up", "--http", "7420"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'torq up: Cannot listen on "7420": expected HOST:PORT, e.g. 127.0.0.1:7420\n',
  );
});

Deno.test("torq stats and torq top say in one line that the API is not reachable", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  for (const args of [["stats"], ["stats", "--json"], ["top", "--once"]]) {
    const r = await runTorq([...args, "--http", url]);
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `torq ${
        args[0]
      }: Cannot reach the Torq HTTP API at ${url}: connection refused (is 'torq up' running?)\n`,
    );
  }
});

Deno.test("torq up with http.token: 401 without it, /healthz open, --token works", async () => {
  const up = await startTorq((dir) => [
    "up",
    "--socket-dir",
    dir,
    "--http",
    "127.0.0.1:0",
    "--set",
    "http.token=s3cret",
  ]);
  try {
    assert.ok(!up.stdout.join("\n").includes("s3cret"), "the token is never printed");
    const denied = await fetch(`${up.url}api/relays`, { signal: AbortSignal.timeout(WAIT_MS) });
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    assert.equal((await getJson<HealthResponse>(`${up.url}healthz`)).status, "ok");
    const without = await runTorq(["stats", "--http", up.url]);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /^torq stats: .*requires a token.*\n$/);
    const withToken = await runTorq(["stats", "--json", "--http", up.url, "--token", "s3cret"]);
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.equal((JSON.parse(withToken.stdout) as RelaysResponse).relays.length, 3);
  } finally {
    await up.stop();
  }
});

Deno.test("torq relay --http serves one relay's dashboard; a wildcard host warns", async () => {
  const relay = await startTorq((dir) => [
    "relay",
    "signal",
    "--socket",
    `${dir}/signals.sock`,
    "--http",
    "0.0.0.0:0",
  ]);
  try {
    const url = relay.url.replace("0.0.0.0", "127.0.0.1");
    const body = await getJson<RelaysResponse>(`${url}api/relays`);
    assert.deepEqual(body.relays.map((r) => r.name), ["signal"]);
  } finally {
    const { code, stderr } = await relay.stop();
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /^torq relay: warning: the HTTP API on 0\.0\.0\.0:\d+ is reachable from other machines and has no token \(set http\.token\)$/m,
    );
  }
});

Deno.test("torq up --demo feeds all three relays", async () => {
  const up = await startTorq((
    dir,
  ) => ["up", "--socket-dir", dir, "--http", "127.0.0.1:0", "--demo"]);
  try {
    assert.ok(up.stdout.some((l) => l.startsWith("demo: ")));
    await eventually("traffic on every relay", async () => {
      const body = await getJson<RelaysResponse>(`${up.url}api/relays`);
      return body.relays.every((r) => r.framesForwarded > 0);
    });
  } finally {
    const { code, stderr } = await up.stop();
    assert.equal(code, 0, stderr);
  }
});
