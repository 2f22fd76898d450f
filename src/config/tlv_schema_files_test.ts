import assert from "node:assert/strict";
import { loadSchemaFiles, parseSchemaText, SchemaFileError } from "./tlv_schema_files.ts";
import { registeredSchemas, registerSchemas, unregisterSchema } from "../protocol/tlv_schema.ts";
import { tlvType } from "../protocol/registry.ts";
import { decodePayload, encodePayload } from "../protocol/payloads.ts";

const EXAMPLE = new URL("../../config/schemas/example_vendor.yaml", import.meta.url);

function cleanup(): void {
  for (const e of registeredSchemas()) unregisterSchema(e.type);
}

function assertIssues(fn: () => unknown, lines: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SchemaFileError, String(e));
    assert.equal(
      e.message,
      lines.length === 1
        ? `Cannot load schemas: ${lines[0]}`
        : [`Cannot load schemas: ${lines.length} problems`, ...lines.map((l) => `  ${l}`)].join(
          "\n",
        ),
    );
    return true;
  });
}

Deno.test("loadSchemaFiles() reads config/schemas/example_vendor.yaml, and its schemas decode", () => {
  try {
    const defs = loadSchemaFiles([EXAMPLE.pathname]);
    assert.deepEqual(defs.map((d) => `${d.type} ${d.name}`), [
      "210 AcmeTopOfBook",
      "211 AcmeFundingRate",
    ]);
    assert.equal(tlvType(210), undefined, "loading registers nothing");
    registerSchemas(defs);
    const info = tlvType(211)!;
    assert.equal(info.layout, "registered");
    assert.equal(info.notes, `Schema registered at run time from ${EXAMPLE.pathname}.`);
    const fields = {
      instrument: { asset_id: 5n, venue: 700, asset_type: 151, reserved: 0 },
      rate_q8: -1250n,
      next_funding_ns: 1_700_000_000_000_000_000n,
    };
    assert.deepEqual(decodePayload(211, encodePayload(211, fields)), fields);
    assert.equal(
      encodePayload(210, {
        asset_id: 1n,
        bid_price: 2n,
        ask_price: 3n,
        bid_size: 4n,
        ask_size: 5n,
        venue_id: 101,
        asset_type: 51,
        reserved: 0,
        book_sequence: 9,
      }).length,
      48,
    );
  } finally {
    cleanup();
  }
});

Deno.test("parseSchemaText() locates rule violations by file, path and line", () => {
  const text = `types:
  - type: 210
    name: AcmeQuote
    size: 24
    fields:
      - name: bid
        offset: 0
        type: i64
      - name: ask
        offset: 8
        type: i64
      - name: qty
        offset: 12
        type: u32
      - name: venue
        offset: 20
        type: u64
`;
  assertIssues(() => parseSchemaText(text, "schemas.yaml"), [
    'schemas.yaml: types[0].fields[2].offset: overlaps "ask" at bytes 8–15 (line 13)',
    'schemas.yaml: types[0].fields[3].offset: "venue" ends at byte 28, beyond the 24-byte size (line 16)',
  ]);
});

Deno.test("parseSchemaText() reports shape problems with their lines", async (t) => {
  const cases: { name: string; text: string; lines: string[] }[] = [
    {
      name: "an unknown key and a missing field key",
      text:
        "types:\n  - type: 210\n    name: A\n    sise: 4\n    fields:\n      - { name: x, type: u32 }\n",
      lines: [
        's.yaml: types[0].sise: unknown key; did you mean "size"? (line 4)',
        "s.yaml: types[0].fields[0].offset: required key is missing (line 6)",
      ],
    },
    {
      name: "a bad size",
      text:
        "types:\n  - type: 210\n    name: A\n    size: big\n    fields: [{ name: x, offset: 0, type: u32 }]\n",
      lines: [
        's.yaml: types[0].size: expected a byte count from 1 to 65535, {min: N, max: M} or "variable", got "big" (line 4)',
      ],
    },
    {
      name: "a bad domain",
      text:
        "types:\n  - type: 210\n    name: A\n    domain: md\n    fields: [{ name: x, offset: 0, type: u32 }]\n",
      lines: [
        's.yaml: types[0].domain: expected one of "market_data", "signal", "execution", "system" or "vendor", got "md" (line 4)',
      ],
    },
    {
      name: "a number with a layout",
      text: "types:\n  - type: 32\n    fields: [{ name: x, offset: 0, type: u32 }]\n",
      lines: [
        "s.yaml: types[0].type: type 32 (ArbitrageSignal) already has a reference layout (line 2)",
      ],
    },
    {
      name: "invalid YAML",
      text: "types:\n  - type: [210\n",
      lines: [/* checked by prefix below */],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      if (c.lines.length === 0) {
        assert.throws(() => parseSchemaText(c.text, "s.yaml"), (e: unknown) => {
          assert.ok(e instanceof SchemaFileError);
          assert.match(
            e.message,
            /^Cannot load schemas: (\d+ problems\n {2})?s\.yaml: Cannot parse YAML: .* \(line \d\)/,
          );
          return true;
        });
        return;
      }
      assertIssues(() => parseSchemaText(c.text, "s.yaml"), c.lines);
    });
  }
});

Deno.test("loadSchemaFiles() refuses one number in two files, and files it cannot read", () => {
  const files: Record<string, string> = {
    "a.yaml":
      "types:\n  - type: 220\n    name: A\n    fields: [{ name: x, offset: 0, type: u32 }]\n",
    "b.yaml":
      "# another file\ntypes:\n  - type: 221\n    name: B\n    fields: [{ name: x, offset: 0, type: u8 }]\n  - type: 220\n    name: C\n    fields: [{ name: x, offset: 0, type: u8 }]\n",
  };
  const readFile = (p: string) => {
    const text = files[p];
    if (text === undefined) throw new Deno.errors.NotFound(`No such file: ${p}`);
    return text;
  };
  assertIssues(() => loadSchemaFiles(["a.yaml", "b.yaml"], { readFile }), [
    "b.yaml: types[1].type: type 220 is already given a schema (A) in this list (line 6)",
  ]);
  assertIssues(() => loadSchemaFiles(["a.yaml", "missing.yaml"], { readFile }), [
    "missing.yaml: Cannot read schema file: file not found",
  ]);
  assert.equal(loadSchemaFiles(["a.yaml"], { readFile }).length, 1);
  assert.deepEqual(registeredSchemas(), []);
});
