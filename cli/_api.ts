/**
 * The HTTP API a reading command asks (`top`, `stats`, `status`): `--http`
 * (HOST:PORT or a URL), else the configuration's `http.listen`; `--token`,
 * else `http.token`. The same configuration options as `torq up`, so the
 * commands find the API that `torq up` serves.
 *
 * @module
 */

import { DEFAULT_API_URL, HttpApiClient, HttpApiError } from "../src/http/mod.ts";
import { apiUrlOfListen } from "../src/stack/mod.ts";
import { CliError } from "./_args.ts";
import type { OptionSpec } from "./_command.ts";
import { CONFIG_SOURCE_OPTIONS, configFromArgs } from "./_config.ts";

/** `--http`, `--token` and the configuration options. */
export const API_OPTIONS = {
  http: {
    type: "string",
    value: "HOST:PORT",
    help: "The HTTP API of 'torq up' or 'torq relay --http', as HOST:PORT or a URL " +
      "(default: http.listen of the configuration, 127.0.0.1:7420; 'torq status --http none' " +
      "skips it)",
  },
  token: {
    type: "string",
    value: "TOKEN",
    help: "Bearer token of the HTTP API (default: http.token, TORQ_HTTP_TOKEN)",
  },
  ...CONFIG_SOURCE_OPTIONS,
} as const satisfies Record<string, OptionSpec>;

/** Parsed {@linkcode API_OPTIONS}. */
export interface ApiArgs {
  http?: string | undefined;
  token?: string | undefined;
  config?: string | undefined;
  env?: string | undefined;
  set?: readonly string[] | undefined;
}

/**
 * Where the API is and its token.
 *
 * @param options parsed {@linkcode API_OPTIONS}
 * @returns the URL (null when `http.listen` binds port 0, i.e. no fixed address) and the token
 */
export function apiTarget(options: ApiArgs): { url: string | null; token: string | null } {
  const config = configFromArgs(options);
  const token = options.token ?? config.http.token;
  if (options.http !== undefined) return { url: options.http, token };
  return { url: apiUrlOfListen(config.http.listen) ?? null, token };
}

/**
 * An API client for {@linkcode apiTarget}.
 *
 * @param options parsed {@linkcode API_OPTIONS}
 * @returns the client
 * @throws {CliError} for an address that is not a URL
 */
export function apiClient(options: ApiArgs): HttpApiClient {
  const { url, token } = apiTarget(options);
  try {
    return new HttpApiClient(url ?? DEFAULT_API_URL, { token });
  } catch (e) {
    if (e instanceof HttpApiError) throw new CliError(e.message);
    throw e;
  }
}
