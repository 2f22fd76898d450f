import assert from "node:assert/strict";
import { AuditJournal, type AuditJournalOptions } from "./journal.ts";
import {
  decodeJournalHeader,
  JournalError,
  type JournalRecord,
  lastAccepted,
  readJournal,
  readJournalBytes,
  verifyJournal,
} from "./journal_file.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { Status } from "../protocol/errors.ts";
import { Logger } from "../log/logger.ts";
import { rotatedFiles } from "../log/rotating_file.ts";

/** An execution frame (one Portfolio TLV: 66 bytes by default) with the given sequence. */
function frame(sequence: number, size = 32): Uint8Array {
  return new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence })
    .addTlv(46, new Uint8Array(size).fill(sequence & 0xff))
    .build();
}

/** A header-only hello frame (payload_size 0). */
function helloFrame(): Uint8Array {
  const h = frame(0).slice(0, 32);
  h.fill(0, 24, 32); // payload_size and checksum
  return h;
}

/** A logger whose lines are kept. */
function captured(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ format: "json", sink: (l) => lines.push(JSON.parse(l)) });
  return { logger, lines };
}

function open(path: string, options: Partial<AuditJournalOptions> = {}): AuditJournal {
  return AuditJournal.open(path, { relay: "execution", domain: 3, ...options });
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = Deno.makeTempDirSync();
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const all = (path: string, rotated = true): JournalRecord[] => [...readJournal(path, { rotated })];

Deno.test("AuditJournal stores every frame byte-exact with time, conn and verdict", () =>
  withDir((dir) => {
    const path = `${dir}/j/execution.journal`;
    const j = open(path);
    const before = BigInt(Date.now()) * 1_000_000n;
    const a = frame(1);
    const b = frame(2, 100);
    const hello = helloFrame();
    const batch = new Uint8Array([...a, ...b]);
    j.record(7, Status.OK, batch, 0, a.length);
    j.record(7, Status.ChecksumMismatch, batch, a.length, batch.length);
    j.control(9, "hello", hello, 0, 32);
    j.control(9, "subscribe", a, 0, a.length);
    j.control(9, "recovery", b, 0, b.length);
    assert.equal(j.pending, 5);
    assert.ok(j.flush());
    assert.equal(j.pending, 0);
    j.close();
    const after = BigInt(Date.now() + 1) * 1_000_000n;

    const records = all(path);
    assert.deepEqual(
      records.map((r) => [r.result, r.conn, r.error, r.kind]),
      [
        ["PASS", 7, undefined, undefined],
        ["FAIL", 7, "ChecksumMismatch", undefined],
        ["CONTROL", 9, undefined, "hello"],
        ["CONTROL", 9, undefined, "subscribe"],
        ["CONTROL", 9, undefined, "recovery"],
      ],
    );
    assert.deepEqual(records.map((r) => r.frame), [a, b, hello, a, b]);
    for (const r of records) {
      assert.ok(r.receivedNs >= before && r.receivedNs <= after, `receive time ${r.receivedNs}`);
      assert.equal(r.relay, "execution");
      assert.equal(r.domain, 3);
    }
    // One batch, one receive time, to below the millisecond.
    assert.equal(new Set(records.map((r) => r.receivedNs)).size, 1);
    assert.notEqual(records[0]!.receivedNs % 1_000_000n, 0n);
    const header = decodeJournalHeader(Deno.readFileSync(path));
    assert.deepEqual([header.relay, header.domain, header.segment], ["execution", 3, 1]);
  }));

Deno.test("AuditJournal appends to an existing journal after a restart", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    for (let round = 0; round < 3; round++) {
      const j = open(path);
      const f = frame(round + 1);
      j.record(round, Status.OK, f, 0, f.length);
      assert.ok(j.flush());
      j.close();
    }
    assert.deepEqual(all(path).map((r) => r.conn), [0, 1, 2]);
    assert.deepEqual(rotatedFiles(path), [path]);
  }));

Deno.test("AuditJournal rotates by size between batches and keeps `keep` files, oldest first", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    const j = open(path, { maxBytes: 1000, keep: 3 });
    const sent: Uint8Array[] = [];
    for (let i = 1; i <= 60; i++) {
      const f = frame(i);
      sent.push(f);
      j.record(1, Status.OK, f, 0, f.length);
      if (i % 3 === 0) assert.ok(j.flush()); // batches of 3 records (3 × 90 bytes)
    }
    j.close();
    const files = rotatedFiles(path);
    assert.deepEqual(files, [`${path}.3`, `${path}.2`, `${path}.1`, path]);
    for (const f of files) assert.ok(Deno.statSync(f).size <= 1000, `${f} over maxBytes`);
    const segments = files.map((f) => decodeJournalHeader(Deno.readFileSync(f), f).segment);
    assert.deepEqual(segments, segments.map((_, i) => segments[0]! + i), "consecutive segments");
    // The kept files hold the newest records, in order, whole batches each.
    const kept = all(path).map((r) => r.frame);
    assert.deepEqual(kept, sent.slice(sent.length - kept.length));
    assert.equal(kept.length % 3, 0);
    assert.ok(j.stats().rotations >= 6);
  }));

