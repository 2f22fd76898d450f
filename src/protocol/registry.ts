/**
 * The TLV registry (PROTOCOL.md 5.1): one entry per assigned type number, with
 * size rules, layout status and field tables. Defined once, in
 * `registry_data.ts`; the codec, `tlv-info`, the docs and the dashboard read it
 * through this module, and `registry_test.ts` holds it equal to the spec's
 * `tlv-types.yaml`.
 *
 * @module
 */

import { REGISTRY_DATA } from "./registry_data.ts";
import { ErrorCode, FrameError, Status } from "./errors.ts";

/**
 * The home domains the registry names, in display order: the four wire
 * domains, `vendor` (200–254) and `any` (framing types valid everywhere).
 */
export const REGISTRY_DOMAINS = [
  "market_data",
  "signal",
  "execution",
  "system",
  "vendor",
  "any",
] as const;

/** Home domain of a TLV type as the registry names it. */
export type RegistryDomain = typeof REGISTRY_DOMAINS[number];

/** Size rule of a TLV type's payload. */
export type SizeRule =
  | { readonly kind: "fixed"; readonly size: number }
  | { readonly kind: "bounded"; readonly min: number; readonly max: number }
  | { readonly kind: "variable" }
  | { readonly kind: "marker" };

/** Inclusive byte bounds of a bounded size (used by `referenceSize`). */
export interface SizeBounds {
  /** Smallest allowed length. */
  readonly min: number;
  /** Largest allowed length. */
  readonly max: number;
}

/**
 * Layout status: defined by the reference, by this spec (provisional), registered at run time by
 * this process (5.8, `registerSchema()`), none yet (opaque), or not a payload.
 */
export type LayoutStatus = "reference" | "provisional" | "registered" | "opaque" | "none";

/** One field of a payload layout, exactly as in `tlv-types.yaml`. */
export interface FieldSpec {
  /** Offset within the payload. */
  readonly offset: number;
  /** Field name (names starting with `_` are padding). */
  readonly name: string;
  /** Wire type: u8…u128, i32/i64/i128, addr20, u256le, bytesN, padN, InstrumentId, OrderLevel, `T[n]`. */
  readonly type: string;
  /** Size in bytes. */
  readonly size: number;
}

/** One registry entry. */
export interface TlvTypeInfo {
  /** Type number (1–255). */
  readonly type: number;
  /** Canonical name. */
  readonly name: string;
  /** Home domain. */
  readonly domain: RegistryDomain;
  /** Payload size rule. */
  readonly size: SizeRule;
  /** Layout status. */
  readonly layout: LayoutStatus;
  /** Byte size of the defined layout (reference/provisional/registered only). */
  readonly layoutSize?: number;
  /** The layout's fields (reference/provisional/registered only). */
  readonly fields?: readonly FieldSpec[];
  /** One-line purpose. */
  readonly description: string;
  /** The reference registry's size (bytes, or bounds for bounded types) where this one differs. */
  readonly referenceSize?: number | SizeBounds;
  /** Why this registry differs from the reference. */
  readonly notes?: string;
}

/** The live entries: the built-in registry plus schemas registered at run time, in type order. */
const ENTRIES: TlvTypeInfo[] = [...REGISTRY_DATA];

/**
 * Every registry entry in type order: the built-in registry, with the schemas registered at run
 * time in this process (5.8) in their places. A live view: it changes when a schema is registered.
 */
export const TLV_TYPES: readonly TlvTypeInfo[] = ENTRIES;

const BY_NUMBER: (TlvTypeInfo | undefined)[] = new Array(256);
const BY_NAME = new Map<string, TlvTypeInfo>();
/** Allocation-free size limits per type number: -1 = not checked. */
const SIZE_MIN = new Int32Array(256).fill(-1);
const SIZE_MAX = new Int32Array(256).fill(-1);

function index(info: TlvTypeInfo): void {
  const previous = BY_NUMBER[info.type];
  if (previous !== undefined && BY_NAME.get(previous.name.toLowerCase()) === previous) {
    BY_NAME.delete(previous.name.toLowerCase());
  }
  BY_NUMBER[info.type] = info;
  BY_NAME.set(info.name.toLowerCase(), info);
  if (info.size.kind === "fixed") {
    SIZE_MIN[info.type] = info.size.size;
    SIZE_MAX[info.type] = info.size.size;
  } else if (info.size.kind === "bounded") {
    SIZE_MIN[info.type] = info.size.min;
    SIZE_MAX[info.type] = info.size.max;
  } else {
    SIZE_MIN[info.type] = -1;
    SIZE_MAX[info.type] = -1;
  }
}
for (const info of TLV_TYPES) index(info);

/**
 * Adds or replaces an entry at runtime (used by schema registration, 5.8). Internal: call
 * `registerSchema()` (tlv_schema.ts), which validates the entry first. The payload codecs recompile
 * a replaced entry on its first use.
 *
 * @param info the entry
 */
export function _installTlvType(info: TlvTypeInfo): void {
  index(info);
  const at = ENTRIES.findIndex((e) => e.type >= info.type);
  if (at === -1) ENTRIES.push(info);
  else if (ENTRIES[at]!.type === info.type) ENTRIES[at] = info;
  else ENTRIES.splice(at, 0, info);
}

/**
 * Puts the built-in entry of a number back (or removes the number when the built-in registry has
 * none). Internal: used by `unregisterSchema()` (tlv_schema.ts).
 *
 * @param type 1–255
 */
