import assert from "node:assert/strict";
import process from "node:process";
import { parse } from "yaml";
import { lookupTlvType, type SizeRule, TLV_TYPES, tlvType } from "./registry.ts";
import { sharedPath } from "../../tests/_support/shared.ts";

const YAML_URL = sharedPath("spec/tlv-types.yaml");

interface YamlField {
  offset: number;
  name: string;
  type: string;
  size: number;
}

interface YamlEntry {
  type: number;
  name: string;
  domain: string;
  size_kind: string;
  size: number | { min: number; max: number } | null;
  layout: string;
  layout_size?: number;
  fields?: YamlField[];
  description: string;
  reference_size?: number | { min: number; max: number };
  notes?: string;
}

const YAML_KEYS = new Set([
  "type",
  "name",
  "domain",
  "size_kind",
  "size",
  "layout",
  "layout_size",
  "fields",
  "description",
  "reference_size",
  "notes",
]);

/**
 * Parses YAML with npm `yaml`, which reads `LOG_TOKENS`/`LOG_STREAM` from
 * `process.env` while parsing: without env permission (`deno test --allow-read`)
 * that read throws, so the parse then sees an empty environment.
 */
function parseYaml(text: string): unknown {
  const env = Deno.permissions.querySync({ name: "env" }).state === "granted";
  if (env) return parse(text);
  const saved = process.env;
  process.env = {};
  try {
    return parse(text);
  } finally {
    process.env = saved;
  }
}

const ENTRIES = parseYaml(await Deno.readTextFile(YAML_URL)) as YamlEntry[];

function sizeRuleOf(entry: YamlEntry): SizeRule {
  switch (entry.size_kind) {
    case "fixed":
      return { kind: "fixed", size: entry.size as number };
    case "bounded": {
      const { min, max } = entry.size as { min: number; max: number };
      return { kind: "bounded", min, max };
    }
    case "variable":
    case "marker":
      assert.equal(entry.size, null, `size of type ${entry.type} must be null`);
      return { kind: entry.size_kind };
    default:
      throw new Error(`Cannot read tlv-types.yaml: size_kind "${entry.size_kind}" is unknown`);
  }
}

Deno.test("tlv-types.yaml uses only the documented keys", () => {
  for (const entry of ENTRIES) {
    for (const key of Object.keys(entry)) {
      assert.ok(YAML_KEYS.has(key), `type ${entry.type} has undocumented key "${key}"`);
    }
  }
});

Deno.test("TLV_TYPES equals tlv-types.yaml: same count and type order", () => {
  assert.equal(TLV_TYPES.length, ENTRIES.length);
  assert.deepEqual(TLV_TYPES.map((t) => t.type), ENTRIES.map((e) => e.type));
  const numbers = TLV_TYPES.map((t) => t.type);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), "entries are in type order");
  assert.equal(new Set(numbers).size, numbers.length, "type numbers are unique");
});

Deno.test("TLV_TYPES equals tlv-types.yaml: every entry", async (t) => {
  for (const entry of ENTRIES) {
    await t.step(`${entry.type} ${entry.name}`, () => {
      const info = tlvType(entry.type);
      assert.ok(info, `type ${entry.type} is missing`);
      assert.equal(info.type, entry.type);
      assert.equal(info.name, entry.name);
      assert.equal(info.domain, entry.domain);
      assert.deepEqual(info.size, sizeRuleOf(entry));
      assert.equal(info.layout, entry.layout);
      assert.equal(info.layoutSize, entry.layout_size);
      assert.equal(info.description, entry.description);
      assert.deepEqual(info.referenceSize, entry.reference_size);
      assert.equal(info.notes, entry.notes);
      if (entry.fields === undefined) {
        assert.equal(info.fields, undefined);
      } else {
        assert.ok(info.fields, `type ${entry.type} has no fields`);
        assert.deepEqual(
          info.fields.map(({ offset, name, type, size }) => ({ offset, name, type, size })),
          entry.fields,
        );
      }
      // Exactly the keys the YAML has: nothing extra in code.
      const expectedKeys = new Set(["type", "name", "domain", "size", "layout", "description"]);
      if (entry.layout_size !== undefined) expectedKeys.add("layoutSize");
      if (entry.fields !== undefined) expectedKeys.add("fields");
      if (entry.reference_size !== undefined) expectedKeys.add("referenceSize");
      if (entry.notes !== undefined) expectedKeys.add("notes");
      assert.deepEqual(new Set(Object.keys(info)), expectedKeys);
    });
  }
});

Deno.test("TLV_TYPES: every field table tiles 0..layoutSize exactly", async (t) => {
  for (const info of TLV_TYPES) {
    if (info.fields === undefined) continue;
    await t.step(`${info.type} ${info.name}`, () => {
      assert.ok(info.layout === "reference" || info.layout === "provisional");
      assert.ok(info.layoutSize !== undefined && info.layoutSize > 0);
      let next = 0;
      for (const field of info.fields!) {
        assert.equal(field.offset, next, `field "${field.name}" starts at ${field.offset}`);
        assert.ok(field.size > 0, `field "${field.name}" has size ${field.size}`);
        next = field.offset + field.size;
      }
      assert.equal(next, info.layoutSize, "the last field ends at layoutSize");
      const names = info.fields!.map((f) => f.name);
      assert.equal(new Set(names).size, names.length, "field names are unique");
    });
  }
});

Deno.test("TLV_TYPES: layouts agree with size rules", async (t) => {
  for (const info of TLV_TYPES) {
    await t.step(`${info.type} ${info.name}`, () => {
      const defined = info.layout === "reference" || info.layout === "provisional";
      assert.equal(info.fields !== undefined, defined);
      assert.equal(info.layoutSize !== undefined, defined);
      if (info.size.kind === "fixed" && defined) assert.equal(info.layoutSize, info.size.size);
      if (info.size.kind === "bounded" && defined) {
        assert.ok(info.layoutSize! >= info.size.min && info.layoutSize! <= info.size.max);
      }
    });
  }
});

Deno.test("lookupTlvType() finds entries by name and number", () => {
  assert.equal(lookupTlvType("arbitragesignal")?.type, 32);
  assert.equal(lookupTlvType("32")?.name, "ArbitrageSignal");
  assert.equal(lookupTlvType("Subscribe")?.type, 113);
  assert.equal(lookupTlvType("NoSuchType"), undefined);
  assert.equal(tlvType(33), undefined);
});
