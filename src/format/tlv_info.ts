/**
 * `torq tlv-info` formatting (PROTOCOL.md 8.4): the registry table grouped by
 * domain, one type's entry with its field table, the JSON forms, and the
 * "unknown type" line that names the assigned ranges. Everything is computed
 * from the single registry in `src/protocol/registry.ts`.
 *
 * @module
 */

import {
  domainName,
  formatSizeRule,
  lookupTlvType,
  maxTailLength,
  parseDomain,
  REGISTRY_DOMAINS,
  type RegistryDomain,
  TLV_TYPES,
  type TlvTypeInfo,
} from "../protocol/mod.ts";
import { didYouMean } from "../text/mod.ts";

/** Registry domains in display order. */
export const DOMAIN_ORDER: readonly RegistryDomain[] = REGISTRY_DOMAINS;

const DOMAIN_TITLES: Readonly<Record<RegistryDomain, string>> = {
  market_data: "Market data (market_data)",
  signal: "Signal (signal)",
  execution: "Execution (execution)",
  system: "System (system)",
  vendor: "Vendor (vendor)",
  any: "Framing (any)",
};

/**
 * Parses the `--domain` filter of `tlv-info`: the relay domains in any common
 * spelling (`market-data`, `market_data`, `signal`, `execution`, `system`, …)
 * plus `vendor`.
 *
 * @param text the option value
 * @returns the registry domain, or `undefined` when the text names none
 * @example
 * ```ts
 * parseRegistryDomain("market-data"); // "market_data"
 * ```
 */
export function parseRegistryDomain(text: string): RegistryDomain | undefined {
  const t = text.trim().toLowerCase();
  if (t === "vendor") return "vendor";
  const d = parseDomain(t);
  if (d === undefined) return undefined;
  return domainName(d);
}

/**
 * Which relay carries a TLV type, by its number range (3.2, 7.5).
 *
 * @param type TLV type number
 * @returns a short phrase such as `signal relay`
 * @example
 * ```ts
 * relayFor(1); // "market-data relay"
 * relayFor(65); // "signal relay (also accepted by the execution relay)"
 * ```
 */
export function relayFor(type: number): string {
  if (type >= 1 && type <= 19) return "market-data relay";
  if (type >= 20 && type <= 39) return "signal relay";
  if (type >= 40 && type <= 59) return "execution relay";
  if (type >= 60 && type <= 79) return "signal relay (also accepted by the execution relay)";
  if (type >= 80 && type <= 99) return "system relay";
  if (type >= 100 && type <= 119) {
    return "system relay; as a system control type it may travel on any relay (3.2)";
  }
  if (type >= 200 && type <= 254) {
    return "any relay (vendor type; routing configurable, forwarded by performance and standard relays)";
  }
  if (type === 255) return "none (extended-form marker, never a payload type)";
  return "none (unallocated number)";
}

/**
 * The assigned payload type numbers as compact ranges, e.g.
 * `1–32, 40–49, 60–72, 80–90, 100–108, 110–113, 200–204`.
 *
 * @returns the ranges joined with `, `
 * @example
 * ```ts
 * assignedRanges(); // "1–32, 40–49, 60–72, 80–90, 100–108, 110–113, 200–204"
 * ```
 */
export function assignedRanges(): string {
  const numbers = TLV_TYPES.map((t) => t.type).filter((n) => n >= 1 && n <= 254);
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const first = numbers[i]!;
    let last = first;
    while (i + 1 < numbers.length && numbers[i + 1] === last + 1) last = numbers[++i]!;
    parts.push(first === last ? `${first}` : `${first}–${last}`);
    i++;
  }
  return parts.join(", ");
}

/**
 * The one-line explanation printed for a type that the registry does not know.
 *
 * @param query what the user asked for
 * @returns e.g. `unknown TLV type "999": use a number 1–254 or a name such as ArbitrageSignal (assigned: …)`
 * @example
 * ```ts
 * unknownTypeMessage("999");
 * ```
 */
