/**
 * Runtime TLV schema registration (PROTOCOL.md 5.8): give a vendor TLV number
 * (200–254), or an assigned number whose layout is `opaque`, a field layout at
 * run time. A registered schema becomes an ordinary registry entry with layout
 * `registered`, so everything that reads the registry uses it: `decodeMessage`
 * and `decodePayload`, `encodePayload`, `torq decode`, `torq sub --decode`,
 * `torq tlv-info` and the dashboard's decoded feed. Registration is local to the
 * process and never announced on the wire; relays never need a schema to
 * forward.
 *
 * A schema is `{type, name, domain, size, fields: [{name, offset, type}]}`.
 * Field types are those of the registry (`u8 … u128`, `i8 … i128`, `u256le`,
 * `addr20`, `bytesN`, `padN`, `InstrumentId`, `OrderLevel`, arrays `T[n]`); a
 * field's size follows from its type. Gaps between fields become padding, and
 * names starting with `_` are padding too (not decoded). An array named
 * `levels` is trimmed to a `level_count` field, as in the built-in layouts.
 *
 * Rules, each reported with the path of the offending value
 * ({@linkcode SchemaProblem}):
 *
 * - the number is 200–254 or has an `opaque` built-in layout; 255 and
 *   unassigned numbers below 200 are refused (`InvalidSchema`), and a number
 *   that already has a layout is a `SchemaConflict`;
 * - the name is an identifier not used by another type (`SchemaConflict`);
 *   assigned numbers below 200 keep their registry name, domain and size rule
 *   (relays check that rule), while the opaque vendor placeholders 202–204 may
 *   be renamed and resized;
 * - fields have known types, unique identifier names, and neither overlap
 *   nor end beyond the size (`InvalidSchema`).
 *
 * @example
 * ```ts
 * import { registerSchema } from "./tlv_schema.ts";
 * import { decodePayload } from "./payloads.ts";
 *
 * registerSchema({
 *   type: 210,
 *   name: "AcmeTopOfBook",
 *   size: 24,
 *   fields: [
 *     { name: "asset_id", offset: 0, type: "u64" },
 *     { name: "bid_price", offset: 8, type: "i64" },
 *     { name: "ask_price", offset: 16, type: "i64" },
 *   ],
 * });
 * declare const value: Uint8Array; // a TLV 210 payload
 * decodePayload(210, value).bid_price; // a bigint
 * ```
 *
 * @module
 */

import { ErrorCode, FrameError } from "./errors.ts";
import {
  _installTlvType,
  _restoreTlvType,
  builtinTlvType,
  type FieldSpec,
  lookupTlvType,
  REGISTRY_DOMAINS,
  type RegistryDomain,
  type SizeRule,
  tlvType,
  type TlvTypeInfo,
} from "./registry.ts";
import { fieldTypeSize, hasLayout } from "./payloads.ts";

/** One field of a {@linkcode SchemaDefinition}. */
export interface SchemaField {
  /** Field name: letters, digits and `_`, not starting with a digit; a leading `_` marks padding. */
  readonly name: string;
  /** Offset within the payload, in bytes. */
  readonly offset: number;
  /** Wire type, e.g. `u64`, `i64`, `addr20`, `bytes16`, `InstrumentId`, `u32[4]`. */
  readonly type: string;
  /** Size in bytes; optional, and when given it must equal the type's size. */
  readonly size?: number;
}

/** Size rule of a schema: a fixed byte count, inclusive bounds, or `"variable"`. */
export type SchemaSize = number | { readonly min: number; readonly max: number } | "variable";

