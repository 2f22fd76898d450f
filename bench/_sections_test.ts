import assert from "node:assert/strict";
import { markSection, putSection } from "./_sections.ts";

const JOURNAL = markSection("journal-bench", "## Execution journal\n\n| a |\n| - |\n| 1 |");

Deno.test("putSection replaces its own section and keeps the sections after it", () => {
  const text = `${markSection("peers-bench", "# Old report\n\nold table")}\n${JOURNAL}`;
  const out = putSection(text, "peers-bench", "# New report", "first");
  assert.equal(out, `${markSection("peers-bench", "# New report")}\n${JOURNAL}`);
});

Deno.test("putSection keeps what stands before and after a section it replaces", () => {
  const text = `intro\n\n${markSection("journal-bench", "old")}\noutro\n`;
  const out = putSection(text, "journal-bench", "new", "last");
  assert.equal(out, `intro\n\n${markSection("journal-bench", "new")}\noutro\n`);
});

Deno.test("putSection first: an unmarked head is an older copy of the report; the rest is kept", () => {
  // BENCHMARKS.md as bench/peers.ts wrote it before it marked its section.
  const text = `# Benchmarks\n\n## Method\n\n- old\n\n${JOURNAL}`;
  const out = putSection(text, "peers-bench", "# Benchmarks\n\nnew", "first");
  assert.equal(out, `${markSection("peers-bench", "# Benchmarks\n\nnew")}\n${JOURNAL}`);
  // Written again: the same file, not a second copy.
  assert.equal(putSection(out, "peers-bench", "# Benchmarks\n\nnew", "first"), out);
});

Deno.test("putSection last appends to a file without the section, once", () => {
  const out = putSection("# Benchmarks\n", "journal-bench", "## Journal", "last");
  assert.equal(out, `# Benchmarks\n\n${markSection("journal-bench", "## Journal")}`);
  assert.equal(putSection(out, "journal-bench", "## Journal", "last"), out);
  assert.equal(putSection("", "journal-bench", "x", "last"), markSection("journal-bench", "x"));
});

Deno.test("putSection refuses a section whose end marker is missing", () => {
  assert.throws(
    () => putSection("<!-- peers-bench:start -->\n# cut\n", "peers-bench", "x", "first"),
    /Cannot replace section "peers-bench": "<!-- peers-bench:start -->" has no end marker/,
  );
});