export function unknownTypeMessage(query: string): string {
  const hint = didYouMean(query, tlvInfosOf(undefined).map((i) => i.name));
  return `unknown TLV type ${JSON.stringify(query)}${hint}` +
    (hint === ""
      ? `: use a number 1–254 or a name such as ArbitrageSignal (assigned: ${assignedRanges()})`
      : "");
}

/**
 * Finds a registry entry by number or name (case-insensitive).
 *
 * @param query e.g. `20` or `arbitragesignal`
 * @returns the entry, or `undefined`
 * @example
 * ```ts
 * findTlvInfo("arbitragesignal")?.type; // 32
 * ```
 */
export function findTlvInfo(query: string): TlvTypeInfo | undefined {
  return lookupTlvType(query);
}

/**
 * The registry entries of one domain, or all of them.
 *
 * @param domain a registry domain, or `undefined` for every entry
 * @returns entries in type order
 * @example
 * ```ts
 * tlvInfosOf("execution").length; // 10
 * ```
 */
export function tlvInfosOf(domain?: RegistryDomain): TlvTypeInfo[] {
  return TLV_TYPES.filter((t) => domain === undefined || t.domain === domain);
}

function layoutLabel(info: TlvTypeInfo): string {
  if (info.layoutSize === undefined || info.size.kind === "fixed") return info.layout;
  return `${info.layout} (${info.layoutSize})`;
}

function row(
  cells: readonly string[],
  widths: readonly number[],
  right: readonly boolean[],
): string {
  return cells
    .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
    .join("  ")
    .trimEnd();
}

function columnWidths(head: readonly string[], rows: readonly (readonly string[])[]): number[] {
  return head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
}

function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
  widths: readonly number[] = columnWidths(head, rows),
): string[] {
  return [
    "  " + row(head, widths, right),
    "  " + row(widths.map((w) => "-".repeat(w)), widths, right),
    ...rows.map((r) => "  " + row(r, widths, right)),
  ];
}

function sizeText(info: TlvTypeInfo): string {
  return info.size.kind === "fixed" && info.size.size === 1 ? "1 byte" : formatSizeRule(info.size);
}

/**
 * The registry as a text table grouped by domain: type, name, domain, size
 * rule and layout status per row.
 *
 * @param domain only this domain (default: all)
 * @returns the text, lines joined with `\n`
 * @example
 * ```ts
 * console.log(formatTlvTable());
 * ```
 */
export function formatTlvTable(domain?: RegistryDomain): string {
  const head = ["Type", "Name", "Domain", "Size", "Layout"];
  const right = [true, false, false, false, false];
  const entries = tlvInfosOf(domain);
  const rowOf = (t: TlvTypeInfo) => [String(t.type), t.name, t.domain, sizeText(t), layoutLabel(t)];
  const widths = columnWidths(head, entries.map(rowOf));
  const lines: string[] = [];
  for (const d of DOMAIN_ORDER) {
    const group = entries.filter((t) => t.domain === d);
    if (group.length === 0) continue;
    if (lines.length > 0) lines.push("");
    const count = group.length === 1 ? "1 type" : `${group.length} types`;
    lines.push(`${DOMAIN_TITLES[d]}: ${count}`);
    lines.push(...table(head, group.map(rowOf), right, widths));
  }
  const layouts = entries.filter((t) =>
    t.layout === "reference" || t.layout === "provisional" || t.layout === "registered"
  );
  lines.push(
    "",
    `${entries.length} entries, ${layouts.length} with a field layout (reference: defined by the`,
    "reference implementation; provisional: defined by the spec; opaque: raw bytes).",
  );
  const registered = entries.filter((t) => t.layout === "registered").length;
  if (registered > 0) {
    lines.push(
      `${
        registered === 1 ? "1 layout is" : `${registered} layouts are`
      } registered: loaded at run time from a schema file.`,
    );
  }
  return lines.join("\n");
}

function isPad(name: string, type: string): boolean {
  return name.startsWith("_") || type.startsWith("pad");
}

function sizeKind(info: TlvTypeInfo): string {
  switch (info.size.kind) {
    case "fixed":
      return `${sizeText(info)} (fixed)`;
    case "bounded":
      return `${info.size.min}-${info.size.max} bytes (bounded)`;
    case "variable":
      return "variable (any length the TLV form allows)";
    default:
      return "marker (not a payload)";
  }
}

