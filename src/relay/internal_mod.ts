/**
 * The relay's internals that another folder legitimately needs, beside the
 * public API of `mod.ts` (as nats.js keeps `internal_mod.ts`): the policy
 * checks by themselves, which `torq replay` runs on a recording before
 * sending it, so that it refuses what the relay would reject.
 *
 * @module
 */

export * from "./mod.ts";
export { SequenceState, validatorForLogic } from "./policy.ts";
