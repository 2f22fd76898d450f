// The validation policies of PROTOCOL.md 7.5, one Validator at a time: what each
// policy checks, which failures are hard (the frame is rejected) and which soft
// (counted in `soft`, forwarded unless strict), and commit()'s rule that only a
// forwarded frame moves its source's sequence.
import assert from "node:assert/strict";
import { MessageBuilder, sealChecksum, Status, statusCode } from "../protocol/mod.ts";
import {
  auditTlvRanges,
  type PolicyName,
  SequenceState,
  Validator,
  validatorForLogic,
  type ValidatorOptions,
} from "./policy.ts";
import { EXECUTION_LOGIC, MARKET_DATA_LOGIC, SIGNAL_LOGIC } from "./logic.ts";

/** Now, in ms, for the audit timestamp window; frames are stamped at this time. */
const NOW_MS = 1_700_000_000_000;
const NOW_NS = BigInt(NOW_MS) * 1_000_000n;

function validator(policy: PolicyName, options: Partial<ValidatorOptions> = {}): Validator {
  return new Validator({
    policy,
    strict: false,
    allowedTlv: auditTlvRanges(2, false),
    strictSourceCheck: false,
    maxSequenceGap: 0,
    maxFutureMs: 5_000,
    maxAgeMs: 60_000,
    ...options,
  });
}

interface FrameSpec {
  source?: number;
  sequence?: bigint;
  timestamp?: bigint;
  checksum?: boolean;
  /** TLVs as [type, payload length]. */
  tlvs?: readonly [number, number][];
}

/** A signal-domain frame: by default a SignalIdentity (20, 16 bytes) from source 20, sequence 1. */
function frame(spec: FrameSpec = {}): Uint8Array {
  const b = new MessageBuilder({
    domain: 2,
    source: spec.source ?? 20,
    checksum: spec.checksum ?? true,
  })
    .begin({ sequence: spec.sequence ?? 1n, timestamp: spec.timestamp ?? NOW_NS });
  for (const [type, length] of spec.tlvs ?? [[20, 16]]) b.addTlv(type, new Uint8Array(length));
  return b.build();
}

function check(v: Validator, f: Uint8Array, seq = new SequenceState()): Status {
  return v.check(f, 0, f.length, seq, NOW_MS);
}

/** The names of the soft failures the last check left. */
function softNames(v: Validator): string[] {
  const names: string[] = [];
  for (let s = 1; s < 32; s++) if ((v.soft & (1 << s)) !== 0) names.push(statusCode(s as Status));
  return names;
}

Deno.test("performance checks nothing: a bad checksum and a truncated TLV pass", () => {
  const v = validator("performance");
  const f = frame();
  f[f.length - 1]! ^= 0xff; // the checksum no longer matches
  assert.equal(check(v, f), Status.OK);
  assert.equal(v.soft, 0);
  assert.equal(v.policy, "performance");
});

Deno.test("standard rejects a checksum mismatch and a broken TLV walk, and accepts no checksum", async (t) => {
  const v = validator("standard");
  await t.step("a good frame passes with no soft failure", () => {
    assert.equal(check(v, frame()), Status.OK);
    assert.equal(v.soft, 0);
  });
  await t.step("a checksum that does not match is a hard failure", () => {
    const f = frame();
    f[32 + 2]! ^= 1; // payload changed after sealing
    assert.equal(check(v, f), Status.ChecksumMismatch);
  });
  await t.step("checksum 0 means none: not checked, not even soft", () => {
    assert.equal(check(v, frame({ checksum: false })), Status.OK);
    assert.equal(v.soft, 0);
  });
  await t.step("a TLV running past the frame is TruncatedTlv", () => {
    const f = frame();
    f[32 + 1] = 200; // length byte: 200 bytes announced, 16 there
    sealChecksum(f, 0);
    assert.equal(check(v, f), Status.TruncatedTlv);
  });
  await t.step("standard does not apply audit's domain ranges", () => {
    assert.equal(check(v, frame({ tlvs: [[1, 40]] })), Status.OK); // a Trade on signal
  });
});

