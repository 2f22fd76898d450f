/**
 * BENCHMARKS.md is written by several benches, each owning one section
 * between `<!-- NAME:start -->` and `<!-- NAME:end -->` lines: a bench
 * replaces its own section and keeps every byte of the others.
 *
 * @module
 */

/** Where a section goes in a file that does not have it yet. */
export type Placement = "first" | "last";

const startOf = (name: string) => `<!-- ${name}:start -->`;
const endOf = (name: string) => `<!-- ${name}:end -->`;
const ANY_START = /^<!-- [\w.-]+:start -->$/m;

/**
 * Wraps `body` in the markers of section `name`.
 *
 * @param name the section's name, e.g. `peers-bench`
 * @param body its Markdown
 * @returns the marked section, ending with a newline
 */
export function markSection(name: string, body: string): string {
  return `${startOf(name)}\n\n${body.trim()}\n\n${endOf(name)}\n`;
}

/**
 * Puts the marked section `name` into `text`: in place of the one there, or,
 * when there is none, first or last.
 *
 * `first` is for the report at the head of the file: text before the first
 * marked section that belongs to no section is taken for an older, unmarked
 * copy of it (the file as the bench wrote it before sections were marked) and
 * replaced; every marked section of another name is kept as it is.
 *
 * @param text the file's current text ("" for none)
 * @param name the section's name
 * @param body its Markdown, without markers
 * @param placement where it goes when `text` does not have it
 * @returns the new text
 * @throws Error when `text` has the start marker of `name` without its end marker
 * @example
 * ```ts
 * putSection("# old\n", "peers-bench", "# new", "first");
 * // "<!-- peers-bench:start -->\n\n# new\n\n<!-- peers-bench:end -->\n"
 * ```
 */
export function putSection(text: string, name: string, body: string, placement: Placement): string {
  const section = markSection(name, body);
  const start = text.indexOf(startOf(name));
  if (start >= 0) {
    const end = text.indexOf(endOf(name), start);
    if (end < 0) {
      throw new Error(`Cannot replace section "${name}": "${startOf(name)}" has no end marker`);
    }
    let after = end + endOf(name).length;
    if (text[after] === "\n") after++;
    return text.slice(0, start) + section + text.slice(after);
  }
  if (placement === "last") return text.trim() === "" ? section : `${text.trimEnd()}\n\n${section}`;
  const other = ANY_START.exec(text);
  return other === null ? section : `${section}\n${text.slice(other.index)}`;
}
