/**
 * `torq stats`: print the relays' counters from the HTTP API of a running
 * `torq up` (or `torq relay --http`): JSON with `--json`, else a summary.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_API_URL, HttpApiClient, HttpApiError } from "../src/http/api_client.ts";
import { formatStatsSummary } from "../src/http/format.ts";
import { CliError, Exit, parseOrUsage, printOut } from "./_args.ts";

const COMMAND = "torq stats";

const HELP = `Usage: torq stats [options]

Print every relay's counters (frames and bytes in/out, drops by reason,
connections, latency percentiles, sequence health) from the HTTP API of a
running 'torq up' or 'torq relay --http'.

Options:
  --json           Print the /api/relays answer as JSON
  --http URL       The HTTP API (default ${DEFAULT_API_URL}, or TORQ_HTTP_LISTEN)
  --token TOKEN    Bearer token (default TORQ_HTTP_TOKEN)
  -h, --help       Show this help

Examples:
  torq stats
  torq stats --json | jq '.relays[0].drops'
  torq stats --http 127.0.0.1:8080 --token s3cret`;

/**
 * Runs `torq stats`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        json: { type: "boolean", default: false },
        http: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  const api = apiClient(values.http, values.token);
  try {
    const body = await api.relays();
    await printOut(values.json ? JSON.stringify(body, null, 2) : formatStatsSummary(body));
  } catch (e) {
    if (e instanceof HttpApiError) throw new CliError(e.message);
    throw e;
  }
  return Exit.OK;
}

/**
 * The API client `--http`/`--token` (or TORQ_HTTP_LISTEN/TORQ_HTTP_TOKEN) point at.
 *
 * @param http `--http` value
 * @param token `--token` value
 * @returns the client
 * @throws {CliError} for an address that is not a URL
 */
export function apiClient(http: string | undefined, token: string | undefined): HttpApiClient {
  const url = http ?? envOr("TORQ_HTTP_LISTEN") ?? DEFAULT_API_URL;
  try {
    return new HttpApiClient(url, { token: token ?? envOr("TORQ_HTTP_TOKEN") ?? null });
  } catch (e) {
    if (e instanceof HttpApiError) throw new CliError(e.message);
    throw e;
  }
}

function envOr(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : v;
}
