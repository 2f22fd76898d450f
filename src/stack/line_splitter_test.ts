import assert from "node:assert/strict";
import { LineSplitter } from "./line_splitter.ts";

function split(chunks: (string | Uint8Array)[], max?: number): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), max);
  for (const c of chunks) s.push(typeof c === "string" ? new TextEncoder().encode(c) : c);
  s.end();
  return lines;
}

Deno.test("LineSplitter passes complete lines on and keeps a partial one", () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  s.push(new TextEncoder().encode("one\ntw"));
  assert.deepEqual(lines, ["one"]);
  s.push(new TextEncoder().encode("o\r\n\nthree"));
  assert.deepEqual(lines, ["one", "two", ""]);
  s.end();
  assert.deepEqual(lines, ["one", "two", "", "three"]);
});

Deno.test("LineSplitter decodes UTF-8 split across chunks", () => {
  const bytes = new TextEncoder().encode("prix 45 000 € ✓\n");
  const at = bytes.indexOf(0xe2) + 1; // inside the euro sign
  assert.deepEqual(split([bytes.subarray(0, at), bytes.subarray(at)]), ["prix 45 000 € ✓"]);
});

Deno.test("LineSplitter cuts a runaway line into bounded pieces", () => {
  assert.deepEqual(split(["abcdefgh", "ij\nk"], 4), ["abcd", "efgh", "ij", "k"]);
});

Deno.test("LineSplitter passes nothing for an empty stream", () => {
  assert.deepEqual(split([]), []);
});
