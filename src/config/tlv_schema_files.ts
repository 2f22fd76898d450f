/**
 * TLV schema files: YAML files that give vendor TLVs (and opaque assigned types) a
 * field layout at run time (PROTOCOL.md 5.8), named in the configuration's
 * `schemas:` list or with `--schemas FILE`. This module reads and validates
 * them and reports every problem with its file, path and line:
 *
 * ```
 * Cannot load schemas: 2 problems
 *   schemas.yaml: types[0].fields[2].offset: overlaps "price" at bytes 8–15 (line 14)
 *   schemas.yaml: types[1].type: expected at most 254, got 300 (line 17)
 * ```
 *
 * The shape is checked here (zod, as the configuration is); the rules of 5.8
 * (numbers, names, field types, overlaps, sizes) are the codec's own
 * `checkSchemas()`, run over every file together so that two files cannot give
 * one number two layouts. Registering the result is the caller's step
 * (`registerSchemas()`), so a file with a problem changes nothing.
 *
 * File format (keys in snake_case like the configuration):
 *
 * ```yaml
 * types:
 *   - type: 210                 # 200–254, or an assigned number whose layout is opaque
 *     name: AcmeTopOfBook       # required for a new vendor number
 *     domain: market_data       # market_data | signal | execution | system | vendor (default)
 *     size: 32                  # bytes (fixed), {min: N, max: M}, or variable
 *     layout_size: 32           # optional: bytes the field decoder takes
 *     description: Acme's top of book
 *     fields:
 *       - { name: asset_id, offset: 0, type: u64 }
 *       - { name: price, offset: 8, type: i64 }
 * ```
 *
 * @module
 */

import { z } from "zod";
import { MAX_YAML_BYTES, parseYaml } from "./_yaml.ts";
import { dottedPath, FileTooLarge, readBounded, show } from "./_util.ts";
import type { KeyPath } from "./_util.ts";
import { type ConfigIssue, problemsMessage } from "./errors.ts";
import { describeIssue } from "./_zod.ts";
import {
  checkSchemas,
  REGISTRY_DOMAINS,
  type RegistryDomain,
  type SchemaDefinition,
  type SchemaSize,
} from "../protocol/mod.ts";

/** Options of {@linkcode loadSchemaFiles}. */
export interface LoadSchemaOptions {
  /** Reads a file; default: read it as UTF-8, refusing one over 1 MiB before reading it whole. */
  readFile?: (path: string) => string;
}

/**
 * Format one schema-file problem as a line: `FILE: path: message (line N)`.
 *
 * @param issue the problem
 * @returns the line
 * @example
 * ```ts
 * formatSchemaIssue({ file: "s.yaml", path: "types[0].name", message: "missing", line: 2 });
 * // "s.yaml: types[0].name: missing (line 2)"
 * ```
 */
export function formatSchemaIssue(issue: ConfigIssue): string {
  const file = issue.file === undefined ? "" : `${issue.file}: `;
  const path = issue.path === "" ? "" : `${issue.path}: `;
  const line = issue.line === undefined ? "" : ` (line ${issue.line})`;
  return `${file}${path}${issue.message}${line}`;
}

/**
 * Thrown when a schema file cannot be read or parsed, or describes schemas
 * that cannot be registered. `issues` holds every problem; the message lists
 * them one per line, each with its file, path and line.
 *
 * @example
 * ```ts
 * try {
 *   parseSchemaText("types: [{type: 1}]", "s.yaml");
 * } catch (e) {
 *   if (e instanceof SchemaFileError) console.error(e.message);
 * }
 * ```
 */
