/**
 * The `services:` section: the team's own processes (collectors, strategies, portfolio,
 * execution adapters) that `torq up` starts after the relays, restarts by policy and stops in
 * reverse order. This module holds the section's zod schema, its defaults, the checks that span
 * entries (names, `after` references, dependency cycles) and the start order.
 *
 * ```yaml
 * services:
 *   kraken_feed:
 *     command: torq                 # "torq": this torq executable
 *     args: [demo, pipeline, --stage, feed]
 *     after: [market_data]          # relays (and services) started first
 *     restart: on-failure           # always | on-failure | never
 * ```
 *
 * @module
 */

import { z } from "zod";
import { show } from "./_util.ts";

/**
 * Accepted `services.<name>.restart` values: `always` restarts after every exit, `on-failure`
 * after a non-zero exit status or a death by signal, `never` leaves the service down.
 *
 * @example
 * ```ts
 * RESTART_POLICIES.includes("on-failure"); // true
 * ```
 */
export const RESTART_POLICIES = ["always", "on-failure", "never"] as const;
/** A `services.<name>.restart` value. */
export type RestartPolicy = typeof RESTART_POLICIES[number];

/**
 * Signals a service may be stopped with (`services.<name>.stop_signal`).
 *
 * @example
 * ```ts
 * STOP_SIGNALS[0]; // "SIGTERM"
 * ```
 */
export const STOP_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGKILL",
] as const;
/** A `services.<name>.stop_signal` value. */
export type StopSignal = typeof STOP_SIGNALS[number];

/**
 * Names a service cannot have: `up` names the `torq up` process's own log and control files.
 *
 * @example
 * ```ts
 * RESERVED_SERVICE_NAMES.includes("up"); // true
 * ```
 */
export const RESERVED_SERVICE_NAMES: readonly string[] = ["up"];

/** One service, resolved: every key present, defaults filled in. */
export interface ServiceConfig {
  /** Start it with `torq up` (false: keep the entry, run nothing). */
  enabled: boolean;
  /** The program: a path, a name looked up in `PATH`, or `torq` for this torq executable. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Working directory; null: the directory `torq up` was started in. */
  working_dir: string | null;
  /** Variables added to the environment `torq up` passes on. */
  environment: Record<string, string>;
  /** Relays (`market_data`, `signal`, `execution`) and services to start before this one. */
  after: string[];
  /** When to start it again after it exits. */
  restart: RestartPolicy;
  /** Delay before the first restart, in ms; it doubles with each fast crash. */
  restart_delay_ms: number;
  /** Cap of the restart delay, in ms. */
  restart_max_delay_ms: number;
  /** Give up (state `failed`) after this many starts within `start_limit_interval_ms`; 0: never. */
  start_limit_burst: number;
  /** Window of `start_limit_burst`, in ms; a run at least this long resets the delay. */
  start_limit_interval_ms: number;
  /** Signal that asks it to stop. */
  stop_signal: StopSignal;
  /** Grace period after `stop_signal` before SIGKILL, in ms. */
  stop_timeout_ms: number;
  /** Rotate its log file when it would grow past this many bytes. */
  log_max_bytes: number;
  /** Rotated log files kept (`<name>.log.1` …). */
  log_keep: number;
}

/** Defaults of every optional key of a service. */
export const SERVICE_DEFAULTS: Readonly<Omit<ServiceConfig, "command">> = {
  enabled: true,
  args: [],
  working_dir: null,
  environment: {},
  after: [],
  restart: "on-failure",
  restart_delay_ms: 1_000,
  restart_max_delay_ms: 30_000,
  start_limit_burst: 5,
  start_limit_interval_ms: 60_000,
  stop_signal: "SIGTERM",
  stop_timeout_ms: 10_000,
  log_max_bytes: 10 * 1024 * 1024,
  log_keep: 3,
};