/** A schema to register (PROTOCOL.md 5.8). */
export interface SchemaDefinition {
  /** TLV number: 200–254, or an assigned number whose layout is `opaque`. */
  readonly type: number;
  /**
   * Type name; required for an unassigned vendor number. Assigned numbers below 200 keep the
   * registry's name (give it with the same spelling, or omit it).
   */
  readonly name?: string;
  /** Home domain; default `vendor` for vendor numbers, the registry's for assigned ones. */
  readonly domain?: RegistryDomain;
  /**
   * Payload size rule. Default: the registry's rule for assigned numbers, else fixed at the
   * layout size. Assigned numbers below 200 must keep their registry rule.
   */
  readonly size?: SchemaSize;
  /**
   * Bytes the field decoder takes. Default: the fixed size, else the end of the last field.
   * Must lie within the size rule.
   */
  readonly layoutSize?: number;
  /** One-line purpose (shown by `tlv-info`). */
  readonly description?: string;
  /** Where the schema came from, e.g. a file name (shown by `tlv-info` as a note). */
  readonly source?: string;
  /** The fields, in any order; gaps become padding. */
  readonly fields: readonly SchemaField[];
}

/** One problem of a schema: where (a path into the definition) and what. */
export interface SchemaProblem {
  /** Path of the offending value, e.g. `["fields", 2, "offset"]`; `[]` for the schema itself. */
  readonly path: readonly (string | number)[];
  /** What is wrong, e.g. `overlaps "price"`. */
  readonly message: string;
  /** `SchemaConflict` (clashes with the registry) or `InvalidSchema` (cannot describe a payload). */
  readonly code: typeof ErrorCode.InvalidSchema | typeof ErrorCode.SchemaConflict;
}

/** Result of {@linkcode checkSchemas}. */
export interface SchemaCheck {
  /** Every problem; paths start with the schema's index in the list. */
  readonly problems: SchemaProblem[];
  /** The registry entries the schemas become (only meaningful when there are no problems). */
  readonly entries: TlvTypeInfo[];
}

/** Lowest vendor number (4.7). */
export const VENDOR_MIN = 200;
/** Highest vendor number: 255 is the extended-form marker. */
export const VENDOR_MAX = 254;
/** Largest payload a TLV can carry (extended form, 4.2). */
const MAX_PAYLOAD = 65_535;

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Entries registered in this process, by number (for idempotent re-registration and listing). */
const REGISTERED = new Map<number, TlvTypeInfo>();

function isVendor(type: number): boolean {
  return type >= VENDOR_MIN && type <= VENDOR_MAX;
}

function sizeRuleOf(size: SchemaSize): SizeRule {
  if (size === "variable") return { kind: "variable" };
  if (typeof size === "number") return { kind: "fixed", size };
  return { kind: "bounded", min: size.min, max: size.max };
}

function sizeText(rule: SizeRule): string {
  switch (rule.kind) {
    case "fixed":
      return `${rule.size} bytes`;
    case "bounded":
      return `${rule.min}–${rule.max} bytes`;
    default:
      return rule.kind;
  }
}

function sameRule(a: SizeRule, b: SizeRule): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isByteCount(n: unknown, min: number): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= MAX_PAYLOAD;
}

/**
 * Checks one schema against the registry (and against `pending` entries that
 * will be registered before it) and builds the registry entry it becomes.
 */
