/**
 * Builds binary messages from the JSON shape that `torq decode --json` prints
 * (see `decode_format.ts`), for `torq encode`. Header fields are optional with
 * defaults; `payload_size` and the checksum are computed; each TLV comes from
 * its `fields` (by the registry layout) or from its `payload_hex`. For every
 * valid frame, decoding to JSON and encoding that JSON gives the same bytes.
 *
 * @module
 */

import {
  assertEncodableTlv,
  checkTlvSize,
  DOMAIN_NUMBERS,
  encodeHeader,
  encodePayload,
  FrameError,
  hasLayout,
  HEADER_SIZE,
  LegacySourceType,
  lookupTlvType,
  MAGIC,
  MAX_MESSAGE_SIZE,
  MAX_STANDARD_LENGTH,
  nowNs,
  parseDomain,
  sealChecksum,
  SourceType,
  Status,
  tlvSizeError,
  tlvType,
  toLegacyDomain,
  writeTlvHeader,
} from "../protocol/mod.ts";
import { HexParseError, parseHex } from "./hex.ts";

/** Input that cannot be turned into a message; `path` names the offending JSON member. */
export class MessageJsonError extends TypeError {
  /** JSON path of the problem, e.g. `tlvs[0].fields`. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param message sentence-case message (already naming the path)
   * @param path JSON path of the problem
   */
  constructor(message: string, path: string) {
    super(message);
    this.name = "MessageJsonError";
    this.path = path;
  }
}

/** Options of {@linkcode encodeMessageJson}. */
export interface EncodeJsonOptions {
  /** Domain names and source names map to the legacy numbering (3.1, 3.3). */
  legacyNumbering?: boolean;
  /** Clock for a missing timestamp (default: now, in ns). */
  now?: () => bigint;
}

/** Default SourceType of messages built by the tools: 99 TestClient. */
export const DEFAULT_SOURCE: number = SourceType.TestClient;

const HOME_DOMAINS: Readonly<Record<string, number>> = DOMAIN_NUMBERS;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(path: string, what: string): never {
  throw new MessageJsonError(`Cannot encode message: ${path} ${what}`, path);
}

/** Reads an integer given as a number, bigint, decimal string or `0x` hex string. */
function integer(v: unknown, path: string, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof v === "bigint") n = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === "string" && /^\s*(\d+|0[xX][0-9a-fA-F]+)\s*$/.test(v)) n = BigInt(v.trim());
  if (n === undefined) fail(path, `is ${JSON.stringify(v)}, expected an integer`);
  if (n < 0n || n > max) fail(path, `is ${n}, expected 0–${max}`);
  return n;
}

function small(v: unknown, path: string, max: number): number {
  return Number(integer(v, path, BigInt(max)));
}

const U64_MAX = (1n << 64n) - 1n;

function sourceFromName(name: string, legacy: boolean, path: string): number {
  const table: Readonly<Record<string, number>> = legacy ? LegacySourceType : SourceType;
  const key = name.trim().toLowerCase();
  for (const [k, v] of Object.entries(table)) if (k.toLowerCase() === key) return v;
  if (/^\d+$/.test(key)) return small(key, path, 255);
  return fail(path, `is ${JSON.stringify(name)}, which names no source type`);
}

function relayDomain(header: Json, tlvs: readonly unknown[], legacy: boolean, at: string): number {
  const wire = (d: number) => (legacy ? toLegacyDomain(d) : d);
  if (header.relay_domain !== undefined && header.relay_domain !== null) {
    return small(header.relay_domain, `${at}header.relay_domain`, 255);
  }
  const named = header.domain;
  if (typeof named === "number") return small(named, `${at}header.domain`, 255);
  if (typeof named === "string") {
    const d = parseDomain(named);
    if (d === undefined) {
      fail(`${at}header.domain`, `is ${JSON.stringify(named)}, which names no relay domain`);
    }
    return wire(d);
  }
  const first = tlvs[0];
  if (isObject(first)) {
    const info = typeof first.type === "string"
      ? lookupTlvType(first.type)
      : typeof first.type === "number"
      ? tlvType(first.type)
      : undefined;
    const home = info === undefined ? undefined : HOME_DOMAINS[info.domain];
    if (home !== undefined) return wire(home);
  }
  return fail(
    `${at}header.relay_domain`,
    "is missing and the first TLV has no home domain: give header.domain or header.relay_domain",
  );
}

