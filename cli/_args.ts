/**
 * Small helpers shared by the subcommands: errors that carry an exit code and
 * stdin/stdout/file I/O. Parsing and help come from cli/_command.ts. Nothing
 * here knows about a particular subcommand.
 *
 * @module
 */

import { writeAll } from "../src/io/mod.ts";

/** Exit codes of every subcommand. */
export const Exit = {
  /** Success. */
  OK: 0,
  /** Bad input or a validation failure. */
  BAD_INPUT: 1,
  /** Usage error: unknown command or option, missing argument. */
  USAGE: 2,
} as const;

/** An error the CLI reports as one line (no stack unless `--verbose`) with its exit code. */
export class CliError extends Error {
  /** The process exit code to use. */
  readonly exitCode: number;
  /** The full command the error belongs to, e.g. `torq demo arbitrage` (set by cli/_command.ts). */
  command: string | undefined;

  /**
   * @param message the line to print after `torq <command>: `
   * @param exitCode exit code (default 1)
   */
  constructor(message: string, exitCode: number = Exit.BAD_INPUT) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.command = undefined;
  }
}

/** A usage error (exit 2); its line ends with a pointer to the command's help. */
export class UsageError extends CliError {
  /**
   * @param command full command name, e.g. `torq decode`
   * @param message what was wrong, e.g. `unknown option '--frob'`
   */
  constructor(command: string, message: string) {
    super(`${message} (see '${command} --help')`, Exit.USAGE);
    this.name = "UsageError";
    this.command = command;
  }
}

/**
 * Whether `--verbose` appears among the arguments (before a `--`).
 *
 * @param args command-line arguments
 * @returns true when stack traces should be shown
 */
export function wantsVerbose(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "--verbose") return true;
  }
  return false;
}

/**
 * Reads all of stdin.
 *
 * @returns the bytes
 */
export async function readStdin(): Promise<Uint8Array> {
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
}

/**
 * Reads a whole file, reporting problems as one line.
 *
 * @param path file path
 * @returns the bytes
 * @throws {CliError} when the file cannot be read
 */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    const reason = e instanceof Error ? e.message.replace(/: (readfile|open) .*$/, "") : String(e);
    throw new CliError(`Cannot read ${JSON.stringify(path)}: ${reason}`);
  }
}

/**
 * Writes bytes to stdout completely.
 *
 * @param bytes the bytes
 */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  await writeAll(Deno.stdout, bytes);
}

/**
 * Writes text and a final newline to stdout.
 *
 * @param text the text
 */
export async function printOut(text: string): Promise<void> {
  await writeStdout(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
}

/**
 * Prints one error line `torq <command>: <message>` on stderr.
 *
 * @param command full command name, e.g. `torq decode`
 * @param message the message
 */
export function printError(command: string, message: string): void {
  console.error(`${command}: ${message}`);
}