function checkOne(
  def: SchemaDefinition,
  pending: readonly TlvTypeInfo[],
): { problems: SchemaProblem[]; entry: TlvTypeInfo | undefined } {
  const problems: SchemaProblem[] = [];
  const invalid = (path: (string | number)[], message: string) =>
    problems.push({ path, message, code: ErrorCode.InvalidSchema });
  const conflict = (path: (string | number)[], message: string) =>
    problems.push({ path, message, code: ErrorCode.SchemaConflict });

  // --- number
  const type = def.type;
  if (typeof type !== "number" || !Number.isInteger(type) || type < 1 || type > 255) {
    invalid(
      ["type"],
      `expected a TLV number from ${VENDOR_MIN} to ${VENDOR_MAX}, got ${show(type)}`,
    );
    return { problems, entry: undefined };
  }
  const builtin = builtinTlvType(type);
  const current = tlvType(type);
  const earlier = pending.find((e) => e.type === type);
  if (type === 255) {
    invalid(["type"], "255 is the extended-TLV marker, not a payload type");
    return { problems, entry: undefined };
  }
  if (earlier !== undefined) {
    conflict(["type"], `type ${type} is already given a schema (${earlier.name}) in this list`);
    return { problems, entry: undefined };
  }
  if (builtin === undefined && !isVendor(type)) {
    invalid(
      ["type"],
      `type ${type} is unassigned and not a vendor number (${VENDOR_MIN}–${VENDOR_MAX})`,
    );
    return { problems, entry: undefined };
  }
  if (builtin !== undefined && builtin.layout !== "opaque") {
    conflict(
      ["type"],
      `type ${type} (${builtin.name}) already has a ${builtin.layout} layout`,
    );
    return { problems, entry: undefined };
  }

  // --- name
  let name = def.name;
  if (name === undefined) {
    if (builtin === undefined) invalid(["name"], "missing: a vendor type needs a name");
    name = builtin?.name ?? `Vendor${type}`;
  } else if (typeof name !== "string" || !TYPE_NAME.test(name)) {
    invalid(
      ["name"],
      `expected a name of letters, digits and "_" starting with a letter, got ${show(name)}`,
    );
  } else if (builtin !== undefined && !isVendor(type) && name !== builtin.name) {
    conflict(["name"], `type ${type} is named "${builtin.name}" in the registry, got "${name}"`);
  } else {
    const owner = lookupTlvType(name);
    const pendingOwner = pending.find((e) => e.name.toLowerCase() === name!.toLowerCase());
    if (owner !== undefined && owner.type !== type) {
      conflict(["name"], `"${name}" is already the name of type ${owner.type}`);
    } else if (pendingOwner !== undefined) {
      conflict(["name"], `"${name}" is already the name of type ${pendingOwner.type} in this list`);
    }
  }

  // --- domain
  let domain: RegistryDomain = builtin?.domain ?? "vendor";
  if (def.domain !== undefined) {
    if (!(REGISTRY_DOMAINS as readonly string[]).includes(def.domain)) {
      invalid(
        ["domain"],
        `expected one of ${REGISTRY_DOMAINS.join(", ")}, got ${show(def.domain)}`,
      );
    } else if (builtin !== undefined && !isVendor(type) && def.domain !== builtin.domain) {
      conflict(["domain"], `type ${type} is in domain ${builtin.domain}, got ${def.domain}`);
    } else {
      domain = def.domain;
    }
  }

  // --- fields
  const fields = def.fields;
  const placed: { name: string; offset: number; size: number; type: string; index: number }[] = [];
  if (!Array.isArray(fields) || fields.length === 0) {
    invalid(["fields"], "expected at least one field");
  } else {
    const names = new Map<string, number>();
    fields.forEach((f: SchemaField, i: number) => {
      if (typeof f !== "object" || f === null) {
        invalid(["fields", i], `expected a mapping with name, offset and type, got ${show(f)}`);
        return;
      }
      let ok = true;
      if (typeof f.name !== "string" || !FIELD_NAME.test(f.name)) {
        invalid(
          ["fields", i, "name"],
          `expected a field name of letters, digits and "_", got ${show(f.name)}`,
        );
        ok = false;
      } else {
        const key = f.name.toLowerCase();
        const other = names.get(key);
        if (other !== undefined) {
          invalid(["fields", i, "name"], `"${f.name}" is also the name of fields[${other}]`);
          ok = false;
        } else names.set(key, i);
      }
      const size = typeof f.type === "string" ? fieldTypeSize(f.type) : undefined;
      if (size === undefined) {
        invalid(
          ["fields", i, "type"],
          `unknown field type ${
            show(f.type)
          }: expected u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, u256le, addr20, bytesN, padN, InstrumentId, OrderLevel or T[n]`,
        );
        ok = false;
      } else if (f.size !== undefined && f.size !== size) {
        invalid(["fields", i, "size"], `is ${show(f.size)}, but type ${f.type} takes ${size}`);
        ok = false;
      } else if (size > MAX_PAYLOAD) {
        invalid(
          ["fields", i, "type"],
          `type ${f.type} takes ${size} bytes, more than a TLV value can hold (${MAX_PAYLOAD})`,
        );
        ok = false;
      }
      if (!isByteCount(f.offset, 0)) {
        invalid(
          ["fields", i, "offset"],
          `expected a byte offset from 0 to ${MAX_PAYLOAD - 1}, got ${show(f.offset)}`,
        );
        ok = false;
      }
      if (ok) placed.push({ name: f.name, offset: f.offset, size: size!, type: f.type, index: i });
    });
    // Overlaps: each field against the fields before it in offset order.
    const byOffset = [...placed].sort((a, b) => a.offset - b.offset || a.index - b.index);
    for (let k = 1; k < byOffset.length; k++) {
      const f = byOffset[k]!;
      const clash = byOffset.slice(0, k).find((g) => g.offset + g.size > f.offset);
      if (clash === undefined) continue;
      const [later, first] = f.index > clash.index ? [f, clash] : [clash, f];
      invalid(
        ["fields", later.index, "offset"],
        `overlaps "${first.name}" at bytes ${first.offset}–${first.offset + first.size - 1}`,
      );
    }
  }
  const end = placed.reduce((m, f) => Math.max(m, f.offset + f.size), 0);

  // --- size rule and layout size
  let rule: SizeRule;
  if (def.size !== undefined) {
    const s = def.size;
    const valid = s === "variable" || isByteCount(s, 1) ||
      (typeof s === "object" && s !== null && isByteCount(s.min, 0) && isByteCount(s.max, 1) &&
        s.min <= s.max);
    if (!valid) {
      invalid(
        ["size"],
        `expected a byte count from 1 to ${MAX_PAYLOAD}, {min, max} or "variable", got ${
          typeof s === "object" && s !== null ? JSON.stringify(s) : show(s)
        }`,
      );
      rule = builtin?.size ?? { kind: "fixed", size: end };
    } else {
      rule = sizeRuleOf(s);
      if (builtin !== undefined && !isVendor(type) && !sameRule(rule, builtin.size)) {
        conflict(
          ["size"],
          `type ${type} (${builtin.name}) has the size rule ${
            sizeText(builtin.size)
          } in the registry, got ${sizeText(rule)}`,
        );
      }
    }
  } else if (builtin !== undefined) {
    rule = builtin.size;
  } else {
    rule = { kind: "fixed", size: def.layoutSize ?? end };
  }
  let layoutSize = def.layoutSize ?? (rule.kind === "fixed" ? rule.size : end);
  if (def.layoutSize !== undefined && !isByteCount(def.layoutSize, 1)) {
    invalid(
      ["layoutSize"],
      `expected a byte count from 1 to ${MAX_PAYLOAD}, got ${show(def.layoutSize)}`,
    );
    layoutSize = end;
  } else if (rule.kind === "fixed" && layoutSize !== rule.size) {
    invalid(["layoutSize"], `is ${layoutSize}, but the size is fixed at ${rule.size} bytes`);
  } else if (layoutSize > MAX_PAYLOAD) {
    // No payload of any size rule can hold it: every decode would fail.
    invalid(
      [def.layoutSize === undefined ? "fields" : "layoutSize"],
      `the layout takes ${layoutSize} bytes, more than a TLV value can hold (${MAX_PAYLOAD})`,
    );
  } else if (rule.kind === "bounded" && (layoutSize < rule.min || layoutSize > rule.max)) {
    invalid(
      [def.layoutSize === undefined ? "fields" : "layoutSize"],
      `the layout takes ${layoutSize} bytes, outside the size rule ${sizeText(rule)}`,
    );
  }
  for (const f of placed) {
    if (f.offset + f.size > layoutSize) {
      invalid(
        ["fields", f.index, "offset"],
        `"${f.name}" ends at byte ${f.offset + f.size}, beyond the ${layoutSize}-byte ${
          def.layoutSize === undefined && rule.kind === "fixed" ? "size" : "layout"
        }`,
      );
    }
  }
  // (With no field placed, the problems of the fields already say why.)
  if (layoutSize < 1 && problems.length === 0) invalid(["fields"], "the layout takes no bytes");

  if (problems.length > 0) return { problems, entry: undefined };

  // --- the entry: fields in offset order, gaps as padding
  const specs: FieldSpec[] = [];
  let at = 0;
  for (const f of [...placed].sort((a, b) => a.offset - b.offset)) {
    if (f.offset > at) {
      specs.push({
        offset: at,
        name: `_gap${at}`,
        type: `pad${f.offset - at}`,
        size: f.offset - at,
      });
    }
    specs.push({ offset: f.offset, name: f.name, type: f.type, size: f.size });
    at = f.offset + f.size;
  }
  if (layoutSize > at) {
    specs.push({
      offset: at,
      name: `_gap${at}`,
      type: `pad${layoutSize - at}`,
      size: layoutSize - at,
    });
  }
  const entry: TlvTypeInfo = {
    type,
    name: name!,
    domain,
    size: rule,
    layout: "registered",
    layoutSize,
    fields: specs,
    description: def.description ?? builtin?.description ??
      `Vendor type ${type} (registered schema).`,
    ...(def.source === undefined
      ? {}
      : { notes: `Schema registered at run time from ${def.source}.` }),
  };
  // Registering the same schema again (a file named twice) is not a conflict.
  if (current !== undefined && current.layout === "registered") {
    if (!sameEntry(current, entry)) {
      conflict(["type"], `type ${type} already has a registered schema (${current.name})`);
      return { problems, entry: undefined };
    }
  }
  return { problems, entry };
}