function referenceSizeText(info: TlvTypeInfo): string | undefined {
  const r = info.referenceSize;
  if (r === undefined) return undefined;
  return typeof r === "number" ? `${r} bytes` : `${r.min}-${r.max} bytes`;
}

/**
 * One type's registry entry as text: name, description, domain, relay, size
 * rule, layout, notes, then the field table (offset, size, type, name; padding
 * shown as `pad`).
 *
 * @param info the registry entry
 * @returns the text, lines joined with `\n`
 * @example
 * ```ts
 * import { lookupTlvType } from "../protocol/mod.ts";
 *
 * console.log(formatTlvDetail(lookupTlvType("32")!));
 * ```
 */
export function formatTlvDetail(info: TlvTypeInfo): string {
  const props: [string, string][] = [
    ["Description", info.description],
    ["Domain", info.domain],
    ["Relay", relayFor(info.type)],
    ["Size", sizeKind(info)],
  ];
  const layout = info.layoutSize === undefined
    ? info.layout
    : maxTailLength(info) > 0
    ? `${info.layout}, ${info.layoutSize}-byte header + tail`
    : `${info.layout}, ${info.layoutSize} bytes`;
  props.push(["Layout", layout]);
  const ref = referenceSizeText(info);
  if (ref !== undefined) props.push(["Reference size", ref]);
  if (info.notes !== undefined) props.push(["Notes", info.notes]);
  const width = Math.max(...props.map(([k]) => k.length));
  const lines = [`${info.name} (type ${info.type})`, ""];
  for (const [k, v] of props) lines.push(`  ${k.padEnd(width)}  ${v}`);
  if (info.fields !== undefined && info.fields.length > 0) {
    const rows = info.fields.map((f) => {
      const pad = isPad(f.name, f.type);
      return [
        String(f.offset),
        String(f.size),
        pad ? "pad" : f.type,
        pad && f.name.startsWith("_") ? "pad" : f.name,
      ];
    });
    const tail = maxTailLength(info);
    if (tail > 0) rows.push([String(info.layoutSize), `0-${tail}`, "bytes", "tail"]);
    lines.push("", "Fields:");
    lines.push(...table(["Offset", "Size", "Type", "Name"], rows, [true, true, false, false]));
    if (tail > 0) {
      lines.push(
        "",
        `The layout is the header of a longer payload: bytes past offset ${info.layoutSize} are shown as`,
        "tail (hex in JSON), PROTOCOL.md 5.1 [D-38].",
      );
    }
  } else if (info.layout === "opaque") {
    lines.push("", "No field layout yet: the payload is shown as raw bytes.");
  }
  return lines.join("\n");
}

/**
 * One registry entry as a JSON-ready object, in the shape of `tlv-types.yaml`
 * (`type, name, domain, size_kind, size, layout, layout_size, description,
 * reference_size, notes, fields`) plus `relay`.
 *
 * @param info the registry entry
 * @returns a plain object
 * @example
 * ```ts
 * import { lookupTlvType } from "../protocol/mod.ts";
 *
 * JSON.stringify(tlvInfoToJson(lookupTlvType("32")!));
 * ```
 */
export function tlvInfoToJson(info: TlvTypeInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: info.type,
    name: info.name,
    domain: info.domain,
    size_kind: info.size.kind,
    size: info.size.kind === "fixed"
      ? info.size.size
      : info.size.kind === "bounded"
      ? { min: info.size.min, max: info.size.max }
      : null,
    layout: info.layout,
  };
  if (info.layoutSize !== undefined) out.layout_size = info.layoutSize;
  out.description = info.description;
  if (info.referenceSize !== undefined) out.reference_size = info.referenceSize;
  if (info.notes !== undefined) out.notes = info.notes;
  out.relay = relayFor(info.type);
  if (info.fields !== undefined) {
    out.fields = info.fields.map((f) => ({
      offset: f.offset,
      name: f.name,
      type: f.type,
      size: f.size,
    }));
    const tail = maxTailLength(info);
    if (tail > 0) out.tail = { offset: info.layoutSize, max_size: tail };
  }
  return out;
}
