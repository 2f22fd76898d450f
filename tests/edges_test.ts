/**
 * What a careless or hostile user of the tools, the client and the TCP
 * transport could do and what already held (issue 15, "Held"): kept as tests
 * so it stays that way. Real relay processes, real sockets, the real CLI; the
 * NATS cases (a server killed with -9 under load, non-frame and 2 MB messages)
 * are in bridge_test.ts. Every wait is bounded.
 */

import assert from "node:assert/strict";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { BackpressureError, RelayClient } from "../src/client/mod.ts";
import { connect, readFrames, runTorq, startRelay, subscribe, TORQ_RUN } from "./_support/relay.ts";

const WAIT_MS = 20_000;

/** The URL of `torq relay --http`'s `dashboard:` line. */
async function dashboardUrl(relay: { stdoutLines(): string[] }): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const url = relay.stdoutLines().map((l) => /^dashboard: (http:\/\/\S+?)\/?$/.exec(l)?.[1])
      .find((u) => u !== undefined);
    if (url !== undefined) return url;
    if (Date.now() > deadline) assert.fail("no dashboard line");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Spawns `torq <args>`; `finish()` waits (bounded) for its exit and output. */
function spawnTorq(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: decodeURIComponent(new URL("..", import.meta.url).pathname),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  return {
    async finish() {
      const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
      try {
        const out = await output;
        const text = new TextDecoder();
        return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

Deno.test("torq sub and torq top end with one line and exit 1 when their relay dies", async () => {
  const relay = await startRelay("signal", { args: ["--http", "127.0.0.1:0"] });
  const url = await dashboardUrl(relay);
  const sub = spawnTorq(["sub", "signal", "--socket", relay.path]);
  const top = spawnTorq(["top", "--http", url]);
  try {
    // Both are running once the relay counts the subscriber and top has drawn a screen.
    await relay.waitForLog((l) => l.msg === "subscribed", WAIT_MS);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await relay.stop("SIGKILL");
  }
  const [s, t] = [await sub.finish(), await top.finish()];
  assert.equal(s.code, 1, s.stderr);
  assert.match(
    s.stderr.trimEnd().split("\n").at(-1)!,
    new RegExp(`^torq sub: connection closed by the signal relay at ${relay.path}$`),
  );
  assert.doesNotMatch(s.stderr, /Uncaught| {4}at /);
  assert.equal(t.code, 1, t.stderr);
  assert.equal(
    t.stderr.trimEnd(),
    `torq top: Cannot reach the Torq HTTP API at ${url}: connection refused (is 'torq up' running?)`,
  );
});

Deno.test("torq encode refuses deep and huge JSON with one line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "torq_edges_" });
  try {
    const cases: [string, string, string][] = [
      [
        "100,000 nested arrays",
        "[".repeat(100_000) + "]".repeat(100_000),
        "torq encode: Cannot encode message: [0] is not an object",
      ],
      [
        "nested arrays as the TLV list",
        `{"tlvs":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
        "torq encode: Cannot encode message: tlvs[0] is not an object",
      ],
      [
        "a 4 MB payload",
        `{"tlvs":[{"type":202,"payload_hex":"${"ab".repeat(4_000_000)}"}]}`,
        "torq encode: Cannot encode message: tlvs[0] cannot be encoded: Cannot encode TLV 202: value is 4000000 bytes, limit 65535",
      ],
    ];
    for (const [what, json, line] of cases) {
      await t.step(what, async () => {
        const file = `${dir}/in.json`;
        await Deno.writeTextFile(file, json);
        const r = await runTorq(["encode", "--json", file], WAIT_MS);
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr, `${line}\n`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RelayClient: a relay that stops reading bounds the backlog at 64 MiB with BackpressureError", async () => {
  const relay = await startRelay("market-data");
  const client = await RelayClient.connect({ domain: "market_data", path: relay.path });
  try {
    // A relay that does not read (stopped): the kernel's buffers fill, then the client's.
    relay.child.kill("SIGSTOP");
    const frame = new MessageBuilder({ domain: 1, source: 2 }).begin().addTlv(
      202,
      new Uint8Array(65_000),
    ).build();
    let published = 0;
    let refused: unknown = null;
    const deadline = Date.now() + WAIT_MS;
    while (refused === null && Date.now() < deadline) {
      try {
        client.publish(frame);
        published++;
      } catch (e) {
        refused = e;
      }
      if ((published & 63) === 0) await new Promise((r) => setTimeout(r, 0));
    }
    assert.ok(refused instanceof BackpressureError, String(refused));
    assert.equal(refused.limit, 64 * 1024 * 1024);
    assert.ok(client.stats().pendingBytes <= refused.limit);
    // Refused only when the next frame would not fit; everything before it was taken.
    assert.ok(refused.pendingBytes + refused.frameBytes > refused.limit);
    assert.ok(refused.pendingBytes > refused.limit - 2 * frame.length);
    assert.ok(published * frame.length >= refused.pendingBytes);
  } finally {
    relay.child.kill("SIGCONT");
    await client.close({ timeoutMs: 100 });
    await relay.stop();
  }
});

Deno.test("TCP: a frame written a byte at a time arrives whole; a non-loopback address is warned about", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const relay = await startRelay("signal", {
    args: [
      "--set",
      `relays.signal.transport.port=${port}`,
      "--set",
      "relays.signal.transport.address=0.0.0.0",
    ],
  });
  try {
    const warning = await relay.waitForLog(
      (l) => l.level === "warn" && /other than loopback/.test(l.msg),
      WAIT_MS,
    );
    assert.equal(warning.address, `0.0.0.0:${port}`);
    const consumer = await connect(relay.path);
    await subscribe(consumer, ["*"]);
    const producer = await Deno.connect({ hostname: "127.0.0.1", port });
    producer.setNoDelay(true);
    const frame = new MessageBuilder({ domain: 2, source: 20 }).begin({ sequence: 1 })
      .addTlv(32, new Uint8Array(170)).build();
    for (let i = 0; i < frame.length; i++) {
      await producer.write(frame.subarray(i, i + 1));
      if (i % 16 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    assert.deepEqual(await readFrames(consumer, 1), [frame]);
    producer.close();
    consumer.close();
  } finally {
    const r = await relay.stop();
    assert.equal(r.code, 0, r.stderr);
  }
});
