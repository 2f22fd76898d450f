import assert from "node:assert/strict";
import { MessageBuilder } from "../protocol/builder.ts";
import { readSequence } from "../protocol/header.ts";
import { frameKey, type InboundMessage, JetStreamInbound } from "./jetstream_inbound.ts";

/** Execution frame `n` of source 40: sequence n, a timestamp of its own. */
function frame(n: number): Uint8Array {
  return new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence: n, timestamp: 1_700_000_000_000_000_000n + BigInt(n) })
    .addTlv(200, new Uint8Array(8).fill(n))
    .build();
}

/**
 * A consumer's side of the filter: `msg()` makes a message at a stream
 * sequence, `hand()` plays the relay processing the oldest queued frame.
 */
function harness(maxRemembered?: number) {
  const acked: number[] = [];
  const queued: [Uint8Array, () => void][] = [];
  const handed: bigint[] = [];
  const inbound = new JetStreamInbound(
    (f, onHanded) => void queued.push([f, onHanded]),
    maxRemembered === undefined ? {} : { maxRemembered },
  );
  const msg = (seq: number, data: Uint8Array): InboundMessage => ({
    seq,
    data,
    ack: () => void acked.push(seq),
  });
  const hand = (count = queued.length) => {
    for (const [f, onHanded] of queued.splice(0, count)) {
      handed.push(readSequence(f, 0));
      onHanded();
    }
  };
  return { inbound, acked, queued, handed, msg, hand };
}

Deno.test("frameKey() is the same for the same bytes and differs by sequence, timestamp, content", () => {
  assert.equal(frameKey(frame(7)), frameKey(frame(7).slice()));
  assert.notEqual(frameKey(frame(7)), frameKey(frame(8)));
  const other = new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence: 7, timestamp: 1_700_000_000_000_000_007n })
    .addTlv(200, new Uint8Array(8).fill(99))
    .build();
  assert.notEqual(frameKey(other), frameKey(frame(7)), "the checksum tells contents apart");
});

Deno.test("JetStreamInbound hands each new frame on once and acknowledges it after processing", () => {
  const h = harness();
  for (let n = 1; n <= 3; n++) h.inbound.take(h.msg(n, frame(n)));
  assert.equal(h.queued.length, 3);
  assert.deepEqual(h.acked, [], "nothing is acknowledged before the relay processed it");
  h.hand(2);
  assert.deepEqual(h.acked, [1, 2]);
  h.hand();
  assert.deepEqual(h.handed, [1n, 2n, 3n]);
  assert.deepEqual(h.acked, [1, 2, 3]);
  assert.equal(h.inbound.duplicates, 0);
  assert.equal(h.inbound.lastSeq, 3);
});

Deno.test("JetStreamInbound skips a frame the stream stored twice (a publisher's retry after a kill -9)", () => {
  // What nats-server 2.9 does when killed with -9 while publishes are in flight: frames 3..5
  // were stored at stream sequences 3..5 and consumed, their publish acknowledgements were
  // lost, the publisher retried them after the restart, and the stream, its duplicate window
  // forgotten, stored them again at 6..8 before frame 6 (at 9).
  const h = harness();
  for (let n = 1; n <= 5; n++) h.inbound.take(h.msg(n, frame(n)));
  h.hand(3); // 4 and 5 are still queued when their copies arrive
  for (let n = 3; n <= 5; n++) h.inbound.take(h.msg(n + 3, frame(n)));
  h.inbound.take(h.msg(9, frame(6)));
  h.hand();
  assert.deepEqual(h.handed, [1n, 2n, 3n, 4n, 5n, 6n], "every frame once, in order");
  assert.equal(h.inbound.duplicates, 3);
  // The copies are acknowledged at once (nothing queued will acknowledge them), the
  // originals once processed: the consumer has nothing left to redeliver.
  assert.deepEqual([...h.acked].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(h.acked.slice(3, 6), [6, 7, 8]);
  assert.equal(h.inbound.lastSeq, 9);
});

Deno.test("JetStreamInbound skips redeliveries; acknowledges those already processed, and a copy's again", () => {
  const h = harness();
  for (let n = 1; n <= 3; n++) h.inbound.take(h.msg(n, frame(n)));
  h.inbound.take(h.msg(4, frame(2))); // a second copy of frame 2
  h.hand(1);
  // The server lost our acknowledgements (consumer state rolled back) and sends 1..4 again.
  for (let n = 1; n <= 3; n++) h.inbound.take(h.msg(n, frame(n)));
  h.inbound.take(h.msg(4, frame(2)));
  assert.equal(h.inbound.duplicates, 5);
  assert.equal(h.queued.length, 2, "nothing new is queued");
  // 1 was processed: acknowledged again; 2 and 3 are still queued: their queued copies
  // acknowledge them; the second copy of frame 2 is acknowledged each time it comes.
  assert.deepEqual(h.acked, [4, 1, 1, 4]);
  h.hand();
  assert.deepEqual(h.handed, [1n, 2n, 3n]);
  assert.deepEqual(h.acked, [4, 1, 1, 4, 2, 3]);
});

Deno.test("JetStreamInbound.restart(): a new stream's sequences start at 1; frames handed on stay handed", () => {
  const h = harness();
  for (let n = 1; n <= 3; n++) h.inbound.take(h.msg(n, frame(n)));
  h.hand();
  // The server lost the stream (memory storage): publishers store what they had not seen
  // acknowledged in the new one, from sequence 1 again; frame 3 had reached us already.
  h.inbound.restart();
  assert.equal(h.inbound.lastSeq, 0);
  h.inbound.take(h.msg(1, frame(3)));
  h.inbound.take(h.msg(2, frame(4)));
  h.inbound.take(h.msg(3, frame(5)));
  h.hand();
  assert.deepEqual(h.handed, [1n, 2n, 3n, 4n, 5n]);
  assert.equal(h.inbound.duplicates, 1);
  assert.deepEqual(h.acked, [1, 2, 3, 1, 2, 3]);
});

Deno.test("JetStreamInbound remembers at most maxRemembered frames", () => {
  const h = harness(2);
  for (let n = 1; n <= 3; n++) h.inbound.take(h.msg(n, frame(n)));
  h.inbound.take(h.msg(4, frame(2))); // remembered: skipped
  h.inbound.take(h.msg(5, frame(1))); // forgotten: the oldest of three
  h.hand();
  assert.deepEqual(h.handed, [1n, 2n, 3n, 1n]);
  assert.equal(h.inbound.duplicates, 1);
});
