import assert from "node:assert/strict";
import { FrameError, Status } from "./errors.ts";
import { decodePayload, encodePayload, type FieldValue, hasLayout } from "./payloads.ts";
import { checkTlvSize } from "./registry.ts";
import { decodeMessage, decodeMessages } from "./message.ts";
import { MessageBuilder } from "./builder.ts";
import { fromHex, toHex, VECTORS } from "../../tests/_support/vectors.ts";

/**
 * Asserts that every key the vector lists equals the decoded value (bigints
 * compared as decimal strings); the decoded value may have more keys.
 */
function assertSubset(expected: unknown, actual: FieldValue | undefined, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is an array`);
    assert.equal(actual.length, expected.length, `${path} length`);
    expected.forEach((e, i) => assertSubset(e, actual[i], `${path}[${i}]`));
  } else if (typeof expected === "object" && expected !== null) {
    assert.ok(typeof actual === "object" && actual !== null && !Array.isArray(actual), path);
    const fields = actual as { readonly [k: string]: FieldValue };
    for (const [key, value] of Object.entries(expected)) {
      assert.ok(key in fields, `${path}.${key} is decoded`);
      assertSubset(value, fields[key], `${path}.${key}`);
    }
  } else {
    const got = typeof actual === "bigint" ? actual.toString() : actual;
    assert.equal(got, expected, path);
  }
}

Deno.test("vectors.json payloads decode and re-encode byte-exact", async (t) => {
  let checked = 0;
  for (const vector of VECTORS) {
    if (vector.expect !== "valid") continue;
    await t.step(`payload: ${vector.name}`, () => {
      for (const [i, tlv] of vector.fields.tlvs.entries()) {
        if (tlv.payload === undefined) continue;
        const type = tlv.type as number;
        const hex = tlv.payload_hex as string;
        assert.ok(hasLayout(type), `type ${type} has a layout`);
        assert.ok(vector.hex.includes(hex), `tlvs[${i}] payload_hex is in the message hex`);
        const decoded = decodePayload(type, fromHex(hex));
        assertSubset(tlv.payload, decoded, `tlvs[${i}] (${tlv.name})`);
        assert.equal(toHex(encodePayload(type, decoded)), hex, `tlvs[${i}] re-encodes`);
        checked++;
      }
    });
  }
  assert.equal(checked, 15, "every typed TLV of the valid vectors was checked");
});

Deno.test("vectors.json trade_size_mismatch: a 39-byte Trade is a PayloadSizeMismatch", () => {
  const vector = VECTORS.find((v) => v.name === "trade_size_mismatch");
  assert.ok(vector);
  assert.deepEqual(vector.expect, { error: "PayloadSizeMismatch" });
  const bytes = fromHex(vector.hex);
  assert.equal(bytes[32], 1, "TLV type 1");
  assert.equal(bytes[33], 39, "length 39");
  assert.equal(checkTlvSize(1, 39), Status.PayloadSizeMismatch);
  assert.equal(checkTlvSize(1, 40), Status.OK);
  const value = bytes.subarray(34, 34 + 39);
  assert.throws(
    () => decodePayload(1, value),
    (e: unknown) =>
      e instanceof FrameError && e.code === "PayloadSizeMismatch" &&
      e.message === "Cannot decode Trade: payload is 39 bytes, expected 40",
  );
});

Deno.test("vectors.json messages decode whole and rebuild byte-exact with MessageBuilder", async (t) => {
  for (const vector of VECTORS) {
    const bytes = fromHex(vector.hex);
    assert.equal(bytes.length, vector.length, `${vector.name} length`);
    if (vector.expect !== "valid") {
      const code = vector.expect.error;
      await t.step(`message: ${vector.name} fails with ${code}`, () => {
        assert.throws(() => decodeMessage(bytes), (e: unknown) => {
          assert.ok(e instanceof FrameError, "a typed FrameError");
          assert.equal(e.code, code);
          assert.equal(typeof e.offset, "number");
          return true;
        });
      });
      continue;
    }
    await t.step(`message: ${vector.name}`, () => {
      const msg = decodeMessage(bytes);
      const h = vector.fields.header;
      assert.equal(msg.header.relayDomain, h.relay_domain);
      assert.equal(msg.header.source, h.source);
      assert.equal(msg.header.sequence.toString(), h.sequence);
      assert.equal(msg.header.timestamp.toString(), h.timestamp_ns);
      assert.equal(msg.header.payloadSize, h.payload_size);
      assert.equal(msg.header.checksum, Number(h.checksum));
      assert.equal(msg.checksumStatus, Number(h.checksum) === 0 ? "absent" : "ok");
      assert.deepEqual(
        msg.tlvs.map((x) => [x.type, x.name, x.form, x.length]),
        vector.fields.tlvs.map((x) => [x.type, x.name, x.form, x.length]),
      );
      for (const [i, tlv] of vector.fields.tlvs.entries()) {
        if (tlv.payload !== undefined) {
          assertSubset(tlv.payload, msg.tlvs[i]!.fields ?? undefined, `tlvs[${i}]`);
        }
      }
      const b = new MessageBuilder({
        domain: msg.header.relayDomain,
        source: msg.header.source,
        checksum: msg.header.checksum !== 0,
      });
      b.begin({ sequence: msg.header.sequence, timestamp: msg.header.timestamp });
      for (const tlv of msg.tlvs) {
        if (tlv.fields !== null) b.addPayload(tlv.type, tlv.fields as Record<string, unknown>);
        else b.addTlv(tlv.type, tlv.value);
      }
      assert.equal(toHex(b.finish()), vector.hex);
    });
  }
});

Deno.test("decodeMessage() reports the catalogue's facts for the negative vectors", () => {
  const check = (name: string, details: Record<string, unknown>) => {
    const v = VECTORS.find((x) => x.name === name)!;
    assert.throws(() => decodeMessage(fromHex(v.hex)), (e: unknown) => {
      assert.ok(e instanceof FrameError);
      for (const [k, want] of Object.entries(details)) {
        assert.equal(e.details[k], want, `${name}.${k}`);
      }
      return true;
    });
  };
  check("bad_checksum", { stored: 0x3b68de0f, computed: 0xcab2dba5, message_size: 74 });
  check("bad_magic_big_endian", { diagnosis: "byte order" });
  check("truncated_tlv", { payload_offset: 0, need: 42, available: 22 });
  check("trade_size_mismatch", { tlv_type: 1, name: "Trade", got: 39 });
});

Deno.test("decodeMessage() rejects trailing bytes and keeps undecodable layouts on the TLV", () => {
  const trade = fromHex(VECTORS[0]!.hex);
  const longer = new Uint8Array(trade.length + 3);
  longer.set(trade);
  assert.throws(
    () => decodeMessage(longer),
    (e: unknown) => e instanceof FrameError && e.code === "TrailingBytes",
  );
  assert.equal(decodeMessages(new Uint8Array([...trade, ...trade])).length, 2);
  // A 100-byte OrderBook obeys its (variable) size rule but cannot be decoded field by field.
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const msg = decodeMessage(b.begin().addTlv(3, new Uint8Array(100)).build());
  assert.equal(msg.tlvs[0]!.fields, null);
  assert.equal(msg.tlvs[0]!.error?.code, "PayloadSizeMismatch");
  assert.equal(msg.tlvs[0]!.error?.offset, 34, "offset is absolute in the message");
});

Deno.test("decodeMessage() reads legacy domain numbering only when asked", () => {
  const b = new MessageBuilder({ domain: 1, source: 3, legacyNumbering: true });
  const frame = b.begin().addTlv(18, new Uint8Array(32)).build();
  assert.equal(frame[4], 0);
  assert.throws(
    () => decodeMessage(frame),
    (e: unknown) => e instanceof FrameError && e.code === "InvalidRelayDomain",
  );
  const msg = decodeMessage(frame, { legacyNumbering: true });
  assert.equal(msg.domain, "market_data");
  assert.equal(msg.sourceName, "KrakenCollector", "legacy source 3 is Kraken");
});
