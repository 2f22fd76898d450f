/**
 * Rendering of decoded messages for `torq decode` (and later `torq sub`): the
 * stable JSON shape that `torq encode` reads back, and a readable text
 * breakdown with fixed-point prices as decimals, Q64.64 values, ISO times,
 * venue/source/domain names and InstrumentId debug text (PROTOCOL.md 5.2, 6.6).
 *
 * Decimal renderings are exact: they format the integer with bigint
 * arithmetic, never through a float.
 *
 * @module
 */

import {
  assetTypeName,
  debugInfo,
  type DecodedMessage,
  type DecodedTlv,
  type FieldSpec,
  type FieldValue,
  type FrameError,
  hex32,
  type PayloadFields,
  sourceName,
  tlvType,
  venueName,
} from "../protocol/mod.ts";
import { toHex } from "./hex.ts";
import { plural } from "../text/mod.ts";

/** A JSON value as `JSON.stringify` writes it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** The `error` object of the JSON output: catalogue code, message and byte offset. */
export interface ErrorJson {
  /** Catalogue name, e.g. `ChecksumMismatch`. */
  code: string;
  /** The error's sentence. */
  message: string;
  /** Absolute byte offset, or null when unknown. */
  offset: number | null;
}

/** The header part of {@linkcode MessageJson}; 64-bit values are decimal strings. */
export interface HeaderJson {
  /** Magic as a number (3735928559 in a valid frame). */
  magic: number;
  /** The relay_domain byte as on the wire. */
  relay_domain: number;
  /** The domain's name (`market_data` …), null when invalid. */
  domain: string | null;
  /** Protocol version byte. */
  version: number;
  /** The source byte as on the wire. */
  source: number;
  /** The source's name, null when the numbering does not define it. */
  source_name: string | null;
  /** Flags byte. */
  flags: number;
  /** u64 sequence as a decimal string. */
  sequence: string;
  /** u64 nanosecond timestamp as a decimal string. */
  timestamp: string;
  /** payload_size. */
  payload_size: number;
  /** Stored checksum as a number (0 = not computed). */
  checksum: number;
  /** `ok`, `mismatch` or `absent`. */
  checksum_status: string;
}

/** One TLV of {@linkcode MessageJson}. */
export interface TlvJson {
  /** TLV type number. */
  type: number;
  /** Registry name, null for unassigned numbers. */
  name: string | null;
  /** `standard` or `extended`. */
  form: string;
  /** Byte offset of the record within its message. */
  offset: number;
  /** Value length. */
  length: number;
  /** Decoded fields (spec names; wide integers as strings), null for opaque or undecodable payloads. */
  fields: { [key: string]: JsonValue } | null;
  /** Why a type with a layout could not be decoded. */
  error?: ErrorJson;
  /** The value bytes as lowercase hex without `0x`. */
  payload_hex: string;
}

/** One decoded message in the JSON shape of `torq decode --json` (read back by `torq encode`). */
export interface MessageJson {
  /** The header. */
  header: HeaderJson;
  /** The TLVs in wire order. */
  tlvs: TlvJson[];
}

/**
 * Converts a decoded field value to JSON: every bigint becomes a decimal
 * string, recursively; other values are kept.
 *
 * @param value a field value
 * @returns the JSON value
 * @example
 * ```ts
 * jsonValue({ price: 4512350000000n, side: 0 }); // { price: "4512350000000", side: 0 }
 * ```
 */
export function jsonValue(value: FieldValue | undefined): JsonValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map((v) => jsonValue(v));
  if (typeof value === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, FieldValue>)) out[k] = jsonValue(v);
    return out;
  }
  return value as string | number | boolean;
}

