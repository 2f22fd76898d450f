import assert from "node:assert/strict";
import fc from "fast-check";
import { Filter, FrameTopics, patternMatches, TopicRegistry } from "./topics.ts";

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
