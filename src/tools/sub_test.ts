import assert from "node:assert/strict";
import {
  formatFrame,
  formatReceiveTime,
  gapLine,
  parseByteList,
  parseSequence,
  planSubscription,
  RateGraph,
  recoveryLine,
  subSummary,
} from "./sub.ts";
import { formatMessageText, messageToJson } from "../format/decode_format.ts";
import { decodeMessage } from "../protocol/message.ts";
import { vectorBytes, VECTORS } from "../../tests/_support/vectors.ts";

const SIGNAL = vectorBytes("arbitrage_signal_flash_arb");

Deno.test("parseByteList() reads numbers, ranges and TLV names", () => {
  assert.deepEqual(parseByteList("20-39", "type"), [[20, 39]]);
  assert.deepEqual(parseByteList("1, 2,20-29", "type"), [1, 2, [20, 29]]);
  assert.deepEqual(parseByteList("Trade,Quote", "type"), [1, 2]);
  assert.deepEqual(parseByteList("20", "source"), [20]);
  assert.throws(() => parseByteList("Trade", "source"), /^RangeError: Cannot parse source "Trade"/);
  assert.throws(() => parseByteList("39-20", "type"), /20 is above|39 is above/);
  assert.throws(() => parseByteList("300", "type"), /300 is above 255/);
  assert.throws(() => parseByteList("", "type"), RangeError);
});

Deno.test("planSubscription() turns types and sources into patterns plus a local filter", () => {
  assert.deepEqual(planSubscription({}), { patterns: ["*"], filter: undefined });
  assert.deepEqual(planSubscription({ types: [[20, 22]] }), {
    patterns: ["tlv.20", "tlv.21", "tlv.22"],
    filter: { types: [[20, 22]] },
  });
  assert.deepEqual(planSubscription({ types: [32], sources: [20] }), {
    patterns: ["tlv.32", "source.20"],
    filter: { types: [32], sources: [20] },
  });
  // explicit patterns win; types and sources still filter locally
  assert.deepEqual(planSubscription({ subscribe: ["arbitrage_*"], sources: [20] }), {
    patterns: ["arbitrage_*"],
    filter: { sources: [20] },
  });
  assert.deepEqual(planSubscription({ types: [[0, 255]] }).patterns, ["*"]);
});

Deno.test("formatFrame() renders like torq decode: text, hex line, JSON line", () => {
  const msg = decodeMessage(SIGNAL);
  assert.equal(formatFrame(SIGNAL, "decode"), formatMessageText(msg));
  assert.equal(
    formatFrame(SIGNAL, "hex"),
    VECTORS.find((v) => v.name === "arbitrage_signal_flash_arb")!.hex,
  );
  const line = formatFrame(SIGNAL, "json");
  assert.ok(!line.includes("\n"));
  assert.deepEqual(JSON.parse(line), JSON.parse(JSON.stringify(messageToJson(msg))));
});

Deno.test("formatFrame() prefixes the receive time when asked", () => {
  const at = 1_700_000_000_123_456_789n;
  assert.equal(formatReceiveTime(at), "2023-11-14T22:13:20.123456Z");
  assert.match(
    formatFrame(SIGNAL, "hex", { receivedNs: at }),
    /^2023-11-14T22:13:20\.123456Z efbeadde/,
  );
  assert.match(
    formatFrame(SIGNAL, "decode", { receivedNs: at }),
    /^2023-11-14T22:13:20\.123456Z header: 204 bytes/,
  );
  assert.equal(
    JSON.parse(formatFrame(SIGNAL, "json", { receivedNs: at })).received,
    "2023-11-14T22:13:20.123456Z",
  );
});

Deno.test("formatFrame() shows a frame that does not decode with its error", () => {
  const bad = vectorBytes("bad_checksum");
  assert.match(
    formatFrame(bad, "decode"),
    /^error: ChecksumMismatch: Cannot accept frame: checksum at offset 28/,
  );
  const json = JSON.parse(formatFrame(bad, "json"));
  assert.equal(json.error.code, "ChecksumMismatch");
  assert.equal(json.frame_hex.length, bad.length * 2);
});

Deno.test("gapLine() and subSummary() read as documented", () => {
  assert.equal(
    gapLine({ source: 20, expected: 8n, got: 11n, missing: 3n }),
    "⚠ gap on source 20: expected 8, got 11 (3 missing)",
  );
  assert.equal(
    subSummary({
      frames: 1,
      bytes: 204,
      gaps: 2,
      filtered: 0,
      filter: ["*"],
      relay: "signal",
      address: "/tmp/s.sock",
      ended: "count",
    }),
    "received 1 frame (204 bytes), 2 gaps from signal relay at /tmp/s.sock",
  );
});

Deno.test("RateGraph.line() scales the bar to the peak rate", () => {
  const g = new RateGraph(8);
  const at = Date.UTC(2026, 10, 23, 14, 29, 9);
  assert.equal(g.line(0, 0, at), "14:29:09         0 msg/s        0 B/s");
  assert.equal(g.line(1000, 204_000, at), "14:29:09      1000 msg/s   199.2 KB/s  ████████");
  assert.equal(g.line(500, 102_000, at), "14:29:09       500 msg/s    99.6 KB/s  ████");
  assert.equal(g.peak, 1000);
  assert.match(g.line(140, 0, at), /msg\/s +0 B\/s {2}█▏$/);
});

Deno.test("parseSequence() keeps a u64 exact and names a bad value", () => {
  assert.equal(parseSequence("18446744073709551615"), 18446744073709551615n);
  assert.equal(parseSequence(" 0 "), 0n);
  assert.throws(() => parseSequence("-1"), /Cannot parse sequence "-1": expected a whole number/);
  assert.throws(() => parseSequence("18446744073709551616"), /it is above 2\^64 - 1/);
});

Deno.test("recoveryLine() sums up a recovery's answer in one line", () => {
  const base = { frames: 0, first: 0n, last: 0n, windowStart: 0n, delivered: 0, duplicates: 0 };
  assert.equal(
    recoveryLine(
      { ...base, status: "complete", frames: 4321, first: 1001n, last: 5321n, duplicates: 12 },
      { source: 20, after: 1000n },
      "signal",
    ),
    "recovered 4321 frames of source 20 after sequence 1000 (sequences 1001–5321) from the signal relay, complete, 12 frames received already",
  );
  assert.equal(
    recoveryLine(
      { ...base, status: "partial", frames: 1, first: 12n, last: 12n, windowStart: 12n },
      { source: 20, after: 10n },
      "signal",
    ),
    "recovered 1 frame of source 20 after sequence 10 (sequence 12) from the signal relay, partial: the window starts at 12, 11 is lost",
  );
  assert.equal(
    recoveryLine({ ...base, status: "complete" }, { source: 0, after: 5n }, "execution"),
    "recovered 0 frames of every source after sequence 5 from the execution relay, complete",
  );
  assert.equal(
    recoveryLine(
      { ...base, status: "complete", frames: 2, first: 9n, last: 7n },
      { snapshot: true, source: 2 },
      "market-data",
    ),
    "snapshot of source 2: 2 frames (first sequence 9, last 7) from the market-data relay",
  );
});
