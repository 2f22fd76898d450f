import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage, decodeMessages } from "./message.ts";
import { MessageBuilder } from "./builder.ts";
import { FrameError } from "./errors.ts";
import { TLV_TYPES } from "./registry.ts";
import { decodePayload, encodePayload, hasLayout } from "./payloads.ts";
import { fromHex, VECTORS } from "../../tests/_support/vectors.ts";

const LAYOUT_TYPES = TLV_TYPES.filter((t) => hasLayout(t.type) && t.type !== 113).map((t) =>
  t.type
);
const VALID = VECTORS.filter((v) => v.expect === "valid").map((v) => fromHex(v.hex));

/**
 * A payload of a layout type: random bytes decoded then re-encoded (pads zeroed, values in range);
 * null when the bytes hold an out-of-range count, which decoding rightly refuses.
 */
function layoutPayload(type: number, seed: Uint8Array): Uint8Array | null {
  const info = TLV_TYPES.find((t) => t.type === type)!;
  const raw = new Uint8Array(info.layoutSize!);
  raw.set(seed.subarray(0, raw.length));
  try {
    return encodePayload(type, decodePayload(type, raw) as Record<string, unknown>);
  } catch (e) {
    if (e instanceof FrameError && e.code === "InvalidFieldValue") return null;
    throw e;
  }
}

const tlvArb = fc.oneof(
  fc.record({
    type: fc.constantFrom(...LAYOUT_TYPES),
    seed: fc.uint8Array({ minLength: 2456, maxLength: 2456 }),
  }).map(({ type, seed }) => ({ type, value: layoutPayload(type, seed) }))
    .filter((t): t is { type: number; value: Uint8Array } => t.value !== null),
  fc.record({
    type: fc.integer({ min: 200, max: 254 }),
    value: fc.uint8Array({ maxLength: 600 }),
  }),
);

Deno.test("random messages of registry types round-trip build → decode → build byte-exact", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 255 }),
      fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      fc.boolean(),
      fc.array(tlvArb, { minLength: 1, maxLength: 4 }),
      (domain, source, sequence, timestamp, checksum, tlvs) => {
        const build = (
          items: { type: number; value?: Uint8Array; fields?: Record<string, unknown> }[],
        ) => {
          const b = new MessageBuilder({ domain, source, checksum }).begin({ sequence, timestamp });
          for (const t of items) {
            if (t.fields !== undefined) b.addPayload(t.type, t.fields);
            else b.addTlv(t.type, t.value!);
          }
          return b.build();
        };
        const first = build(tlvs);
        const msg = decodeMessage(first);
        assert.equal(msg.header.sequence, sequence);
        assert.equal(msg.header.timestamp, timestamp);
        assert.equal(
          msg.checksumStatus,
          checksum ? (msg.header.checksum === 0 ? "absent" : "ok") : "absent",
        );
        const again = build(
          msg.tlvs.map((t) =>
            t.fields === null
              ? { type: t.type, value: t.value }
              : { type: t.type, fields: t.fields as Record<string, unknown> }
          ),
        );
        assert.deepEqual(again, first);
      },
    ),
    { numRuns: 300 },
  );
});

function onlyTypedErrors(bytes: Uint8Array): void {
  try {
    decodeMessages(bytes);
  } catch (e) {
    if (!(e instanceof FrameError)) throw e;
    assert.equal(typeof e.code, "string");
    assert.ok(
      e.offset === undefined || (e.offset >= 0 && e.offset <= bytes.length),
      `offset ${e.offset}`,
    );
  }
}

Deno.test("decodeMessages() throws nothing but FrameError on random bytes", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), onlyTypedErrors), { numRuns: 2000 });
});

Deno.test("decodeMessages() throws nothing but FrameError on mutated valid frames", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...VALID),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.nat(),
      (frame, flips, cut) => {
        const m = frame.slice();
        for (const [at, v] of flips) m[at % m.length] = v;
        onlyTypedErrors(m);
        onlyTypedErrors(m.subarray(0, cut % (m.length + 1)));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("MessageBuilder refuses bad records with typed errors", () => {
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const cases: [number, number, string][] = [
    [1, 39, "PayloadSizeMismatch"],
    [0, 4, "InvalidTlvType"],
    [255, 4, "InvalidTlvType"],
    [202, 65536, "PayloadTooLarge"],
  ];
  for (const [type, length, code] of cases) {
    assert.throws(() => b.begin().addTlv(type, new Uint8Array(length)), (e: unknown) => {
      return e instanceof FrameError && e.code === code;
    }, `type ${type} length ${length}`);
  }
  const small = new MessageBuilder({ domain: 1, source: 2, maxMessageSize: 100 });
  assert.throws(() => small.begin().addTlv(202, new Uint8Array(80)), (e: unknown) => {
    return e instanceof FrameError && e.code === "PayloadTooLarge" && e.details.limit === 100;
  });
});

Deno.test("MessageBuilder numbers messages 1, 2, 3 and writes the legacy domain when asked", () => {
  const b = new MessageBuilder({ domain: 2, source: 20 });
  const seqs = [1, 2, 3].map(() =>
    decodeMessage(b.begin().addTlv(100, new Uint8Array(16)).build()).header.sequence
  );
  assert.deepEqual(seqs, [1n, 2n, 3n]);
  const now = BigInt(Date.now()) * 1_000_000n;
  const ts = decodeMessage(b.begin().addTlv(100, new Uint8Array(16)).build()).header.timestamp;
  assert.ok(ts > now - 5_000_000_000n && ts < now + 5_000_000_000n, "default timestamp is now");
  const legacy = new MessageBuilder({ domain: 1, source: 3, legacyNumbering: true });
  assert.equal(legacy.begin().addTlv(18, new Uint8Array(32)).build()[4], 0);
});
