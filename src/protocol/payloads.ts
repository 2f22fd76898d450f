/**
 * Typed payload codecs (PROTOCOL.md 5.3–5.7, 7.8) for every TLV type whose
 * layout is `reference` or `provisional`, driven by the registry's field
 * tables: one generic, table-driven codec instead of one hand-written codec per
 * type. Each field table is compiled once into a plan of numeric field kinds
 * (a switch, no per-field closures), so decoding costs the reads and the output
 * object only.
 *
 * Decoded values: `u8 u16 u32 i32` → `number`; `u64 i64 u128 i128 u256le` →
 * `bigint`; `addr20` and `bytesN` → lowercase hex with `0x`; `InstrumentId` and
 * `OrderLevel` → objects; `T[n]` → arrays. Pad fields (`padN`, or a name
 * starting with `_`) are left out. Arrays that have a count field (`bids` /
 * `bid_count`, `asks` / `ask_count`, `reserves` / `reserve_count`,
 * `instruments` / `instrument_count`) are trimmed to the count; the count stays
 * in the output. Subscribe (113) adds `patterns: string[]`. The four
 * header-prefixed types (Snapshot 101, TraceContext 108, Subscribe 113,
 * PoolCacheHeader 201) decode their header from a longer payload and add the
 * rest as `tail`, hex with `0x` (5.1, **[D-38]**).
 *
 * Offsets in errors are relative to the payload's first byte.
 *
 * @module
 */

import { decodePatternList } from "./subscribe.ts";
import { ErrorCode, FrameError } from "./errors.ts";
import {
  checkTlvSize,
  type FieldSpec,
  layoutHasTail,
  maxTailLength,
  tlvSizeError,
  tlvType,
  type TlvTypeInfo,
} from "./registry.ts";
import { Status } from "./errors.ts";

/** A decoded field value. */
export type FieldValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | readonly FieldValue[]
  | { readonly [k: string]: FieldValue };

/** A decoded payload: field name → value. */
export type PayloadFields = Record<string, FieldValue>;

// ---------------------------------------------------------------------------
// Field kinds and compiled plans

const K_U8 = 0;
const K_U16 = 1;
const K_U32 = 2;
const K_I8 = 3;
const K_I16 = 4;
const K_I32 = 5;
const K_U64 = 6;
const K_I64 = 7;
const K_U128 = 8;
const K_I128 = 9;
const K_U256 = 10;
const K_HEX = 11;
const K_PAD = 12;
const K_STRUCT = 13;
const K_ARRAY = 14;

/** Byte size and kind of the scalar wire types. */
const SCALARS: Readonly<Record<string, readonly [kind: number, size: number]>> = {
  u8: [K_U8, 1],
  u16: [K_U16, 2],
  u32: [K_U32, 4],
  i8: [K_I8, 1],
  i16: [K_I16, 2],
  i32: [K_I32, 4],
  u64: [K_U64, 8],
  i64: [K_I64, 8],
  u128: [K_U128, 16],
  i128: [K_I128, 16],
  u256le: [K_U256, 32],
  addr20: [K_HEX, 20],
};

/** The composite types of the YAML header comment (6.1 InstrumentId, 5.3 OrderLevel). */
const STRUCTS: Readonly<Record<string, readonly FieldSpec[]>> = {
  InstrumentId: [
    { offset: 0, name: "asset_id", type: "u64", size: 8 },
    { offset: 8, name: "venue", type: "u16", size: 2 },
    { offset: 10, name: "asset_type", type: "u8", size: 1 },
    { offset: 11, name: "reserved", type: "u8", size: 1 },
  ],
  OrderLevel: [
    { offset: 0, name: "price", type: "i64", size: 8 },
    { offset: 8, name: "size", type: "i64", size: 8 },
    { offset: 16, name: "order_count", type: "u32", size: 4 },
    { offset: 20, name: "reserved", type: "u32", size: 4 },
  ],
};

/** The type a field's value has: a scalar, a struct or an array element. */
interface ValueType {
  /** One of the `K_*` kinds (never `K_ARRAY` for an element). */
  readonly kind: number;
  /** Bytes of one value. */
  readonly size: number;
  /** The struct's plan (`K_STRUCT` only). */
  readonly struct: Plan | null;
}

/** One compiled field. */
interface Step extends ValueType {
  readonly name: string;
  readonly offset: number;
  /** Array length (`K_ARRAY` only, else 0). */
  readonly count: number;
  /** Element type (`K_ARRAY` only). */
  readonly element: ValueType | null;
  /** For a count-trimmed array: its count field. */
  countStep: Step | null;
  /** For a count field: the array it counts. */
  countOf: Step | null;
}

