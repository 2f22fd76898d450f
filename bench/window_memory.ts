/**
 * What full recovery windows cost (PROTOCOL.md 7.9, issue 18): each relay runs
 * as `torq relay` with its default configuration; one producer fills its replay
 * window to its bounds (and, on market data, the last values with 150,000
 * instruments for the 100,000 kept), with no consumer connected. Reports the
 * relay process's resident memory (VmRSS) idle and with the window full, and
 * what the relay says it holds (`/api/relays`).
 *
 *   deno task bench:window-memory [--domains market-data,signal,execution] [--write]
 *
 * `--write` puts the table into BENCHMARKS.md between its own markers.
 *
 * @module
 */

import { ROOT, torqArgs } from "./_torq.ts";
import { putSection } from "./_sections.ts";
import { benchArgs } from "./_args.ts";
import { encodePayload, MessageBuilder } from "../src/protocol/mod.ts";
import { concat, writeAll } from "../src/io/mod.ts";

const HELP = `Usage: deno task bench:window-memory -- [options]

Options:
  --domains LIST   Relays to measure (default market-data,signal,execution)
  --write          Put the table into BENCHMARKS.md
  -h, --help       Show this help`;

const values = benchArgs("bench:window-memory", HELP, {
  domains: { type: "string", default: "market-data,signal,execution" },
  write: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1 << 20;

/** `count` frames the relay accepts, numbered from 1, in one buffer. */
function frames(domain: string, count: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  if (domain === "market-data") {
    const b = new MessageBuilder({ domain: 1, source: 2 });
    for (let i = 1; i <= count; i++) {
      chunks.push(
        b.begin({ sequence: i }).addTlv(
          1,
          encodePayload(1, {
            asset_id: BigInt(i % 150_000),
            price: BigInt(i),
            volume: 1n,
            execution_timestamp_ns: 0n,
            venue_id: 101,
            asset_type: 1,
            reserved: 0,
            side: 0,
          }),
        ).build(),
      );
    }
  } else {
    const [d, source, type, length] = domain === "signal" ? [2, 20, 32, 170] : [3, 40, 40, 32];
    const b = new MessageBuilder({ domain: d, source, checksum: true });
    const value = new Uint8Array(length);
    for (let i = 1; i <= count; i++) {
      new DataView(value.buffer).setUint32(0, i, true);
      chunks.push(b.begin({ sequence: i }).addTlv(type, value).build());
    }
  }
  return concat(chunks);
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

interface Recovery {
  windowFrames: number;
  windowBytes: number;
  lastValues: number | null;
}

async function measure(domain: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "torq-winmem-" });
  const path = `${dir}/relay.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: torqArgs(["relay", domain, "--socket", path, "--http", "127.0.0.1:0"]),
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let url = "";
  while (url === "") {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${domain}: the relay exited before serving`);
    url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(value)?.[1] ?? "";
  }
  void reader.read().then(function drain(r): unknown {
    return r.done ? null : reader.read().then(drain);
  });
  for (let i = 0; i < 200; i++) {
    try {
      if (Deno.lstatSync(path).isSocket) break;
    } catch { /* not yet */ }
    await sleep(25);
  }
  await sleep(1500); // settled after start
  const idle = rssMiB(child.pid);
  // Enough to fill the defaults: market data 64 MiB (~890 k Trades), the others 100 k frames.
  const count = domain === "market-data" ? 1_000_000 : 120_000;
  const bytes = frames(domain, count);
  const producer = await Deno.connect({ transport: "unix", path });
  await writeAll(producer, bytes);
  producer.close();
  await sleep(2500); // forwarded, and a tidy pass has given back what the burst left
  const full = rssMiB(child.pid);
  const relays = await (await fetch(`${url}api/relays`)).json() as {
    relays: { recovery: Recovery | null }[];
  };
  const r = relays.relays[0]!.recovery!;
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(dir, { recursive: true });
  return `| ${domain} | ${r.windowFrames.toLocaleString("en-US")} | ${
    (r.windowBytes / MB).toFixed(1)
  } MiB | ${r.lastValues === null ? "–" : r.lastValues.toLocaleString("en-US")} | ${
    idle.toFixed(0)
  } MiB | ${full.toFixed(0)} MiB | +${(full - idle).toFixed(0)} MiB |`;
}

const rows = [
  "| relay | window frames | window bytes | last values | RSS idle | RSS full | full − idle |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const d of values.domains!.split(",")) rows.push(await measure(d.trim()));
const section = `## Recovery: memory of full windows

Written by \`deno task bench:window-memory --write\` on ${new Date().toISOString()} (load average
at start ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}). Each relay is \`torq relay\` with
the default configuration (market data: window 1,000,000 frames / 64 MiB and 100,000 last values;
signal and execution: 100,000 frames / 16 MiB); one producer fills the window past its bounds
(market data: Trades of 150,000 instruments), no consumer. Resident memory of the relay process,
1.5 s after start and 2.5 s after the burst.

${rows.join("\n")}

The window holds frames as they were forwarded, sharing the bytes of the consumers' queues; it lets
go of whole forwarded runs, so it holds up to one run (a read) fewer frames than its bound. A
last value costs a 256-byte cell.
`;
console.log(section);
if (values.write) {
  const path = `${ROOT}BENCHMARKS.md`;
  Deno.writeTextFileSync(
    path,
    putSection(Deno.readTextFileSync(path), "window-memory", section, "last"),
  );
}
