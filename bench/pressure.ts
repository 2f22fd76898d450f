/**
 * The execution relay under pressure, timed: an unthrottled producer of sealed
 * OrderRequests, one consumer that is stopped (never reads), one that reads
 * slowly and one that reads as fast as it can. Reports the fast consumer's
 * rate, that it got every frame in order byte-exact, and what the relay says it
 * did with the others (the same scenario as tests/pressure_test.ts, which
 * checks it without timing).
 *
 *   deno task bench:pressure [--frames 1000000] [--reps 3]
 *
 * @module
 */

import { torqArgs } from "./_torq.ts";
import { benchArgs } from "./_args.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";

const HELP = `Usage: deno task bench:pressure -- [options]

Options:
  --frames N   Frames the producer sends (default 1000000)
  --reps N     Repetitions (default 3)
  -h, --help   Show this help`;

const values = benchArgs("bench:pressure", HELP, {
  frames: { type: "string", default: "1000000" },
  reps: { type: "string", default: "3" },
  help: { type: "boolean", short: "h", default: false },
});
const N = Number(values.frames);
const REPS = Number(values.reps);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function orders(n: number): Uint8Array {
  const b = new MessageBuilder({ domain: 3, source: 40, checksum: true });
  const value = new Uint8Array(32);
  const one = b.begin({ sequence: 1 }).addTlv(40, value).build();
  const out = new Uint8Array(n * one.length);
  for (let i = 0; i < n; i++) {
    new DataView(value.buffer).setUint32(0, i + 1, true);
    out.set(b.begin({ sequence: i + 1 }).addTlv(40, value).finish(), i * one.length);
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off, off + (1 << 20)));
}

async function run(sent: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "torq-pressure-" });
  const path = `${dir}/execution.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: torqArgs(["relay", "execution", "--socket", path, "--log-format", "json"]),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = new Response(child.stderr).text();
  for (let i = 0; i < 400; i++) {
    try {
      if (Deno.lstatSync(path).isSocket) break;
    } catch { /* not yet */ }
    await sleep(25);
  }
  const dial = () => Deno.connect({ transport: "unix", path });
  const stopped = await dial();
  const slow = await dial();
  const fast = await dial();
  const producer = await dial();
  await sleep(100);
  let fastBytes = 0;
  let firstAt = 0;
  let lastAt = 0;
  let bad = false;
  const fastRead = (async () => {
    const buf = new Uint8Array(1 << 20);
    while (fastBytes < sent.length) {
      const n = await fast.read(buf);
      if (n === null) break;
      for (let i = 0; i < n && !bad; i += 4099) bad = buf[i] !== sent[fastBytes + i];
      if (firstAt === 0) firstAt = performance.now();
      fastBytes += n;
      lastAt = performance.now();
    }
  })();
  const slowRead = (async () => {
    const buf = new Uint8Array(16_384);
    for (;;) {
      const n = await slow.read(buf).catch(() => null);
      if (n === null) return;
      await sleep(2);
    }
  })();
  const t0 = performance.now();
  await writeAll(producer, sent).catch(async (e) => {
    child.kill("SIGTERM");
    throw new Error(`producer cut off: ${e}\n${await log}`);
  });
  await fastRead;
  const seconds = (lastAt - t0) / 1000;
  for (const c of [stopped, slow, fast, producer]) c.close();
  await slowRead;
  child.kill("SIGTERM");
  await child.status;
  const lines = (await log).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const stop = lines.find((l) => l.msg === "stopped") ?? {};
  const cuts = lines.filter((l) => l.msg === "connection closed" && /^slow/.test(l.reason ?? ""));
  await Deno.remove(dir, { recursive: true });
  const frames = fastBytes / (sent.length / N);
  return `fast consumer ${frames} of ${N} frames${bad ? " (BYTES DIFFER)" : ""} in ${
    seconds.toFixed(3)
  } s: ${
    (frames / seconds / 1000).toFixed(0)
  } K msg/s; relay: forwarded ${stop.frames_forwarded}, ` +
    `slow consumers cut ${cuts.length} (${
      cuts.map((c) =>
        `conn ${c.conn}: ${c.frames_out} delivered + ${c.undelivered_frames} undelivered = ${c.frames_queued} queued`
      )
        .join("; ")
    }), stalls ${stop.stalls}, paced reads ${stop.paced_reads}`;
}

const sent = orders(N);
for (let rep = 1; rep <= REPS; rep++) console.log(`rep ${rep}: ${await run(sent)}`);
