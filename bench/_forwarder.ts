/**
 * The least a relay written for this runtime can do: what producers write to
 * one socket is written, as read, to every consumer of another, one read at a
 * time (each consumer's write awaited before the next read, so it never loses
 * and never queues). No framing, no validation, no counters. bench:c runs it
 * beside the C relay and Torq: what it costs over the C relay is the runtime's
 * (its event loop, its I/O ops, V8), not Torq's.
 *
 *   deno run -A bench/_forwarder.ts PRODUCERS.sock CONSUMERS.sock
 *
 * @module
 */

const [producerPath, consumerPath] = Deno.args;
if (producerPath === undefined || consumerPath === undefined) {
  console.error("usage: _forwarder.ts PRODUCERS.sock CONSUMERS.sock");
  Deno.exit(2);
}

const consumers = new Set<Deno.UnixConn>();

async function acceptConsumers(): Promise<void> {
  for await (const c of Deno.listen({ transport: "unix", path: consumerPath! })) consumers.add(c);
}

async function forward(p: Deno.UnixConn): Promise<void> {
  const buf = new Uint8Array(262_144);
  for (;;) {
    const n = await p.read(buf).catch(() => null);
    if (n === null) break;
    const view = buf.subarray(0, n);
    for (const c of consumers) {
      try {
        let off = 0;
        while (off < n) off += await c.write(off === 0 ? view : view.subarray(off));
      } catch {
        consumers.delete(c);
      }
    }
  }
  p.close();
}

void acceptConsumers();
for await (const p of Deno.listen({ transport: "unix", path: producerPath })) void forward(p);
