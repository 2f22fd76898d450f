import assert from "node:assert/strict";
import {
  bySequence,
  isRecoveryAnswer,
  mergeOlder,
  mergeReplay,
  MissingRanges,
  parseRecoveryAnswer,
  recoveryRequestFrame,
  requestFields,
} from "./recovery.ts";
import { ReceivedFrame } from "./received_frame.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { decodeMessage } from "../protocol/message.ts";
import { encodePayload } from "../protocol/payloads.ts";
import { encodeErrorText } from "../protocol/subscribe.ts";

/** A frame of `source` with `sequence` (an ArbitrageSignal-sized TLV; `tag` tells equal headers apart). */
function f(source: number, sequence: bigint, tag = 0): ReceivedFrame {
  const b = new MessageBuilder({ domain: 2, source });
  const value = new Uint8Array(170).fill(tag);
  return new ReceivedFrame(b.begin({ sequence, timestamp: 1n }).addTlv(32, value).build());
}

const seqs = (frames: readonly { source: number; sequence: bigint }[]) =>
  frames.map((x) => `${x.source}:${x.sequence}`);

Deno.test("requestFields() checks what the wire carries and leaves meaning to the relay", () => {
  assert.deepEqual(requestFields({ source: 20, after: 1000 }), {
    source: 20,
    after: 1000n,
    upTo: 0n,
    snapshot: false,
  });
  assert.deepEqual(requestFields({ snapshot: true }), {
    source: 0,
    after: 0n,
    upTo: 0n,
    snapshot: true,
  });
  // The relay judges a range that ends before it starts (status 3 with its reason).
  assert.equal(requestFields({ source: 20, after: 100n, upTo: 50n }).upTo, 50n);
  assert.throws(() => requestFields({ source: 20, after: -1n }), /after -1 is not a u64 sequence/);
  assert.throws(() => requestFields({ source: 20, after: 1.5 }), /after 1.5 is not a whole number/);
  assert.throws(
    () => requestFields({ source: 2 ** 32, after: 0n }),
    /source 4294967296 is not a u32/,
  );
  assert.throws(
    () => requestFields({ source: 20 } as never),
    /give 'after' \(a sequence\) or 'snapshot: true'/,
  );
});

Deno.test("recoveryRequestFrame() is a RecoveryRequest on relay domain 4 in the registry's layout", () => {
  const b = new MessageBuilder({ domain: 2, source: 99 });
  const frame = recoveryRequestFrame(b, requestFields({ source: 20, after: 2n ** 40n, upTo: 7n }));
  const msg = decodeMessage(frame);
  assert.equal(frame[4], 4);
  assert.equal(msg.header.sequence, 0n);
  assert.equal(msg.tlvs[0]!.name, "RecoveryRequest");
  assert.deepEqual(msg.tlvs[0]!.fields, {
    last_sequence: 2n ** 40n,
    current_sequence: 7n,
    consumer_id: 20,
    request_type: 0,
  });
  const snap = decodeMessage(recoveryRequestFrame(b, requestFields({ snapshot: true })));
  assert.equal(snap.tlvs[0]!.fields!.request_type, 1);
});

Deno.test("parseRecoveryAnswer() reads the status, counts, sequences and the relay's reason", () => {
  const b = new MessageBuilder({ domain: 4, source: 81 });
  const value = encodePayload(111, {
    status: 3,
    frames: 0,
    first_sequence: 0n,
    last_sequence: 0n,
    window_start_sequence: 9n,
  });
  const frame = b.begin().addTlv(111, value).addTlv(102, encodeErrorText("MalformedRecovery: x"))
    .build();
  assert.ok(isRecoveryAnswer(frame, 0, frame.length));
  assert.deepEqual(parseRecoveryAnswer(frame), {
    status: 3,
    frames: 0,
    first: 0n,
    last: 0n,
    windowStart: 9n,
    reason: "MalformedRecovery: x",
  });
  const other = f(20, 1n).bytes;
  assert.equal(isRecoveryAnswer(other, 0, other.length), false);
});

