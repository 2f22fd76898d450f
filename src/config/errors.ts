/**
 * {@linkcode ConfigError}: every problem found while loading the configuration, each located in
 * the file, environment variable or override it came from.
 *
 * @module
 */

/** One configuration problem. */
export interface ConfigIssue {
  /** Dotted path of the key, e.g. `relays.signal.validation.checksum`; `""` for the whole file. */
  path: string;
  /** What is wrong, e.g. `expected boolean, got "yes"` or `unknown key`. */
  message: string;
  /** File the offending value comes from (embedded files are named by their repository path). */
  file?: string;
  /** 1-based line in {@linkcode ConfigIssue.file}. */
  line?: number;
  /** Origin that is not a file: `environment variable TORQ_LOG_LEVEL`, `command-line override`. */
  source?: string;
}

/**
 * Format one issue as a line: `path: message (line N of FILE)`.
 *
 * @param issue the issue
 * @returns the line, without a trailing newline
 * @example
 * ```ts
 * formatIssue({ path: "logging.level", message: "unknown key", file: "my.yaml", line: 3 });
 * // "logging.level: unknown key (line 3 of my.yaml)"
 * ```
 */
export function formatIssue(issue: ConfigIssue): string {
  let where = "";
  if (issue.file !== undefined && issue.line !== undefined) {
    where = ` (line ${issue.line} of ${issue.file})`;
  } else if (issue.file !== undefined) where = ` (${issue.file})`;
  else if (issue.source !== undefined) where = ` (${issue.source})`;
  return issue.path === "" ? `${issue.message}${where}` : `${issue.path}: ${issue.message}${where}`;
}

/**
 * Thrown by the configuration loader when a file cannot be read or parsed, or when the merged
 * configuration is invalid. `issues` holds every problem found, not only the first; the message
 * lists them one per line.
 *
 * @example
 * ```ts
 * import { parseConfigText } from "./loader.ts";
 *
 * try {
 *   parseConfigText("logging: { level: loud }", "my.yaml");
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.message);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /**
   * Build the error; the message lists every issue.
   *
   * @param issues the problems (at least one)
   */
  constructor(issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(
      `Cannot load configuration: ${count}\n` + issues.map((i) => `  ${formatIssue(i)}`).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}
