/**
 * The `yaml` package (npm), loaded from its platform-neutral build.
 *
 * The package's Node build, which Deno picks through the `node` export condition, reads
 * `process.env.LOG_TOKENS` for every token it parses and `process.env.LOG_STREAM` once per document
 * (debug hooks). In Deno that is an environment-permission check, so parsing YAML would fail with
 * `NotCapable` unless the program runs with `--allow-env`. The package's "browser" build is the same
 * code without those hooks; it uses no platform API at all. Types come from the package as usual.
 *
 * Internal: use the names re-exported here instead of importing "yaml" in this folder.
 *
 * @module
 */

import type * as YamlApi from "yaml";
import type { Document as YamlDocument, Node as YamlNode } from "yaml";
import type { KeyPath } from "./_util.ts";
import * as neutralBuild from "../../node_modules/yaml/browser/dist/index.js";

const _yaml = neutralBuild as unknown as typeof YamlApi;

/** `Document` of the `yaml` package. */
export const Document: typeof YamlApi.Document = _yaml.Document;
/** `LineCounter` of the `yaml` package. */
export const LineCounter: typeof YamlApi.LineCounter = _yaml.LineCounter;
/** `parseDocument` of the `yaml` package. */
export const parseDocument: typeof YamlApi.parseDocument = _yaml.parseDocument;
/** `parse` of the `yaml` package. */
export const parse: typeof YamlApi.parse = _yaml.parse;
/** `visit` of the `yaml` package. */
export const visit: typeof YamlApi.visit = _yaml.visit;
/** `isAlias` of the `yaml` package. */
export const isAlias: typeof YamlApi.isAlias = _yaml.isAlias;
/** `isMap` of the `yaml` package. */
export const isMap: typeof YamlApi.isMap = _yaml.isMap;
/** `isScalar` of the `yaml` package. */
export const isScalar: typeof YamlApi.isScalar = _yaml.isScalar;
/** `isSeq` of the `yaml` package. */
export const isSeq: typeof YamlApi.isSeq = _yaml.isSeq;

export type { Document as YamlDocument, Node as YamlNode } from "yaml";

/** Largest configuration or schema file read, in bytes (1 MiB): real ones are a few kB. */
export const MAX_YAML_BYTES = 1_048_576;

/** A parsed YAML text with its problems and a way to find the line of any key. */
export interface ParsedYaml {
  /** The document (undefined content when there are errors). */
  doc: YamlDocument.Parsed;
  /** Syntax errors and repeated keys, each with its 1-based line, in line order. */
  errors: { message: string; line: number }[];
  /**
   * The 1-based line of the key or value at `path`: the deepest node that
   * exists, so a missing key is reported where its parent is. Costs one map
   * look-up per path element.
   */
  lineOf(path: KeyPath, at: "key" | "value"): number | undefined;
  /** The 1-based line of a character offset. */
  lineAt(offset: number): number;
}

/**
 * Parses a YAML text in time linear in its size, keys included. The package's
 * own repeated-key check (`uniqueKeys`) compares each key with every earlier one
 * of its mapping, so 20,000 keys took seconds; here one pass over the document
 * finds repeated keys with a hash map per mapping, and keeps those maps to locate
 * lines later.
 *
 * @param text YAML text
 * @returns the document, its problems and line look-ups
 * @example
 * ```ts
 * const parsed = parseYaml("a:\n  b: 1\n");
 * parsed.lineOf(["a", "b"], "value"); // 2
 * ```
 */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  // An error found at the end of the input (an unclosed bracket) points at the last line.
  const lastLine = Math.max(1, countLines(text.trimEnd()));
  const errors = doc.errors.map((error) => ({
    message: error.message.split("\n")[0]!,
    line: Math.min(lineAt(error.pos[0]), lastLine),
  }));
  const keys = new Map<unknown, Map<string, YamlPair>>();
  if (errors.length === 0) {
    visit(doc, {
      Map(_key, map) {
        const seen = new Map<unknown, YamlPair>();
        const byText = new Map<string, YamlPair>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const value = pair.key.value;
          if (seen.has(value)) {
            errors.push({
              message: `Map keys must be unique: ${JSON.stringify(String(value))} is repeated`,
              line: lineAt(pair.key.range?.[0] ?? 0),
            });
          } else seen.set(value, pair);
          if (!byText.has(String(value))) byText.set(String(value), pair);
        }
        keys.set(map, byText);
      },
    });
    errors.sort((a, b) => a.line - b.line);
  }
  const lineOfNode = (node: unknown): number | undefined => {
    const range = (node as YamlNode | null)?.range;
    return range ? lineAt(range[0]) : undefined;
  };
  const lineOf = (path: KeyPath, at: "key" | "value"): number | undefined => {
    let node: unknown = doc.contents;
    let line = lineOfNode(node);
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(doc);
      const key = path[i];
      if (isMap(node)) {
        const pair = keys.get(node)?.get(String(key));
        if (pair === undefined) return line;
        const keyLine = lineOfNode(pair.key) ?? line;
        if (i === path.length - 1 && at === "key") return keyLine;
        node = pair.value;
        line = lineOfNode(node) ?? keyLine;
      } else if (isSeq(node) && typeof key === "number") {
        node = node.items[key];
        line = lineOfNode(node) ?? line;
      } else {
        return line;
      }
    }
    return line;
  };
  return { doc, errors, lineOf, lineAt };
}

type YamlPair = { key: unknown; value: unknown };

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
