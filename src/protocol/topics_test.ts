import assert from "node:assert/strict";
import fc from "fast-check";
import { Filter, FrameTopics, patternMatches, TopicRegistry } from "./topics.ts";
import { MessageBuilder } from "./builder.ts";

const PATTERN = fc.oneof(
  fc.constantFrom("*", "t*", "tlv.*", "tlv.2*", "tlv.1", "tlv.255", "tlv.256", "tlv.01", "s*"),
  fc.constantFrom("source.*", "source.2", "source.2*", "so*", "tlv*", "tlv.", "source.", "x*"),
  fc.tuple(fc.constantFrom("tlv.", "source.", "tl", "sour", ""), fc.nat(300), fc.boolean())
    .map(([p, n, wild]) => `${p}${n}${wild ? "*" : ""}`),
  fc.string({ maxLength: 8 }).filter((s) => s.length > 0),
);

Deno.test("Filter.matches() agrees with patternMatches() over tlv.<n> and source.<n>", () => {
  fc.assert(
    fc.property(
      fc.array(PATTERN, { minLength: 1, maxLength: 6 }),
      fc.nat(255),
      fc.array(fc.nat(255), { maxLength: 4 }),
      (patterns, source, types) => {
        const registry = new TopicRegistry("default", [], true);
        const filter = new Filter(patterns, registry);
        const t = new FrameTopics(registry, { kind: "fixed", name: "default" });
        t.source = source;
        t.count = types.length;
        t.types.set(types);
        t.topic = registry.defaultId;
        const topics = ["default", `source.${source}`, ...types.map((n) => `tlv.${n}`)];
        const expected = patterns.some((p) => topics.some((x) => patternMatches(p, x)));
        assert.equal(filter.matches(t), expected, JSON.stringify({ patterns, source, types }));
      },
    ),
    { numRuns: 2_000, seed: 42 },
  );
});

Deno.test("instrument_venue takes the venue of the first Trade or Quote only (PROTOCOL.md 7.8, D-39)", async (t) => {
  const registry = new TopicRegistry("default", [], true);
  const topics = new FrameTopics(registry, { kind: "instrument_venue" });
  const topicOf = (...tlvs: [number, Uint8Array][]) => {
    const b = new MessageBuilder({ domain: 1, source: 2 }).begin();
    for (const [type, value] of tlvs) b.addTlv(type, value);
    const frame = b.build();
    topics.compute(frame, 0, frame.length);
    return registry.name(topics.topic);
  };
  /** A payload of `size` bytes whose u16 at `at` is `venue` (every other byte 0). */
  const withVenue = (size: number, at: number, venue: number) => {
    const v = new Uint8Array(size);
    v[at] = venue & 0xff;
    v[at + 1] = venue >> 8;
    return v;
  };
  const trade = withVenue(40, 32, 101); // Kraken at Trade's venue_id
  const quote = withVenue(56, 48, 102); // Coinbase at Quote's venue_id
  // Bytes that would name Binance (100) at any even offset a reader might wrongly use.
  const decoy = (size: number) => {
    const v = new Uint8Array(size);
    for (let i = 0; i + 1 < size; i += 2) v[i] = 100;
    return v;
  };

  await t.step("Trade and Quote name their venue at its real offset", () => {
    assert.equal(topicOf([1, trade]), "venue_kraken");
    assert.equal(topicOf([2, quote]), "venue_coinbase");
  });
  await t.step("the first Trade or Quote wins, whatever comes before it", () => {
    assert.equal(topicOf([41, decoy(24)], [1, trade], [2, quote]), "venue_kraken");
    assert.equal(topicOf([17, decoy(56)], [2, quote], [1, trade]), "venue_coinbase");
  });
  await t.step("OrderStatus and QuoteUpdate never name a venue", () => {
    assert.equal(topicOf([41, decoy(24)]), "venue_unknown");
    assert.equal(topicOf([17, decoy(56)]), "venue_unknown");
    assert.equal(topicOf([41, decoy(24)], [17, decoy(56)]), "venue_unknown");
  });
  await t.step("an unlisted venue is venue_unknown", () => {
    assert.equal(topicOf([1, withVenue(40, 32, 65000)]), "venue_unknown");
  });
});