Deno.test("AuditJournal bounds FAIL and CONTROL records per second and writes a summary", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    const j = open(path, { maxFailRecordsPerSecond: 10 });
    const bad = frame(1);
    const hello = helloFrame();
    for (let i = 0; i < 1000; i++) {
      j.record(3, i % 2 === 0 ? Status.ChecksumMismatch : Status.SequenceRegression, bad, 0, 66);
      j.control(4, "hello", hello, 0, 32);
    }
    const ok = frame(2);
    j.record(3, Status.OK, ok, 0, ok.length); // PASS records are never bounded
    assert.ok(j.flush());
    const stats = j.stats();
    assert.equal(stats.failSuppressed, 990);
    assert.equal(stats.controlSuppressed, 990);
    j.close(); // writes the pending summary
    const records = all(path);
    const count = (result: string) => records.filter((r) => r.result === result).length;
    assert.equal(count("FAIL"), 10);
    assert.equal(count("CONTROL"), 10);
    assert.equal(count("PASS"), 1);
    const summaries = records.filter((r) => r.result === "SUMMARY");
    assert.equal(summaries.length, 1);
    const s = summaries[0]!.summary!;
    assert.equal(s.fail_frames, 990);
    assert.equal(s.fail_bytes, 990 * 66);
    assert.deepEqual(s.errors, { ChecksumMismatch: 495, SequenceRegression: 495 });
    assert.equal(s.control_frames, 990);
    assert.equal(s.control_bytes, 990 * 32);
    assert.deepEqual(s.kinds, { hello: 990 });
    assert.ok(BigInt(s.since_ns) <= summaries[0]!.receivedNs);
    assert.equal(summaries[0]!.frame.length, 0);
  }));

Deno.test("AuditJournal with no bound stores every FAIL record", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    const j = open(path, { maxFailRecordsPerSecond: null });
    const bad = frame(1);
    for (let i = 0; i < 500; i++) j.record(3, Status.ChecksumMismatch, bad, 0, bad.length);
    assert.ok(j.flush());
    j.close();
    assert.equal(all(path).length, 500);
    assert.equal(j.stats().failSuppressed, 0);
  }));

/** A journal of `n` PASS records (one per batch); returns the file's bytes and the frames. */
function journalOf(path: string, n: number): { bytes: Uint8Array; frames: Uint8Array[] } {
  const j = open(path);
  const frames: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) {
    const f = frame(i);
    frames.push(f);
    j.record(1, Status.OK, f, 0, f.length);
    assert.ok(j.flush());
  }
  j.close();
  return { bytes: Deno.readFileSync(path), frames };
}

Deno.test("a torn tail is cut when the journal opens, with one log line; readers stop before it", async (t) => {
  await withDir(async (dir) => {
    const path = `${dir}/x.journal`;
    const { bytes, frames } = journalOf(path, 5);
    const recordSize = (bytes.length - 48) / 5;
    for (
      const [name, tail] of [
        ["half a record", bytes.subarray(bytes.length - recordSize, bytes.length - 30)],
        [
          "a record header only",
          bytes.subarray(bytes.length - recordSize, bytes.length - recordSize + 10),
        ],
        ["zeros (a crash after the size grew)", new Uint8Array(4096)],
        [
          "a whole record with a bad CRC",
          (() => {
            const r = bytes.slice(bytes.length - recordSize);
            r[30]! ^= 0xff;
            return r;
          })(),
        ],
      ] as const
    ) {
      await t.step(name, () => {
        Deno.writeFileSync(path, new Uint8Array([...bytes, ...tail]));
        const torn: number[] = [];
        const read = [...readJournal(path, { onTornTail: (d) => torn.push(d.offset, d.bytes) })];
        assert.deepEqual(read.map((r) => r.frame), frames, "every whole record, byte-exact");
        assert.deepEqual(torn, [bytes.length, tail.length]);
        assert.equal(verifyJournal(path)[0]!.tornTail?.offset, bytes.length);

        const { logger, lines } = captured();
        const j = open(path, { logger });
        assert.equal(j.stats().tornBytesCut, tail.length);
        assert.equal(Deno.statSync(path).size, bytes.length);
        assert.deepEqual(lines.map((l) => [l.level, l.msg, l.offset, l.bytes]), [
          ["warn", "journal: cut a torn tail", bytes.length, tail.length],
        ]);
        const f = frame(6);
        j.record(1, Status.OK, f, 0, f.length);
        assert.ok(j.flush());
        j.close();
        assert.deepEqual(all(path).map((r) => r.frame), [...frames, f]);
        Deno.writeFileSync(path, bytes);
      });
    }
    await t.step("a file header cut short", () => {
      Deno.writeFileSync(path, bytes.subarray(0, 20));
      const { logger, lines } = captured();
      const j = open(path, { logger });
      assert.equal(lines[0]!.msg, "journal: cut a torn file header");
      assert.deepEqual(all(path), [], "an empty file holds no records");
      const f = frame(1);
      j.record(1, Status.OK, f, 0, f.length);
      assert.ok(j.flush());
      j.close();
      assert.deepEqual(all(path).map((r) => r.frame), [f]);
      assert.equal(decodeJournalHeader(Deno.readFileSync(path)).segment, 1);
    });
  });
});

