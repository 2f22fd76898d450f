import assert from "node:assert/strict";
import { ErrorCode, FrameError } from "./errors.ts";
import { lookupTlvType, TLV_TYPES, tlvType } from "./registry.ts";
import { decodePayload, encodePayload, hasLayout } from "./payloads.ts";
import { decodeMessage } from "./message.ts";
import { MessageBuilder } from "./builder.ts";
import {
  checkSchemas,
  registeredSchemas,
  registerSchema,
  registerSchemas,
  type SchemaDefinition,
  schemaPath,
  unregisterSchema,
} from "./tlv_schema.ts";

/** A vendor top-of-book: 32 bytes, with a 4-byte gap at 20 and a trailing pad. */
const TOP_OF_BOOK: SchemaDefinition = {
  type: 210,
  name: "AcmeTopOfBook",
  domain: "market_data",
  size: 32,
  fields: [
    { name: "asset_id", offset: 0, type: "u64" },
    { name: "price", offset: 8, type: "i64" },
    { name: "venue_id", offset: 16, type: "u16" },
    { name: "asset_type", offset: 18, type: "u8" },
    { name: "reserved", offset: 19, type: "u8" },
    { name: "size", offset: 24, type: "u32" },
  ],
};

const TOB_FIELDS = {
  asset_id: 4779518966531048448n,
  price: 4512350000000n,
  venue_id: 101,
  asset_type: 51,
  reserved: 0,
  size: 7,
};

/** Registers for the duration of `body`, then removes every schema registered in this test. */
async function withSchemas(defs: SchemaDefinition[], body: () => void | Promise<void>) {
  try {
    registerSchemas(defs);
    await body();
  } finally {
    for (const e of registeredSchemas()) unregisterSchema(e.type);
  }
}

function assertSchemaError(
  fn: () => unknown,
  code: string,
  message: string | RegExp,
  field?: string,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FrameError, String(e));
    assert.equal(e.code, code);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

Deno.test("registerSchema() gives a vendor number a layout that decode and encode use", async () => {
  assert.equal(hasLayout(210), false);
  await withSchemas([TOP_OF_BOOK], () => {
    const info = tlvType(210)!;
    assert.equal(info.layout, "registered");
    assert.equal(info.layoutSize, 32);
    assert.deepEqual(info.size, { kind: "fixed", size: 32 });
    assert.equal(info.domain, "market_data");
    // gaps become padding, so the table tiles 0..32
    assert.deepEqual(
      info.fields!.map((f) => `${f.offset}:${f.name}:${f.type}`),
      [
        "0:asset_id:u64",
        "8:price:i64",
        "16:venue_id:u16",
        "18:asset_type:u8",
        "19:reserved:u8",
        "20:_gap20:pad4",
        "24:size:u32",
        "28:_gap28:pad4",
      ],
    );
    assert.equal(lookupTlvType("acmetopofbook"), info);
    assert.equal(lookupTlvType("210"), info);
    assert.ok(TLV_TYPES.includes(info), "TLV_TYPES is live");
    const numbers = TLV_TYPES.map((t) => t.type);
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), "TLV_TYPES stays in type order");

    const value = encodePayload(210, TOB_FIELDS);
    assert.equal(value.length, 32);
    assert.deepEqual(decodePayload(210, value), TOB_FIELDS);

    const frame = new MessageBuilder({ domain: 1, source: 2 }).begin().addTlv(210, value).build();
    const msg = decodeMessage(frame);
    assert.equal(msg.tlvs[0]!.name, "AcmeTopOfBook");
    assert.deepEqual(msg.tlvs[0]!.fields, TOB_FIELDS);
  });
  assert.equal(tlvType(210), undefined, "unregistered again");
  assert.equal(hasLayout(210), false);
  assert.equal(lookupTlvType("AcmeTopOfBook"), undefined);
});

Deno.test("registerSchema() on an opaque assigned number keeps its name, domain and size rule", async () => {
  const before = tlvType(28)!; // MEVBundle, 40 bytes, opaque
  assert.equal(before.layout, "opaque");
  await withSchemas(
    [{
      type: 28,
      fields: [
        { name: "bundle_id", offset: 0, type: "u64" },
        { name: "block_number", offset: 8, type: "u64" },
        { name: "tip_wei", offset: 16, type: "u128" },
      ],
    }],
    () => {
      const info = tlvType(28)!;
      assert.equal(info.name, "MEVBundle");
      assert.equal(info.domain, before.domain);
      assert.deepEqual(info.size, before.size);
      assert.equal(info.layoutSize, 40);
      const value = new Uint8Array(40);
      value[0] = 9;
      value[16] = 1;
      assert.deepEqual(decodePayload(28, value), { bundle_id: 9n, block_number: 0n, tip_wei: 1n });
    },
  );
  assert.equal(tlvType(28), before, "the built-in entry is back");
});

