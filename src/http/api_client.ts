/**
 * A small client of Torq's HTTP API for `torq top` and `torq stats`: fetch
 * one route as JSON with the bearer token, bounded in time, with every
 * failure turned into one readable line.
 *
 * @module
 */

import type { ConnectionsResponse, RelaysResponse } from "./api.ts";

/** Default address of the API (`http.listen`'s default). */
export const DEFAULT_API_URL = "http://127.0.0.1:7420";

/** Why a request failed: `unreachable`, `timeout`, `unauthorized`, `status` or `bad_response`. */
export class HttpApiError extends Error {
  /** Short machine-readable reason. */
  readonly reason: string;

  /**
   * @param reason short machine-readable reason
   * @param message one readable line
   */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "HttpApiError";
    this.reason = reason;
  }
}

/** Options of {@linkcode HttpApiClient}. */
export interface HttpApiClientOptions {
  /** Bearer token (none when absent or null). */
  token?: string | null;
  /** Longest wait for one answer in ms (default 5000). */
  timeoutMs?: number;
}

/**
 * Normalises an API address: adds `http://` when no scheme is given, drops a
 * trailing slash.
 *
 * @param text e.g. `127.0.0.1:7420` or `http://host:7420/`
 * @returns e.g. `http://127.0.0.1:7420`
 * @throws {HttpApiError} (`bad_url`) when it is not an http(s) URL
 * @example
 * ```ts
 * normalizeApiUrl("127.0.0.1:7420"); // "http://127.0.0.1:7420"
 * ```
 */
export function normalizeApiUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new HttpApiError("bad_url", `Cannot use "${text}" as the HTTP API address: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpApiError("bad_url", `Cannot use "${text}" as the HTTP API address: not http(s)`);
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Reads Torq's HTTP API.
 *
 * @example
 * ```ts
 * const api = new HttpApiClient("http://127.0.0.1:7420", { token: null });
 * const { relays } = await api.relays();
 * ```
 */
export class HttpApiClient {
  /** The API's base URL, without a trailing slash. */
  readonly url: string;
  readonly #token: string | null;
  readonly #timeoutMs: number;

  /**
   * @param url base URL (see {@linkcode normalizeApiUrl})
   * @param options token and timeout
   */
  constructor(url: string, options: HttpApiClientOptions = {}) {
    this.url = normalizeApiUrl(url);
    this.#token = options.token ?? null;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * `GET /api/relays`.
   *
   * @returns counters and rates of every relay
   */
  relays(): Promise<RelaysResponse> {
    return this.get<RelaysResponse>("/api/relays");
  }

  /**
   * `GET /api/connections`.
   *
   * @param query sort key, order, limit and relay, as the route takes them
   * @returns the sorted rows
   */
  connections(query: Record<string, string | number> = {}): Promise<ConnectionsResponse> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const tail = qs.size === 0 ? "" : `?${qs}`;
    return this.get<ConnectionsResponse>(`/api/connections${tail}`);
  }

  /**
   * Fetches one route and parses its JSON.
   *
   * @param path e.g. `/api/relays`
   * @returns the parsed body
   * @throws {HttpApiError} with one readable line for every failure
   */
  async get<T>(path: string): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.#token !== null) headers.Authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw this.#unreachable(e);
    }
    if (res.status === 401) {
      await res.body?.cancel();
      throw new HttpApiError(
        "unauthorized",
        this.#token === null
          ? `Cannot read the Torq HTTP API at ${this.url}: it requires a token (pass --token or set TORQ_HTTP_TOKEN)`
          : `Cannot read the Torq HTTP API at ${this.url}: the token was refused`,
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw this.#unreachable(e);
    }
    if (!res.ok) {
      let detail = "";
      try {
        detail = `: ${(JSON.parse(text) as { error?: string }).error ?? ""}`;
      } catch {
        detail = "";
      }
      throw new HttpApiError(
        "status",
        `Cannot read ${path} from the Torq HTTP API at ${this.url}: HTTP ${res.status}${detail}`,
      );
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HttpApiError(
        "bad_response",
        `Cannot read ${path} from ${this.url}: the answer is not JSON (is this the Torq HTTP API?)`,
      );
    }
  }

  #unreachable(e: unknown): HttpApiError {
    const what = `Cannot reach the Torq HTTP API at ${this.url}`;
    if (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError")) {
      return new HttpApiError("timeout", `${what}: no answer within ${this.#timeoutMs} ms`);
    }
    const message = e instanceof Error ? `${e.message} ${String(e.cause ?? "")}` : String(e);
    if (/refused/i.test(message)) {
      return new HttpApiError("unreachable", `${what}: connection refused (is 'torq up' running?)`);
    }
    if (/dns|lookup|resolve|name or service/i.test(message)) {
      return new HttpApiError("unreachable", `${what}: host not found`);
    }
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    return new HttpApiError("unreachable", `${what}: ${first}`);
  }
}
