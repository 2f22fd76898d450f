/**
 * Operating a whole stack, like the design documents' `manage.sh`: the
 * services `torq up` supervises after its relays (`services:` in the
 * configuration), the lock and control socket of a running `torq up`
 * (`torq status`, `torq restart`, `torq down`), the background mode of
 * `torq up -d`, and reading the logs (`torq logs`).
 *
 * @example
 * ```ts
 * import { controlRequest, stackFiles } from "./mod.ts";
 *
 * const status = await controlRequest(stackFiles("/tmp/torq").control, { op: "status" });
 * for (const s of status.services) console.log(s.name, s.state, s.pid);
 * ```
 *
 * @module
 */

export { Stack } from "./stack.ts";
export type { StackOptions } from "./stack.ts";
export { displayCommand, ServiceStartError, Supervisor } from "./supervisor.ts";
export type {
  ServiceExit,
  ServiceState,
  ServiceStatus,
  StoppedService,
  SupervisorOptions,
} from "./supervisor.ts";
export { describeExit, formatDelay, isFailure, RestartTracker } from "./restart_policy.ts";
export type { ExitDecision, ExitStatus, RestartRules } from "./restart_policy.ts";
export { LineSplitter } from "./line_splitter.ts";
export {
  isUpProcess,
  runningPid,
  serviceProcesses,
  StackBusyError,
  stackFiles,
  StackLock,
} from "./files.ts";
export type { ServiceProcessInfo, StackFiles } from "./files.ts";
export { ControlError, controlRequest, ControlServer } from "./control.ts";
export type {
  ControlAnswers,
  ControlErrorReason,
  ControlHandlers,
  ControlRequest,
  ControlRequestOptions,
  DownReport,
  Restarted,
  StackRelay,
  StackStatus,
} from "./control.ts";
export { DetachError, startDetached } from "./detach.ts";
export { stopStack } from "./down.ts";
export type { DownResult, StopStackOptions } from "./down.ts";
export type { DetachOptions } from "./detach.ts";
export {
  followLogs,
  formatLogLine,
  logSources,
  parseLogTime,
  parseSince,
  readLogs,
  relayLineFilter,
  selectLogs,
  UnknownLogError,
} from "./logs.ts";
export type { FollowLogsOptions, LogLine, LogSource, ReadLogsOptions } from "./logs.ts";
export {
  formatDown,
  formatRestarted,
  formatServices,
  formatStarted,
  formatStopped,
  servicesToJson,
} from "./format.ts";
export { torqCommand } from "./self.ts";
export {
  apiUrlOfListen,
  collectStatus,
  formatStatus,
  formatUptime,
  probeSocket,
  statusToJson,
} from "./status.ts";
export type {
  HttpStatus,
  RelayLive,
  RelayState,
  RelayStatus,
  StatusOptions,
  StatusReport,
  StatusTarget,
} from "./status.ts";