/**
 * The `{code, message, offset}` form of a frame error.
 *
 * @param error the error
 * @param fallbackOffset offset to report when the error has none (e.g. the TLV's)
 * @returns the JSON object
 * @example
 * ```ts
 * import type { FrameError } from "../protocol/mod.ts";
 * declare const e: FrameError;
 *
 * JSON.stringify({ error: errorToJson(e) }); // {"error":{"code":"ChecksumMismatch",...}}
 * ```
 */
export function errorToJson(error: FrameError, fallbackOffset?: number): ErrorJson {
  return {
    code: error.code,
    message: error.message,
    offset: error.offset ?? fallbackOffset ?? null,
  };
}

/**
 * One TLV in the JSON shape.
 *
 * @param tlv the decoded TLV
 * @returns the JSON object
 * @example
 * ```ts
 * import { decodeMessage } from "../protocol/mod.ts";
 * declare const frame: Uint8Array;
 *
 * tlvToJson(decodeMessage(frame).tlvs[0]!).payload_hex;
 * ```
 */
export function tlvToJson(tlv: DecodedTlv): TlvJson {
  const out: TlvJson = {
    type: tlv.type,
    name: tlv.name ?? null,
    form: tlv.form,
    offset: tlv.offset,
    length: tlv.length,
    fields: tlv.fields === null ? null : jsonValue(tlv.fields) as { [key: string]: JsonValue },
    ...(tlv.error === undefined ? {} : { error: errorToJson(tlv.error, tlv.offset) }),
    payload_hex: toHex(tlv.value),
  };
  return out;
}

/**
 * A decoded message in the JSON shape of `torq decode --json`:
 * `{header: {magic, relay_domain, domain, version, source, source_name, flags,
 * sequence, timestamp, payload_size, checksum, checksum_status}, tlvs: [{type,
 * name, form, offset, length, fields, payload_hex}]}`.
 *
 * @param msg the decoded message
 * @returns the JSON object (`JSON.stringify` it)
 * @example
 * ```ts
 * import { decodeMessage } from "../protocol/mod.ts";
 * declare const frame: Uint8Array;
 *
 * JSON.stringify(messageToJson(decodeMessage(frame)));
 * ```
 */
export function messageToJson(msg: DecodedMessage): MessageJson {
  const h = msg.header;
  return {
    header: {
      magic: h.magic,
      relay_domain: h.relayDomain,
      domain: msg.domain ?? null,
      version: h.version,
      source: h.source,
      source_name: msg.sourceName ?? null,
      flags: h.flags,
      sequence: h.sequence.toString(),
      timestamp: h.timestamp.toString(),
      payload_size: h.payloadSize,
      checksum: h.checksum,
      checksum_status: msg.checksumStatus,
    },
    tlvs: msg.tlvs.map(tlvToJson),
  };
}

// ---------------------------------------------------------------------------
// Exact number formatting

/**
 * Formats a fixed-point integer with `decimals` implied decimals, exactly:
 * trailing zeros of the fraction are trimmed, no float is involved.
 *
 * @param value the raw integer (e.g. a price × 10⁸)
 * @param decimals implied decimal places (default 8)
 * @returns e.g. `45123.5`, `-0.00000001`, `12`
 * @example
 * ```ts
 * formatFixed(4512350000000n); // "45123.5"
 * ```
 */
