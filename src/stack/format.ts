/**
 * A stack's state for people: the services table of `torq status`, the
 * summary `torq up -d` prints, what `torq down` and `torq restart` did, and
 * the JSON of `torq status --json`.
 *
 * @module
 */

import { formatUptime } from "./status.ts";
import type { DownReport, Restarted, StackStatus } from "./control.ts";
import { describeExit, formatDelay } from "./restart_policy.ts";
import type { ServiceStatus, StoppedService } from "./supervisor.ts";

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/**
 * The services as a table, then one line per service that does not run
 * normally, saying why.
 *
 * @param services the statuses
 * @param now the current time, ms since the epoch
 * @returns the lines
 * @example
 * ```ts
 * import type { StackStatus } from "./control.ts";
 * declare const status: StackStatus;
 *
 * formatServices(status.services, Date.now()).join("\n");
 * // SERVICE    STATE       PID  UPTIME  RESTARTS  LAST EXIT
 * // feed       running    4242   2m05s         0  -
 * ```
 */
export function formatServices(services: readonly ServiceStatus[], now: number): string[] {
  const rows = services.map((s) => [
    s.name,
    s.state,
    s.pid === null ? "-" : String(s.pid),
    s.startedAt === null || s.pid === null ? "-" : formatUptime(now - s.startedAt),
    String(s.restarts),
    s.lastExit === null
      ? "-"
      : `${describeExit(s.lastExit)}, ${formatUptime(Math.max(0, now - s.lastExit.at))} ago`,
  ]);
  const lines = table(
    ["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"],
    rows,
    [false, false, true, true, true, false],
  );
  for (const s of services) {
    if (s.reason !== null && s.state !== "running") lines.push(`${s.name}: ${s.reason}`);
  }
  return lines;
}

/**
 * What `torq up -d` prints once the stack runs.
 *
 * @param status the running stack
 * @returns the lines
 */
export function formatStarted(status: StackStatus): string[] {
  const lines = [
    `torq up: running in the background (pid ${status.pid}), ${status.relays.length} relays, ${status.services.length} services`,
  ];
  const width = Math.max(0, ...[...status.relays, ...status.services].map((r) => r.name.length));
  for (const r of status.relays) lines.push(`  ${r.name.padEnd(width)}  ${r.address}`);
  for (const s of status.services) {
    lines.push(`  ${s.name.padEnd(width)}  pid ${s.pid ?? "-"}  ${s.command}`);
  }
  if (status.http !== null) lines.push(`dashboard: ${status.http}`);
  lines.push(`logs: ${status.dir}/*.log ('torq logs -f'); stop with 'torq down'`);
  return lines;
}

/**
 * One line per service `torq down` stopped.
 *
 * @param s what stopping it did
 * @returns e.g. `stopped feed (pid 4242, SIGTERM, 0.1 s)`
 */
export function formatStopped(s: StoppedService): string {
  if (s.how === "not running") return `${s.name}: was not running`;
  const how = s.how === "killed"
    ? `killed ${s.name} (pid ${s.pid}): still running ${formatDelay(s.ms)} after ${s.signal}`
    : `stopped ${s.name} (pid ${s.pid}, ${s.signal}, ${formatDelay(s.ms)})`;
  return how;
}

/**
 * What `torq down` prints.
 *
 * @param report the answer of the stack
 * @returns the lines, services first, in stop order
 */
export function formatDown(report: DownReport): string[] {
  return [
    ...report.services.map(formatStopped),
    ...report.relays.map((r) => `stopped relay ${r}`),
    `stopped torq up (pid ${report.pid})`,
  ];
}

/**
 * What `torq restart` prints.
 *
 * @param restarted what was restarted
 * @returns one line each
 */
export function formatRestarted(restarted: readonly Restarted[]): string[] {
  return restarted.map((r) =>
    r.kind === "relay"
      ? `restarted relay ${r.name}`
      : `restarted ${r.name} (${
        r.pid === null || r.pid === undefined ? "not running" : `pid ${r.pid}`
      })`
  );
}

/**
 * The services as `torq status --json` prints them (snake_case, ISO times).
 *
 * @param services the statuses
 * @returns JSON-ready data
 */
export function servicesToJson(services: readonly ServiceStatus[]): Record<string, unknown>[] {
  return services.map((s) => ({
    name: s.name,
    state: s.state,
    pid: s.pid,
    started_at: s.startedAt === null ? null : new Date(s.startedAt).toISOString(),
    restarts: s.restarts,
    last_exit: s.lastExit === null ? null : {
      code: s.lastExit.code,
      signal: s.lastExit.signal,
      at: new Date(s.lastExit.at).toISOString(),
    },
    reason: s.reason,
    command: s.command,
    log: s.log,
  }));
}
