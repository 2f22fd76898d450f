/**
 * The execution journal end to end (PROTOCOL.md 7.5, 7.9, D-37, D-40), with
 * real relay processes started through the CLI: a relay killed with SIGKILL
 * under load leaves a journal that verifies and reads back byte-exact; a torn
 * tail is cut at the next start with one log line; a flood of rejected frames
 * cannot grow the journal past its per-second bound; rotation by size; the
 * people's view (`torq journal show|verify`), `torq decode --file` and
 * `torq replay` of a journal.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  close,
  concat,
  connect,
  corrupt,
  helloFrame,
  makeFrames,
  PROFILES,
  readFrames,
  ROOT,
  runTorq,
  send,
  startRelay,
  subscribe,
  TORQ_RUN,
} from "./_support/relay.ts";
import {
  type JournalRecord,
  readJournal,
  RECORD_HEADER_SIZE,
  verifyJournal,
} from "../src/relay/journal_file.ts";
import { rotatedFiles } from "../src/log/rotating_file.ts";
import { HEADER_SIZE } from "../src/protocol/header.ts";

const EXECUTION = PROFILES.find((p) => p.name === "execution")!;
const JOURNAL_KEYS = ["ts", "relay", "conn", "domain", "source", "sequence", "size", "result"];

/** Splits a byte stream into frames by their payload_size. */
function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off + HEADER_SIZE <= bytes.length) {
    const end = off + HEADER_SIZE + dv.getUint32(off + 24, true);
    if (end > bytes.length) break;
    out.push(bytes.subarray(off, end));
    off = end;
  }
  return out;
}

/** Reads a connection to its end (or `limitMs`) in the background: the bytes received, counted as they come. */
function collect(
  conn: Deno.Conn,
  limitMs: number,
): { bytes: () => Uint8Array; frames: () => number; done: Promise<void> } {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const timer = setTimeout(() => conn.close(), limitMs);
  const done = (async () => {
    const buf = new Uint8Array(1 << 16);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
        total += n;
      }
    } catch {
      // closed by the timer or the relay's death
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    bytes: () => concat(chunks),
    frames: () => Math.floor(total / 66), // execution frames of the profile are 66 bytes
    done,
  };
}