Deno.test("MissingRanges merges, splits and forgets ranges per source", () => {
  const m = new MissingRanges(3);
  m.add(20, 5n, 9n);
  m.add(20, 10n, 12n); // adjacent: one range
  m.add(20, 20n, 20n);
  m.add(21, 1n, 1n);
  assert.deepEqual(m.ranges(20), [[5n, 12n], [20n, 20n]]);
  assert.ok(m.has(20, 12n) && !m.has(20, 13n) && !m.has(21, 5n));
  m.delete(20, 7n);
  assert.deepEqual(m.ranges(20), [[5n, 6n], [8n, 12n], [20n, 20n]]);
  m.deleteRange(20, 6n, 9n);
  assert.deepEqual(m.ranges(20), [[5n, 5n], [10n, 12n], [20n, 20n]]);
  m.add(20, 30n, 31n); // over the bound: the lowest range is forgotten
  assert.deepEqual(m.ranges(20), [[10n, 12n], [20n, 20n], [30n, 31n]]);
  m.clear(20);
  assert.deepEqual(m.ranges(20), []);
  assert.deepEqual(m.ranges(21), [[1n, 1n]]);
});

Deno.test("mergeReplay() merges a retransmit with the live frames held meanwhile, by sequence, once", () => {
  // Live 105–107 arrived before the replay 101–106 (the relay queued them first).
  const live = [f(20, 105n), f(20, 106n), f(23, 9n), f(20, 107n)];
  const replay = [101n, 102n, 103n, 104n, 105n, 106n].map((q) => f(20, q));
  const { order, duplicates } = mergeReplay(replay, live, false);
  assert.deepEqual(seqs(order.map((o) => o.frame)), [
    "20:101",
    "20:102",
    "20:103",
    "20:104",
    "20:105",
    "20:106",
    "20:107",
    "23:9",
  ]);
  assert.deepEqual(order.map((o) => o.replayed), [
    true,
    true,
    true,
    true,
    true,
    true,
    false,
    false,
  ]);
  assert.equal(duplicates, 2);
});

Deno.test("mergeReplay(): a live frame with a replayed frame's number but other bytes is another producer's, kept", () => {
  for (const live of [[f(20, 5n, 1), f(20, 5n, 2)], [f(20, 5n, 2), f(20, 5n, 1)]]) {
    const { order, duplicates } = mergeReplay([f(20, 5n, 1)], live, false);
    assert.equal(duplicates, 1);
    assert.deepEqual(order.map((o) => [o.frame.bytes[40], o.replayed]), [[1, true], [2, false]]);
  }
});

Deno.test("mergeReplay() after a snapshot drops the live frames it holds or supersedes", () => {
  const snapshot = bySequence([f(2, 90n), f(2, 70n), f(2, 100n)]);
  const live = [f(2, 95n), f(2, 100n), f(2, 101n), f(2, 0n)];
  const { order, duplicates } = mergeReplay(snapshot, live, true);
  assert.deepEqual(seqs(order.map((o) => o.frame)), ["2:70", "2:90", "2:100", "2:101", "2:0"]);
  assert.equal(duplicates, 2);
});

Deno.test("mergeOlder() puts older frames before the queued frames of their source, as early as possible", () => {
  const queued = [f(20, 50n), f(21, 7n), f(20, 52n), f(20, 53n)];
  const older = [f(20, 51n), f(20, 10n), f(22, 4n), f(21, 6n)];
  assert.deepEqual(seqs(mergeOlder(queued, older)), [
    "22:4",
    "21:6",
    "20:10",
    "20:50",
    "21:7",
    "20:51",
    "20:52",
    "20:53",
  ]);
  assert.deepEqual(seqs(mergeOlder(queued, [])), seqs(queued));
});
