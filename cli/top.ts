/**
 * `torq top`: a live terminal view of the relays, like `nats top`: one line
 * per relay with its rates, then the connections sorted by pending bytes,
 * refreshed every second from the HTTP API.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_API_URL, HttpApiError } from "../src/http/api_client.ts";
import { CONNECTION_SORTS } from "../src/http/hub.ts";
import { formatTop } from "../src/http/format.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError, writeStdout } from "./_args.ts";
import { apiClient } from "./stats.ts";

const COMMAND = "torq top";

const HELP = `Usage: torq top [options]

Show the relays of a running 'torq up' (or 'torq relay --http') live: a line per
relay with msgs/bytes in and out per second, drops and latency, then the
connections sorted by pending (queued) bytes. Refreshes every second; Ctrl-C quits.

Options:
  --sort KEY       Connection order: ${CONNECTION_SORTS.join(", ")} (default pending)
  --order ORDER    asc or desc (default desc; asc for id)
  --rows N         Show at most N connections (default: what fits the terminal, else 50)
  --interval MS    Refresh period in ms (default 1000)
  --once           Print one screen and exit
  --http URL       The HTTP API (default ${DEFAULT_API_URL}, or TORQ_HTTP_LISTEN)
  --token TOKEN    Bearer token (default TORQ_HTTP_TOKEN)
  -h, --help       Show this help

Examples:
  torq top
  torq top --sort msgs_in --rows 20
  torq top --once --http 127.0.0.1:8080`;

const CLEAR = "\x1b[H\x1b[2J";

/**
 * Runs `torq top`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        sort: { type: "string", default: "pending" },
        order: { type: "string" },
        rows: { type: "string" },
        interval: { type: "string", default: "1000" },
        once: { type: "boolean", default: false },
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
  const sort = values.sort;
  if (!(CONNECTION_SORTS as readonly string[]).includes(sort)) {
    throw new UsageError(COMMAND, `--sort must be one of ${CONNECTION_SORTS.join(", ")}`);
  }
  if (values.order !== undefined && values.order !== "asc" && values.order !== "desc") {
    throw new UsageError(COMMAND, "--order must be asc or desc");
  }
  const interval = positiveInt(values.interval, "--interval");
  const rowsOption = values.rows === undefined ? undefined : positiveInt(values.rows, "--rows");
  const api = apiClient(values.http, values.token);
  const tty = Deno.stdout.isTerminal();
  const query = { sort, ...(values.order === undefined ? {} : { order: values.order }) };

  const screen = async (): Promise<string> => {
    const [relays, connections] = await Promise.all([api.relays(), api.connections(query)]);
    const rows = rowsOption ?? (tty ? Math.max(1, terminalRows() - relays.relays.length - 6) : 50);
    return formatTop(relays, connections, { url: api.url, sort, now: relays.time, rows });
  };

  try {
    if (values.once) {
      await printOut(await screen());
      return Exit.OK;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      while (!stop.signal.aborted) {
        const text = await screen();
        await writeStdout(new TextEncoder().encode(tty ? `${CLEAR}${text}\n` : `${text}\n\n`));
        await sleep(interval, stop.signal);
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
    }
  } catch (e) {
    if (e instanceof HttpApiError) throw new CliError(e.message);
    throw e;
  }
  return Exit.OK;
}

function positiveInt(text: string, name: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0) {
    throw new UsageError(COMMAND, `${name} must be a positive integer, got "${text}"`);
  }
  return Number(text);
}

function terminalRows(): number {
  try {
    return Deno.consoleSize().rows;
  } catch {
    return 24;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
