/**
 * The short, seeded fuzz run CI does (`deno task fuzz` runs long ones): 20,000
 * mutants through the decoder, the FrameReader and the relay's per-frame code
 * in process, a few thousand through each live relay, and a flood of bad input
 * against a relay whose memory must stay bounded while it keeps serving.
 */

import assert from "node:assert/strict";
import { fuzzCore } from "../bench/_fuzz_core.ts";
import { fuzzRelay, rssKb } from "../bench/_fuzz_relay.ts";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connectMany,
  makeFrame,
  makeFrames,
  PROFILES,
  readFrames,
  send,
  startRelay,
  subscribe,
} from "./_support/relay.ts";

const SEED = 20_260_123;

Deno.test("fuzzCore(): 20,000 seeded mutants, no crash, no broken invariant", () => {
  const { report } = fuzzCore({ seed: SEED, frames: 20_000 });
  assert.equal(report.framesTried, 20_000);
  assert.deepEqual(report.findings, [], "findings");
  assert.equal(report.crashes, 0);
  assert.equal(report.invariantFailures, 0);
  // The mutants reach every stage: each header check, the TLV walk, the registry sizes.
  for (
    const code of [
      "HeaderTooShort",
      "InvalidMagic",
      "UnsupportedVersion",
      "PayloadTooLarge",
      "IncompleteFrame",
      "TrailingBytes",
      "InvalidRelayDomain",
      "ChecksumMismatch",
      "TruncatedTlv",
      "InvalidExtendedTlv",
      "PayloadSizeMismatch",
    ]
  ) {
    assert.ok((report.decoder.errors[code] ?? 0) > 0, `no mutant reached ${code}`);
  }
  assert.ok(report.decoder.ok > 0, "some mutants decode");
  assert.ok(report.reader.frames > 0 && report.reader.garbageBytes > 0);
  for (const code of ["InvalidMagic", "UnsupportedVersion", "PayloadTooLarge"]) {
    assert.ok((report.reader.losses[code] ?? 0) > 0, `the FrameReader never lost sync by ${code}`);
  }
  assert.ok((report.policies.audit.TlvNotAllowedInDomain ?? 0) > 0);
  assert.ok((report.subscribes.ok ?? 0) > 0 && (report.subscribes.MalformedSubscribe ?? 0) > 0);
  assert.ok(report.coverage.corpus > report.coverage.seeds, "interesting mutants join the corpus");
});

Deno.test("fuzzCore() is deterministic for a seed and a frame count", () => {
  const a = fuzzCore({ seed: 7, frames: 3_000 });
  const b = fuzzCore({ seed: 7, frames: 3_000 });
  assert.deepEqual({ ...a.report, elapsedMs: 0 }, { ...b.report, elapsedMs: 0 });
  assert.equal(a.corpus.length, b.corpus.length);
});

for (const p of PROFILES) {
  Deno.test(`fuzzRelay(): torq relay ${p.arg} survives 3,000 mutants and keeps serving`, async () => {
    const r = await fuzzRelay({ domain: p.arg, seed: SEED, frames: 3_000, batch: 250 });
    assert.deepEqual(r.problems, []);
    assert.equal(r.framesSent, 3_000);
    assert.ok(r.relayAlive, "relay alive after every batch");
    assert.equal(r.exitCode, 0, "graceful exit after SIGTERM");
    assert.equal(r.canaries.received, r.canaries.sent, "other producer's canaries");
    assert.equal(r.resyncCanaries.received, r.resyncCanaries.sent, "resync canaries");
    assert.equal(r.forwardedInvalid, 0, "forwarded frames all pass the relay's policy");
    assert.equal(r.consumerGarbageBytes, 0, "the relay writes whole frames only");
  });
}

Deno.test("torq relay: a flood of rejected frames and garbage leaves memory bounded and others served", async () => {
  const p = PROFILES[1]!; // signal: standard policy, checks checksums and TLVs
  const relay = await startRelay(p.arg);
  const [consumer, flooder, producer] = await connectMany(relay.path, 3);
  try {
    const warm = makeFrame(p, 1);
    await send(flooder!, warm); // warm up the forwarding path once
    assertFrames(await readFrames(consumer!, 1), [warm], "warm-up");
    const before = rssKb(relay.child.pid);
    // 20 × 10,000 bad frames: wrong domain, bad checksum, truncated TLVs, garbage with
    // partial magics, payload_size lies (each lie resynchronises), interleaved.
    const good = makeFrame(p, 2);
    const wrong = makeFrame(p, 3, { domain: 3 });
    const badCrc = good.slice();
    badCrc[40]! ^= 0xff;
    const truncated = good.slice(0, 40);
    new DataView(truncated.buffer).setUint32(24, 8, true); // TLV announces 170 bytes, 6 present
    const lie = good.slice(0, 32);
    new DataView(lie.buffer).setUint32(24, 0xffff_fff0, true);
    const garbage = new Uint8Array(64).fill(0x41);
    garbage.set([0xef, 0xbe, 0xad], 20);
    const block = concat(
      Array.from({ length: 2_000 }, () => [wrong, badCrc, truncated, lie, garbage]).flat(),
    );
    for (let i = 0; i < 20; i++) await send(flooder!, block);
    // Still serving: another producer's frames reach the consumer, nothing else does.
    const frames = makeFrames(p, 10, { first: 1, tag: 0x5a });
    await send(producer!, concat(frames));
    assertFrames(await readFrames(consumer!, 10), frames, "after the flood");
    const answer = await subscribe(consumer!, [], "add"); // nothing else was queued before it
    assert.deepEqual(answer.patterns, ["*"]);
    const after = rssKb(relay.child.pid);
    assert.ok(before > 0 && after > 0, "RSS readable");
    // 200,000 rejects: a per-reject leak of even 300 bytes would exceed this.
    assert.ok(after - before < 64 * 1024, `RSS grew from ${before} kB to ${after} kB`);
    assert.ok(!relay.exited(), "relay alive");
  } finally {
    await close(consumer!, flooder!, producer!);
    const r = await relay.stop();
    assert.equal(r.code, 0, r.stderr);
    await assertAllClosed();
  }
});