export function formatFixed(value: bigint | number, decimals = 8): string {
  const v = BigInt(value);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  if (decimals <= 0) return (neg ? "-" : "") + abs.toString();
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  const frac = (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return (neg ? "-" : "") + whole.toString() + (frac === "" ? "" : "." + frac);
}

const TWO64 = 1n << 64n;
const Q64_SHOWN_DIGITS = 18;

/**
 * Formats a Q64.64 value (raw / 2⁶⁴) as a decimal. Exact when the fraction has
 * at most 18 decimal digits; otherwise rounded to 18 and prefixed with `≈`.
 *
 * @param raw the raw i128/u128
 * @returns e.g. `12.5`, `1000`, `≈0.333333333333333333`
 * @example
 * ```ts
 * formatQ64(230584300921369395200n); // "12.5"
 * ```
 */
export function formatQ64(raw: bigint): string {
  const neg = raw < 0n;
  const abs = neg ? -raw : raw;
  let whole = abs >> 64n;
  const frac = abs & (TWO64 - 1n);
  const sign = neg ? "-" : "";
  // frac / 2^64 has at most 64 decimal digits: frac * 10^64 / 2^64 is exact.
  const exact = ((frac * 10n ** 64n) >> 64n).toString().padStart(64, "0").replace(/0+$/, "");
  if (exact.length <= Q64_SHOWN_DIGITS) {
    return sign + whole.toString() + (exact === "" ? "" : "." + exact);
  }
  const scale = 10n ** BigInt(Q64_SHOWN_DIGITS);
  let rounded = (frac * scale + (TWO64 >> 1n)) >> 64n;
  if (rounded === scale) {
    whole += 1n;
    rounded = 0n;
  }
  const digits = rounded.toString().padStart(Q64_SHOWN_DIGITS, "0").replace(/0+$/, "");
  return "≈" + sign + whole.toString() + (digits === "" ? "" : "." + digits);
}

const MAX_ISO_MS = 253_402_300_799_999n; // 9999-12-31T23:59:59.999Z

/**
 * Formats nanoseconds since the Unix epoch as an ISO-8601 UTC time keeping
 * every digit (trailing zeros of the fraction trimmed).
 *
 * @param ns nanoseconds since 1970-01-01T00:00Z
 * @returns e.g. `2023-11-14T22:13:20.123456789Z`, or `undefined` for 0, negative or out-of-range values
 * @example
 * ```ts
 * formatNsTime(1700000000123456789n); // "2023-11-14T22:13:20.123456789Z"
 * ```
 */
export function formatNsTime(ns: bigint): string | undefined {
  if (ns <= 0n) return undefined;
  const ms = ns / 1_000_000n;
  if (ms > MAX_ISO_MS) return undefined;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return base + (frac === "" ? "" : "." + frac) + "Z";
}

// ---------------------------------------------------------------------------
// Text rendering

/** Options of {@linkcode formatMessageText}. */
export interface TextOptions {
  /** 1-based frame number; when given, a `frame N at offset X` line comes first. */
  frame?: number;
  /** Byte offset of the frame within the input (with `frame`). */
  frameOffset?: number;
  /** The domain and source were read with the legacy numbering (3.1, 3.3). */
  legacyNumbering?: boolean;
}

/**
 * Field names that carry 8 implied decimals (prices, sizes, USD amounts). The dashboard
 * (src/http/dashboard/app.js) applies the same rule; its test keeps the two equal.
 */
export const FIXED_POINT_NAME: RegExp =
  /^(price|volume|quantity|fee|total_fees)$|_(price|size|quantity|usd_q8)$/;
const VENUE_FIELDS = new Set(["venue", "venue_id", "source_venue", "target_venue"]);
const SECONDS_FIELDS = new Set(["valid_until", "discovered_at", "last_seen", "last_updated"]);
const CHAIN_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "Ethereum"],
  [10, "Optimism"],
  [56, "BinanceSmartChain"],
  [137, "Polygon"],
  [250, "Fantom"],
  [42161, "Arbitrum"],
  [43114, "Avalanche"],
]);
const HEALTH = ["healthy", "degraded", "unhealthy", "unknown"];
const ORDER_STATUS = [
  "pending-new",
  "accepted",
  "partially-filled",
  "filled",
  "cancelled",
  "rejected",
  "expired",
];
const INVALIDATION_REASON = [
  "Disconnection",
  "AuthenticationFailure",
  "RateLimited",
  "Staleness",
  "Maintenance",
  "Recovery",
];
const CANCEL_REASON = ["user", "risk", "expiry", "replace"];
const ORDER_TYPE = ["market", "limit", "stop", "stop-limit"];
const TIME_IN_FORCE = ["GTC", "IOC", "FOK", "DAY"];