Deno.test("registerSchema() may rename an opaque vendor number; the old name is freed and restored", async () => {
  await withSchemas(
    [{
      type: 202,
      name: "AcmeBook",
      size: "variable",
      fields: [{ name: "n", offset: 0, type: "u32" }],
    }],
    () => {
      assert.equal(lookupTlvType("ProprietaryData"), undefined);
      assert.equal(lookupTlvType("AcmeBook")?.type, 202);
      assert.deepEqual(tlvType(202)!.size, { kind: "variable" });
      assert.equal(tlvType(202)!.layoutSize, 4);
    },
  );
  assert.equal(lookupTlvType("ProprietaryData")?.type, 202);
  assert.equal(tlvType(202)!.layout, "opaque");
});

Deno.test("payload codecs recompile a replaced registry entry on first use", async () => {
  const value = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]);
  assert.throws(() => decodePayload(203, value), { code: "InvalidFieldValue" });
  await withSchemas(
    [{
      type: 203,
      name: "PairU32",
      size: 8,
      fields: [
        { name: "a", offset: 0, type: "u32" },
        { name: "b", offset: 4, type: "u32" },
      ],
    }],
    () => assert.deepEqual(decodePayload(203, value), { a: 1, b: 2 }),
  );
  assert.throws(() => decodePayload(203, value), { code: "InvalidFieldValue" });
  await withSchemas(
    [{ type: 203, name: "OneU64", size: 8, fields: [{ name: "x", offset: 0, type: "u64" }] }],
    () => assert.deepEqual(decodePayload(203, value), { x: (2n << 32n) | 1n }),
  );
});

Deno.test("registerSchema() is idempotent for the same schema and refuses a different one", async () => {
  await withSchemas([TOP_OF_BOOK], () => {
    const first = tlvType(210);
    assert.equal(registerSchema(TOP_OF_BOOK), first);
    assertSchemaError(
      () => registerSchema({ ...TOP_OF_BOOK, size: 40 }),
      ErrorCode.SchemaConflict,
      "Cannot register schema for type 210 (AcmeTopOfBook): type: type 210 already has a registered schema (AcmeTopOfBook)",
      "type",
    );
  });
});

Deno.test("registerSchemas() registers all or nothing", () => {
  const bad: SchemaDefinition = {
    type: 211,
    name: "Broken",
    fields: [{ name: "x", offset: 0, type: "u24" }],
  };
  assertSchemaError(
    () => registerSchemas([TOP_OF_BOOK, bad]),
    ErrorCode.InvalidSchema,
    /^Cannot register schema for type 211 \(Broken\): fields\[0\]\.type: unknown field type "u24"/,
    "fields[0].type",
  );
  assert.equal(tlvType(210), undefined);
  assert.deepEqual(registeredSchemas(), []);
});

Deno.test("registerSchema() trims a counted array like the built-in layouts", async () => {
  await withSchemas(
    [{
      type: 212,
      name: "AcmeLevels",
      size: { min: 8, max: 256 },
      fields: [
        { name: "level_count", offset: 0, type: "u16" },
        { name: "levels", offset: 8, type: "OrderLevel[2]" },
      ],
    }],
    () => {
      const info = tlvType(212)!;
      assert.equal(info.layoutSize, 56);
      const value = encodePayload(212, {
        levels: [{ price: 5n, size: 6n, order_count: 1, reserved: 0 }],
      });
      const fields = decodePayload(212, value);
      assert.equal(fields.level_count, 1);
      assert.deepEqual(fields.levels, [{ price: 5n, size: 6n, order_count: 1, reserved: 0 }]);
    },
  );
});

