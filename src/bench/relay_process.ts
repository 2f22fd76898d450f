/**
 * A relay process of the bench's own: `torq relay <domain>` started as a child
 * process on a socket of the bench's temporary directory, waited for until it
 * accepts connections, and stopped with its warnings and errors collected, so
 * a report can show the relay's own drop and reject lines. Used by `torq bench`
 * and by the scripts in bench/.
 *
 * @module
 */

import { sleep } from "../io/mod.ts";
import type { BenchDomain } from "./load.ts";
import { settle } from "./_util.ts";

/** One line the relay logged (its JSON log line, or `{level: "text", msg}` for other output). */
export interface RelayLogLine {
  /** warn, error, or "text" for a line that is not a JSON log line. */
  level: string;
  /** The message. */
  msg: string;
  /** Every other field. */
  [field: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// A relay process of the bench's own.

/** Options of {@linkcode RelayProcess.start}. */
export interface RelayProcessOptions {
  /** How to run `torq`: `[deno, "run", "-A", ".../cli/main.ts"]`, or `[torqBinary]`. */
  command: readonly string[];
  /** Which relay. */
  domain: BenchDomain;
  /** Socket path to listen on. */
  socket: string;
  /** Audit journal path (execution). */
  journal: string;
  /** Further `torq relay` arguments (e.g. `--set KEY=VALUE`). */
  args?: readonly string[];
  /** Bound of the start-up wait (default 15,000 ms). */
  startTimeoutMs?: number;
}

/** What {@linkcode RelayProcess.stop} reports. */
export interface RelayExit {
  /** Exit code (-1 when unknown). */
  code: number;
  /** Signal that ended it, if it did not exit by itself. */
  signal: string | null;
  /** Warnings and errors it logged. */
  log: RelayLogLine[];
}

function parseLogLine(line: string): RelayLogLine {
  if (line.startsWith("{")) {
    try {
      const v = JSON.parse(line);
      if (typeof v === "object" && v !== null && typeof v.msg === "string") {
        return { ...v, level: String(v.level ?? "info"), msg: v.msg };
      }
    } catch {
      // not JSON
    }
  }
  return { level: "text", msg: line };
}

/**
 * `torq relay <domain>` as a child process logging JSON at level warn, so the
 * bench can report the relay's own drop and reject lines.
 *
 * @example
 * ```ts
 * const relay = await RelayProcess.start({
 *   command: [Deno.execPath(), "run", "-A", "cli/main.ts"],
 *   domain: "signal", socket: "/tmp/b/s.sock", journal: "/tmp/b/execution.journal",
 * });
 * const { code, log } = await relay.stop(); // 0, []
 * ```
 */
export class RelayProcess {
  /** The socket path. */
  readonly socket: string;
  readonly #child: Deno.ChildProcess;
  readonly #lines: RelayLogLine[] = [];
  readonly #pump: Promise<void>;
  readonly #status: Promise<Deno.CommandStatus>;
  #ended: Deno.CommandStatus | null = null;
  #stopping: Promise<RelayExit> | null = null;

  private constructor(socket: string, child: Deno.ChildProcess) {
    this.socket = socket;
    this.#child = child;
    this.#status = child.status.then((s) => (this.#ended = s));
    this.#pump = (async () => {
      let carry = "";
      try {
        for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
          const parts = (carry + text).split("\n");
          carry = parts.pop()!;
          for (const l of parts) if (l.trim() !== "") this.#lines.push(parseLogLine(l));
        }
      } catch {
        // the pipe broke: the process is gone
      }
      if (carry.trim() !== "") this.#lines.push(parseLogLine(carry));
    })();
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process has ended. */
  get exited(): boolean {
    return this.#ended !== null;
  }

  /**
   * Lines logged so far.
   *
   * @returns warnings, errors and non-JSON output, in order
   */
  log(): RelayLogLine[] {
    return [...this.#lines];
  }

  /**
   * Spawns the relay and waits (bounded) until its socket accepts connections.
   *
   * @param options command, domain, paths
   * @returns the running relay
   * @throws {Error} when it exits or does not accept in time (message holds its last output)
   */
  static async start(options: RelayProcessOptions): Promise<RelayProcess> {
    const [exe, ...pre] = options.command;
    if (exe === undefined) throw new Error("Cannot start a relay: the command is empty");
    const child = new Deno.Command(exe, {
      args: [
        ...pre,
        "relay",
        options.domain,
        "--socket",
        options.socket,
        "--journal",
        options.journal,
        "--log-level",
        "warn",
        "--log-format",
        "json",
        ...(options.args ?? []),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const relay = new RelayProcess(options.socket, child);
    const until = performance.now() + (options.startTimeoutMs ?? 15_000);
    for (;;) {
      if (relay.exited) {
        const r = await relay.stop();
        const why = r.log.map((l) => l.msg).filter((m) => m !== "").at(-1) ?? `exit ${r.code}`;
        throw new Error(`Cannot start a ${options.domain} relay: ${why}`);
      }
      try {
        (await Deno.connect({ transport: "unix", path: options.socket })).close();
        return relay;
      } catch {
        // not listening yet
      }
      if (performance.now() >= until) {
        await relay.stop("SIGKILL");
        throw new Error(
          `Cannot start a ${options.domain} relay: not listening on ${options.socket} after ${
            options.startTimeoutMs ?? 15_000
          } ms`,
        );
      }
      await sleep(20);
    }
  }

  /**
   * Stops the relay (SIGTERM; SIGKILL after 5 s) and collects its log. Idempotent.
   *
   * @param signal first signal (default SIGTERM)
   * @returns exit status and log
   */
  stop(signal: Deno.Signal = "SIGTERM"): Promise<RelayExit> {
    this.#stopping ??= (async () => {
      if (this.#ended === null) {
        try {
          this.#child.kill(signal);
        } catch {
          // already ended
        }
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        this.#status.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), 5_000))),
      ]);
      clearTimeout(timer);
      if (!ended) {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // already ended
        }
        await this.#status;
      }
      await settle([this.#pump], 2_000);
      const s = this.#ended as Deno.CommandStatus | null;
      return { code: s?.code ?? -1, signal: s?.signal ?? null, log: this.log() };
    })();
    return this.#stopping;
  }
}
