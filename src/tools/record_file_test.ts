import assert from "node:assert/strict";
import {
  damageLine,
  decodeRecordingHeader,
  encodeRecord,
  encodeRecordingHeader,
  isRecording,
  readRecording,
  readRecordingFile,
  RECORD_HEADER_SIZE,
  RECORDING_HEADER_SIZE,
  RecordingError,
  RecordingWriter,
} from "./record_file.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

const TRADE = vectorBytes("trade_kraken_btc_usd");
const SIGNAL = vectorBytes("arbitrage_signal_flash_arb");
const BOOK = vectorBytes("extended_tlv_order_book");
const START = 1_795_357_748_000_000_000n;

function recording(frames: readonly Uint8Array[], domain = 1): Uint8Array {
  const w = new RecordingWriter({ domain, startNs: START });
  frames.forEach((f, i) => w.add(START + BigInt(i) * 1_000_000n, f));
  return w.take();
}

function assertRecordingError(
  fn: () => unknown,
  code: string,
  expected: Partial<Pick<RecordingError, "offset" | "expected" | "actual" | "record">>,
  message?: RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RecordingError, `expected RecordingError, got ${e}`);
    assert.ok(e instanceof RangeError);
    assert.equal(e.code, code, e.message);
    for (const [k, v] of Object.entries(expected)) {
      assert.equal(e[k as keyof RecordingError], v, `${k} of ${e.message}`);
    }
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

Deno.test("RecordingWriter and readRecording() round-trip frames and receive times", () => {
  const frames = [TRADE, SIGNAL, BOOK, TRADE];
  const file = recording(frames, 2);
  assert.equal(
    file.length,
    RECORDING_HEADER_SIZE + frames.reduce((n, f) => n + RECORD_HEADER_SIZE + f.length, 0),
  );
  assert.ok(isRecording(file));
  assert.deepEqual(decodeRecordingHeader(file), {
    version: 1,
    domain: 2,
    flags: 0,
    startNs: START,
  });
  const read = [...readRecording(file)];
  assert.equal(read.length, frames.length);
  read.forEach((r, i) => {
    assert.deepEqual(r.frame, frames[i]);
    assert.equal(r.receivedNs, START + BigInt(i) * 1_000_000n);
    assert.equal(r.index, i);
  });
  assert.equal(read[1]!.offset, RECORDING_HEADER_SIZE + RECORD_HEADER_SIZE + TRADE.length);
});

