import assert from "node:assert/strict";
import { decodeMessage } from "../protocol/message.ts";
import { messageToJson } from "./decode_format.ts";
import { encodeMessageJson, encodeMessagesJson, MessageJsonError } from "./encode_json.ts";
import { parseHex, toHex } from "./hex.ts";
import { sharedPath } from "../../tests/_support/shared.ts";

const VECTORS: { name: string; hex: string; expect: unknown }[] = JSON.parse(
  await Deno.readTextFile(sharedPath("spec/vectors.json")),
);
const VALID = VECTORS.filter((v) => v.expect === "valid");
const NOW = () => 1700000000000000000n;

function roundTrip(json: unknown): unknown {
  return JSON.parse(JSON.stringify(json));
}

Deno.test("encodeMessageJson() reproduces every valid vector from its decoded JSON", async (t) => {
  for (const v of VALID) {
    await t.step(v.name, () => {
      const json = roundTrip(messageToJson(decodeMessage(parseHex(v.hex))));
      assert.equal(toHex(encodeMessageJson(json)), v.hex);
    });
  }
});

Deno.test("encodeMessagesJson() concatenates an array", () => {
  const json = VALID.slice(0, 3).map((v) =>
    roundTrip(messageToJson(decodeMessage(parseHex(v.hex))))
  );
  assert.equal(toHex(encodeMessagesJson(json)), VALID.slice(0, 3).map((v) => v.hex).join(""));
});

Deno.test("encodeMessageJson() fills header defaults", () => {
  const frame = encodeMessageJson({
    tlvs: [{
      type: "Heartbeat",
      fields: {
        timestamp_ns: "1700000007000000000",
        uptime_seconds: 3600,
        service_type: 20,
        health_status: 0,
        reserved: 0,
      },
    }],
  }, { now: NOW });
  const m = decodeMessage(frame);
  assert.equal(m.header.relayDomain, 4); // Heartbeat's home domain
  assert.equal(m.header.version, 1);
  assert.equal(m.header.source, 99);
  assert.equal(m.header.flags, 0);
  assert.equal(m.header.sequence, 1n);
  assert.equal(m.header.timestamp, 1700000000000000000n);
  assert.equal(m.header.payloadSize, 18);
  assert.equal(m.checksumStatus, "ok");
});

Deno.test("encodeMessageJson() honours domain names, source names and checksum 0", () => {
  const frame = encodeMessageJson({
    header: { domain: "execution", source: "ExecutionEngine", checksum: 0, timestamp_ns: "5" },
    tlvs: [{ type: 4, fields: null, payload_hex: "0x0102" }],
  });
  const m = decodeMessage(frame);
  assert.equal(m.header.relayDomain, 3);
  assert.equal(m.header.source, 42);
  assert.equal(m.header.timestamp, 5n);
  assert.equal(m.checksumStatus, "absent");
  assert.deepEqual([...m.tlvs[0]!.value], [1, 2]);
  const legacy = encodeMessageJson(
    { header: { domain: "market_data", source: "CoinbaseCollector" }, tlvs: [] },
    { legacyNumbering: true, now: NOW },
  );
  assert.equal(legacy[4], 0);
  assert.equal(legacy[6], 2);
});

Deno.test("encodeMessageJson() keeps an explicit extended form", () => {
  const frame = encodeMessageJson({
    header: { domain: 1 },
    tlvs: [{ type: 4, form: "extended", payload_hex: "ab" }],
  }, { now: NOW });
  assert.equal(toHex(frame.subarray(32)), "ff00040100ab");
  assert.equal(decodeMessage(frame).tlvs[0]!.form, "extended");
});

Deno.test("encodeMessageJson() rejects bad input naming the JSON path", () => {
  const cases: [unknown, RegExp][] = [
    [[], /the input is not an object/],
    [{ tlvs: {} }, /tlvs is not an array/],
    [{ tlvs: [{ type: 1 }] }, /tlvs\[0\] needs fields or payload_hex/],
    [{ tlvs: [{ type: 0, payload_hex: "" }] }, /tlvs\[0\]\.type is 0, expected 1–254/],
    [{ tlvs: [{ type: "Frob", payload_hex: "" }] }, /tlvs\[0\]\.type .* names no TLV type/],
    [{ tlvs: [{ type: 4, fields: {} }] }, /tlvs\[0\]\.fields cannot be used: type 4/],
    [{ tlvs: [{ type: 1, fields: { price: 1 } }] }, /tlvs\[0\]\.fields are invalid/],
    [{ tlvs: [{ type: 1, payload_hex: "00" }] }, /tlvs\[0\] cannot be encoded: .*expected 40/],
    [{ tlvs: [{ type: 4, payload_hex: "0g" }] }, /tlvs\[0\]\.payload_hex is invalid: .*position 2/],
    [{ header: { domain: "frob" }, tlvs: [] }, /header\.domain .* names no relay domain/],
    [{ tlvs: [] }, /header\.relay_domain is missing/],
    [{ header: { domain: 1, sequence: -1 }, tlvs: [] }, /header\.sequence is -1/],
    [{ header: { domain: 1, source: "Frob" }, tlvs: [] }, /header\.source .* names no source type/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => encodeMessageJson(input, { now: NOW }), (e: unknown) => {
      assert.ok(e instanceof MessageJsonError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }
  assert.throws(() => encodeMessagesJson([{ tlvs: [] }]), /\[0\]\.header\.relay_domain is missing/);
});
