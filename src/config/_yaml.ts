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