function sameEntry(a: TlvTypeInfo, b: TlvTypeInfo): boolean {
  const shape = (e: TlvTypeInfo) =>
    JSON.stringify([e.type, e.name, e.domain, e.size, e.layoutSize, e.fields]);
  return shape(a) === shape(b);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/**
 * A schema problem's path as text: `fields[2].offset`.
 *
 * @param path the path
 * @returns dotted text, `""` for the root
 * @example
 * ```ts
 * schemaPath(["fields", 2, "offset"]); // "fields[2].offset"
 * ```
 */
export function schemaPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? key : `.${key}`;
  }
  return out;
}

/**
 * Checks schemas against the registry and against each other, in order,
 * without registering anything. Paths of problems start with the schema's
 * index in `defs`.
 *
 * @param defs the schemas
 * @returns every problem found, and the entries the schemas would become
 * @example
 * ```ts
 * const { problems } = checkSchemas([{ type: 1, name: "Trade", fields: [] }]);
 * problems[0]?.code; // "SchemaConflict" (Trade already has a reference layout)
 * ```
 */
export function checkSchemas(defs: readonly SchemaDefinition[]): SchemaCheck {
  const problems: SchemaProblem[] = [];
  const entries: TlvTypeInfo[] = [];
  defs.forEach((def, i) => {
    if (typeof def !== "object" || def === null) {
      problems.push({
        path: [i],
        message: `expected a schema mapping, got ${show(def)}`,
        code: ErrorCode.InvalidSchema,
      });
      return;
    }
    const result = checkOne(def, entries);
    problems.push(...result.problems.map((p) => ({ ...p, path: [i, ...p.path] })));
    if (result.entry !== undefined) entries.push(result.entry);
  });
  return { problems, entries };
}

