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

/**
 * The 1-based line of the key or value at `path` in a parsed YAML document: the
 * deepest node that exists, so a missing key is reported where its parent is.
 *
 * @param doc the parsed document
 * @param path keys and indexes from the root
 * @param at the key itself or its value
 * @param lineAt maps a character offset to its line (a LineCounter's linePos)
 * @returns the line, or undefined when the document has no position data
 */
export function lineOf(
  doc: YamlDocument.Parsed,
  path: KeyPath,
  at: "key" | "value",
  lineAt: (offset: number) => number,
): number | undefined {
  const lineOfNode = (node: unknown): number | undefined => {
    const range = (node as YamlNode | null)?.range;
    return range ? lineAt(range[0]) : undefined;
  };
  let node: unknown = doc.contents;
  let line = lineOfNode(node);
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const key = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
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
}