/** A compiled field table. */
interface Plan {
  /** Layout name for messages (type name, or the struct's name). */
  readonly name: string;
  /** TLV type (0 for structs). */
  readonly type: number;
  /** Bytes of the fixed part. */
  readonly size: number;
  /** Every field in offset order, pads included. */
  readonly steps: readonly Step[];
  /** Non-pad fields by name. */
  readonly byName: ReadonlyMap<string, Step>;
  /** Pad fields by name (accepted on encode when zero). */
  readonly pads: ReadonlyMap<string, Step>;
  /** Subscribe: `[len u8][UTF-8]` patterns follow the fixed part. */
  readonly patterns: boolean;
  /** The layout is the header of a longer payload: bytes past it are the `tail` **[D-38]**. */
  readonly tail: boolean;
  /** Most bytes the tail may hold (0 without a tail). */
  readonly maxTail: number;
  /** The registry entry compiled (undefined for structs). */
  readonly info: TlvTypeInfo | undefined;
  /**
   * Every output key in layout order, each `null`. Decoding spreads it and then
   * assigns: the result keeps V8's fast properties, whereas adding 20+ keys one
   * by one to `{}` turns the object into a slow dictionary.
   */
  readonly shape: PayloadFields;
}

const SUBSCRIBE_TYPE = 113;
const MAX_PAYLOAD = 65_535;

function valueType(type: string, where: string): ValueType {
  const scalar = SCALARS[type];
  if (scalar !== undefined) return { kind: scalar[0], size: scalar[1], struct: null };
  let m = /^bytes(\d+)$/.exec(type);
  if (m !== null) return { kind: K_HEX, size: Number(m[1]), struct: null };
  m = /^pad(\d+)$/.exec(type);
  if (m !== null) return { kind: K_PAD, size: Number(m[1]), struct: null };
  const fields = STRUCTS[type];
  if (fields !== undefined) {
    const struct = compile(type, 0, fields, undefined);
    return { kind: K_STRUCT, size: struct.size, struct };
  }
  throw new TypeError(`Cannot compile ${where}: field type "${type}" is unknown`);
}

function compile(
  name: string,
  type: number,
  fields: readonly FieldSpec[],
  info: TlvTypeInfo | undefined,
): Plan {
  const steps: Step[] = [];
  const byName = new Map<string, Step>();
  const pads = new Map<string, Step>();
  let end = 0;
  for (const f of fields) {
    const where = `${name} field "${f.name}"`;
    if (f.offset !== end) {
      throw new TypeError(`Cannot compile ${where}: offset is ${f.offset}, expected ${end}`);
    }
    const array = /^(.+)\[(\d+)\]$/.exec(f.type);
    let step: Step;
    if (array !== null) {
      const element = valueType(array[1]!, where);
      const count = Number(array[2]);
      step = {
        kind: f.name.startsWith("_") || element.kind === K_PAD ? K_PAD : K_ARRAY,
        size: element.size * count,
        struct: null,
        name: f.name,
        offset: f.offset,
        count,
        element,
        countStep: null,
        countOf: null,
      };
    } else {
      const vt = valueType(f.type, where);
      step = {
        kind: f.name.startsWith("_") ? K_PAD : vt.kind,
        size: vt.size,
        struct: vt.struct,
        name: f.name,
        offset: f.offset,
        count: 0,
        element: null,
        countStep: null,
        countOf: null,
      };
    }
    if (step.size !== f.size) {
      throw new TypeError(`Cannot compile ${where}: size is ${f.size}, type needs ${step.size}`);
    }
    steps.push(step);
    (step.kind === K_PAD ? pads : byName).set(step.name, step);
    end = f.offset + f.size;
  }
  // Count-trimmed arrays: `bids` is counted by `bid_count`, `reserves` by `reserve_count`, ...
  for (const step of steps) {
    if (step.kind !== K_ARRAY) continue;
    const counter = byName.get(`${step.name.replace(/s$/, "")}_count`);
    if (counter === undefined || counter.kind > K_U32) continue;
    step.countStep = counter;
    counter.countOf = step;
  }
  const patterns = type === SUBSCRIBE_TYPE;
  const tail = info !== undefined && info.layout !== "registered" && layoutHasTail(type);
  const keys = [...byName.keys(), ...(patterns ? ["patterns"] : [])];
  return {
    name,
    type,
    size: end,
    steps,
    byName,
    pads,
    patterns,
    tail,
    maxTail: tail ? maxTailLength(info!) : 0,
    info,
    shape: Object.fromEntries(keys.map((k) => [k, null])),
  };
}

function compileInfo(info: TlvTypeInfo): Plan | null {
  if (
    info.layout !== "reference" && info.layout !== "provisional" && info.layout !== "registered"
  ) {
    return null;
  }
  if (info.fields === undefined) return null;
  return compile(info.name, info.type, info.fields, info);
}

