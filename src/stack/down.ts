/**
 * `torq down`: stop the `torq up` of a socket directory, gracefully within a
 * bound, then by force.
 *
 * Gracefully: a `down` request on its control socket; `torq up` stops its
 * services in reverse order (each: its stop signal, SIGKILL after its grace
 * period), then its relays, answers with what it stopped and exits. By force,
 * when it does not answer in time (or its control socket is gone but its
 * process is not): SIGKILL to `torq up` and to the process group of every
 * service it last reported or that still runs with this stack's environment,
 * and the sockets and pid file it left behind are removed. Services left
 * running by a `torq up` that was killed are found and killed the same way.
 *
 * @module
 */

import { ControlError, controlRequest, type DownReport, type StackStatus } from "./control.ts";
import {
  isUpProcess,
  runningPid,
  serviceProcesses,
  type ServiceProcessInfo,
  stackFiles,
} from "./files.ts";

/** What {@linkcode stopStack} did. */
export type DownResult =
  | { how: "stopped"; report: DownReport }
  | {
    how: "killed";
    pid: number;
    services: ServiceProcessInfo[];
    removed: string[];
    reason: string;
  }
  | { how: "not running"; removed: string[]; leftovers: ServiceProcessInfo[] };

/** Options of {@linkcode stopStack}. */
export interface StopStackOptions {
  /** How long the graceful stop may take, ms (default 60,000). */
  timeoutMs?: number;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isUpProcess(pid)) {
    if (Date.now() > deadline) return false;
    await delay(20);
  }
  return true;
}

function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // gone
  }
}

function removeLeftovers(paths: readonly string[]): string[] {
  const removed: string[] = [];
  for (const path of paths) {
    try {
      Deno.removeSync(path);
      removed.push(path);
    } catch {
      // not there
    }
  }
  return removed;
}

/** Socket files in `dir` nobody listens on (what a killed `torq up` left). */
async function staleSockets(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    try {
      if (!Deno.lstatSync(path).isSocket) continue;
      (await Deno.connect({ transport: "unix", path })).close();
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused) out.push(path);
    }
  }
  return out;
}

/**
 * Stops the `torq up` running in `dir`.
 *
 * @param dir the socket directory
 * @param options the bound of the graceful stop
 * @returns what was stopped, killed or cleaned up
 * @throws {ControlError} `permission` when the stack belongs to another user
 */
export async function stopStack(dir: string, options: StopStackOptions = {}): Promise<DownResult> {
  const files = stackFiles(dir);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pid = runningPid(dir);
  let status: StackStatus | null = null;
  try {
    status = await controlRequest(files.control, { op: "status" }, { timeoutMs: 5000 });
  } catch (e) {
    if (!(e instanceof ControlError) || e.reason === "permission") throw e;
  }
  if (pid === null && status === null) {
    const leftovers = serviceProcesses(dir);
    for (const p of leftovers) kill(-p.pid, "SIGKILL");
    const sockets = await staleSockets(dir);
    return {
      how: "not running",
      removed: removeLeftovers([...sockets, files.control, files.pid]),
      leftovers,
    };
  }
  let reason = "its control socket does not answer";
  if (status !== null) {
    try {
      const report = await controlRequest(files.control, { op: "down" }, { timeoutMs });
      if (await waitGone(report.pid, 10_000)) return { how: "stopped", report };
      reason = "it did not exit after stopping everything";
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      reason = e.reason === "timeout"
        ? `it did not stop within ${Math.round(timeoutMs / 1000)} s`
        : e.message;
    }
  }
  const victim = status?.pid ?? pid!;
  kill(victim, "SIGKILL");
  await waitGone(victim, 10_000);
  const services = new Map<number, ServiceProcessInfo>();
  for (const s of status?.services ?? []) {
    if (s.pid !== null) services.set(s.pid, { pid: s.pid, name: s.name });
  }
  for (const p of serviceProcesses(dir)) services.set(p.pid, p);
  for (const p of services.keys()) kill(-p, "SIGKILL");
  const sockets = (status?.relays ?? []).map((r) => r.address);
  return {
    how: "killed",
    pid: victim,
    services: [...services.values()],
    removed: removeLeftovers([...sockets, files.control, files.pid]),
    reason,
  };
}