Deno.test("audit rejects hard failures: domain ranges, registry sizes, sequence regressions", async (t) => {
  await t.step("a TLV outside the domain's ranges is TlvNotAllowedInDomain, with its type", () => {
    const v = validator("audit");
    assert.equal(check(v, frame({ tlvs: [[20, 16], [1, 40]] })), Status.TlvNotAllowedInDomain);
    assert.equal(v.badType, 1);
  });
  await t.step("a payload the registry's size rule forbids is PayloadSizeMismatch", () => {
    const v = validator("audit");
    const f = frame(); // a SignalIdentity of 16 bytes …
    f[32] = 32; // … retyped as an ArbitrageSignal, which has 170
    sealChecksum(f, 0);
    assert.equal(check(v, f), Status.PayloadSizeMismatch);
    assert.equal(v.badType, 32);
  });
  await t.step("vendor types pass only with allowVendor", () => {
    const closed = validator("audit");
    assert.equal(check(closed, frame({ tlvs: [[202, 8]] })), Status.TlvNotAllowedInDomain);
    const open = validator("audit", { allowedTlv: auditTlvRanges(2, true) });
    assert.equal(check(open, frame({ tlvs: [[202, 8]] })), Status.OK);
  });
  await t.step("a sequence at or below the source's last is SequenceRegression", () => {
    const v = validator("audit");
    const seq = new SequenceState();
    assert.equal(check(v, frame({ sequence: 5n }), seq), Status.OK);
    v.commit(seq);
    assert.equal(check(v, frame({ sequence: 5n }), seq), Status.SequenceRegression);
    assert.equal(check(v, frame({ sequence: 4n }), seq), Status.SequenceRegression);
    assert.equal(check(v, frame({ sequence: 6n }), seq), Status.OK);
  });
  await t.step("sources keep their own sequences", () => {
    const v = validator("audit");
    const seq = new SequenceState();
    check(v, frame({ source: 20, sequence: 9n }), seq);
    v.commit(seq);
    assert.equal(check(v, frame({ source: 21, sequence: 1n }), seq), Status.OK);
  });
  await t.step("a checksum mismatch is hard under audit too", () => {
    const v = validator("audit");
    const f = frame();
    f[32 + 2]! ^= 1;
    assert.equal(check(v, f), Status.ChecksumMismatch);
  });
});

Deno.test("audit leaves soft failures in `soft` and still returns OK", async (t) => {
  await t.step("no checksum is MissingChecksum", () => {
    const v = validator("audit");
    assert.equal(check(v, frame({ checksum: false })), Status.OK);
    assert.deepEqual(softNames(v), ["MissingChecksum"]);
  });
  await t.step(
    "an unknown source is UnknownSource: above 100 always, non-canonical when strict",
    () => {
      const v = validator("audit");
      assert.equal(check(v, frame({ source: 101 })), Status.OK);
      assert.deepEqual(softNames(v), ["UnknownSource"]);
      assert.equal(check(v, frame({ source: 57 })), Status.OK);
      assert.deepEqual(softNames(v), []);
      const strict = validator("audit", { strictSourceCheck: true });
      assert.equal(check(strict, frame({ source: 57 })), Status.OK);
      assert.deepEqual(softNames(strict), ["UnknownSource"]);
    },
  );
  await t.step("a jump over maxSequenceGap is SequenceGap, with the sequence before it", () => {
    const v = validator("audit", { maxSequenceGap: 2 });
    const seq = new SequenceState();
    check(v, frame({ sequence: 10n }), seq);
    v.commit(seq);
    assert.equal(check(v, frame({ sequence: 13n }), seq), Status.OK); // gap of 2: tolerated
    assert.deepEqual(softNames(v), []);
    v.commit(seq);
    assert.equal(check(v, frame({ sequence: 17n }), seq), Status.OK); // gap of 3
    assert.deepEqual(softNames(v), ["SequenceGap"]);
    assert.deepEqual([v.gapFromHi, v.gapFromLo], [0, 13]);
  });
  await t.step("a timestamp outside the window is TimestampOutOfWindow, both ways", () => {
    const v = validator("audit");
    const ms = 1_000_000n;
    assert.equal(check(v, frame({ timestamp: NOW_NS + 4_000n * ms })), Status.OK);
    assert.deepEqual(softNames(v), []);
    assert.equal(check(v, frame({ timestamp: NOW_NS + 6_000n * ms })), Status.OK);
    assert.deepEqual(softNames(v), ["TimestampOutOfWindow"]);
    assert.equal(check(v, frame({ timestamp: NOW_NS - 61_000n * ms })), Status.OK);
    assert.deepEqual(softNames(v), ["TimestampOutOfWindow"]);
  });
  await t.step("several soft failures at once are all reported; the next check clears them", () => {
    const v = validator("audit");
    check(v, frame({ checksum: false, source: 150, timestamp: 0n }));
    assert.deepEqual(softNames(v), ["MissingChecksum", "UnknownSource", "TimestampOutOfWindow"]);
    check(v, frame());
    assert.equal(v.soft, 0);
  });
  await t.step("strict is the caller's to apply: the validator reports it", () => {
    assert.equal(validator("audit", { strict: true }).strict, true);
    assert.equal(validator("audit").strict, false);
  });
});