/**
 * The byte size of a field type of the registry's grammar: `u8 u16 u32 u64 u128 i8 i16 i32 i64
 * i128 u256le addr20`, `bytesN`, `padN`, `InstrumentId`, `OrderLevel` and arrays `T[n]` of those.
 * Used to validate schemas registered at run time (5.8).
 *
 * @param type a field type, e.g. `u64`, `bytes16`, `OrderLevel[50]`
 * @returns its size in bytes, or `undefined` when the type is not in the grammar (or is empty)
 * @example
 * ```ts
 * fieldTypeSize("InstrumentId[4]"); // 48
 * fieldTypeSize("u24"); // undefined
 * ```
 */
export function fieldTypeSize(type: string): number | undefined {
  const array = /^(.+)\[(\d+)\]$/.exec(type);
  const base = array === null ? type : array[1]!;
  const count = array === null ? 1 : Number(array[2]);
  if (/\[/.test(base) || count < 1 || !Number.isSafeInteger(count)) return undefined;
  if (/^(bytes|pad)0*$/.test(base) || /^(bytes|pad)0\d/.test(base)) return undefined;
  try {
    const size = valueType(base, "field").size * count;
    return size >= 1 && Number.isSafeInteger(size) ? size : undefined;
  } catch {
    return undefined;
  }
}

/** Compiled plans by type number, built at module load (and again for runtime-installed entries). */
const PLANS: (Plan | null)[] = new Array(256).fill(null);
for (let t = 1; t < 256; t++) {
  const info = tlvType(t);
  if (info !== undefined) PLANS[t] = compileInfo(info);
}

function planOf(type: number): Plan | null {
  const info = tlvType(type);
  if (info === undefined) return null;
  const plan = PLANS[type];
  if (plan !== undefined && plan !== null && plan.info === info) return plan;
  const fresh = compileInfo(info);
  PLANS[type] = fresh;
  return fresh;
}

function labelOf(type: number): string {
  return tlvType(type)?.name ?? `type ${type}`;
}

function noLayout(action: string, type: number): FrameError {
  const info = tlvType(type);
  const why = info === undefined ? "unassigned type" : `layout is ${info.layout}`;
  return new FrameError(
    ErrorCode.InvalidFieldValue,
    `Cannot ${action} ${labelOf(type)}: type ${type} has no layout (${why})`,
    { details: { tlv_type: type, name: info?.name ?? null } },
  );
}

// ---------------------------------------------------------------------------
// Decoding

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hexOf(b: Uint8Array, off: number, size: number): string {
  let s = "0x";
  for (let i = off; i < off + size; i++) s += HEX[b[i]!]!;
  return s;
}

function readValue(
  kind: number,
  dv: DataView,
  b: Uint8Array,
  off: number,
  size: number,
  struct: Plan | null,
): FieldValue {
  switch (kind) {
    case K_U8:
      return b[off]!;
    case K_U16:
      return dv.getUint16(off, true);
    case K_U32:
      return dv.getUint32(off, true);
    case K_I8:
      return dv.getInt8(off);
    case K_I16:
      return dv.getInt16(off, true);
    case K_I32:
      return dv.getInt32(off, true);
    case K_U64:
      return dv.getBigUint64(off, true);
    case K_I64:
      return dv.getBigInt64(off, true);
    case K_U128:
      return (dv.getBigUint64(off + 8, true) << 64n) | dv.getBigUint64(off, true);
    case K_I128:
      return (dv.getBigInt64(off + 8, true) << 64n) | dv.getBigUint64(off, true);
    case K_U256:
      return (dv.getBigUint64(off + 24, true) << 192n) |
        (dv.getBigUint64(off + 16, true) << 128n) |
        (dv.getBigUint64(off + 8, true) << 64n) |
        dv.getBigUint64(off, true);
    case K_HEX:
      return hexOf(b, off, size);
    default: {
      const out: PayloadFields = { ...struct!.shape };
      decodeSteps(struct!, dv, b, off, out);
      return out;
    }
  }
}

function decodeSteps(
  plan: Plan,
  dv: DataView,
  b: Uint8Array,
  base: number,
  out: PayloadFields,
): void {
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const kind = s.kind;
    if (kind === K_PAD) continue;
    const off = base + s.offset;
    if (kind !== K_ARRAY) {
      out[s.name] = readValue(kind, dv, b, off, s.size, s.struct);
      continue;
    }
    const el = s.element!;
    let n = s.count;
    const counter = s.countStep;
    if (counter !== null) {
      const got = readValue(counter.kind, dv, b, base + counter.offset, counter.size, null);
      if ((got as number) > n || (got as number) < 0) {
        throw new FrameError(
          ErrorCode.InvalidFieldValue,
          `Cannot decode ${plan.name}: field "${counter.name}" at offset ${counter.offset} is ${got}, expected 0–${n}`,
          {
            offset: counter.offset,
            field: counter.name,
            expected: `0-${n}`,
            actual: got as number,
            details: { tlv_type: plan.type, name: plan.name, got: got as number },
          },
        );
      }
      n = got as number;
    }
    const arr: FieldValue[] = new Array(n);
    for (let j = 0; j < n; j++) {
      arr[j] = readValue(el.kind, dv, b, off + j * el.size, el.size, el.struct);
    }
    out[s.name] = arr;
  }
}

