/**
 * `torq stats`: print the relays' counters from the HTTP API of a running
 * `torq up` (or `torq relay --http`): JSON with `--json`, else a summary.
 *
 * @module
 */

import { formatStatsSummary, HttpApiError } from "../src/http/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { API_OPTIONS, apiClient } from "./_api.ts";

/** `torq stats`. */
export const command = defineCommand({
  name: "torq stats",
  description: `Print every relay's counters (frames and bytes in/out, drops by reason, connections,
latency percentiles, sequence health) from the HTTP API of a running 'torq up' or
'torq relay --http'.`,
  options: {
    json: { type: "boolean", help: "Print the /api/relays answer as JSON" },
    ...API_OPTIONS,
  },
  exits: { 1: "the HTTP API cannot be reached or refused the request" },
  examples: [
    "torq stats",
    "torq stats --json | jq '.relays[0].drops'",
    "torq stats --http 127.0.0.1:8080 --token s3cret",
  ],
  async run({ options }) {
    const api = apiClient(options);
    try {
      const body = await api.relays();
      await printOut(options.json ? JSON.stringify(body, null, 2) : formatStatsSummary(body));
    } catch (e) {
      if (e instanceof HttpApiError) throw new CliError(e.message);
      throw e;
    }
    return Exit.OK;
  },
});
