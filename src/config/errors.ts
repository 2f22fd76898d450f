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

/** Problems listed in an error message; the rest are counted (`… and N more`). */
export const MAX_LISTED_PROBLEMS = 20;

/**
 * The message of an error holding `lines.length` problems: one problem is one line
 * (`Cannot load configuration: logging.level: unknown key (line 3 of my.yaml)`); more
 * are counted in a first line and listed one per line below it, the first
 * {@linkcode MAX_LISTED_PROBLEMS} of them, then `… and N more`.
 *
 * @param title e.g. `Cannot load configuration`
 * @param lines one formatted problem each (at least one)
 * @returns the message
 * @example
 * ```ts
 * problemsMessage("Cannot load configuration", ["a: unknown key", "b: unknown key"]);
 * // "Cannot load configuration: 2 problems\n  a: unknown key\n  b: unknown key"
 * ```
 */
export function problemsMessage(title: string, lines: readonly string[]): string {
  if (lines.length === 1) return `${title}: ${lines[0]}`;
  const shown = lines.slice(0, MAX_LISTED_PROBLEMS).map((l) => `  ${l}`);
  const more = lines.length - shown.length;
  if (more > 0) shown.push(`  … and ${more} more`);
  return `${title}: ${lines.length} problems\n${shown.join("\n")}`;
}

/**
 * Thrown by the configuration loader when a file cannot be read or parsed, or when the merged
 * configuration is invalid. `issues` holds every problem found, not only the first; the message
 * states one problem in one line and lists several one per line (the first
 * {@linkcode MAX_LISTED_PROBLEMS}, then how many more).
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
   * Build the error; the message states the issues (see {@linkcode problemsMessage}).
   *
   * @param issues the problems (at least one)
   */
  constructor(issues: readonly ConfigIssue[]) {
    super(problemsMessage("Cannot load configuration", issues.map(formatIssue)));
    this.name = "ConfigError";
    this.issues = issues;
  }
}