Deno.test("registerSchema() rejects schemas the spec forbids, with the path of the problem", async (t) => {
  const base = { type: 220, name: "Acme", size: 16 } as const;
  const cases: {
    name: string;
    def: SchemaDefinition;
    code: string;
    message: string;
    field: string;
  }[] = [
    {
      name: "a number that already has a layout",
      def: { type: 1, name: "Trade", fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.SchemaConflict,
      message: "type: type 1 (Trade) already has a reference layout",
      field: "type",
    },
    {
      name: "the extended marker",
      def: { ...base, type: 255, fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.InvalidSchema,
      message: "type: 255 is the extended-TLV marker, not a payload type",
      field: "type",
    },
    {
      name: "an unassigned number below 200",
      def: { ...base, type: 150, fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.InvalidSchema,
      message: "type: type 150 is unassigned and not a vendor number (200–254)",
      field: "type",
    },
    {
      name: "overlapping fields",
      def: {
        ...base,
        fields: [
          { name: "price", offset: 0, type: "i64" },
          { name: "qty", offset: 4, type: "i64" },
        ],
      },
      code: ErrorCode.InvalidSchema,
      message: 'fields[1].offset: overlaps "price" at bytes 0–7',
      field: "fields[1].offset",
    },
    {
      name: "a field beyond the size",
      def: { ...base, fields: [{ name: "x", offset: 12, type: "u64" }] },
      code: ErrorCode.InvalidSchema,
      message: 'fields[0].offset: "x" ends at byte 20, beyond the 16-byte size',
      field: "fields[0].offset",
    },
    {
      name: "an unknown field type",
      def: { ...base, fields: [{ name: "x", offset: 0, type: "float" }] },
      code: ErrorCode.InvalidSchema,
      message:
        'fields[0].type: unknown field type "float": expected u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, u256le, addr20, bytesN, padN, InstrumentId, OrderLevel or T[n]',
      field: "fields[0].type",
    },
    {
      name: "a size that disagrees with the type",
      def: { ...base, fields: [{ name: "x", offset: 0, type: "u32", size: 8 }] },
      code: ErrorCode.InvalidSchema,
      message: "fields[0].size: is 8, but type u32 takes 4",
      field: "fields[0].size",
    },
    {
      name: "two fields with one name",
      def: {
        ...base,
        fields: [{ name: "x", offset: 0, type: "u32" }, { name: "X", offset: 4, type: "u32" }],
      },
      code: ErrorCode.InvalidSchema,
      message: 'fields[1].name: "X" is also the name of fields[0]',
      field: "fields[1].name",
    },
    {
      name: "a field name that is not an identifier",
      def: { ...base, fields: [{ name: "bid price", offset: 0, type: "u32" }] },
      code: ErrorCode.InvalidSchema,
      message: 'fields[0].name: expected a field name of letters, digits and "_", got "bid price"',
      field: "fields[0].name",
    },
    {
      name: "a name another type has",
      def: { ...base, name: "trade", fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.SchemaConflict,
      message: 'name: "trade" is already the name of type 1',
      field: "name",
    },
    {
      name: "a vendor number without a name",
      def: { type: 230, size: 4, fields: [{ name: "x", offset: 0, type: "u32" }] },
      code: ErrorCode.InvalidSchema,
      message: "name: missing: a vendor type needs a name",
      field: "name",
    },
    {
      name: "another name for an assigned number",
      def: { type: 28, name: "Bundle", fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.SchemaConflict,
      message: 'name: type 28 is named "MEVBundle" in the registry, got "Bundle"',
      field: "name",
    },
    {
      name: "another size rule for an assigned number",
      def: { type: 28, size: 48, fields: [{ name: "x", offset: 0, type: "u8" }] },
      code: ErrorCode.SchemaConflict,
      message: "size: type 28 (MEVBundle) has the size rule 40 bytes in the registry, got 48 bytes",
      field: "size",
    },
    {
      name: "no fields",
      def: { ...base, fields: [] },
      code: ErrorCode.InvalidSchema,
      message: "fields: expected at least one field",
      field: "fields",
    },
    {
      name: "a layout outside the bounds",
      def: { ...base, size: { min: 32, max: 64 }, fields: [{ name: "x", offset: 0, type: "u64" }] },
      code: ErrorCode.InvalidSchema,
      message: "fields: the layout takes 8 bytes, outside the size rule 32–64 bytes",
      field: "fields",
    },
    {
      name: "a field no TLV value can hold, on a variable-size type",
      def: { ...base, size: "variable", fields: [{ name: "x", offset: 0, type: "u8[100000000]" }] },
      code: ErrorCode.InvalidSchema,
      message:
        "fields[0].type: type u8[100000000] takes 100000000 bytes, more than a TLV value can hold (65535)",
      field: "fields[0].type",
    },
    {
      name: "a field table that ends beyond the largest TLV value, on a variable-size type",
      def: {
        ...base,
        size: "variable",
        fields: [
          { name: "head", offset: 0, type: "u64" },
          { name: "tail", offset: 65_000, type: "u64[100]" },
        ],
      },
      code: ErrorCode.InvalidSchema,
      message: "fields: the layout takes 65800 bytes, more than a TLV value can hold (65535)",
      field: "fields",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const label = c.def.name === undefined ? "" : ` (${c.def.name})`;
      assertSchemaError(
        () => registerSchema(c.def),
        c.code,
        `Cannot register schema for type ${c.def.type}${label}: ${c.message}`,
        c.field,
      );
      assert.deepEqual(registeredSchemas(), []);
    });
  }
});

Deno.test("checkSchemas() reports every problem with its path, also between schemas of one list", () => {
  const { problems } = checkSchemas([
    TOP_OF_BOOK,
    { ...TOP_OF_BOOK, name: "Other" },
    { ...TOP_OF_BOOK, type: 211 },
    {
      type: 212,
      name: "Two",
      size: 8,
      fields: [{ name: "a", offset: 0, type: "u64" }, { name: "b", offset: 2, type: "u8[9]" }],
    },
  ]);
  assert.deepEqual(problems.map((p) => `${schemaPath(p.path)}: ${p.message}`), [
    "[1].type: type 210 is already given a schema (AcmeTopOfBook) in this list",
    '[2].name: "AcmeTopOfBook" is already the name of type 210 in this list',
    '[3].fields[1].offset: overlaps "a" at bytes 0–7',
    '[3].fields[1].offset: "b" ends at byte 11, beyond the 8-byte size',
  ]);
  assert.deepEqual(registeredSchemas(), [], "checking registers nothing");
});