Deno.test("a corrupt record in the middle: readers throw with its offset, or skip it when asked; the writer keeps the file", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    const { bytes, frames } = journalOf(path, 6);
    const recordSize = (bytes.length - 48) / 6;
    const bad = 48 + 2 * recordSize; // the third record
    const damaged = bytes.slice();
    damaged[bad + 40]! ^= 0x01; // one bit inside its frame
    Deno.writeFileSync(path, damaged);

    const seen: JournalRecord[] = [];
    assert.throws(
      () => {
        for (const r of readJournal(path)) seen.push(r);
      },
      (e: unknown) =>
        e instanceof JournalError && e.code === "CorruptRecord" && e.offset === bad &&
        e.message.includes(`at offset ${bad} is corrupt (CRC mismatch)`) &&
        e.message.includes(`next valid record is at offset ${bad + recordSize}`),
    );
    assert.deepEqual(seen.map((r) => r.frame), frames.slice(0, 2), "the good records before it");

    const skipped: [number, number, string][] = [];
    const read = [
      ...readJournal(path, { onCorrupt: (d) => skipped.push([d.offset, d.bytes, d.reason]) }),
    ];
    assert.deepEqual(read.map((r) => r.frame), [...frames.slice(0, 2), ...frames.slice(3)]);
    assert.deepEqual(skipped, [[bad, recordSize, "CRC mismatch"]]);
    assert.deepEqual(verifyJournal(path)[0]!.corrupt.map((d) => d.offset), [bad]);

    const { logger, lines } = captured();
    const j = open(path, { logger });
    const f = frame(7);
    j.record(1, Status.OK, f, 0, f.length);
    assert.ok(j.flush());
    j.close();
    assert.deepEqual(all(path, false).map((r) => r.frame), [f]);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, "error");
    assert.equal(lines[0]!.offset, bad);
    assert.deepEqual(Deno.readFileSync(`${path}.1`), damaged, "kept byte for byte");
    assert.equal(decodeJournalHeader(Deno.readFileSync(path)).segment, 2);
  }));

Deno.test("AuditJournal refuses a file that is not a journal, naming it", () =>
  withDir((dir) => {
    const path = `${dir}/execution.audit.jsonl`;
    Deno.writeTextFileSync(path, '{"ts":"2026-01-01T00:00:00.000Z","relay":"execution"}\n');
    assert.throws(
      () => open(path),
      /Cannot read journal .*execution\.audit\.jsonl: it does not start with "TORQJNL1" \(found 0x7b22747322.*\); move it away or point the journal elsewhere/,
    );
    assert.throws(() => [...readJournalBytes(Deno.readFileSync(path), path)], JournalError);
  }));

Deno.test("lastAccepted() returns the newest PASS frames within the bounds, in order, across files", () =>
  withDir((dir) => {
    const path = `${dir}/x.journal`;
    const j = open(path, { maxBytes: 600, keep: 10 });
    const passed: Uint8Array[] = [];
    for (let i = 1; i <= 40; i++) {
      const f = frame(i);
      if (i % 4 === 0) j.record(1, Status.ChecksumMismatch, f, 0, f.length);
      else {
        passed.push(f);
        j.record(1, Status.OK, f, 0, f.length);
      }
      if (i % 5 === 0) j.control(2, "hello", helloFrame(), 0, 32);
      assert.ok(j.flush());
    }
    j.close();
    assert.ok(rotatedFiles(path).length > 4);
    const frames = (limits: { frames: number; bytes: number }) =>
      lastAccepted(path, limits).map((r) => r.frame);
    assert.deepEqual(frames({ frames: 7, bytes: 1 << 20 }), passed.slice(-7));
    assert.deepEqual(frames({ frames: 1000, bytes: 5 * 66 + 65 }), passed.slice(-5));
    assert.deepEqual(frames({ frames: 1000, bytes: 1 << 20 }), passed);
    assert.deepEqual(frames({ frames: 0, bytes: 1 << 20 }), []);
  }));

Deno.test("fsync policies: always syncs every batch, never does not", () =>
  withDir((dir) => {
    for (const fsync of ["always", "never"] as const) {
      const path = `${dir}/${fsync}.journal`;
      const j = open(path, { fsync });
      for (let i = 1; i <= 3; i++) {
        const f = frame(i);
        j.record(1, Status.OK, f, 0, f.length);
        assert.ok(j.flush());
      }
      assert.equal(j.stats().syncs, fsync === "always" ? 3 : 0);
      j.close();
      assert.equal(all(path).length, 3);
    }
  }));
