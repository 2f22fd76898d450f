/**
 * The embedded configuration files: `config/default.yaml` and the environment overlays under
 * `config/environments/`.
 *
 * They are imported as text (`with { type: "text" }`), so they are part of the module graph:
 * `deno run`, `deno test`, `deno bundle` and `deno compile` all carry them, and the program never
 * reads a file beside itself.
 *
 * @module
 */

import DEFAULT_YAML from "../../config/default.yaml" with { type: "text" };
import DEVELOPMENT_YAML from "../../config/environments/development.yaml" with { type: "text" };
import STAGING_YAML from "../../config/environments/staging.yaml" with { type: "text" };
import PRODUCTION_YAML from "../../config/environments/production.yaml" with { type: "text" };

/**
 * Environments that have an overlay; `development` is the default.
 *
 * @example
 * ```ts
 * ENVIRONMENTS.join(", "); // "development, staging, production"
 * ```
 */
export const ENVIRONMENTS = ["development", "staging", "production"] as const;

/** Name of an environment overlay. */
export type EnvironmentName = typeof ENVIRONMENTS[number];

/**
 * Environment used when neither the `env` option nor `TORQ_ENV` names one.
 *
 * @example
 * ```ts
 * const env = Deno.env.get("TORQ_ENV") || DEFAULT_ENVIRONMENT;
 * ```
 */
export const DEFAULT_ENVIRONMENT: EnvironmentName = "development";

/** An embedded YAML file: its repository path (used in messages) and its text. */
export interface EmbeddedFile {
  /** Path inside the repository, e.g. `config/default.yaml`. */
  readonly name: string;
  /** The file's text. */
  readonly text: string;
}

/**
 * `config/default.yaml`: every setting with its default value.
 *
 * @example
 * ```ts
 * DEFAULT_CONFIG.text.includes("relays:"); // true
 * ```
 */
export const DEFAULT_CONFIG: EmbeddedFile = { name: "config/default.yaml", text: DEFAULT_YAML };

/**
 * The environment overlays `config/environments/<env>.yaml`, by environment.
 *
 * @example
 * ```ts
 * ENVIRONMENT_OVERLAYS.production.name; // "config/environments/production.yaml"
 * ```
 */
export const ENVIRONMENT_OVERLAYS: Readonly<Record<EnvironmentName, EmbeddedFile>> = {
  development: { name: "config/environments/development.yaml", text: DEVELOPMENT_YAML },
  staging: { name: "config/environments/staging.yaml", text: STAGING_YAML },
  production: { name: "config/environments/production.yaml", text: PRODUCTION_YAML },
};

/**
 * Whether a string names an environment with an overlay.
 *
 * @param name e.g. the value of `TORQ_ENV`
 * @returns true for `development`, `staging` and `production`
 * @example
 * ```ts
 * isEnvironmentName("staging"); // true
 * ```
 */
export function isEnvironmentName(name: string): name is EnvironmentName {
  return (ENVIRONMENTS as readonly string[]).includes(name);
}
