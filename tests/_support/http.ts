/**
 * HTTP over a raw TCP connection, for tests that need what `fetch` will not do:
 * send any `Host`, keep one connection for several requests, send a head byte
 * by byte, or hold a connection without a request. Every wait is bounded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { concat, type LogLine, ROOT, TORQ_RUN } from "./relay.ts";

/** Bound of start-up and stop waits. */
const WAIT_MS = 20_000;

/** A long-running `torq` process whose stdout is read line by line. */
export interface Running {
  /** The process. */
  child: Deno.ChildProcess;
  /** Its temporary directory (removed by `stop()`). */
  dir: string;
  /** The URL of the `dashboard:` line. */
  url: string;
  /** The dashboard's port. */
  port: number;
  /** Every stdout line so far. */
  stdout: string[];
  /** Every stderr line so far. */
  stderr: string[];
  /** Stderr lines that parse as JSON log lines (with `--log-format json`). */
  logs(): LogLine[];
  /** Whether the process has ended. */
  exited(): boolean;
  /** Stops it with SIGTERM (SIGKILL after 20 s) and removes the directory. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Options of {@linkcode startTorq}. */
export interface StartTorqOptions {
  /** Run under `ulimit -n` of this many open files (soft and hard). */
  openFileLimit?: number;
}

/**
 * Starts `torq <args>` in a temporary directory and waits for its `dashboard:` line.
 *
 * @param args the arguments, given the directory
 * @param options resource limits
 * @returns the running process
 */
export async function startTorq(
  args: (dir: string) => string[],
  options: StartTorqOptions = {},
): Promise<Running> {
  const dir = await Deno.makeTempDir({ prefix: "torq-http-cli-" });
  const torqArgs = [...TORQ_RUN, ...args(dir)];
  const limit = options.openFileLimit;
  const child = new Deno.Command(limit === undefined ? Deno.execPath() : "bash", {
    args: limit === undefined
      ? torqArgs
      : ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, Deno.execPath(), ...torqArgs],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let status: Deno.CommandStatus | null = null;
  child.status.then((s) => status = s);
  const stderr: string[] = [];
  const stderrDone = (async () => {
    let carry = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + text).split("\n");
      carry = parts.pop()!;
      stderr.push(...parts);
    }
    if (carry !== "") stderr.push(carry);
  })();
  const stdout: string[] = [];
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let url: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), WAIT_MS));
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // ended
    }
    let killer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((r) =>
      killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // ended
        }
        r();
      }, WAIT_MS)
    );
    const status = await Promise.race([child.status, killed.then(() => child.status)]);
    clearTimeout(killer);
    await lines.cancel().catch(() => {});
    await stderrDone;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return { code: status.code, stderr: stderr.join("\n") };
  };
  try {
    while (url === undefined) {
      const r = await Promise.race([lines.read(), deadline]);
      if (r === "timeout" || r.done) {
        const { stderr } = await stop();
        throw new Error(`torq ${args(dir).join(" ")} printed no dashboard line: ${stderr}`);
      }
      buffered += r.value;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        stdout.push(line);
        url ??= /^dashboard: (http:\/\/\S+)/.exec(line)?.[1];
      }
    }
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout so the process never blocks on a full pipe.
  (async () => {
    while (true) {
      const r = await lines.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) return;
      stdout.push(...r.value.split("\n").filter((l) => l !== ""));
    }
  })();
  const logs = () =>
    stderr.flatMap((l) => {
      if (!l.startsWith("{")) return [];
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
  const port = Number(new URL(url).port);
  return { child, dir, url, port, stdout, stderr, logs, exited: () => status !== null, stop };
}

/** A parsed response. */
export interface RawResponse {
  /** Status code. */
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The body, de-chunked, as text. */
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One HTTP/1.1 connection that sends requests and reads their responses in order.
 *
 * @example
 * ```ts
 * const c = await HttpConn.open(port);
 * const r = await c.get("/healthz");
 * c.close();
 * ```
 */
export class HttpConn {
  readonly conn: Deno.TcpConn;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /**
   * Connects to 127.0.0.1.
   *
   * @param port the server's port
   * @returns the connection
   */
  static async open(port: number): Promise<HttpConn> {
    return new HttpConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Sends a GET and reads its whole response.
   *
   * @param path request target
   * @param headers extra header lines (default `Host: 127.0.0.1`)
   * @param timeoutMs bound of the wait
   * @returns the response
   */
  async get(
    path: string,
    headers: Record<string, string> = { Host: "127.0.0.1" },
    timeoutMs = 10_000,
  ): Promise<RawResponse> {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await this.send(`GET ${path} HTTP/1.1\r\n${lines}\r\n`);
    return await this.response(timeoutMs);
  }

  /**
   * Writes raw text.
   *
   * @param text what to send
   */
  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  /**
   * Reads one response (Content-Length, chunked, or up to the end of the stream).
   *
   * @param timeoutMs bound of the wait
   * @returns the response
   */
  async response(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    const { status, headers } = await this.head(timeoutMs);
    let body: Uint8Array;
    if (headers["transfer-encoding"] === "chunked") {
      const parts: Uint8Array[] = [];
      for (;;) {
        let eol: number;
        while ((eol = indexOf(this.#buf, "\r\n")) < 0) await this.#more(deadline, "a chunk size");
        const size = parseInt(decoder.decode(this.#buf.subarray(0, eol)), 16);
        while (this.#buf.length < eol + 2 + size + 2) await this.#more(deadline, "a chunk");
        parts.push(this.#buf.slice(eol + 2, eol + 2 + size));
        this.#buf = this.#buf.subarray(eol + 2 + size + 2);
        if (size === 0) break;
      }
      body = concat(parts);
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      while (this.#buf.length < n) await this.#more(deadline, "the body");
      body = this.#buf.slice(0, n);
      this.#buf = this.#buf.subarray(n);
    } else {
      while (!this.#eof) await this.#more(deadline, "the end of the body");
      body = this.#buf;
      this.#buf = new Uint8Array(0);
    }
    return { status, headers, body: decoder.decode(body) };
  }

  /**
   * Reads a response's status line and headers only (e.g. of an event stream).
   *
   * @param timeoutMs bound of the wait
   * @returns status and lower-case headers
   */
  async head(timeoutMs = 10_000): Promise<Omit<RawResponse, "body">> {
    const deadline = Date.now() + timeoutMs;
    let end: number;
    while ((end = indexOf(this.#buf, "\r\n\r\n")) < 0) {
      await this.#more(deadline, "a response head");
    }
    const lines = decoder.decode(this.#buf.subarray(0, end)).split("\r\n");
    this.#buf = this.#buf.subarray(end + 4);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status, headers };
  }

  /**
   * Waits until the server closes the connection (EOF or reset).
   *
   * @param timeoutMs bound of the wait
   * @returns true when it closed in time
   */
  async closedByServer(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      while (!this.#eof) await this.#more(deadline, "the end");
      return true;
    } catch {
      return this.#eof;
    }
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  async #more(deadline: number, what: string): Promise<void> {
    if (this.#eof) assert.fail(`connection closed while waiting for ${what}`);
    const chunk = new Uint8Array(65_536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    let n: number | null | "timeout";
    try {
      n = await Promise.race([this.conn.read(chunk).catch(() => null), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout") throw new Error(`timed out waiting for ${what}`);
    if (n === null) {
      this.#eof = true;
      return;
    }
    this.#buf = concat([this.#buf, chunk.subarray(0, n)]);
  }
}

/**
 * One request on a new connection, closed afterwards.
 *
 * @param port the server's port
 * @param path request target
 * @param headers header lines (default `Host: 127.0.0.1`)
 * @returns the response
 */
export async function rawGet(
  port: number,
  path: string,
  headers?: Record<string, string>,
): Promise<RawResponse> {
  const c = await HttpConn.open(port);
  try {
    return await c.get(path, headers);
  } finally {
    c.close();
  }
}

function indexOf(buf: Uint8Array, text: string): number {
  const pat = encoder.encode(text);
  outer: for (let i = 0; i + pat.length <= buf.length; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
}