function sizeError(plan: Plan, got: number, atLeast: boolean): FrameError {
  const expected = atLeast ? `at least ${plan.size}` : `${plan.size}`;
  return new FrameError(
    ErrorCode.PayloadSizeMismatch,
    `Cannot decode ${plan.name}: payload is ${got} bytes, expected ${expected}`,
    {
      field: "length",
      expected: atLeast ? `>=${plan.size}` : plan.size,
      actual: got,
      details: { tlv_type: plan.type, name: plan.name, got },
    },
  );
}

function decodePatterns(plan: Plan, value: Uint8Array): string[] {
  try {
    return decodePatternList(value, plan.size, `Cannot decode ${plan.name}`);
  } catch (e) {
    if (e instanceof FrameError) e.details.tlv_type = plan.type;
    throw e;
  }
}

/**
 * Whether a TLV type has a typed codec: its layout is `reference` or
 * `provisional` (PROTOCOL.md 5.1), or a schema registered at run time (5.8).
 *
 * @param type TLV type number
 * @returns `true` when {@linkcode decodePayload} and {@linkcode encodePayload} accept the type
 * @example
 * ```ts
 * hasLayout(1); // true  (Trade)
 * hasLayout(4); // false (InstrumentMeta is opaque: show the raw bytes)
 * ```
 */
export function hasLayout(type: number): boolean {
  return planOf(type) !== null;
}

/**
 * Decodes a TLV value into named fields by its registry layout. The value must
 * be exactly the layout's size, except for the header-prefixed types (Snapshot,
 * TraceContext, Subscribe, PoolCacheHeader: 5.1, **[D-38]**): they need at least
 * the layout's size, within their size rule, and the bytes after the header are
 * returned as `tail` (hex with `0x`; Subscribe also decodes them as `patterns`).
 *
 * @param type TLV type number
 * @param value the TLV value (payload bytes only, no TLV header)
 * @returns the fields in layout order, pads left out
 * @throws {FrameError} `PayloadSizeMismatch` for a wrong length, `InvalidFieldValue`
 *   for a count above its array's capacity or a type without layout,
 *   `MalformedSubscribe` for a bad pattern list
 * @example
 * ```ts
 * declare const value: Uint8Array;
 *
 * const trade = decodePayload(1, value);
 * trade.price; // 4512350000000n
 * trade.side; // 0
 * ```
 */
