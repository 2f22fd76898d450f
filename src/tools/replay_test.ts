import assert from "node:assert/strict";
import {
  loadRecording,
  parseReplayFrom,
  parseReplayRate,
  recordingDomain,
  refusedRecords,
  replayPolicy,
  replaySchedule,
  selectFrom,
} from "./replay.ts";
import { RecordingWriter } from "./record_file.ts";
import { makeFrames, PROFILES } from "../../tests/_support/relay.ts";
import { loadConfig } from "../config/mod.ts";

const T0 = BigInt(Date.UTC(2026, 10, 23, 14, 29, 8)) * 1_000_000n;
const FRAMES = makeFrames(PROFILES[1]!, 4, { first: 10 });

function rec(domain = 2) {
  const w = new RecordingWriter({ domain, startNs: T0 });
  // received at 0, 10, 30 and 60 ms
  [0n, 10n, 30n, 60n].forEach((ms, i) => w.add(T0 + ms * 1_000_000n, FRAMES[i]!));
  return loadRecording(w.take());
}

Deno.test("parseReplayRate() reads speeds, max and fixed rates", () => {
  assert.deepEqual(parseReplayRate("1x"), { kind: "speed", factor: 1 });
  assert.deepEqual(parseReplayRate("0.5x"), { kind: "speed", factor: 0.5 });
  assert.deepEqual(parseReplayRate("MAX"), { kind: "max" });
  assert.deepEqual(parseReplayRate("500/s"), { kind: "fixed", perSecond: 500 });
  assert.deepEqual(parseReplayRate("20"), { kind: "fixed", perSecond: 20 });
  for (const bad of ["0x", "fast", "-1/s", "0", "x"]) {
    assert.throws(() => parseReplayRate(bad), /^RangeError: Cannot parse rate/, bad);
  }
});

Deno.test("parseReplayFrom() reads a sequence or an ISO time to the nanosecond", () => {
  assert.deepEqual(parseReplayFrom("42"), { sequence: 42n });
  assert.deepEqual(parseReplayFrom("2026-11-23T14:29:08Z"), { timeNs: T0 });
  assert.deepEqual(parseReplayFrom("2026-11-23T14:29:08.000000123Z"), { timeNs: T0 + 123n });
  assert.deepEqual(parseReplayFrom("2026-11-23T15:29:08.5+01:00"), { timeNs: T0 + 500_000_000n });
  assert.deepEqual(parseReplayFrom("2026-11-23T14:29:08"), { timeNs: T0 });
  assert.throws(() => parseReplayFrom("yesterday"), /^RangeError: Cannot parse --from "yesterday"/);
});

Deno.test("selectFrom() starts at a sequence or a receive time", () => {
  const r = rec();
  assert.equal(selectFrom(r.records).length, 4);
  assert.deepEqual(selectFrom(r.records, { sequence: 12n }).map((x) => x.frame), FRAMES.slice(2));
  assert.deepEqual(
    selectFrom(r.records, { timeNs: T0 + 5_000_000n }).map((x) => x.frame),
    FRAMES.slice(1),
  );
  assert.deepEqual(selectFrom(r.records, { sequence: 99n }), []);
});

Deno.test("replaySchedule() keeps the spacing, scales it, fixes it or drops it", () => {
  const r = rec().records;
  assert.deepEqual([...replaySchedule(r)].map((s) => s.atMs), [0, 10, 30, 60]);
  assert.deepEqual(
    [...replaySchedule(r, { rate: { kind: "speed", factor: 2 } })].map((s) => s.atMs),
    [0, 5, 15, 30],
  );
  assert.deepEqual(
    [...replaySchedule(r, { rate: { kind: "fixed", perSecond: 100 } })].map((s) => s.atMs),
    [0, 10, 20, 30],
  );
  assert.deepEqual([...replaySchedule(r, { rate: { kind: "max" } })].map((s) => s.atMs), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assert.deepEqual([...replaySchedule(r)].map((s) => s.frame), FRAMES);
});

Deno.test("replaySchedule() loops until count, continuing the time line", () => {
  const r = rec().records;
  const s = [...replaySchedule(r, { loop: true, count: 6 })];
  assert.deepEqual(s.map((x) => x.atMs), [0, 10, 30, 60, 60, 70]);
  assert.deepEqual(s.map((x) => x.frame), [...FRAMES, FRAMES[0], FRAMES[1]]);
  assert.equal([...replaySchedule(r, { count: 2 })].length, 2);
  assert.equal([...replaySchedule([], { loop: true })].length, 0);
});

Deno.test("recordingDomain() takes the header's domain, else the first frame's", () => {
  assert.equal(recordingDomain(rec(2)), 2);
  assert.equal(recordingDomain(rec(0)), 2);
  assert.equal(recordingDomain({ domain: 0, startNs: 0n, records: [] }), undefined);
});

Deno.test("refusedRecords() finds what a relay's policy would refuse, as the relay would", async (t) => {
  const config = loadConfig();
  await t.step("signal (standard): a flipped payload byte fails its checksum", () => {
    const frames = makeFrames(PROFILES[1]!, 3);
    frames[1]![40]! ^= 1;
    const w = new RecordingWriter({ domain: 2, startNs: T0 });
    frames.forEach((f) => w.add(T0, f));
    const { records } = loadRecording(w.take());
    assert.deepEqual(refusedRecords(records, replayPolicy(config, 2)!), [
      { record: 1, code: "ChecksumMismatch" },
    ]);
  });
  await t.step("market data (performance): only size and domain", () => {
    const frames = makeFrames(PROFILES[0]!, 2);
    frames[0]![40]! ^= 1;
    const other = makeFrames(PROFILES[1]!, 1)[0]!;
    const w = new RecordingWriter({ domain: 1, startNs: T0 });
    [...frames, other].forEach((f) => w.add(T0, f));
    const { records } = loadRecording(w.take());
    assert.deepEqual(refusedRecords(records, replayPolicy(config, 1)!), [
      { record: 2, code: "WrongDomain" },
    ]);
  });
  await t.step("execution (audit, strict): old timestamps and a sequence regression", () => {
    const frames = makeFrames(PROFILES[2]!, 2);
    const w = new RecordingWriter({ domain: 3, startNs: T0 });
    [frames[1]!, frames[0]!].forEach((f) => w.add(T0, f));
    const { records } = loadRecording(w.take());
    const logic = replayPolicy(config, 3)!;
    const now = Date.now();
    // Built now: inside the window; the second goes backwards.
    assert.deepEqual(refusedRecords(records, logic, now), [
      { record: 1, code: "SequenceRegression" },
    ]);
    // An hour later every frame is outside the 60 s window: a strict relay refuses them all,
    // and a refused frame moves no sequence, so the second is no regression.
    assert.deepEqual(
      refusedRecords(records, logic, now + 3_600_000).map((r) => r.code),
      ["TimestampOutOfWindow", "TimestampOutOfWindow"],
    );
  });
});