function toBig(v: FieldValue | undefined): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

function toNum(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

interface FieldContext {
  type: number;
  fields: PayloadFields;
  specs: ReadonlyMap<string, string>;
}

/** The decimals of `amount_in`-style fields: `<name>_decimals` or `token0/1_decimals`. */
function tokenDecimals(name: string, ctx: FieldContext): number | undefined {
  const own = toNum(ctx.fields[`${name}_decimals`]);
  if (own !== undefined) return own;
  const m = /^(reserve|amount)([01])$/.exec(name);
  if (m !== null) return toNum(ctx.fields[`token${m[2]}_decimals`]);
  return undefined;
}

function annotate(name: string, wireType: string, value: FieldValue, ctx: FieldContext): string[] {
  const out: string[] = [];
  const big = toBig(value);
  const num = toNum(value);
  if (big === undefined) return out;
  if (wireType === "i64" && FIXED_POINT_NAME.test(name)) out.push(formatFixed(big, 8));
  else if (name.endsWith("_q") && (wireType === "i128" || wireType === "u128")) {
    out.push(formatQ64(big));
  } else if (name.endsWith("_ns") || (name === "timestamp" && wireType === "u64")) {
    const iso = formatNsTime(big);
    if (iso !== undefined) out.push(iso);
  } else if (SECONDS_FIELDS.has(name)) {
    const iso = formatNsTime(big * 1_000_000_000n);
    if (iso !== undefined) out.push(iso);
  } else if (name === "asset_id") {
    out.push("0x" + BigInt.asUintN(64, big).toString(16).padStart(16, "0"));
  } else if (wireType === "u128" || wireType === "i128") {
    const d = tokenDecimals(name, ctx);
    if (d !== undefined && d > 0 && d <= 36) out.push(`${formatFixed(big, d)} at ${d} decimals`);
  }
  if (num === undefined) return out;
  if (VENUE_FIELDS.has(name)) out.push(venueName(num) ?? "unknown venue");
  else if (name === "asset_type") out.push(assetTypeName(num) ?? "unknown asset type");
  else if (name === "chain_id" || name === "network") {
    const chain = CHAIN_NAMES.get(num);
    if (chain !== undefined) out.push(`${chain} chain id`);
  } else if (name.endsWith("_bps")) out.push(`${formatFixed(num, 2)}%`);
  else if (name.endsWith("_ppm")) out.push(`${formatFixed(num, 4)}%`);
  else if (name === "service_type" || name === "source_service") {
    const s = sourceName(num);
    if (s !== undefined) out.push(s);
  } else if (name === "health_status") {
    const h = HEALTH[num];
    if (h !== undefined) out.push(h);
  } else if (name === "side") {
    if (num === 0 || num === 1) out.push(num === 0 ? "buy" : "sell");
  } else if (name === "liquidity" && wireType === "u8") {
    if (num === 0 || num === 1) out.push(num === 0 ? "maker" : "taker");
  } else if (name === "status" && (ctx.type === 41 || ctx.type === 45)) {
    const s = ORDER_STATUS[num];
    if (s !== undefined) out.push(s);
  } else if (name === "reason" && (ctx.type === 19 || ctx.type === 106)) {
    const r = INVALIDATION_REASON[num];
    if (r !== undefined) out.push(r);
  } else if (name === "reason" && ctx.type === 43) {
    const r = CANCEL_REASON[num];
    if (r !== undefined) out.push(r);
  } else if (name === "order_flags") {
    const type = ORDER_TYPE[(num >> 1) & 7] ?? `type ${(num >> 1) & 7}`;
    const hex = `0x${num.toString(16).padStart(2, "0")}`;
    out.push(`${hex}: ${num & 1 ? "sell" : "buy"}, ${type}, ${TIME_IN_FORCE[(num >> 4) & 3]!}`);
  }
  return out;
}

function scalarText(name: string, wireType: string, value: FieldValue, ctx: FieldContext): string {
  const base = typeof value === "string" ? value : String(value);
  const notes = annotate(name, wireType, value, ctx);
  return notes.length === 0 ? base : `${base} (${notes.join(", ")})`;
}

function isRecord(v: FieldValue | undefined): v is { readonly [k: string]: FieldValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function instrumentText(v: { readonly [k: string]: FieldValue }): string | undefined {
  const assetId = toBig(v.asset_id);
  const venue = toNum(v.venue ?? v.venue_id);
  const assetType = toNum(v.asset_type);
  if (assetId === undefined || venue === undefined || assetType === undefined) return undefined;
  const reserved = toNum(v.reserved) ?? 0;
  return debugInfo({ assetId: BigInt.asUintN(64, assetId), venue, assetType, reserved });
}

function bookDecimals(fields: PayloadFields): number {
  const p = toBig(fields.precision_factor);
  if (p === undefined || p <= 0n) return 8;
  const s = p.toString();
  return /^10*$/.test(s) ? s.length - 1 : 8;
}

function fieldLines(
  name: string,
  spec: string,
  value: FieldValue,
  ctx: FieldContext,
  pad: number,
): string[] {
  const label = `  ${name.padEnd(pad)}  `;
  const elem = /^(\w+)\[(\d+)\]$/.exec(spec)?.[1];
  if (Array.isArray(value)) {
    const items = value as readonly FieldValue[];
    const lines = [`${label}${items.length} ${items.length === 1 ? "entry" : "entries"}`];
    const decimals = bookDecimals(ctx.fields);
    items.forEach((item, i) => {
      const prefix = `    [${i}] `;
      if (elem === "OrderLevel" && isRecord(item)) {
        const price = toBig(item.price) ?? 0n;
        const size = toBig(item.size) ?? 0n;
        lines.push(
          `${prefix}price ${price} (${formatFixed(price, decimals)})  size ${size} (${
            formatFixed(size, 8)
          })  orders ${String(item.order_count)}`,
        );
      } else if (isRecord(item)) {
        const text = instrumentText(item);
        const raw = Object.entries(item).map(([k, v]) => `${k} ${String(v)}`).join(", ");
        lines.push(text === undefined ? `${prefix}${raw}` : `${prefix}${text} (${raw})`);
      } else if (typeof item === "string" && name === "patterns") {
        lines.push(`${prefix}${JSON.stringify(item)}`);
      } else {
        lines.push(`${prefix}${scalarText(name, elem ?? "", item, ctx)}`);
      }
    });
    return lines;
  }
  if (isRecord(value)) {
    const text = instrumentText(value);
    const raw = Object.entries(value).map(([k, v]) => `${k} ${String(v)}`).join(", ");
    return [text === undefined ? `${label}${raw}` : `${label}${text} (${raw})`];
  }
  return [`${label}${scalarText(name, spec, value, ctx)}`];
}

function hexLines(bytes: Uint8Array, indent: string): string[] {
  if (bytes.length === 0) return [`${indent}(empty)`];
  const lines: string[] = [];
  const shown = Math.min(bytes.length, 512);
  for (let off = 0; off < shown; off += 32) {
    const chunk = toHex(bytes.subarray(off, Math.min(off + 32, shown)));
    lines.push(`${indent}${off.toString(16).padStart(4, "0")}  ${chunk}`);
  }
  if (shown < bytes.length) lines.push(`${indent}… ${bytes.length - shown} more bytes`);
  return lines;
}

function tlvLines(tlv: DecodedTlv, index: number, count: number): string[] {
  const name = tlv.name ?? "unassigned";
  const lines = [
    `tlv ${
      index + 1
    } of ${count} at offset ${tlv.offset}: ${name} (type ${tlv.type}), ${tlv.form}, ${
      plural(tlv.length, "byte")
    }`,
  ];
  const info = tlvType(tlv.type);
  if (tlv.fields === null) {
    if (tlv.error !== undefined) {
      lines.push(`  cannot decode fields: ${tlv.error.code}: ${tlv.error.message}`);
    } else if (info === undefined || info.type >= 200) {
      lines.push(`  ${info === undefined ? "unassigned type" : "vendor type"}: raw bytes`);
    } else {
      lines.push("  opaque payload (no layout yet): raw bytes");
    }
    lines.push(...hexLines(tlv.value, "  "));
    return lines;
  }
  const fields = tlv.fields;
  const specs = new Map<string, string>(
    (info?.fields ?? []).map((f: FieldSpec) => [f.name, f.type]),
  );
  const ctx: FieldContext = { type: tlv.type, fields, specs };
  const keys = Object.keys(fields);
  const instrument = instrumentText(fields);
  const pad = Math.max(...keys.map((k) => k.length), instrument === undefined ? 0 : 10);
  if (instrument !== undefined) lines.push(`  ${"instrument".padEnd(pad)}  ${instrument}`);
  for (const k of keys) {
    if (k === "tail" && info?.layoutSize !== undefined) {
      // The bytes after a header-prefixed layout (5.1, D-38): a hex dump, not one long line.
      const tail = tlv.value.subarray(info.layoutSize);
      lines.push(`  ${"tail".padEnd(pad)}  ${plural(tail.length, "byte")}`);
      lines.push(...hexLines(tail, "    "));
      continue;
    }
    lines.push(...fieldLines(k, specs.get(k) ?? "", fields[k]!, ctx, pad));
  }
  return lines;
}

/**
 * A decoded message as readable text: the header with names, ISO time and
 * checksum status, then each TLV with its fields (fixed-point values as
 * decimals, instruments with their 6.6 debug text, raw hex for opaque payloads).
 *
 * @param msg the decoded message
 * @param options frame numbering and numbering scheme
 * @returns the text, lines joined with `\n`
 * @example
 * ```ts
 * import { decodeMessage } from "../protocol/mod.ts";
 * declare const frame: Uint8Array;
 *
 * console.log(formatMessageText(decodeMessage(frame)));
 * ```
 */
export function formatMessageText(msg: DecodedMessage, options: TextOptions = {}): string {
  const h = msg.header;
  const lines: string[] = [];
  if (options.frame !== undefined) {
    lines.push(`frame ${options.frame} at offset ${options.frameOffset ?? 0}`);
  }
  const legacy = options.legacyNumbering ? ", legacy numbering" : "";
  const iso = formatNsTime(h.timestamp);
  const crcNote = msg.checksumStatus === "absent" ? "absent: not computed" : msg.checksumStatus;
  const rows: [string, string][] = [
    ["magic", hex32(h.magic)],
    ["relay_domain", `${h.relayDomain} (${msg.domain ?? "invalid"}${legacy})`],
    ["version", String(h.version)],
    ["source", `${h.source} (${msg.sourceName ?? "unknown source"}${legacy})`],
    ["flags", `0x${h.flags.toString(16).padStart(2, "0")}`],
    ["sequence", h.sequence.toString()],
    ["timestamp", iso === undefined ? h.timestamp.toString() : `${h.timestamp} (${iso})`],
    ["payload_size", String(h.payloadSize)],
    ["checksum", `${hex32(h.checksum)} (${crcNote})`],
  ];
  const tlvCount = msg.tlvs.length === 1 ? "1 TLV" : `${msg.tlvs.length} TLVs`;
  lines.push(`header: ${msg.size} bytes, ${tlvCount}`);
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(12)}  ${v}`);
  msg.tlvs.forEach((t, i) => lines.push(...tlvLines(t, i, msg.tlvs.length)));
  return lines.join("\n");
}
