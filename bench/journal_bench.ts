/**
 * The execution journal's cost per fsync policy (PROTOCOL.md 7.5, 7.9):
 *
 * 1. the journal alone, in this process: records of 66-byte OrderRequest
 *    frames gathered in batches (1 frame per read: the worst case; 64: a busy
 *    producer) and written, synced by each policy; ns per record and MB/s;
 * 2. a real `torq relay execution` process (audit policy, journal on) under
 *    `bench/relay_throughput.ts`: msgs/s per consumer with each policy.
 *
 *   deno task bench:journal [--seconds 2] [--write]
 *
 * `--write` puts the tables into BENCHMARKS.md between the journal markers
 * (`bench:peers --out BENCHMARKS.md` rewrites its own section and keeps this one).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AuditJournal, type FsyncPolicy } from "../src/relay/journal.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { putSection } from "./_sections.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "2" },
    write: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const POLICIES: readonly FsyncPolicy[] = ["never", "interval", "always"];
const ROOT = new URL("../", import.meta.url).pathname;

/** ns per record and MB/s of journal writes for one policy and batch size. */
function journalAlone(
  fsync: FsyncPolicy,
  batch: number,
): { nsPerRecord: number; mbPerSec: number; records: number } {
  const dir = Deno.makeTempDirSync({ prefix: "torq-journal-bench-" });
  const j = AuditJournal.open(`${dir}/execution.journal`, {
    relay: "execution",
    domain: 3,
    fsync,
    maxBytes: 64 << 20,
    keep: 2,
  });
  const frames = new Uint8Array(66 * batch);
  const b = new MessageBuilder({ domain: 3, source: 40 });
  for (let i = 0; i < batch; i++) {
    frames.set(b.begin({ sequence: i + 1 }).addTlv(40, new Uint8Array(32).fill(1)).build(), i * 66);
  }
  let records = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) j.record(1, 0, frames, i * 66, i * 66 + 66);
    if (!j.flush()) throw new Error(`journal write failed: ${j.lastError}`);
    records += batch;
  }
  const ms = performance.now() - start;
  const bytes = j.bytes;
  j.close();
  Deno.removeSync(dir, { recursive: true });
  return { nsPerRecord: (ms * 1e6) / records, mbPerSec: bytes / 1e3 / ms, records };
}

/** msgs/s per consumer of a real execution relay with the policy (bench/relay_throughput.ts). */
async function relayRate(fsync: FsyncPolicy): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}bench/relay_throughput.ts`,
      "--domains",
      "execution",
      "--sizes",
      "66",
      "--consumers",
      "1",
      "--seconds",
      String(SECONDS),
      "--json",
      "--set",
      `relays.execution.journal.fsync=${fsync}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const results = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    system: string;
    msgsPerSecPerConsumer: number;
  }[];
  return results.find((r) => r.system === "relay")!.msgsPerSecPerConsumer;
}

const m = (n: number) => (n / 1e6).toFixed(2);
const rows: string[] = [];
for (const fsync of POLICIES) {
  const one = journalAlone(fsync, 1);
  const many = journalAlone(fsync, 64);
  const relay = await relayRate(fsync);
  rows.push(
    `| ${fsync.padEnd(8)} | ${one.nsPerRecord.toFixed(0).padStart(9)} ns | ${
      many.nsPerRecord.toFixed(0).padStart(7)
    } ns (${many.mbPerSec.toFixed(0)} MB/s) | ${m(relay).padStart(6)} M |`,
  );
  console.error(`${fsync}: done`);
}
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const section = `## Execution journal: cost per fsync policy

Written by \`deno task bench:journal --seconds ${SECONDS} --write\` on ${
  new Date().toISOString()
} (load average at start ${load}). Records of 66-byte OrderRequest frames (90 bytes each on disk).
"Journal alone": gather and append one batch, in this process; "relay": \`torq relay execution\`
(audit policy: CRC-32, TLV walk, ranges, sequences, timestamps, then the journal before
forwarding), 1 producer, 1 consumer, lossless (\`bench/relay_throughput.ts\`).

| fsync    | journal alone, 1 frame per batch | journal alone, 64 per batch | relay msgs/s |
| -------- | -------------------------------: | --------------------------: | -----------: |
${rows.join("\n")}

\`always\` syncs the file's data (fdatasync) after every batch, before forwarding: its cost is the
disk's flush latency per read batch. \`interval\` (the default, every 100 ms) syncs in the
background: a relay crash loses nothing the kernel has, a machine crash at most the last interval.
`;
console.log(section);
if (values.write) {
  const path = `${ROOT}BENCHMARKS.md`;
  const text = Deno.readTextFileSync(path);
  Deno.writeTextFileSync(path, putSection(text, "journal-bench", section, "last"));
}