export function decodePayload(type: number, value: Uint8Array): PayloadFields {
  const plan = planOf(type);
  if (plan === null) throw noLayout("decode", type);
  const longer = plan.patterns || plan.tail;
  if (longer ? value.length < plan.size : value.length !== plan.size) {
    throw sizeError(plan, value.length, longer);
  }
  if (plan.tail && value.length > plan.size && checkTlvSize(type, value.length) !== Status.OK) {
    throw tlvSizeError(type, value.length);
  }
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: PayloadFields = { ...plan.shape };
  decodeSteps(plan, dv, value, 0, out);
  if (plan.patterns) out.patterns = decodePatterns(plan, value);
  if (plan.tail && value.length > plan.size) {
    out.tail = hexOf(value, plan.size, value.length - plan.size);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Encoding

const RANGES: readonly (readonly [bigint, bigint] | undefined)[] = (() => {
  const r: (readonly [bigint, bigint] | undefined)[] = [];
  r[K_U8] = [0n, 0xffn];
  r[K_U16] = [0n, 0xffffn];
  r[K_U32] = [0n, 0xffff_ffffn];
  r[K_I8] = [-0x80n, 0x7fn];
  r[K_I16] = [-0x8000n, 0x7fffn];
  r[K_I32] = [-0x8000_0000n, 0x7fff_ffffn];
  r[K_U64] = [0n, (1n << 64n) - 1n];
  r[K_I64] = [-(1n << 63n), (1n << 63n) - 1n];
  r[K_U128] = [0n, (1n << 128n) - 1n];
  r[K_I128] = [-(1n << 127n), (1n << 127n) - 1n];
  r[K_U256] = [0n, (1n << 256n) - 1n];
  return r;
})();

/** Number ranges of the kinds that are written from a `number`. */
const NUMBER_MIN = [0, 0, 0, -0x80, -0x8000, -0x8000_0000];
const NUMBER_MAX = [0xff, 0xffff, 0xffff_ffff, 0x7f, 0x7fff, 0x7fff_ffff];

const INTEGER_TEXT = /^\s*[+-]?(\d+|0[xX][0-9a-fA-F]+)\s*$/;
const HEX_TEXT = /^(0[xX])?([0-9a-fA-F]*)$/;

/** What an encoder is working on, for error messages. */
interface Ctx {
  readonly plan: Plan;
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (v === null || typeof v !== "object") return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return "an object";
}

function fieldError(
  ctx: Ctx,
  path: string,
  offset: number,
  message: string,
  got: unknown,
  expected?: string,
): FrameError {
  const actual = typeof got === "number" || typeof got === "bigint" || typeof got === "string"
    ? got
    : show(got);
  return new FrameError(
    ErrorCode.InvalidFieldValue,
    `Cannot encode ${ctx.plan.name}: ${message}`,
    {
      offset,
      field: path,
      actual,
      ...(expected === undefined ? {} : { expected }),
      details: { tlv_type: ctx.plan.type, name: ctx.plan.name, got: actual },
    },
  );
}

function rangeText(kind: number): string {
  const [lo, hi] = RANGES[kind]!;
  return `${lo}–${hi}`;
}

/** Converts an integer field value to a bigint within the kind's range. */
function toBigInt(ctx: Ctx, kind: number, v: unknown, path: string, offset: number): bigint {
  let big: bigint;
  if (typeof v === "bigint") {
    big = v;
  } else if (typeof v === "number" && Number.isSafeInteger(v)) {
    big = BigInt(v);
  } else if (typeof v === "string" && INTEGER_TEXT.test(v)) {
    const t = v.trim();
    const neg = t.startsWith("-");
    const digits = t.replace(/^[+-]/, "");
    big = neg ? -BigInt(digits) : BigInt(digits);
  } else {
    const what = Number.isInteger(v) ? " (not a safe integer: pass a bigint or a string)" : "";
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)}${what}, expected an integer ${rangeText(kind)}`,
      v,
      rangeText(kind),
    );
  }
  const [lo, hi] = RANGES[kind]!;
  if (big < lo || big > hi) {
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)}, expected ${rangeText(kind)}`,
      v,
      rangeText(kind),
    );
  }
  return big;
}

/** Converts a ≤ 32-bit integer field value to a number within the kind's range. */
function toSmall(ctx: Ctx, kind: number, v: unknown, path: string, offset: number): number {
  if (
    typeof v === "number" && Number.isInteger(v) && v >= NUMBER_MIN[kind]! && v <= NUMBER_MAX[kind]!
  ) {
    return v;
  }
  return Number(toBigInt(ctx, kind, v, path, offset));
}