function schemaError(def: SchemaDefinition, problems: readonly SchemaProblem[]): FrameError {
  const first = problems[0]!;
  const label = typeof def?.name === "string" ? ` (${def.name})` : "";
  const where = schemaPath(first.path);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return new FrameError(
    first.code,
    `Cannot register schema for type ${show(def?.type)}${label}: ${
      where === "" ? "" : `${where}: `
    }${first.message}${more}`,
    {
      field: where,
      details: {
        tlv_type: typeof def?.type === "number" ? def.type : null,
        problems: problems.length,
      },
    },
  );
}

function install(entry: TlvTypeInfo): void {
  _installTlvType(entry);
  try {
    hasLayout(entry.type); // compiles the codec now: a layout it cannot compile is refused
  } catch (e) {
    _restoreTlvType(entry.type);
    const previous = REGISTERED.get(entry.type);
    if (previous !== undefined) _installTlvType(previous);
    throw new FrameError(
      ErrorCode.InvalidSchema,
      `Cannot register schema for type ${entry.type} (${entry.name}): ${(e as Error).message}`,
      { details: { tlv_type: entry.type } },
    );
  }
  REGISTERED.set(entry.type, entry);
}

/**
 * Registers one schema: from now on this process decodes and encodes the type
 * by its fields. Registering an identical schema again is allowed (no change).
 *
 * @param def the schema
 * @returns the registry entry now in effect (layout `registered`)
 * @throws {FrameError} `SchemaConflict` when the number already has a layout or
 *   the name or domain clashes with the registry; `InvalidSchema` for a number
 *   that cannot take a schema, a bad name or field type, overlapping fields or
 *   fields beyond the size. `field` holds the path of the problem
 *   (`fields[2].offset`).
 * @example
 * ```ts
 * registerSchema({
 *   type: 202,
 *   name: "ProprietaryData",
 *   size: 16,
 *   fields: [{ name: "key", offset: 0, type: "u64" }, { name: "value", offset: 8, type: "i64" }],
 * }).layout; // "registered"
 * ```
 */
