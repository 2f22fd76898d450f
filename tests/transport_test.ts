// One behavioural suite for every Transport: a relay serves the same frames over each.
import assert from "node:assert/strict";
import { Relay } from "../src/relay/relay.ts";
import { MARKET_DATA_LOGIC } from "../src/relay/logic.ts";
import { Logger } from "../src/log/logger.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import type { StreamConn, Transport } from "../src/transport/transport.ts";
import { UnixTransport } from "../src/transport/unix.ts";
import { parseTcpAddress, TcpTransport } from "../src/transport/tcp.ts";
import { loadConfig } from "../src/config/mod.ts";
import { startRelays } from "../src/daemon/relays.ts";
import { RelayClient } from "../src/client/client.ts";

async function readN(conn: StreamConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const deadline = setTimeout(() => conn.close(), 5000);
  try {
    while (got < n) {
      const r = await conn.read(out.subarray(got));
      if (r === null) throw new Error(`stream ended after ${got} of ${n} bytes`);
      got += r;
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

const kinds: [string, (dir: string) => Transport][] = [
  ["unix", (dir) => new UnixTransport(`${dir}/md.sock`)],
  ["tcp", () => new TcpTransport("127.0.0.1", 0)],
];

for (const [name, make] of kinds) {
  Deno.test(`${name} transport: a relay fans frames out to clients connected through it`, async () => {
    const dir = await Deno.makeTempDir();
    const transport = make(dir);
    const relay = new Relay({ ...MARKET_DATA_LOGIC, socketPath: `${dir}/md.sock` }, {
      transport,
      logger: new Logger({ level: "error" }),
    });
    await relay.start();
    const consumer = await transport.connect();
    const producer = await transport.connect();
    try {
      const frames = [1, 2, 3].map((sequence) =>
        new MessageBuilder({ domain: 1, source: 2 }).begin({ sequence }).addTlv(
          18,
          new Uint8Array(32),
        ).build()
      );
      // The relay accepts in connection order, so the consumer is registered before the producer.
      await new Promise((r) => setTimeout(r, 50));
      for (const f of frames) await producer.write(f);
      const got = await readN(consumer, frames.length * 66);
      assert.deepEqual(got, new Uint8Array(frames.flatMap((f) => [...f])));
    } finally {
      consumer.close();
      producer.close();
      await relay.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a relay listens on Unix and TCP at once: a TCP consumer gets a Unix producer's frames", async () => {
  const dir = await Deno.makeTempDir();
  const unix = new UnixTransport(`${dir}/md.sock`);
  const tcp = new TcpTransport("127.0.0.1", 0);
  const relay = new Relay({ ...MARKET_DATA_LOGIC, socketPath: `${dir}/md.sock` }, {
    transport: unix,
    extraTransports: [tcp],
    logger: new Logger({ level: "error" }),
  });
  await relay.start();
  assert.deepEqual(relay.addresses, [`${dir}/md.sock`, tcp.address]);
  const consumer = await tcp.connect();
  await new Promise((r) => setTimeout(r, 50));
  const producer = await unix.connect();
  try {
    const frame = new MessageBuilder({ domain: 1, source: 2 }).begin().addTlv(
      18,
      new Uint8Array(32),
    ).build();
    await producer.write(frame);
    assert.deepEqual(await readN(consumer, frame.length), frame);
  } finally {
    consumer.close();
    producer.close();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TcpTransport refuses a port in use with one line, and parses tcp:// addresses", async () => {
  const a = new TcpTransport("127.0.0.1", 0);
  const listener = await a.listen();
  try {
    const { port } = parseTcpAddress(a.address);
    await assert.rejects(() => new TcpTransport("127.0.0.1", port).listen(), /already in use/);
  } finally {
    listener.close();
  }
  assert.deepEqual(parseTcpAddress("tcp://[::1]:80"), { hostname: "::1", port: 80 });
  assert.throws(() => parseTcpAddress("localhost"), /not a TCP address/);
});

Deno.test("startRelays() also listens on TCP when transport.port is set; RelayClient dials tcp://", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const config = loadConfig({ overrides: { relays: { signal: { transport: { port: 0 } } } } });
  const service = await startRelays(config, ["signal"], {
    socketDir: dir,
    logger: new Logger({ level: "warn", sink: (line) => void lines.push(line) }),
  });
  const relay = service.relays[0]!;
  const clients: RelayClient[] = [];
  try {
    const tcp = relay.addresses[1]!;
    assert.match(tcp, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(parseTcpAddress(tcp).port, 0, "the bound port is reported");
    assert.deepEqual(lines, [], "no warning on loopback");
    const consumer = await RelayClient.connect({ domain: "signal", path: tcp });
    clients.push(consumer);
    assert.equal(consumer.address, tcp);
    while (relay.stats().connections.current < 1) await new Promise((r) => setTimeout(r, 5));
    const producer = await RelayClient.connect({
      domain: "signal",
      path: relay.address,
      publishOnly: true,
    });
    clients.push(producer);
    const frame = new MessageBuilder({ domain: 2, source: 20 }).begin().addTlv(
      32,
      new Uint8Array(170),
    ).build();
    await producer.publishAndFlush(frame);
    const got = await consumer.receive(5000);
    assert.deepEqual(got?.bytes, frame);
  } finally {
    for (const c of clients) await c.close();
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