export class SchemaFileError extends Error {
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /**
   * Build the error; the message lists every issue.
   *
   * @param issues the problems (at least one)
   */
  constructor(issues: readonly ConfigIssue[]) {
    super(problemsMessage("Cannot load schemas", issues.map(formatSchemaIssue)));
    this.name = "SchemaFileError";
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------
// The shape of a schema file.

/** The domains a schema file may name: the registry's, but `any` (framing types only). */
const DOMAINS = REGISTRY_DOMAINS.filter((d) => d !== "any") as [
  Exclude<RegistryDomain, "any">,
  ...Exclude<RegistryDomain, "any">[],
];

const _count = (min: number) => z.int().min(min).max(65_535);

const _size = z.custom<SchemaSize>().superRefine((value: unknown, ctx) => {
  if (value === "variable") return;
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65_535) {
    return;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const { min, max, ...rest } = value as Record<string, unknown>;
    const ok = (n: unknown, lo: number) =>
      typeof n === "number" && Number.isInteger(n) && n >= lo && n <= 65_535;
    if (
      Object.keys(rest).length === 0 && ok(min, 0) && ok(max, 1) &&
      (min as number) <= (max as number)
    ) {
      return;
    }
  }
  ctx.addIssue({
    code: "custom",
    message: `expected a byte count from 1 to 65535, {min: N, max: M} or "variable", got ${
      typeof value === "object" && value !== null && !Array.isArray(value)
        ? JSON.stringify(value)
        : show(value)
    }`,
  });
});

const _fieldSchema = z.strictObject({
  name: z.string(),
  offset: _count(0),
  type: z.string(),
  size: _count(1).optional(),
});

const _typeSchema = z.strictObject({
  type: z.int().min(1).max(255),
  name: z.string().optional(),
  domain: z.enum(DOMAINS).optional(),
  size: _size.optional(),
  layout_size: _count(1).optional(),
  description: z.string().optional(),
  fields: z.array(_fieldSchema).min(1),
});

const _fileSchema = z.strictObject({ types: z.array(_typeSchema) });

type _TypeDoc = z.output<typeof _typeSchema>;

/** One parsed file: its schemas and how to find a path's line. */
interface _Parsed {
  file: string;
  defs: SchemaDefinition[];
  lineOf: (path: KeyPath, at: "key" | "value") => number | undefined;
}

function _definition(t: _TypeDoc, file: string): SchemaDefinition {
  return {
    type: t.type,
    ...(t.name === undefined ? {} : { name: t.name }),
    ...(t.domain === undefined ? {} : { domain: t.domain as RegistryDomain }),
    ...(t.size === undefined ? {} : { size: t.size }),
    ...(t.layout_size === undefined ? {} : { layoutSize: t.layout_size }),
    ...(t.description === undefined ? {} : { description: t.description }),
    source: file,
    fields: t.fields.map((f) => ({
      name: f.name,
      offset: f.offset,
      type: f.type,
      ...(f.size === undefined ? {} : { size: f.size }),
    })),
  };
}

/** Parse and shape-check one file; problems go to `issues`. */
function _parse(text: string, file: string, issues: ConfigIssue[]): _Parsed | undefined {
  const { doc, errors, lineOf } = parseYaml(text);
  if (errors.length > 0) {
    for (const error of errors) {
      issues.push({
        path: "",
        message: `Cannot parse YAML: ${error.message}`,
        file,
        line: error.line,
      });
    }
    return undefined;
  }
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  const parsed = _fileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const found: ConfigIssue[] = [];
    for (const issue of parsed.error.issues) {
      for (const p of describeIssue(issue, data, _fileSchema)) {
        const line = lineOf(p.path, p.at);
        found.push({
          path: dottedPath(p.path),
          message: p.message,
          file,
          ...(line === undefined ? {} : { line }),
        });
      }
    }
    // In reading order.
    issues.push(...found.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
    return undefined;
  }
  return { file, defs: parsed.data.types.map((t) => _definition(t, file)), lineOf };
}

/**
 * Parse one schema file's text and check its schemas against the registry (as
 * it is now) and each other. Registers nothing.
 *
 * @param text YAML text
 * @param fileName name used in messages
 * @returns the schemas, ready for `registerSchemas()`
 * @throws {SchemaFileError} listing every problem with its path and line
 * @example
 * ```ts
 * import { registerSchemas } from "../protocol/mod.ts";
 *
 * const defs = parseSchemaText(Deno.readTextFileSync("config/schemas/example_vendor.yaml"), "example_vendor.yaml");
 * registerSchemas(defs);
 * ```
 */
export function parseSchemaText(text: string, fileName: string): SchemaDefinition[] {
  return _check([{ name: fileName, text }]);
}

/**
 * Read, parse and check schema files, all of them together: every problem of
 * every file is reported, and two files may not give one number two layouts.
 * Registers nothing.
 *
 * @param paths file paths (relative ones are taken from the working directory)
 * @param options how to read files
 * @returns every file's schemas, in order, ready for `registerSchemas()`
 * @throws {SchemaFileError} listing every problem with its file, path and line
 * @example
 * ```ts
 * import { registerSchemas } from "../protocol/mod.ts";
 * import type { TorqConfig } from "./document.ts";
 * declare const config: TorqConfig;
 *
 * registerSchemas(loadSchemaFiles(config.schemas));
 * ```
 */
export function loadSchemaFiles(
  paths: readonly string[],
  options: LoadSchemaOptions = {},
): SchemaDefinition[] {
  const issues: ConfigIssue[] = [];
  const files: { name: string; text: string }[] = [];
  for (const path of paths) {
    try {
      const text = options.readFile?.(path) ?? readBounded(path, MAX_YAML_BYTES);
      if (text.length > MAX_YAML_BYTES) throw new FileTooLarge(text.length, MAX_YAML_BYTES);
      files.push({ name: path, text });
    } catch (error) {
      const message = error instanceof FileTooLarge
        ? error.message
        : `Cannot read schema file: ${_reason(error)}`;
      issues.push({ path: "", message, file: path });
    }
  }
  if (issues.length > 0) throw new SchemaFileError(issues);
  return _check(files);
}

function _check(files: readonly { name: string; text: string }[]): SchemaDefinition[] {
  const issues: ConfigIssue[] = [];
  const parsed: _Parsed[] = [];
  for (const f of files) {
    const p = _parse(f.text, f.name, issues);
    if (p !== undefined) parsed.push(p);
  }
  if (issues.length > 0) throw new SchemaFileError(issues);
  const origins: { file: _Parsed; index: number }[] = [];
  for (const p of parsed) p.defs.forEach((_, index) => origins.push({ file: p, index }));
  const all = parsed.flatMap((p) => p.defs);
  const { problems } = checkSchemas(all);
  for (const problem of problems) {
    const origin = origins[problem.path[0] as number]!;
    const rest = problem.path.slice(1).map((k) => k === "layoutSize" ? "layout_size" : k);
    const path: KeyPath = ["types", origin.index, ...rest];
    const line = origin.file.lineOf(path, "value");
    issues.push({
      path: dottedPath(path),
      message: problem.message,
      file: origin.file.file,
      ...(line === undefined ? {} : { line }),
    });
  }
  if (issues.length > 0) throw new SchemaFileError(issues);
  return all;
}

function _reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}