const records = (
  path: string,
  rotated = true,
): JournalRecord[] => [...readJournal(path, { rotated })];
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Index of the first frame of `got` that differs from `want` (or the shorter length). */
function firstDifference(got: readonly Uint8Array[], want: readonly Uint8Array[]): number {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) if (!sameBytes(got[i]!, want[i]!)) return i;
  return n;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "torq_journal_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("journal: SIGKILL under load, restart: the journal verifies, a torn tail is cut with one log line, every record before it is byte-exact and what the consumer received", async () => {
  await withDir(async (dir) => {
    const journal = `${dir}/execution.journal`;
    const relay = await startRelay("execution", { args: ["--journal", journal] });
    const sent: Uint8Array[] = [];
    let consumer: Deno.Conn | undefined;
    let producer: Deno.Conn | undefined;
    let received: ReturnType<typeof collect> | undefined;
    try {
      consumer = await connect(relay.path);
      await subscribe(consumer, ["*"]); // accepted and answered: it gets every later frame
      producer = await connect(relay.path);
      await send(producer, helloFrame());
      received = collect(consumer, 30_000);
      // Under load: batches of 500, no more than 5,000 frames ahead of the consumer; SIGKILL
      // right after a batch was written to the socket, while the relay is handling it.
      const deadline = Date.now() + 20_000;
      let seq = 1;
      while (sent.length < 60_000 && Date.now() < deadline) {
        const batch = makeFrames(EXECUTION, 500, { first: seq });
        seq += 500;
        try {
          await send(producer, concat(batch));
        } catch {
          break; // the relay is gone
        }
        sent.push(...batch);
        if (received.frames() >= 20_000) {
          relay.child.kill("SIGKILL");
          break;
        }
        while (sent.length - received.frames() > 5_000 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      assert.ok(
        received.frames() >= 20_000,
        `the consumer got ${received.frames()} frames in time`,
      );
      const r = await relay.stop();
      assert.equal(r.signal, "SIGKILL", r.stderr);
      await received.done;
    } finally {
      await close(...[consumer, producer].filter((c) => c !== undefined));
      await relay.stop();
    }

    // The journal after the crash: whole records, at most a torn tail (a write cut by the kill).
    const [after] = verifyJournal(journal, { rotated: false });
    assert.equal(after!.error, null);
    assert.deepEqual(after!.corrupt, [], "no corrupt record in the middle");
    const size = Deno.statSync(journal).size;
    let tornAt = after!.tornTail?.offset ?? -1;
    let tornBytes = after!.tornTail?.bytes ?? 0;
    if (tornAt < 0) {
      // The kill landed between writes (write(2) to a file is rarely cut short by SIGKILL):
      // tear the last record as a power cut or a full disk would, to prove the repair.
      const all = records(journal);
      const last = all[all.length - 1]!;
      const whole = Deno.readFileSync(journal).subarray(last.offset);
      Deno.writeFileSync(journal, whole.subarray(0, Math.floor(whole.length / 2)), {
        append: true,
      });
      tornAt = size;
      tornBytes = Math.floor(whole.length / 2);
    }
    const before = records(journal); // readers stop before a torn tail
    assert.ok(before.every((r) => r.offset < tornAt));

    // Restart on the same journal: the torn tail is cut, once, with one log line.
    const next = makeFrames(EXECUTION, 3, { first: 1 });
    const again = await startRelay("execution", { args: ["--journal", journal] });
    try {
      const cut = again.logs().filter((l) => l.msg === "journal: cut a torn tail");
      assert.equal(cut.length, 1, again.stderrLines().join("\n"));
      assert.equal(cut[0]!.offset, tornAt);
      assert.equal(cut[0]!.bytes, tornBytes);
      assert.equal(cut[0]!.level, "warn");
      assert.equal(Deno.statSync(journal).size, tornAt);
      // It serves, and journals on after the cut.
      const c = await connect(again.path);
      const p = await connect(again.path);
      await subscribe(c, ["*"]);
      await send(p, concat(next));
      assert.deepEqual(await readFrames(c, 3), next);
      await close(c, p);
    } finally {
      const r = await again.stop();
      assert.equal(r.code, 0, r.stderr);
    }

    const [final] = verifyJournal(journal, { rotated: false });
    assert.deepEqual(
      [final!.error, final!.corrupt, final!.tornTail],
      [null, [], null],
      "the journal verifies",
    );
    const all = records(journal);
    assert.deepEqual(
      all.slice(0, before.length),
      before,
      "the records before the tail are unchanged",
    );
    const pass = before.filter((r) => r.result === "PASS").map((r) => r.frame);
    const got = splitFrames(received!.bytes());
    // Byte for byte what the producer sent, in order, and never a frame the journal lacks.
    assert.equal(firstDifference(pass, sent), pass.length, "journaled frames are the sent frames");
    assert.equal(firstDifference(got, pass), got.length, "the consumer got journaled frames only");
    assert.ok(pass.length >= got.length && pass.length <= sent.length);
    assert.ok(got.length >= 20_000);
    assert.deepEqual(
      before.filter((r) => r.result === "CONTROL").map((r) => r.kind),
      ["subscribe", "hello"],
    );
    assert.equal(before.filter((r) => r.result === "FAIL").length, 0);
    for (let i = 1; i < before.length; i++) {
      assert.ok(before[i]!.receivedNs >= before[i - 1]!.receivedNs, "receive times in order");
    }
    const later = all.slice(before.length);
    assert.deepEqual(later.map((r) => r.kind ?? r.result), ["subscribe", "PASS", "PASS", "PASS"]);
    assert.deepEqual(later.slice(1).map((r) => r.frame), next);
  });
  await assertAllClosed();
});

