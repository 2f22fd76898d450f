/**
 * The version of Torq, printed by `torq --version`.
 *
 * @module
 */

/** Torq's release version (semver). */
export const VERSION = "0.1.0";