function tlvNumber(v: unknown, path: string): number {
  if (typeof v === "string" && !/^\s*\d+\s*$/.test(v)) {
    const info = lookupTlvType(v);
    if (info === undefined) fail(path, `is ${JSON.stringify(v)}, which names no TLV type`);
    return info.type;
  }
  if (v === undefined) fail(path, "is missing");
  const n = small(v, path, 255);
  if (n === 0 || n === 255) {
    fail(path, `is ${n}, expected 1–254 (0 is invalid, 255 is the extended marker)`);
  }
  return n;
}

interface TlvParts {
  type: number;
  value: Uint8Array;
  extended: boolean;
}

function tlvParts(t: unknown, path: string): TlvParts {
  if (!isObject(t)) fail(path, "is not an object");
  const type = tlvNumber(t.type ?? t.name, `${path}.type`);
  let value: Uint8Array;
  if (t.fields !== undefined && t.fields !== null) {
    if (!isObject(t.fields)) fail(`${path}.fields`, "is not an object");
    if (!hasLayout(type)) {
      const name = tlvType(type)?.name ?? "unassigned";
      fail(
        `${path}.fields`,
        `cannot be used: type ${type} (${name}) has no field layout, give payload_hex`,
      );
    }
    try {
      value = encodePayload(type, t.fields);
    } catch (e) {
      if (e instanceof FrameError) fail(`${path}.fields`, `are invalid: ${e.message}`);
      throw e;
    }
  } else if (typeof t.payload_hex === "string") {
    try {
      value = parseHex(t.payload_hex);
    } catch (e) {
      if (e instanceof HexParseError) fail(`${path}.payload_hex`, `is invalid: ${e.message}`);
      throw e;
    }
  } else {
    return fail(path, "needs fields or payload_hex");
  }
  try {
    assertEncodableTlv(type, value.length);
  } catch (e) {
    if (e instanceof FrameError) fail(path, `cannot be encoded: ${e.message}`);
    throw e;
  }
  if (checkTlvSize(type, value.length) !== Status.OK) {
    fail(path, `cannot be encoded: ${tlvSizeError(type, value.length).message}`);
  }
  const form = t.form;
  if (form !== undefined && form !== null && form !== "standard" && form !== "extended") {
    fail(`${path}.form`, `is ${JSON.stringify(form)}, expected "standard" or "extended"`);
  }
  if (form === "standard" && value.length > MAX_STANDARD_LENGTH) {
    fail(`${path}.form`, `is "standard" but the value is ${value.length} bytes (limit 255)`);
  }
  return { type, value, extended: form === "extended" || value.length > MAX_STANDARD_LENGTH };
}

/**
 * Builds one message from its JSON description: `{header?: {...}, tlvs: [...]}`.
 *
 * Header defaults: `relay_domain` from `domain` (name or number) or the first
 * TLV's home domain, version 1, source 99 TestClient (`source` may also be a
 * name), flags 0, sequence 1, `timestamp` (or `timestamp_ns`) now. `magic`
 * defaults to 0xDEADBEEF. `payload_size` is always computed; the checksum is
 * computed unless the input says `checksum: 0` (the hot-path variant).
 * Each TLV is encoded from `fields` or, when `fields` is null or absent, from
 * `payload_hex`; `form: "extended"` keeps the extended form for short values.
 *
 * @param input the parsed JSON of one message
 * @param options numbering and clock
 * @returns the frame bytes
 * @throws {MessageJsonError} for input that does not describe an encodable message
 * @example
 * ```ts
 * const hb = { instrument_id: "0", timestamp_ns: "0" };
 *
 * const frame = encodeMessageJson({ header: { sequence: 7 }, tlvs: [{ type: 100, fields: hb }] });
 * ```
 */