export function registerSchema(def: SchemaDefinition): TlvTypeInfo {
  return registerSchemas([def])[0]!;
}

/**
 * Registers several schemas, all or nothing: when one has a problem, none is
 * registered.
 *
 * @param defs the schemas, checked in order (a later one may not reuse an earlier one's number or name)
 * @returns the entries now in effect, in the order given
 * @throws {FrameError} for the first schema with a problem (see {@linkcode registerSchema})
 * @example
 * ```ts
 * declare const schemasFromYamlFile: SchemaDefinition[];
 *
 * registerSchemas(schemasFromYamlFile).map((e) => e.name);
 * ```
 */
export function registerSchemas(defs: readonly SchemaDefinition[]): TlvTypeInfo[] {
  const { problems, entries } = checkSchemas(defs);
  if (problems.length > 0) {
    const index = problems[0]!.path[0] as number;
    const own = problems.filter((p) => p.path[0] === index).map((p) => ({
      ...p,
      path: p.path.slice(1),
    }));
    throw schemaError(defs[index]!, own);
  }
  const done: TlvTypeInfo[] = [];
  const installed: TlvTypeInfo[] = [];
  try {
    for (const entry of entries) {
      const current = REGISTERED.get(entry.type);
      if (current !== undefined && sameEntry(current, entry)) {
        done.push(current);
        continue;
      }
      install(entry);
      installed.push(entry);
      done.push(entry);
    }
  } catch (e) {
    for (const entry of installed) unregisterSchema(entry.type);
    throw e;
  }
  return done;
}

/**
 * Removes a schema registered at run time: the number gets its built-in entry
 * back (opaque), or becomes unassigned again.
 *
 * @param type the TLV number
 * @returns whether a registered schema was removed
 * @example
 * ```ts
 * unregisterSchema(210); // true after registerSchema({ type: 210, ... })
 * ```
 */
export function unregisterSchema(type: number): boolean {
  if (!REGISTERED.has(type)) return false;
  REGISTERED.delete(type);
  _restoreTlvType(type);
  return true;
}

/**
 * The schemas registered at run time in this process, in type order.
 *
 * @returns their registry entries
 * @example
 * ```ts
 * registeredSchemas().map((e) => `${e.type} ${e.name}`);
 * ```
 */
export function registeredSchemas(): TlvTypeInfo[] {
  return [...REGISTERED.values()].sort((a, b) => a.type - b.type);
}
