/**
 * Turning zod's issues into the configuration's problem messages: one wording
 * for the configuration document and for TLV schema files (`unknown key; did
 * you mean "level"?`, `required key is missing`, `expected one of "a" or "b",
 * got "c"`). Internal: not exported from `mod.ts`.
 *
 * @module
 */

import type { z } from "zod";
import { didYouMean } from "../text/mod.ts";
import { type KeyPath, show, valueAt } from "./_util.ts";

/** One problem at a path: whether a line number should point at its key or its value. */
export interface IssueProblem {
  /** Keys and list indexes down to the problem. */
  path: (string | number)[];
  /** What is wrong, e.g. `expected boolean, got "yes"`. */
  message: string;
  /** `key` for an unknown key, else `value`. */
  at: "key" | "value";
}

/**
 * The problems one zod issue stands for (an unknown-keys issue names each key).
 *
 * @param issue the issue
 * @param document the data that was checked (to quote what was found)
 * @param schema the schema it was checked against (to suggest known keys)
 * @returns one problem per offending key or value
 * @example
 * ```ts
 * import { z } from "zod";
 *
 * const schema = z.strictObject({ level: z.enum(["debug", "info"]) });
 * const result = schema.safeParse({ levl: "info" });
 * if (!result.success) describeIssue(result.error.issues[0]!, { levl: "info" }, schema);
 * // [{ path: ["levl"], message: 'unknown key; did you mean "level"?', at: "key" }, …]
 * ```
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  document: unknown,
  schema: z.ZodType,
): IssueProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const value = valueAt(document, path);
  const got = value.found ? show(value.value) : "nothing";
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = keysAt(schema, path);
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: `unknown key${didYouMean(key, known)}`,
        at: "key",
      }));
    }
    case "invalid_type": {
      if (!value.found || value.value === undefined) {
        return [{ path, message: "required key is missing", at: "value" }];
      }
      return [{ path, message: `expected ${typeName(issue.expected)}, got ${got}`, at: "value" }];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => show(v));
      const expected = options.length === 1
        ? options[0]
        : `one of ${options.slice(0, -1).join(", ")} or ${options[options.length - 1]}`;
      return [{ path, message: `expected ${expected}, got ${got}`, at: "value" }];
    }
    case "too_small":
      if (issue.origin === "string") {
        return [{ path, message: `expected a non-empty string, got ${got}`, at: "value" }];
      }
      if (issue.origin === "array") {
        const entries = issue.minimum === 1 ? "entry" : "entries";
        return [{
          path,
          message: `expected at least ${issue.minimum} ${entries}, got none`,
          at: "value",
        }];
      }
      return [{ path, message: `expected at least ${issue.minimum}, got ${got}`, at: "value" }];
    case "too_big":
      return [{ path, message: `expected at most ${issue.maximum}, got ${got}`, at: "value" }];
    case "custom":
      return [{ path, message: issue.message, at: "value" }];
    default:
      return [{ path, message: `${issue.message}, got ${got}`, at: "value" }];
  }
}

/** The keys a strict object of `schema` accepts at `path` (none when it is not an object). */
function keysAt(schema: z.ZodType, path: KeyPath): string[] {
  type Def = {
    type: string;
    innerType?: unknown;
    shape?: Record<string, unknown>;
    element?: unknown;
  };
  const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;
  const unwrap = (s: unknown): unknown => {
    let d = defOf(s);
    while (d !== undefined && d.innerType !== undefined) {
      s = d.innerType;
      d = defOf(s);
    }
    return s;
  };
  let cur: unknown = unwrap(schema);
  for (const key of path) {
    const def = defOf(cur);
    if (typeof key === "number" && def?.element !== undefined) {
      cur = unwrap(def.element);
      continue;
    }
    const shape = def?.shape;
    if (shape === undefined) return [];
    cur = unwrap(shape[String(key)]);
  }
  return Object.keys(defOf(cur)?.shape ?? {});
}

function typeName(expected: string): string {
  switch (expected) {
    case "int":
    case "number":
      return "integer";
    case "object":
    case "record":
      return "mapping";
    case "array":
      return "list";
    default:
      return expected;
  }
}
