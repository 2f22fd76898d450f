/**
 * Text helpers for names users type: edit distance and the "did you mean"
 * suggestions of commands, options, domains, TLV names and configuration keys.
 * Pure, like src/protocol.
 *
 * @example
 * ```ts
 * import { didYouMean } from "./mod.ts";
 *
 * didYouMean("singal", ["signal", "execution"]); // "; did you mean \"signal\"?"
 * ```
 *
 * @module
 */

export { didYouMean, editDistance, suggest } from "./suggest.ts";
export { sinceNs } from "./since.ts";
export { plural } from "./plural.ts";
