/**
 * The relay a client tool talks to, and the subscription it asks for: the
 * options `sub`, `pub`, `record`, `replay`, `demo` and `mock-relay` share
 * (`--socket`, `--socket-dir` and the configuration's paths; `--subscribe`,
 * `--types`, `--source`).
 *
 * @module
 */

import { join } from "node:path";
import { type RelayDomainName, SOCKET_FILE_NAMES } from "../src/config/mod.ts";
import { DOMAIN_NUMBERS } from "../src/protocol/mod.ts";
import { parseByteList, planSubscription, type SubscriptionPlan } from "../src/tools/mod.ts";
import { UsageError } from "./_args.ts";
import type { OptionSpec } from "./_command.ts";
import { CONFIG_SOURCE_OPTIONS, configFromArgs } from "./_config.ts";

const GROUP = "Relay";

/** Where the relay is: `--socket`, `--socket-dir`, or the configuration (`--config`, `--env`, `--set`). */
export const TARGET_OPTIONS = {
  socket: {
    type: "string",
    value: "PATH",
    group: GROUP,
    help: "The relay's socket (or tcp://HOST:PORT) instead of the configured path",
  },
  "socket-dir": {
    type: "string",
    value: "DIR",
    group: GROUP,
    help: "The relays' socket directory, as in 'torq up --socket-dir': DIR/market_data.sock, " +
      "DIR/signals.sock, DIR/execution.sock",
  },
  ...CONFIG_SOURCE_OPTIONS,
} as const satisfies Record<string, OptionSpec>;

/** Parsed {@linkcode TARGET_OPTIONS}. */
export interface TargetArgs {
  socket?: string | undefined;
  "socket-dir"?: string | undefined;
  config?: string | undefined;
  env?: string | undefined;
  set?: readonly string[] | undefined;
}

/** A relay to talk to. */
export interface RelayTarget {
  /** Relay name in the config (`market_data`, `signal`, `execution`). */
  name: RelayDomainName;
  /** Wire domain (1–3). */
  domain: 1 | 2 | 3;
  /** Socket path (or address). */
  path: string;
}

/**
 * The socket path of each relay: `--socket-dir DIR` (the files `torq up` makes
 * there), else the configured paths.
 *
 * @param command full command name for usage errors
 * @param options parsed {@linkcode TARGET_OPTIONS} (its `--socket` is not used here)
 * @returns the path of every relay
 */
export function relayPaths(
  command: string,
  options: TargetArgs,
): Record<RelayDomainName, string> {
  const dir = options["socket-dir"];
  if (dir !== undefined) {
    if (options.config !== undefined || options.set?.length) {
      throw new UsageError(command, "give either --socket-dir or --config/--set, not both");
    }
    return {
      market_data: join(dir, SOCKET_FILE_NAMES.market_data),
      signal: join(dir, SOCKET_FILE_NAMES.signal),
      execution: join(dir, SOCKET_FILE_NAMES.execution),
    };
  }
  const relays = configFromArgs(options).relays;
  return {
    market_data: relays.market_data.transport.path,
    signal: relays.signal.transport.path,
    execution: relays.execution.transport.path,
  };
}

/**
 * The relay of `name`: at `--socket`, else in `--socket-dir`, else at its configured path.
 *
 * @param command full command name for usage errors
 * @param name the relay
 * @param options parsed {@linkcode TARGET_OPTIONS}
 * @returns the relay
 * @throws {UsageError} when both --socket and --socket-dir are given
 */
export function relayTarget(
  command: string,
  name: RelayDomainName,
  options: TargetArgs,
): RelayTarget {
  const domain = DOMAIN_NUMBERS[name];
  if (options.socket !== undefined) {
    if (options["socket-dir"] !== undefined) {
      throw new UsageError(command, "give either --socket or --socket-dir, not both");
    }
    return { name, domain, path: options.socket };
  }
  return { name, domain, path: relayPaths(command, options)[name] };
}

/** `--subscribe`, `--types` and `--source` (`sub` and `record`). */
export const SUBSCRIPTION_OPTIONS = {
  subscribe: {
    type: "string",
    value: "PATTERN",
    multiple: true,
    group: "Subscription",
    help: "Relay-side pattern, repeatable or comma-separated: *, tlv.1, tlv.2*, source.20, " +
      "arbitrage_signals … (default *)",
  },
  types: {
    type: "string",
    value: "LIST",
    group: "Subscription",
    help: "TLV types, e.g. 32, 20-39, 1,2 or Trade; without --subscribe they are sent as tlv.N " +
      "patterns; always also filtered locally",
  },
  source: {
    type: "string",
    value: "LIST",
    group: "Subscription",
    help: "Header sources, e.g. 20 or 20-39; as source.N patterns likewise",
  },
} as const satisfies Record<string, OptionSpec>;

/**
 * The subscription plan of `--subscribe`, `--types` and `--source`.
 *
 * @param command full command name for usage errors
 * @param options parsed {@linkcode SUBSCRIPTION_OPTIONS}
 * @returns the plan
 * @throws {UsageError} for an unparsable type or source list
 */
export function subscriptionPlan(
  command: string,
  options: {
    subscribe: readonly string[];
    types?: string | undefined;
    source?: string | undefined;
  },
): SubscriptionPlan {
  try {
    const subscribe = options.subscribe.flatMap((s) =>
      s.split(",").map((p) => p.trim()).filter((p) => p !== "")
    );
    return planSubscription({
      subscribe,
      types: options.types === undefined ? undefined : parseByteList(options.types, "type"),
      sources: options.source === undefined ? undefined : parseByteList(options.source, "source"),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(command, e.message);
    throw e;
  }
}