Deno.test("journal: a flood of rejected frames is bounded per second and summarized (issue 14 item 6)", async () => {
  await withDir(async (dir) => {
    const journal = `${dir}/execution.journal`;
    const relay = await startRelay("execution", {
      args: [
        "--journal",
        journal,
        "--set",
        "relays.execution.journal.max_fail_records_per_second=50",
      ],
    });
    let flood = 0;
    let floodBytes = 0;
    const started = Date.now();
    try {
      const consumer = await connect(relay.path);
      const producer = await connect(relay.path);
      await subscribe(consumer, ["*"]);
      // 120,000 frames with a bad checksum (7.9 MB), as fast as the socket takes them.
      const bad = makeFrames(EXECUTION, 1_000).map(corrupt);
      for (let i = 0; i < 120; i++) {
        await send(producer, concat(bad));
        flood += bad.length;
        floodBytes += bad.length * bad[0]!.length;
      }
      // The relay still serves: a good frame after the flood is forwarded.
      const good = makeFrames(EXECUTION, 1, { first: 1 });
      await send(producer, good[0]!);
      assert.deepEqual(await readFrames(consumer, 1), good);
      await close(consumer, producer);
    } finally {
      const r = await relay.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
    const all = records(journal);
    const fails = all.filter((r) => r.result === "FAIL");
    const summaries = all.filter((r) => r.result === "SUMMARY");
    // At most 50 stored FAIL records per second; every other rejected frame is counted in a summary.
    assert.ok(fails.length <= 50 * seconds, `${fails.length} FAIL records in ${seconds} s`);
    assert.ok(fails.length >= 50);
    assert.ok(summaries.length >= 1);
    const counted = summaries.reduce((n, r) => n + r.summary!.fail_frames, 0);
    assert.equal(fails.length + counted, flood, "every rejected frame stored or counted");
    assert.equal(
      summaries.reduce((n, r) => n + r.summary!.errors.ChecksumMismatch!, 0),
      counted,
    );
    assert.equal(
      summaries.reduce((n, r) => n + r.summary!.fail_bytes, 0),
      counted * 66,
    );
    assert.ok(fails.every((r) => r.error === "ChecksumMismatch" && r.frame.length === 66));
    assert.equal(all.filter((r) => r.result === "PASS").length, 1);
    // The journal stays small: the old JSON journal wrote ~170 bytes per rejected frame.
    const size = Deno.statSync(journal).size;
    assert.ok(size < floodBytes / 50, `journal ${size} B for ${floodBytes} B of rejected frames`);
  });
});

Deno.test("journal: rotated by size, oldest files deleted beyond keep, read back in order", async () => {
  await withDir(async (dir) => {
    const journal = `${dir}/execution.journal`;
    const relay = await startRelay("execution", {
      args: [
        "--journal",
        journal,
        "--set",
        "relays.execution.journal.max_bytes=65536",
        "--set",
        "relays.execution.journal.keep=3",
      ],
    });
    const sent: Uint8Array[] = [];
    try {
      const consumer = await connect(relay.path);
      const producer = await connect(relay.path);
      await subscribe(consumer, ["*"]);
      for (let i = 0; i < 20; i++) {
        const batch = makeFrames(EXECUTION, 250, { first: 1 + i * 250 });
        await send(producer, concat(batch));
        sent.push(...batch);
        await readFrames(consumer, batch.length); // in step: the journal rotates between batches
      }
      await close(consumer, producer);
    } finally {
      const r = await relay.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    // 5,000 records of 90 bytes (450 KB) in files of at most 64 KiB, 3 kept besides the live one.
    const files = rotatedFiles(journal);
    assert.deepEqual(files, [`${journal}.3`, `${journal}.2`, `${journal}.1`, journal]);
    for (const f of files) assert.ok(Deno.statSync(f).size <= 65536, `${f} is over max_bytes`);
    const pass = records(journal).filter((r) => r.result === "PASS").map((r) => r.frame);
    assert.ok(pass.length > 1000 && pass.length < sent.length);
    const tail = sent.slice(sent.length - pass.length);
    assert.equal(firstDifference(pass, tail), pass.length, "the newest frames, in order");
    const verify = await runTorq(["journal", "verify", journal, "--all"]);
    assert.equal(verify.code, 0, verify.stderr);
    const lines = verify.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.ok(
      lines.every((l) =>
        /: execution segment \d+, \d+ records \(PASS \d+, FAIL 0, CONTROL \d, SUMMARY 0\), \d+ bytes: ok$/
          .test(l)
      ),
      verify.stdout,
    );
  });
});

/** A journal with PASS, FAIL and CONTROL records (a relay run and stopped). */
async function smallJournal(
  dir: string,
): Promise<{ journal: string; good: Uint8Array[]; bad: Uint8Array }> {
  const journal = `${dir}/execution.journal`;
  const relay = await startRelay("execution", { args: ["--journal", journal] });
  const good = makeFrames(EXECUTION, 4, { first: 1 });
  const bad = corrupt(makeFrames(EXECUTION, 1, { first: 5 })[0]!);
  try {
    const consumer = await connect(relay.path);
    const producer = await connect(relay.path);
    await subscribe(consumer, ["*"]);
    await send(producer, helloFrame());
    await send(producer, concat([good[0]!, good[1]!, bad, good[2]!, good[3]!]));
    assert.equal((await readFrames(consumer, 4)).length, 4);
    await close(consumer, producer);
  } finally {
    const r = await relay.stop();
    assert.equal(r.code, 0, r.stderr);
  }
  return { journal, good, bad };
}

Deno.test("torq journal show: text and JSON views, filters, decode, verify", async (t) => {
  await withDir(async (dir) => {
    const { journal, good, bad } = await smallJournal(dir);

    await t.step("text: one line per record", async () => {
      const r = await runTorq(["journal", "show", journal]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      assert.equal(lines.length, 7, r.stdout);
      const ts = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z`;
      assert.match(
        lines[0]!,
        new RegExp(`^${ts}  conn 0  CONTROL  source 20  seq 0  \\d+ B  subscribe$`),
      );
      assert.match(lines[1]!, new RegExp(`^${ts}  conn 1  CONTROL  source 2  seq 0  32 B  hello$`));
      assert.match(lines[2]!, new RegExp(`^${ts}  conn 1  PASS     source 40  seq 1  66 B$`));
      assert.match(
        lines[4]!,
        new RegExp(`^${ts}  conn 1  FAIL     source 40  seq 5  66 B  ChecksumMismatch$`),
      );
    });

    await t.step("--json: the audit record's fields (7.5, D-40)", async () => {
      const r = await runTorq(["journal", "show", journal, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(rows.map((x) => Object.keys(x)), [
        [...JOURNAL_KEYS, "kind"],
        [...JOURNAL_KEYS, "kind"],
        JOURNAL_KEYS,
        JOURNAL_KEYS,
        [...JOURNAL_KEYS, "error"],
        JOURNAL_KEYS,
        JOURNAL_KEYS,
      ]);
      assert.deepEqual(
        rows.map((x) => [x.result, x.kind ?? x.error ?? null, x.sequence, x.size]),
        [
          ["CONTROL", "subscribe", "0", rows[0].size],
          ["CONTROL", "hello", "0", 32],
          ["PASS", null, "1", 66],
          ["PASS", null, "2", 66],
          ["FAIL", "ChecksumMismatch", "5", 66],
          ["PASS", null, "3", 66],
          ["PASS", null, "4", 66],
        ],
      );
      assert.ok(rows.every((x) => x.relay === "execution"));
      assert.ok(rows.every((x) => /^\d{4}-\d\d-\d\dT.*Z$/.test(x.ts)));
    });

    await t.step("--result, --conn, --since, --hex, --decode", async () => {
      const fail = await runTorq([
        "journal",
        "show",
        journal,
        "--json",
        "--result",
        "FAIL",
        "--hex",
        "--decode",
      ]);
      assert.equal(fail.code, 0, fail.stderr);
      const [row, ...rest] = fail.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(rest.length, 0);
      assert.equal(row.frame_hex, Array.from(bad, (x) => x.toString(16).padStart(2, "0")).join(""));
      assert.equal(row.decoded.header.checksum_status, "mismatch");
      const pass = await runTorq([
        "journal",
        "show",
        journal,
        "--result",
        "pass",
        "--conn",
        "1",
        "--decode",
      ]);
      assert.equal(pass.code, 0, pass.stderr);
      assert.equal(pass.stdout.match(/ {2}PASS {2}/g)?.length, 4);
      assert.match(pass.stdout, /^ {4}header: 66 bytes, 1 TLV$/m);
      const none = await runTorq(["journal", "show", journal, "--since", "2999-01-01T00:00:00Z"]);
      assert.deepEqual([none.code, none.stdout], [0, ""]);
      const recent = await runTorq(["journal", "show", journal, "--since", "1h", "--json"]);
      assert.equal(recent.stdout.trimEnd().split("\n").length, 7);
      const usage = await runTorq(["journal", "show", journal, "--result", "MAYBE"]);
      assert.equal(usage.code, 2);
      assert.match(
        usage.stderr,
        /^torq journal show: --result "MAYBE": expected PASS, FAIL, CONTROL, SUMMARY/,
      );
    });

    await t.step(
      "verify, and damage: show prints what is readable and says where the damage is",
      async () => {
        const ok = await runTorq(["journal", "verify", journal]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(
          ok.stdout,
          /execution\.journal: execution segment 1, 7 records \(PASS 4, FAIL 1, CONTROL 2, SUMMARY 0\), \d+ bytes: ok\n$/,
        );
        const damaged = `${dir}/damaged.journal`;
        const bytes = Deno.readFileSync(journal);
        const third = records(journal)[2]!.offset;
        bytes[third + RECORD_HEADER_SIZE + 40]! ^= 1;
        Deno.writeFileSync(damaged, bytes);
        const bad = await runTorq(["journal", "verify", damaged]);
        assert.equal(bad.code, 1);
        assert.match(
          bad.stdout,
          new RegExp(`corrupt record at offset ${third} \\(90 bytes: CRC mismatch\\)`),
        );
        const show = await runTorq(["journal", "show", damaged, "--json"]);
        assert.equal(show.code, 1);
        assert.equal(show.stdout.trimEnd().split("\n").length, 6, "every other record");
        assert.equal(
          show.stderr,
          `torq journal show: corrupt record in ${damaged} at offset ${third}: 90 bytes skipped (CRC mismatch)\n`,
        );
        const notJournal = await runTorq(["journal", "show", `${ROOT}README.md`]);
        assert.equal(notJournal.code, 1);
        assert.match(
          notJournal.stderr,
          /^torq journal show: NotAJournal: Cannot read journal .*README\.md: it does not start with "TORQJNL1"/,
        );
        assert.equal(notJournal.stderr.trimEnd().split("\n").length, 1);
      },
    );

    await t.step(
      "torq decode --file decodes the journal's accepted and control frames",
      async () => {
        const r = await runTorq(["decode", "--json", "--file", journal]);
        assert.equal(r.code, 0, r.stderr);
        const messages = JSON.parse(r.stdout) as { header: { sequence: string } }[];
        assert.deepEqual(messages.map((m) => m.header.sequence), ["0", "0", "1", "2", "3", "4"]);
        assert.match(r.stderr, /left out 1 rejected frame\(s\) of the journal/);
        assert.equal(good.length, 4);
      },
    );
  });
});

Deno.test("torq replay plays a journal's accepted frames into a relay, byte for byte", async () => {
  await withDir(async (dir) => {
    const { journal, good } = await smallJournal(dir);
    const relay = await startRelay("execution");
    try {
      const consumer = await connect(relay.path);
      await subscribe(consumer, ["*"]);
      const r = await runTorq(["replay", journal, "--socket", relay.path, "--rate", "max"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /^replayed 4 frames \(264 bytes\) from .*execution\.journal to execution relay/,
      );
      assert.deepEqual(
        await readFrames(consumer, 4),
        good,
        "the PASS frames, not the rejected or control ones",
      );
      await close(consumer);
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("torq journal show --follow prints records as the relay writes them, across rotations", async () => {
  await withDir(async (dir) => {
    const journal = `${dir}/execution.journal`;
    const relay = await startRelay("execution", {
      args: ["--journal", journal, "--set", "relays.execution.journal.max_bytes=8192"],
    });
    const follower = new Deno.Command(Deno.execPath(), {
      args: [
        ...TORQ_RUN,
        "journal",
        "show",
        journal,
        "--follow",
        "--json",
        "--result",
        "PASS",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const rows: Record<string, unknown>[] = [];
    const reading = (async () => {
      let carry = "";
      for await (const text of follower.stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (carry + text).split("\n");
        carry = parts.pop()!;
        for (const l of parts) rows.push(JSON.parse(l));
      }
    })();
    const stderr = new Response(follower.stderr).text();
    try {
      const consumer = await connect(relay.path);
      const producer = await connect(relay.path);
      await subscribe(consumer, ["*"]);
      // 600 frames in 30 batches: 54 KB of records over files of 8 KiB. The follower starts at
      // the live file (like tail -f): the first batch is sent once it is reading.
      const deadline = Date.now() + 15_000;
      for (let i = 0; i < 30; i++) {
        const batch = makeFrames(EXECUTION, 20, { first: 1 + i * 20 });
        await send(producer, concat(batch));
        await readFrames(consumer, 20);
        while (i === 0 && rows.length < 20 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      while (rows.length < 600 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await close(consumer, producer);
    } finally {
      follower.kill("SIGINT");
      const status = await follower.status;
      await reading;
      assert.equal(status.code, 0, await stderr);
      await relay.stop();
    }
    assert.ok(rotatedFiles(journal).length > 2, "the journal rotated meanwhile");
    assert.deepEqual(
      rows.map((x) => x.sequence),
      Array.from({ length: 600 }, (_, i) => String(i + 1)),
    );
  });
});
