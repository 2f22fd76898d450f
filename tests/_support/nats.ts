/**
 * Integration-test support for a real `nats-server` (Debian package, 2.9): start
 * one on a free loopback port with a temporary configuration file
 * ({@linkcode startNatsServer}), restart it on the same port and store
 * directory ({@linkcode NatsServer.restart}), stop it and remove what it left
 * ({@linkcode NatsServer.stop}).
 *
 * Every wait is bounded: a server that does not print "Server is ready" in
 * time is killed and reported with its log.
 *
 * @module
 */

/** How long a server may take to become ready, in ms. */
export const NATS_START_TIMEOUT_MS = 15_000;

/** Options of {@linkcode startNatsServer}. */
export interface NatsServerOptions {
  /** Enable JetStream with a store directory inside the temporary directory. */
  jetstream?: boolean;
  /** Require this token from clients. */
  token?: string;
  /** Require this user (with `password`) from clients. */
  user?: string;
  /** The user's password. */
  password?: string;
  /** Largest message the server takes, in bytes (default 1 MiB). */
  maxPayload?: number;
}

/** A running `nats-server` started by {@linkcode startNatsServer}. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** The client port (kept across restarts). */
  readonly port: number;
  /** The temporary directory (configuration, JetStream store). */
  readonly dir: string;
  /** Everything the current process logged so far. */
  log(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s; or SIGKILL at once); the directory stays. */
  kill(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process: a server that stops answering. */
  pause(paused: boolean): void;
  /** Starts the server again on the same port with the same store directory. */
  restart(): Promise<void>;
  /** Stops the process and removes the temporary directory. */
  stop(): Promise<void>;
}

/** What to run when `nats-server` is missing. */
export const NATS_INSTALL = "apt-get install nats-server";

/**
 * Whether `nats-server` is installed (on the PATH).
 *
 * @returns true when `nats-server --version` runs
 */
export function natsServerAvailable(): boolean {
  try {
    return new Deno.Command("nats-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Fails (never skips) when `nats-server` is not installed: the bridge tests
 * are part of the suite, and a machine without the server must say what to
 * install rather than pass without them.
 *
 * @throws {Error} naming the install command
 */
export function requireNatsServer(): void {
  if (!natsServerAvailable()) {
    throw new Error(`nats-server is not installed (on the PATH); install it with: ${NATS_INSTALL}`);
  }
}

/**
 * Starts `nats-server` on 127.0.0.1 with a free port (`-1`) and waits (bounded)
 * for "Server is ready".
 *
 * @param options JetStream and authentication
 * @returns the running server
 * @example
 * ```ts
 * const server = await startNatsServer({ jetstream: true });
 * try {
 *   // connect({ servers: server.url })
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  requireNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "torq-nats-" });
  let child: Deno.ChildProcess | null = null;
  let log = "";
  let port = -1;

  const launch = async (): Promise<void> => {
    const lines = [
      `listen: "127.0.0.1:${port}"`,
      `server_name: torq_test`,
      `max_payload: ${options.maxPayload ?? 1048576}`,
      options.token === undefined ? "" : `authorization { token: "${options.token}" }`,
      options.user === undefined
        ? ""
        : `authorization { user: "${options.user}", password: "${options.password ?? ""}" }`,
      options.jetstream ? `jetstream { store_dir: "${dir}/js" }` : "",
    ];
    await Deno.writeTextFile(`${dir}/nats.conf`, lines.join("\n") + "\n");
    log = "";
    const proc = new Deno.Command("nats-server", {
      args: ["-c", `${dir}/nats.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child = proc;
    const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`nats-server not ready after ${NATS_START_TIMEOUT_MS} ms:\n${log}`)),
        NATS_START_TIMEOUT_MS,
      );
    });
    const ready = (async () => {
      while (!log.includes("Server is ready")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`nats-server exited before it was ready:\n${log}`);
        log += value;
      }
    })();
    try {
      await Promise.race([ready, timeout]);
    } catch (e) {
      try {
        proc.kill("SIGKILL");
      } catch {
        // already gone
      }
      reader.releaseLock();
      await proc.status;
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
    if (m === null) throw new Error(`cannot read the nats-server port from its log:\n${log}`);
    port = Number(m[1]);
    // Keep draining stderr so the server never blocks on a full pipe.
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          log += value;
        }
      } catch {
        // process ended
      }
    })();
  };

  const kill = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null) return;
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    await proc.status;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dir,
    log: () => log,
    kill,
    pause(paused: boolean) {
      (child as Deno.ChildProcess | null)?.kill(paused ? "SIGSTOP" : "SIGCONT");
    },
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