Deno.test("commit() moves a source's sequence only for the frame the last check() passed", async (t) => {
  await t.step("without commit() a dropped frame's retry is accepted", () => {
    const v = validator("audit", { maxSequenceGap: 0 });
    const seq = new SequenceState();
    check(v, frame({ sequence: 1n }), seq);
    v.commit(seq);
    // A gap the caller drops (strict): not committed, so the same frame is accepted again
    assert.equal(check(v, frame({ sequence: 5n }), seq), Status.OK);
    assert.deepEqual(softNames(v), ["SequenceGap"]);
    assert.equal(check(v, frame({ sequence: 5n }), seq), Status.OK);
    assert.deepEqual(softNames(v), ["SequenceGap"], "still measured from sequence 1");
    // and the missing frames can still come
    assert.equal(check(v, frame({ sequence: 2n }), seq), Status.OK);
  });
  await t.step("commit() applies once; after a hard failure it changes nothing", () => {
    const v = validator("audit");
    const seq = new SequenceState();
    check(v, frame({ sequence: 3n }), seq);
    v.commit(seq);
    v.commit(seq);
    assert.deepEqual([seq.hi[20], seq.lo[20]], [0, 3]);
    assert.equal(check(v, frame({ sequence: 2n }), seq), Status.SequenceRegression);
    v.commit(seq);
    assert.deepEqual([seq.hi[20], seq.lo[20]], [0, 3]);
  });
  await t.step("sequence 0 (unnumbered) is never remembered", () => {
    const v = validator("audit");
    const seq = new SequenceState();
    check(v, frame({ sequence: 0n }), seq);
    v.commit(seq);
    assert.equal(seq.hi[20], -1);
  });
  await t.step("64-bit sequences compare by both words", () => {
    const v = validator("audit", { maxSequenceGap: 10 });
    const seq = new SequenceState();
    check(v, frame({ sequence: (1n << 32n) + 5n }), seq);
    v.commit(seq);
    assert.deepEqual([seq.hi[20], seq.lo[20]], [1, 5]);
    assert.equal(check(v, frame({ sequence: 0xffff_ffffn }), seq), Status.SequenceRegression);
    assert.equal(check(v, frame({ sequence: (1n << 32n) + 6n }), seq), Status.OK);
  });
});

Deno.test("auditTlvRanges() gives each domain its ranges [D-6]", () => {
  const accepted = (domain: number, vendor = false) => {
    const m = auditTlvRanges(domain, vendor);
    return [1, 19, 20, 39, 40, 59, 60, 79, 80, 99, 100, 119, 120, 200, 254, 255].filter((t) =>
      m[t] === 1
    );
  };
  assert.deepEqual(accepted(1), [1, 19, 100, 119]);
  assert.deepEqual(accepted(2), [20, 39, 60, 79, 100, 119]);
  assert.deepEqual(accepted(3), [40, 59, 60, 79, 100, 119]);
  assert.deepEqual(accepted(4), [80, 99, 100, 119]);
  assert.deepEqual(accepted(2, true), [20, 39, 60, 79, 100, 119, 200, 254]);
});

Deno.test("validatorForLogic() applies each domain's default policy", () => {
  assert.equal(validatorForLogic(MARKET_DATA_LOGIC).policy, "performance");
  assert.equal(validatorForLogic(SIGNAL_LOGIC).policy, "standard");
  const execution = validatorForLogic(EXECUTION_LOGIC);
  assert.equal(execution.policy, "audit");
  // The execution relay's ranges: an OrderRequest passes, a Trade does not.
  const order = new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence: 1n, timestamp: NOW_NS })
    .addTlv(40, new Uint8Array(32))
    .build();
  assert.equal(execution.check(order, 0, order.length, new SequenceState(), NOW_MS), Status.OK);
  const trade = new MessageBuilder({ domain: 3, source: 40 })
    .begin({ sequence: 2n, timestamp: NOW_NS })
    .addTlv(1, new Uint8Array(40))
    .build();
  assert.equal(
    execution.check(trade, 0, trade.length, new SequenceState(), NOW_MS),
    Status.TlvNotAllowedInDomain,
  );
});
