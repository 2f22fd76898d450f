import assert from "node:assert/strict";
import { lookupTlvType, TLV_TYPES } from "../protocol/registry.ts";
import {
  assignedRanges,
  formatTlvDetail,
  formatTlvTable,
  parseRegistryDomain,
  relayFor,
  tlvInfoToJson,
  unknownTypeMessage,
} from "./tlv_info.ts";

Deno.test("assignedRanges() compresses the registry's numbers", () => {
  assert.equal(assignedRanges(), "1–32, 40–49, 60–72, 80–90, 100–108, 110–113, 200–204");
  assert.match(unknownTypeMessage("Frob"), /^unknown TLV type "Frob": use a number 1–254/);
});

Deno.test("relayFor() follows the number ranges of 3.2", () => {
  const cases: [number, RegExp][] = [
    [1, /^market-data relay$/],
    [19, /^market-data relay$/],
    [32, /^signal relay$/],
    [42, /^execution relay$/],
    [65, /^signal relay \(also accepted by the execution relay\)$/],
    [85, /^system relay$/],
    [100, /may travel on any relay/],
    [200, /vendor/],
    [255, /marker/],
  ];
  for (const [type, re] of cases) assert.match(relayFor(type), re, String(type));
});

Deno.test("parseRegistryDomain() accepts the common spellings", () => {
  assert.equal(parseRegistryDomain("market-data"), "market_data");
  assert.equal(parseRegistryDomain("market_data"), "market_data");
  assert.equal(parseRegistryDomain("Signal"), "signal");
  assert.equal(parseRegistryDomain("execution"), "execution");
  assert.equal(parseRegistryDomain("system"), "system");
  assert.equal(parseRegistryDomain("vendor"), "vendor");
  assert.equal(parseRegistryDomain("frob"), undefined);
});

Deno.test("formatTlvTable() lists every type, grouped and filtered by domain", () => {
  const all = formatTlvTable();
  for (const t of TLV_TYPES) assert.match(all, new RegExp(`^\\s+${t.type}\\s+${t.name}\\s`, "m"));
  const exec = formatTlvTable("execution");
  assert.match(exec, /^Execution \(execution\): 10 types$/m);
  assert.doesNotMatch(exec, /\bTrade\b/);
  assert.match(all, /^\s+3\s+OrderBook\s+market_data\s+variable\s+reference \(2456\)$/m);
});

Deno.test("formatTlvDetail() shows the field table with pads as pad", () => {
  const text = formatTlvDetail(lookupTlvType("Trade")!);
  assert.match(text, /^Trade \(type 1\)$/m);
  assert.match(text, /^\s+Relay\s+market-data relay$/m);
  assert.match(text, /^\s+8\s+8\s+i64\s+price$/m);
  assert.match(text, /^\s+37\s+3\s+pad\s+pad$/m);
  const quote = formatTlvDetail(lookupTlvType("2")!);
  assert.match(quote, /^\s+Reference size\s+52 bytes$/m);
  assert.match(quote, /^\s+Notes\s+Reference registry says 52/m);
  assert.match(formatTlvDetail(lookupTlvType("4")!), /raw bytes/);
});

Deno.test("tlvInfoToJson() uses the YAML's keys", () => {
  const j = tlvInfoToJson(lookupTlvType("11")!);
  assert.equal(j.size_kind, "bounded");
  assert.deepEqual(j.size, { min: 60, max: 208 });
  assert.equal(j.layout_size, 208);
  assert.deepEqual(j.reference_size, { min: 60, max: 200 });
  assert.equal(tlvInfoToJson(lookupTlvType("255")!).size, null);
});
