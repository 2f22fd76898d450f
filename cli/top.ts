/**
 * `torq top`: a live terminal view of the relays, like `nats top`: one line
 * per relay with its rates, then the connections sorted by pending bytes,
 * refreshed every second from the HTTP API.
 *
 * @module
 */

import { CONNECTION_SORTS, formatTop, HttpApiError } from "../src/http/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { sleep } from "../src/io/mod.ts";
import { CliError, Exit, printOut, writeStdout } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { API_OPTIONS, apiClient } from "./_api.ts";

const CLEAR = "\x1b[H\x1b[2J";

/** `torq top`. */
export const command = defineCommand({
  name: "torq top",
  description:
    `Show the relays of a running 'torq up' (or 'torq relay --http') live: a line per relay
with msgs/bytes in and out per second, drops and latency, then the connections sorted by pending
(queued) bytes. Refreshes every second; Ctrl-C quits. Fits 80 columns.`,
  options: {
    sort: {
      type: "string",
      value: "KEY",
      choices: CONNECTION_SORTS,
      default: "pending",
      help: `Connection order: ${CONNECTION_SORTS.join(", ")}`,
    },
    order: {
      type: "string",
      value: "ORDER",
      choices: ["asc", "desc"],
      help: "asc or desc (default desc; asc for id)",
    },
    rows: {
      type: "number",
      value: "N",
      integer: true,
      positive: true,
      help: "Show at most N connections (default: what fits the terminal, else 50)",
    },
    interval: {
      type: "number",
      value: "MS",
      integer: true,
      positive: true,
      default: 1000,
      help: "Refresh period in ms",
    },
    once: { type: "boolean", help: "Print one screen and exit" },
    ...API_OPTIONS,
  },
  exits: { 1: "the HTTP API cannot be reached or refused the request" },
  examples: [
    "torq top",
    "torq top --sort msgs_in --rows 20",
    "torq top --once --http 127.0.0.1:8080",
  ],
  async run({ options: values }) {
    const sort = values.sort;
    const interval = values.interval;
    const rowsOption = values.rows;
    const api = apiClient(values);
    const tty = Deno.stdout.isTerminal();
    const query = { sort, ...(values.order === undefined ? {} : { order: values.order }) };

    const screen = async (): Promise<string> => {
      const [relays, connections] = await Promise.all([api.relays(), api.connections(query)]);
      const rows = rowsOption ??
        (tty ? Math.max(1, terminalRows() - relays.relays.length - 6) : 50);
      return formatTop(relays, connections, { url: api.url, sort, now: relays.time, rows });
    };

    try {
      if (values.once) {
        await printOut(await screen());
        return Exit.OK;
      }
      using stop = interruptOnSignals();
      while (!stop.signal.aborted) {
        const text = await screen();
        await writeStdout(new TextEncoder().encode(tty ? `${CLEAR}${text}\n` : `${text}\n\n`));
        await sleep(interval, stop.signal);
      }
    } catch (e) {
      if (e instanceof HttpApiError) throw new CliError(e.message);
      throw e;
    }
    return Exit.OK;
  },
});

function terminalRows(): number {
  try {
    return Deno.consoleSize().rows;
  } catch {
    return 24;
  }
}