Deno.test("the file layout is the documented one (header fields, record fields, little-endian)", () => {
  const header = encodeRecordingHeader({ domain: 3, startNs: 0x0102030405060708n });
  assert.equal(new TextDecoder().decode(header.subarray(0, 8)), "TORQREC1");
  assert.deepEqual([...header.subarray(8, 16)], [1, 0, 3, 0, 0, 0, 0, 0]);
  assert.deepEqual([...header.subarray(16, 24)], [8, 7, 6, 5, 4, 3, 2, 1]);
  const rec = encodeRecord(0x1122334455667788n, TRADE);
  assert.deepEqual([...rec.subarray(0, 8)], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
  assert.deepEqual([...rec.subarray(8, 12)], [74, 0, 0, 0]);
  assert.deepEqual(rec.subarray(12), TRADE);
});

Deno.test("an empty recording is a header and no records", () => {
  const file = recording([]);
  assert.equal(file.length, RECORDING_HEADER_SIZE);
  assert.deepEqual([...readRecording(file)], []);
});

Deno.test("RecordingWriter.add() advises a write at flushBytes and take() empties it", () => {
  const w = new RecordingWriter({ startNs: START }, { flushBytes: 150 });
  assert.equal(w.add(START, TRADE), false); // 24 + 12 + 74 = 110
  assert.equal(w.add(START, TRADE), true); // 196 ≥ 150
  const first = w.take();
  assert.equal(w.pendingBytes, 0);
  assert.equal(w.add(START, BOOK), true); // grows past its buffer
  const file = new Uint8Array([...first, ...w.take()]);
  assert.deepEqual([...readRecording(file)].map((r) => r.frame.length), [74, 74, BOOK.length]);
  assert.equal(w.frames, 3);
  assert.equal(w.frameBytes, 148 + BOOK.length);
  assert.throws(() => w.add(START, TRADE.subarray(0, 20)), RangeError);
});

Deno.test("readRecording() reports a truncated file with offset, expected and actual", async (t) => {
  const file = recording([TRADE, SIGNAL]);
  const second = RECORDING_HEADER_SIZE + RECORD_HEADER_SIZE + TRADE.length;

  await t.step("inside the file header", () => {
    assertRecordingError(
      () => [...readRecording(file.subarray(0, 20))],
      "TruncatedHeader",
      { offset: 20, expected: 24, actual: 20 },
      /^Cannot read recording: the file header needs 24 bytes, the file has 20$/,
    );
    assertRecordingError(() => [...readRecording(file.subarray(0, 5))], "TruncatedHeader", {
      actual: 5,
    });
  });
  await t.step("inside a record header", () => {
    assertRecordingError(
      () => [...readRecording(file.subarray(0, second + 5))],
      "TruncatedRecord",
      { offset: second, expected: 12, actual: 5, record: 1 },
      /^Cannot read record 1 at offset 110: its header needs 12 bytes, 5 remain$/,
    );
  });
  await t.step("inside a frame, after yielding the complete records", () => {
    const cut = file.subarray(0, file.length - 1);
    const it = readRecording(cut);
    assert.deepEqual(it.next().value?.frame, TRADE);
    assertRecordingError(
      () => it.next(),
      "TruncatedRecord",
      { offset: second + 12, expected: 204, actual: 203, record: 1 },
      /its frame needs 204 bytes, 203 remain/,
    );
  });
});

Deno.test("readRecording() rejects files that are not recordings or hold bad records", async (t) => {
  await t.step("not a recording: raw frames", () => {
    assert.equal(isRecording(TRADE), false);
    assertRecordingError(
      () => [...readRecording(TRADE)],
      "NotARecording",
      { offset: 0, expected: "TORQREC1" },
      /^Cannot read recording: magic at offset 0 is "\\xef\\xbe\\xad\\xde\\x01\\x01\\x02\\x00", expected "TORQREC1"$/,
    );
  });
  await t.step("another version", () => {
    const file = recording([TRADE]);
    file[8] = 2;
    assertRecordingError(() => [...readRecording(file)], "UnsupportedVersion", {
      offset: 8,
      expected: 1,
      actual: 2,
    });
  });
  await t.step("a length below a frame header", () => {
    const file = recording([TRADE]);
    new DataView(file.buffer).setUint32(RECORDING_HEADER_SIZE + 8, 31, true);
    assertRecordingError(() => [...readRecording(file)], "BadRecordLength", {
      offset: RECORDING_HEADER_SIZE + 8,
      actual: 31,
      record: 0,
    });
  });
  await t.step("a length that disagrees with the frame's payload_size", () => {
    const file = new Uint8Array([...recording([TRADE]), 0, 0, 0]);
    new DataView(file.buffer).setUint32(RECORDING_HEADER_SIZE + 8, 77, true);
    assertRecordingError(
      () => [...readRecording(file)],
      "BadRecordLength",
      { expected: 74, actual: 77 },
      /length is 77, its frame's header says 74 bytes/,
    );
  });
  await t.step("a record that holds no frame", () => {
    const file = recording([TRADE]);
    file[RECORDING_HEADER_SIZE + RECORD_HEADER_SIZE] = 0;
    assertRecordingError(() => [...readRecording(file)], "BadFrame", {
      offset: RECORDING_HEADER_SIZE + RECORD_HEADER_SIZE,
      expected: 0xdeadbeef,
      actual: 0xdeadbe00,
    });
  });
});

Deno.test("readRecording() reads the committed fixture made by `torq record`", async () => {
  const file = await Deno.readFile(
    new URL("../../tests/fixtures/signal_two_vectors.torq", import.meta.url),
  );
  const h = decodeRecordingHeader(file);
  assert.equal(h.domain, 2);
  const records = [...readRecording(file)];
  assert.deepEqual(records.map((r) => r.frame), [
    SIGNAL,
    vectorBytes("multi_tlv_signal_identity_economics"),
  ]);
  assert.ok(records[0]!.receivedNs >= h.startNs);
  assert.ok(records[1]!.receivedNs > records[0]!.receivedNs);
});

Deno.test("readRecordingFile() keeps every record before a torn or damaged one and returns the damage", async (t) => {
  const whole = recording([TRADE, SIGNAL, BOOK]);
  await t.step("whole file", () => {
    const r = readRecordingFile(whole);
    assert.deepEqual(r.records.map((x) => x.frame), [TRADE, SIGNAL, BOOK]);
    assert.deepEqual([r.format, r.domain, r.startNs, r.damage], ["TORQREC1", 1, START, null]);
  });
  for (const cut of [1, 50, BOOK.length + RECORD_HEADER_SIZE - 1]) {
    await t.step(`${cut} bytes short`, () => {
      const r = readRecordingFile(whole.subarray(0, whole.length - cut));
      assert.deepEqual(r.records.map((x) => x.frame), [TRADE, SIGNAL]);
      assert.equal(r.damage?.code, "TruncatedRecord");
      assert.equal(r.damage?.record, 2);
      assert.equal(
        damageLine(r.damage!, r.records.length, "x.torq"),
        `TruncatedRecord: ${
          r.damage!.message
        }; the 2 complete records before it were read (x.torq)`,
      );
    });
  }
  await t.step("a damaged record in the middle", () => {
    const bad = whole.slice();
    const second = RECORDING_HEADER_SIZE + RECORD_HEADER_SIZE + TRADE.length;
    bad[second + RECORD_HEADER_SIZE] = 0; // its frame magic
    const r = readRecordingFile(bad);
    assert.deepEqual(r.records.map((x) => x.frame), [TRADE]);
    assert.equal(r.damage?.code, "BadFrame");
  });
  await t.step("not a recording is still an error", () => {
    assertRecordingError(() => readRecordingFile(TRADE), "NotARecording", { offset: 0 });
  });
});