function writeHex(
  ctx: Ctx,
  v: unknown,
  size: number,
  target: Uint8Array,
  at: number,
  path: string,
  offset: number,
): void {
  if (v instanceof Uint8Array && v.length === size) {
    target.set(v, at);
    return;
  }
  const m = typeof v === "string" ? HEX_TEXT.exec(v) : null;
  if (m === null || m[2]!.length !== size * 2) {
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)}, expected ${size} bytes as hex`,
      v,
      `${size * 2} hex digits`,
    );
  }
  const digits = m[2]!;
  for (let i = 0; i < size; i++) {
    target[at + i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  }
}

function writeValue(
  ctx: Ctx,
  kind: number,
  size: number,
  struct: Plan | null,
  v: unknown,
  dv: DataView,
  target: Uint8Array,
  at: number,
  path: string,
  offset: number,
): void {
  switch (kind) {
    case K_U8:
    case K_I8:
      target[at] = toSmall(ctx, kind, v, path, offset);
      return;
    case K_U16:
    case K_I16:
      dv.setUint16(at, toSmall(ctx, kind, v, path, offset), true);
      return;
    case K_U32:
    case K_I32:
      dv.setUint32(at, toSmall(ctx, kind, v, path, offset) >>> 0, true);
      return;
    case K_U64:
    case K_I64:
      dv.setBigUint64(at, BigInt.asUintN(64, toBigInt(ctx, kind, v, path, offset)), true);
      return;
    case K_U128:
    case K_I128:
    case K_U256: {
      let big = BigInt.asUintN(size * 8, toBigInt(ctx, kind, v, path, offset));
      for (let i = 0; i < size; i += 8) {
        dv.setBigUint64(at + i, BigInt.asUintN(64, big), true);
        big >>= 64n;
      }
      return;
    }
    case K_HEX:
      writeHex(ctx, v, size, target, at, path, offset);
      return;
    default: {
      if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
        throw fieldError(
          ctx,
          path,
          offset,
          `field "${path}" is ${show(v)}, expected an object (${struct!.name})`,
          v,
          struct!.name,
        );
      }
      encodeSteps(ctx, struct!, v as Record<string, unknown>, dv, target, at, `${path}.`, offset);
    }
  }
}

function isZero(v: unknown): boolean {
  if (v === 0 || v === 0n || v === null || v === undefined) return true;
  if (typeof v === "string") return /^(0[xX])?0*$/.test(v.trim());
  if (v instanceof Uint8Array) return v.every((x) => x === 0);
  return false;
}

/** Rejects unknown keys and nonzero pads of `fields`. */
function checkKeys(
  ctx: Ctx,
  plan: Plan,
  fields: Record<string, unknown>,
  prefix: string,
  base: number,
) {
  for (const key in fields) {
    if (!Object.hasOwn(fields, key) || plan.byName.has(key)) continue;
    if (plan.patterns && key === "patterns") continue;
    if (plan.tail && key === "tail") continue;
    const pad = plan.pads.get(key);
    const path = prefix + key;
    if (pad === undefined) {
      throw fieldError(ctx, path, base, `unknown field "${path}"`, fields[key], "no such field");
    }
    if (!isZero(fields[key])) {
      throw fieldError(
        ctx,
        path,
        base + pad.offset,
        `pad field "${path}" is ${show(fields[key])}, expected zero`,
        fields[key],
        "0",
      );
    }
  }
}

/** Number of entries a count-trimmed or fixed array takes, validated. */
function arrayEntries(
  ctx: Ctx,
  s: Step,
  v: unknown,
  path: string,
  offset: number,
): readonly unknown[] {
  if (!Array.isArray(v)) {
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)}, expected an array`,
      v,
      "array",
    );
  }
  if (s.countStep !== null ? v.length > s.count : v.length !== s.count) {
    const expected = s.countStep !== null ? `at most ${s.count}` : `${s.count}`;
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" has ${v.length} entries, expected ${expected}`,
      v.length,
      expected,
    );
  }
  return v;
}

function encodeSteps(
  ctx: Ctx,
  plan: Plan,
  fields: Record<string, unknown>,
  dv: DataView,
  target: Uint8Array,
  base: number,
  prefix: string,
  fieldBase: number,
): void {
  checkKeys(ctx, plan, fields, prefix, fieldBase);
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (s.kind === K_PAD) continue;
    const at = base + s.offset;
    const offset = fieldBase + s.offset;
    const path = prefix + s.name;
    let v = fields[s.name];
    let defaulted = false;
    if (v === undefined) {
      defaulted = true;
      if (s.countOf !== null) {
        // The array's own step checks its length against the capacity.
        const arr = fields[s.countOf.name];
        v = Array.isArray(arr) ? Math.min(arr.length, s.countOf.count) : 0;
      } else if (plan.patterns && s.name === "version") {
        v = 1;
      } else if (plan.patterns && s.name === "reserved") {
        v = 0;
      } else {
        throw fieldError(ctx, path, offset, `field "${path}" is missing`, "missing", "a value");
      }
    }
    if (s.kind !== K_ARRAY) {
      writeValue(ctx, s.kind, s.size, s.struct, v, dv, target, at, path, offset);
      if (s.countOf !== null && !defaulted) checkCount(ctx, s, v, fields, prefix, offset);
      continue;
    }
    const entries = arrayEntries(ctx, s, v, path, offset);
    const el = s.element!;
    for (let j = 0; j < entries.length; j++) {
      const elPath = `${path}[${j}]`;
      writeValue(
        ctx,
        el.kind,
        el.size,
        el.struct,
        entries[j],
        dv,
        target,
        at + j * el.size,
        elPath,
        offset + j * el.size,
      );
    }
  }
}