export function encodeMessageJson(input: unknown, options: EncodeJsonOptions = {}): Uint8Array {
  return encodeAt(input, options, "");
}

function encodeAt(input: unknown, options: EncodeJsonOptions, at: string): Uint8Array {
  const legacy = options.legacyNumbering ?? false;
  if (!isObject(input)) fail(at === "" ? "the input" : at.slice(0, -1), "is not an object");
  const header = input.header ?? {};
  if (!isObject(header)) fail(`${at}header`, "is not an object");
  const rawTlvs = input.tlvs ?? [];
  if (!Array.isArray(rawTlvs)) fail(`${at}tlvs`, "is not an array");
  const parts = rawTlvs.map((t, i) => tlvParts(t, `${at}tlvs[${i}]`));
  const domain = relayDomain(header, rawTlvs, legacy, at);
  let source: number = DEFAULT_SOURCE;
  if (typeof header.source === "string" && !/^\s*\d+\s*$/.test(header.source)) {
    source = sourceFromName(header.source, legacy, `${at}header.source`);
  } else if (header.source !== undefined && header.source !== null) {
    source = small(header.source, `${at}header.source`, 255);
  } else if (typeof header.source_name === "string") {
    source = sourceFromName(header.source_name, legacy, `${at}header.source_name`);
  }
  const opt = (key: string, max: bigint): bigint | undefined =>
    header[key] === undefined || header[key] === null
      ? undefined
      : integer(header[key], `${at}header.${key}`, max);
  const timestamp = opt("timestamp", U64_MAX) ?? opt("timestamp_ns", U64_MAX) ??
    (options.now ?? nowNs)();
  const checksum = opt("checksum", 0xffffffffn);
  const payloadSize = parts.reduce((n, p) => n + (p.extended ? 5 : 2) + p.value.length, 0);
  const size = HEADER_SIZE + payloadSize;
  if (size > MAX_MESSAGE_SIZE) {
    fail(`${at}tlvs`, `make a ${size}-byte message, limit ${MAX_MESSAGE_SIZE}`);
  }
  const out = new Uint8Array(size);
  encodeHeader(
    {
      magic: Number(opt("magic", 0xffffffffn) ?? BigInt(MAGIC)),
      relayDomain: domain,
      version: Number(opt("version", 255n) ?? 1n),
      source,
      flags: Number(opt("flags", 255n) ?? 0n),
      sequence: opt("sequence", U64_MAX) ?? 1n,
      timestamp,
      payloadSize,
      checksum: 0,
    },
    out,
    0,
  );
  let off = HEADER_SIZE;
  for (const p of parts) {
    if (p.extended && p.value.length <= MAX_STANDARD_LENGTH) {
      out.set([255, 0, p.type, p.value.length & 0xff, p.value.length >>> 8], off);
      off += 5;
    } else {
      off = writeTlvHeader(out, off, p.type, p.value.length);
    }
    out.set(p.value, off);
    off += p.value.length;
  }
  if (checksum !== 0n) sealChecksum(out, 0);
  return out;
}

/**
 * Builds one message from an object, or several from an array (concatenated
 * back to back, as on a stream).
 *
 * @param input the parsed JSON: a message object or an array of them
 * @param options numbering and clock
 * @returns the frame bytes
 * @throws {MessageJsonError} for input that does not describe encodable messages
 * @example
 * ```ts
 * declare const decodeJsonText: string;
 *
 * const bytes = encodeMessagesJson(JSON.parse(decodeJsonText));
 * ```
 */
export function encodeMessagesJson(input: unknown, options: EncodeJsonOptions = {}): Uint8Array {
  if (!Array.isArray(input)) return encodeAt(input, options, "");
  const frames = input.map((m, i) => encodeAt(m, options, `[${i}].`));
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}