/** One problem in the section, before the loader locates it in a file. */
export interface ServiceProblem {
  /** Path inside the document, starting with `services`. */
  path: (string | number)[];
  /** What is wrong. */
  message: string;
  /** Whether the key itself (rather than its value) is wrong. */
  at: "key" | "value";
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The zod schema of the `services:` mapping (before defaults are filled in). Built on each
 * call, like the rest of the document's schema.
 *
 * @returns the schema
 */
export function servicesSchema() {
  const scalar = z.custom<string | number | boolean>().superRefine((value, ctx) => {
    const ok = typeof value === "string" || typeof value === "boolean" ||
      (typeof value === "number" && Number.isFinite(value));
    if (!ok) {
      ctx.addIssue({ code: "custom", message: `expected a string, got ${show(value)}` });
    }
  });
  const int = (min: number) => z.int().min(min).max(Number.MAX_SAFE_INTEGER);
  const service = z.strictObject({
    enabled: z.boolean().optional(),
    command: z.string().min(1),
    args: z.array(scalar).optional(),
    working_dir: z.string().min(1).nullable().optional(),
    environment: z.record(z.string(), scalar).optional(),
    after: z.array(z.string().min(1)).optional(),
    restart: z.enum(RESTART_POLICIES).optional(),
    restart_delay_ms: int(0).optional(),
    restart_max_delay_ms: int(0).optional(),
    start_limit_burst: int(0).optional(),
    start_limit_interval_ms: int(1).optional(),
    stop_signal: z.enum(STOP_SIGNALS).optional(),
    stop_timeout_ms: int(0).optional(),
    log_max_bytes: int(0).optional(),
    log_keep: int(1).optional(),
  });
  return z.record(z.string(), service).nullable();
}

/** The `services:` mapping as {@linkcode servicesSchema} validated it. */
export type ServicesDocument = z.output<ReturnType<typeof servicesSchema>>;

/**
 * Fills in the defaults of every service, in the file's order.
 *
 * @param doc the validated mapping (null: none)
 * @returns the services by name
 */
export function resolveServices(doc: ServicesDocument): Record<string, ServiceConfig> {
  const out: Record<string, ServiceConfig> = {};
  for (const [name, s] of Object.entries(doc ?? {})) {
    const d = SERVICE_DEFAULTS;
    out[name] = {
      enabled: s.enabled ?? d.enabled,
      command: s.command,
      args: (s.args ?? d.args).map(String),
      working_dir: s.working_dir ?? d.working_dir,
      environment: Object.fromEntries(
        Object.entries(s.environment ?? d.environment).map(([k, v]) => [k, String(v)]),
      ),
      after: [...(s.after ?? d.after)],
      restart: s.restart ?? d.restart,
      restart_delay_ms: s.restart_delay_ms ?? d.restart_delay_ms,
      restart_max_delay_ms: s.restart_max_delay_ms ?? d.restart_max_delay_ms,
      start_limit_burst: s.start_limit_burst ?? d.start_limit_burst,
      start_limit_interval_ms: s.start_limit_interval_ms ?? d.start_limit_interval_ms,
      stop_signal: s.stop_signal ?? d.stop_signal,
      stop_timeout_ms: s.stop_timeout_ms ?? d.stop_timeout_ms,
      log_max_bytes: s.log_max_bytes ?? d.log_max_bytes,
      log_keep: s.log_keep ?? d.log_keep,
    };
  }
  return out;
}

/**
 * Checks that span entries: names usable as file names and not reserved, `after` naming a relay
 * or another service, no dependency cycle, restart delays in order.
 *
 * @param services the resolved services
 * @param relays the relay keys (`market_data`, `signal`, `execution`)
 * @returns the problems, in file order
 */
export function checkServices(
  services: Readonly<Record<string, ServiceConfig>>,
  relays: readonly string[],
): ServiceProblem[] {
  const problems: ServiceProblem[] = [];
  for (const [name, s] of Object.entries(services)) {
    const at = (...rest: (string | number)[]) => ["services", name, ...rest];
    if (!NAME_PATTERN.test(name)) {
      problems.push({
        path: at(),
        message: `expected a service name of letters, digits, "_", "-" and "." (at most 64,` +
          ` starting with a letter or digit), got ${show(name)}`,
        at: "key",
      });
    } else if (RESERVED_SERVICE_NAMES.includes(name) || relays.includes(name)) {
      problems.push({
        path: at(),
        message: `${show(name)} is ${
          relays.includes(name) ? "the name of a relay" : "reserved for torq up's own files"
        }; choose another service name`,
        at: "key",
      });
    }
    s.after.forEach((dep, i) => {
      if (!relays.includes(dep) && !Object.hasOwn(services, dep)) {
        problems.push({
          path: at("after", i),
          message: `expected a relay (${relays.join(", ")}) or a service name, got ${show(dep)}`,
          at: "value",
        });
      }
    });
    if (s.restart_max_delay_ms < s.restart_delay_ms) {
      problems.push({
        path: at("restart_max_delay_ms"),
        message: `expected at least restart_delay_ms (${s.restart_delay_ms}),` +
          ` got ${s.restart_max_delay_ms}`,
        at: "value",
      });
    }
  }
  const cycle = findCycle(services);
  if (cycle !== null) {
    problems.push({
      path: ["services", cycle[0]!, "after"],
      message: `dependency cycle: ${cycle.join(" → ")}`,
      at: "value",
    });
  }
  return problems;
}

/**
 * The order to start services in: each after every service it names in `after`, otherwise in
 * the file's order. Stop them in the reverse order. Relays in `after` are ignored here (they
 * start before any service).
 *
 * @param services the services (without cycles: see {@linkcode checkServices})
 * @returns the names in start order
 * @example
 * ```ts
 * import { parseConfigText } from "./loader.ts";
 *
 * const config = parseConfigText(
 *   "services:\n  b: {command: b, after: [a]}\n  a: {command: a}\n",
 *   "torq.yaml",
 * );
 * serviceStartOrder(config.services); // ["a", "b"]
 * ```
 */
export function serviceStartOrder(services: Readonly<Record<string, ServiceConfig>>): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const place = (name: string) => {
    if (placed.has(name) || visiting.has(name)) return;
    const s = services[name];
    if (s === undefined) return;
    visiting.add(name);
    for (const dep of s.after) place(dep);
    visiting.delete(name);
    placed.add(name);
    order.push(name);
  };
  for (const name of Object.keys(services)) place(name);
  return order;
}

/** The first dependency cycle among services, as `[a, b, …, a]`, or null. */
function findCycle(services: Readonly<Record<string, ServiceConfig>>): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    const at = stack.indexOf(name);
    if (at !== -1) return [...stack.slice(at), name];
    if (done.has(name) || !Object.hasOwn(services, name)) return null;
    stack.push(name);
    for (const dep of services[name]!.after) {
      const found = visit(dep);
      if (found !== null) return found;
    }
    stack.pop();
    done.add(name);
    return null;
  };
  for (const name of Object.keys(services)) {
    const found = visit(name);
    if (found !== null) return found;
  }
  return null;
}