/** A count field given explicitly must match its array's length. */
function checkCount(
  ctx: Ctx,
  s: Step,
  v: unknown,
  fields: Record<string, unknown>,
  prefix: string,
  offset: number,
): void {
  const array = s.countOf!;
  const count = Number(v);
  const path = prefix + s.name;
  if (count > array.count) {
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)}, expected 0–${array.count}`,
      v,
      `0-${array.count}`,
    );
  }
  const entries = fields[array.name];
  if (Array.isArray(entries) && entries.length !== count) {
    throw fieldError(
      ctx,
      path,
      offset,
      `field "${path}" is ${show(v)} but "${prefix}${array.name}" has ${entries.length} entries`,
      v,
      `${entries.length}`,
    );
  }
}

/** UTF-8 byte length of a string, or -1 when it holds a lone surrogate. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      n += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 3;
  }
  return n;
}

/** Writes a string known to be valid (see {@linkcode utf8Length}) as UTF-8; returns the end. */
function writeUtf8(s: string, target: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      target[at++] = c;
    } else if (c < 0x800) {
      target[at++] = 0xc0 | (c >> 6);
      target[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      target[at++] = 0xf0 | (c >> 18);
      target[at++] = 0x80 | ((c >> 12) & 0x3f);
      target[at++] = 0x80 | ((c >> 6) & 0x3f);
      target[at++] = 0x80 | (c & 0x3f);
    } else {
      target[at++] = 0xe0 | (c >> 12);
      target[at++] = 0x80 | ((c >> 6) & 0x3f);
      target[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

/** Validates Subscribe patterns and returns the bytes they take after the fixed part. */
function patternsLength(ctx: Ctx, fields: Record<string, unknown>): number {
  const plan = ctx.plan;
  const v = fields.patterns;
  if (v === undefined) {
    if (fields.tail !== undefined && fields.tail !== null) return -1;
    throw fieldError(ctx, "patterns", plan.size, `field "patterns" is missing`, "missing", "array");
  }
  if (!Array.isArray(v)) {
    throw fieldError(
      ctx,
      "patterns",
      plan.size,
      `field "patterns" is ${show(v)}, expected an array of strings`,
      v,
      "array",
    );
  }
  let total = 0;
  for (let i = 0; i < v.length; i++) {
    const p: unknown = v[i];
    const path = `patterns[${i}]`;
    const n = typeof p === "string" ? utf8Length(p) : -1;
    if (n < 1 || n > 255) {
      throw fieldError(
        ctx,
        path,
        plan.size + total,
        `field "${path}" is ${show(p)}, expected a string of 1–255 UTF-8 bytes`,
        p,
        "1-255 UTF-8 bytes",
      );
    }
    total += 1 + n;
  }
  if (plan.size + total > MAX_PAYLOAD) {
    throw fieldError(
      ctx,
      "patterns",
      plan.size,
      `field "patterns" needs ${plan.size + total} bytes, expected at most ${MAX_PAYLOAD}`,
      plan.size + total,
      `<=${MAX_PAYLOAD}`,
    );
  }
  return total;
}

/** A `tail` value (hex text with or without `0x`, or bytes) as bytes; null when absent. */
function tailBytes(ctx: Ctx, v: unknown): Uint8Array | null {
  const plan = ctx.plan;
  if (!plan.tail || v === undefined || v === null) return null;
  let bytes: Uint8Array | null = null;
  if (v instanceof Uint8Array) bytes = v;
  else if (typeof v === "string") {
    const m = HEX_TEXT.exec(v.trim());
    if (m !== null && m[2]!.length % 2 === 0) {
      const digits = m[2]!;
      bytes = new Uint8Array(digits.length / 2);
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
      }
    }
  }
  if (bytes === null) {
    throw fieldError(
      ctx,
      "tail",
      plan.size,
      `field "tail" is ${show(v)}, expected bytes as hex`,
      v,
      "an even number of hex digits",
    );
  }
  if (bytes.length > plan.maxTail) {
    throw fieldError(
      ctx,
      "tail",
      plan.size,
      `field "tail" is ${bytes.length} bytes, expected at most ${plan.maxTail}`,
      bytes.length,
      `<=${plan.maxTail}`,
    );
  }
  return bytes;
}

/**
 * What follows the fixed part: Subscribe's patterns (when given; a `tail` beside
 * them must be their encoding) or the `tail` bytes.
 */
function extraOf(
  ctx: Ctx,
  fields: Record<string, unknown>,
): { length: number; tail: Uint8Array | null } {
  const tail = tailBytes(ctx, fields.tail);
  const patterns = ctx.plan.patterns ? patternsLength(ctx, fields) : -1;
  if (patterns < 0) return { length: tail?.length ?? 0, tail };
  if (tail !== null && tail.length !== patterns) throw tailMismatch(ctx, tail);
  return { length: patterns, tail };
}

function tailMismatch(ctx: Ctx, tail: Uint8Array): FrameError {
  return fieldError(
    ctx,
    "tail",
    ctx.plan.size,
    `field "tail" (${tail.length} bytes) is not the encoding of "patterns"; give one of them`,
    tail.length,
    "the encoded patterns",
  );
}

function requirePlan(type: number): Plan {
  const plan = planOf(type);
  if (plan === null) throw noLayout("encode", type);
  return plan;
}

function checkFields(plan: Plan, fields: unknown): asserts fields is Record<string, unknown> {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new FrameError(
      ErrorCode.InvalidFieldValue,
      `Cannot encode ${plan.name}: fields are ${show(fields)}, expected an object`,
      { details: { tlv_type: plan.type, name: plan.name } },
    );
  }
}

/**
 * The number of bytes {@linkcode encodePayload} writes for these fields: the
 * layout size, plus the patterns for Subscribe or the `tail` of a
 * header-prefixed type (5.1, **[D-38]**). Does not validate other fields.
 *
 * @param type TLV type number
 * @param fields the fields to encode
 * @returns payload length in bytes
 * @throws {FrameError} `InvalidFieldValue` for a type without layout or bad Subscribe patterns
 * @example
 * ```ts
 * declare const trade: PayloadFields;
 *
 * payloadLength(1, trade); // 40
 * payloadLength(113, { mode: 0, patterns: ["tlv.1"] }); // 10
 * ```
 */
export function payloadLength(type: number, fields: Record<string, unknown>): number {
  const plan = requirePlan(type);
  if (!plan.patterns && !plan.tail) return plan.size;
  checkFields(plan, fields);
  return plan.size + extraOf({ plan }, fields).length;
}

/**
 * Encodes named fields into `target` at `offset` by the type's registry
 * layout: pads and unused array slots are written as zero, count fields default
 * to their array's length. Allocates nothing beyond what converting the values
 * needs. On error the bytes of the target range are unspecified.
 *
 * Integer fields accept a `number` (safe integer), a `bigint` or a decimal or
 * `0x` hex string; byte fields (`addr20`, `bytesN`) a hex string with or without
 * `0x` (or a `Uint8Array` of the right length). The header-prefixed types
 * (Snapshot, TraceContext, Subscribe, PoolCacheHeader) take an optional `tail`
 * (hex or bytes, within the size rule) written after the header; a Subscribe
 * with `patterns` accepts a `tail` only when it is their encoding (as decoded).
 *
 * @param type TLV type number
 * @param fields the fields, as {@linkcode decodePayload} returns them
 * @param target buffer to write into
 * @param offset where the payload starts in `target`
 * @returns bytes written ({@linkcode payloadLength})
 * @throws {FrameError} `InvalidFieldValue` for a missing, unknown or out-of-range field,
 *   or a type without layout
 * @throws {RangeError} when `target` is too small
 * @example
 * ```ts
 * declare const trade: PayloadFields;
 *
 * const buf = new Uint8Array(2 + 40);
 * buf[0] = 1;
 * buf[1] = encodePayloadInto(1, trade, buf, 2); // 40
 * ```
 */
export function encodePayloadInto(
  type: number,
  fields: Record<string, unknown>,
  target: Uint8Array,
  offset: number,
): number {
  const plan = requirePlan(type);
  checkFields(plan, fields);
  const ctx: Ctx = { plan };
  const extra = plan.patterns || plan.tail ? extraOf(ctx, fields) : { length: 0, tail: null };
  const length = plan.size + extra.length;
  if (!Number.isInteger(offset) || offset < 0 || target.length - offset < length) {
    throw new RangeError(
      `Cannot encode ${plan.name}: target has ${
        target.length - offset
      } bytes from offset ${offset}, expected ${length}`,
    );
  }
  target.fill(0, offset, offset + plan.size);
  const dv = new DataView(target.buffer, target.byteOffset, target.byteLength);
  encodeSteps(ctx, plan, fields, dv, target, offset, "", 0);
  const tail = extra.tail;
  if (plan.patterns && fields.patterns !== undefined) {
    let at = offset + plan.size;
    for (const p of fields.patterns as readonly string[]) {
      const end = writeUtf8(p, target, at + 1);
      target[at] = end - at - 1;
      at = end;
    }
    if (tail !== null && tail.some((x, i) => x !== target[offset + plan.size + i])) {
      throw tailMismatch(ctx, tail);
    }
  } else if (tail !== null) {
    target.set(tail, offset + plan.size);
  }
  return length;
}

/**
 * Encodes named fields into a new payload by the type's registry layout (see
 * {@linkcode encodePayloadInto} for the accepted values).
 *
 * @param type TLV type number
 * @param fields the fields, as {@linkcode decodePayload} returns them
 * @returns the TLV value bytes (no TLV header)
 * @throws {FrameError} `InvalidFieldValue` for a missing, unknown or out-of-range field,
 *   or a type without layout
 * @example
 * ```ts
 * const value = encodePayload(113, { mode: 0, patterns: ["tlv.1", "source.2"] });
 * decodePayload(113, value).patterns; // ["tlv.1", "source.2"]
 * ```
 */
export function encodePayload(type: number, fields: Record<string, unknown>): Uint8Array {
  const out = new Uint8Array(payloadLength(type, fields));
  encodePayloadInto(type, fields, out, 0);
  return out;
}
