/**
 * `torq up -d`: start `torq up` in the background and return once it runs.
 *
 * The background process is started in a session of its own (no terminal:
 * closing the shell does not stop it), with its standard output and error
 * appended to `up.log` in the socket directory. This process then waits until
 * the control socket reports every relay accepting and every service started,
 * or until the background process exits, and then reports the reason it
 * wrote.
 *
 * @module
 */

import { ControlError, controlRequest, type StackStatus } from "./control.ts";
import { runningPid, StackBusyError, stackFiles } from "./files.ts";

/** Options of {@linkcode startDetached}. */
export interface DetachOptions {
  /** The socket directory. */
  dir: string;
  /** The command line of the background `torq up` (program first). */
  command: readonly string[];
  /** How long it may take to start, ms (default 60,000). */
  timeoutMs?: number;
}

/** A background `torq up` that did not start; its message is the reason it gave. */
export class DetachError extends Error {
  /** Its log, for more. */
  readonly log: string;

  /**
   * @param message the reason
   * @param log the log file
   */
  constructor(message: string, log: string) {
    super(message);
    this.name = "DetachError";
    this.log = log;
  }
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts `command` (a `torq up`) in the background and waits until it runs.
 *
 * @param options the socket directory, the command, the bound
 * @returns its status once it runs
 * @throws {StackBusyError} when a `torq up` runs there already;
 *   {@linkcode DetachError} with the reason it wrote when it exits early or
 *   does not start in time (it is then stopped)
 */
export async function startDetached(options: DetachOptions): Promise<StackStatus> {
  const files = stackFiles(options.dir);
  const other = runningPid(options.dir);
  if (other !== null) throw new StackBusyError(options.dir, other);
  try {
    Deno.lstatSync(options.dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    Deno.mkdirSync(options.dir, { recursive: true, mode: 0o750 });
    Deno.chmodSync(options.dir, 0o750);
  }
  let offset = 0;
  try {
    offset = Deno.statSync(files.log).size;
  } catch {
    // a new log
  }
  // The shell only redirects and replaces itself: the process is torq up, with this pid.
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$@" >>"$0" 2>&1', files.log, ...options.command],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  let ended: Deno.CommandStatus | null = null;
  child.status.then((s) => ended = s, () => {});

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (ended !== null) {
      const status: Deno.CommandStatus = ended;
      throw new DetachError(
        reasonFromLog(files.log, offset) ?? `torq up exited with status ${status.code}`,
        files.log,
      );
    }
    try {
      const status = await controlRequest(files.control, { op: "status" }, { timeoutMs: 2000 });
      if (status.pid === child.pid && status.phase === "running") return status;
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
    }
    await delay(50);
  }
  try {
    Deno.kill(-child.pid, "SIGTERM");
  } catch {
    // gone
  }
  throw new DetachError(
    `torq up did not start within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s` +
      ` and was stopped (see ${files.log})`,
    files.log,
  );
}

/** The last `torq up: …` line written to the log after `offset`, without the prefix. */
function reasonFromLog(path: string, offset: number): string | null {
  let text: string;
  try {
    const bytes = Deno.readFileSync(path);
    text = new TextDecoder().decode(bytes.subarray(offset));
  } catch {
    return null;
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const reason = lines.findLast((l) => l.startsWith("torq up: ") || l.startsWith("torq: "));
  return reason?.replace(/^torq( up)?: /, "") ?? lines.at(-1) ?? null;
}