export function _restoreTlvType(type: number): void {
  const builtin = REGISTRY_DATA.find((e) => e.type === type);
  if (builtin !== undefined) {
    _installTlvType(builtin);
    return;
  }
  const current = BY_NUMBER[type];
  if (current === undefined) return;
  if (BY_NAME.get(current.name.toLowerCase()) === current) {
    BY_NAME.delete(current.name.toLowerCase());
  }
  BY_NUMBER[type] = undefined;
  SIZE_MIN[type] = -1;
  SIZE_MAX[type] = -1;
  const at = ENTRIES.indexOf(current);
  if (at !== -1) ENTRIES.splice(at, 1);
}

/**
 * The built-in registry entry of a number, ignoring schemas registered at run time.
 *
 * @param type 0–255
 * @returns the entry of `registry_data.ts`, or `undefined`
 * @example
 * ```ts
 * builtinTlvType(202)?.layout; // "opaque", even after a schema for 202 was registered
 * ```
 */
export function builtinTlvType(type: number): TlvTypeInfo | undefined {
  return REGISTRY_DATA.find((e) => e.type === type);
}

/**
 * The registry entry of a type number.
 *
 * @param type 0–255
 * @returns the entry, or `undefined` for unassigned numbers
 * @example
 * ```ts
 * tlvType(32)?.name; // "ArbitrageSignal"
 * ```
 */
export function tlvType(type: number): TlvTypeInfo | undefined {
  return BY_NUMBER[type];
}

/** Types whose layout is the header of a longer payload (5.1, **[D-38]**). */
const HEADER_LAYOUTS: ReadonlySet<number> = new Set([101, 108, 113, 201]);

/**
 * Whether a type's layout is the header of a longer payload: Snapshot (101),
 * TraceContext (108), Subscribe (113) and PoolCacheHeader (201) **[D-38]**. A
 * payload of such a type that is longer than `layout_size` decodes the header's
 * fields from its first `layout_size` bytes and shows the rest as `tail`.
 *
 * @param type TLV type number
 * @returns true for the four header-prefixed types
 * @example
 * ```ts
 * layoutHasTail(101); // true  (Snapshot: 32-byte header, then state bytes)
 * layoutHasTail(1); // false (Trade is exactly 40 bytes)
 * ```
 */
export function layoutHasTail(type: number): boolean {
  return HEADER_LAYOUTS.has(type);
}

/**
 * The most bytes a header-prefixed type's `tail` may hold: its size rule's
 * maximum (or the TLV limit of 65,535 bytes) minus `layout_size`.
 *
 * @param info the registry entry of a type with a layout
 * @returns the byte count, 0 when the type has no tail
 * @example
 * ```ts
 * maxTailLength(tlvType(101)!); // 992 (1,024 − 32)
 * ```
 */
export function maxTailLength(info: TlvTypeInfo): number {
  if (!layoutHasTail(info.type) || info.layoutSize === undefined) return 0;
  const max = info.size.kind === "bounded"
    ? info.size.max
    : info.size.kind === "fixed"
    ? info.size.size
    : 65_535;
  return Math.max(0, max - info.layoutSize);
}

/**
 * The registry entry of a name (case-insensitive) or decimal number.
 *
 * @param nameOrNumber e.g. `ArbitrageSignal` or `32`
 * @returns the entry, or `undefined`
 */
export function lookupTlvType(nameOrNumber: string): TlvTypeInfo | undefined {
  const text = nameOrNumber.trim();
  if (/^\d+$/.test(text)) return BY_NUMBER[Number(text)];
  return BY_NAME.get(text.toLowerCase());
}

/**
 * Checks a record's length against its type's registry size rule without
 * allocating. Unknown, variable and vendor types are never checked (4.5, 4.7).
 *
 * @param type TLV type
 * @param length value length
 * @returns `Status.OK`, `PayloadSizeMismatch` or `PayloadSizeOutOfBounds`
 */
export function checkTlvSize(type: number, length: number): Status {
  const min = SIZE_MIN[type]!;
  if (min < 0 || type >= 200) return Status.OK;
  const max = SIZE_MAX[type]!;
  if (length >= min && length <= max) return Status.OK;
  return min === max ? Status.PayloadSizeMismatch : Status.PayloadSizeOutOfBounds;
}

/**
 * The typed error of a failed {@linkcode checkTlvSize}.
 *
 * @param type TLV type
 * @param length value length
 * @param offset absolute offset of the record
 * @returns the error
 */
export function tlvSizeError(type: number, length: number, offset?: number): FrameError {
  const info = BY_NUMBER[type];
  const name = info?.name ?? `type ${type}`;
  const min = SIZE_MIN[type]!;
  const max = SIZE_MAX[type]!;
  const at = offset === undefined ? "" : ` at offset ${offset}`;
  const pos = offset === undefined ? {} : { offset };
  if (min === max) {
    return new FrameError(
      ErrorCode.PayloadSizeMismatch,
      `Cannot accept TLV ${type} (${name})${at}: length is ${length}, expected ${min}`,
      {
        ...pos,
        field: "length",
        expected: min,
        actual: length,
        details: { tlv_type: type, name, got: length },
      },
    );
  }
  return new FrameError(
    ErrorCode.PayloadSizeOutOfBounds,
    `Cannot accept TLV ${type} (${name})${at}: length is ${length}, expected ${min}–${max}`,
    {
      ...pos,
      field: "length",
      expected: `${min}-${max}`,
      actual: length,
      details: { tlv_type: type, name, min, max, got: length },
    },
  );
}

/**
 * Formats a size rule the way `tlv-info` and the docs show it.
 *
 * @param rule the rule
 * @returns `40 bytes`, `60–208 bytes`, `variable` or `marker`
 */
export function formatSizeRule(rule: SizeRule): string {
  switch (rule.kind) {
    case "fixed":
      return `${rule.size} bytes`;
    case "bounded":
      return `${rule.min}-${rule.max} bytes`;
    default:
      return rule.kind;
  }
}
