/**
 * The HTTP/1.1 server of the API and dashboard: a bounded one, with its own
 * accept loop on `Deno.listen`, so that no client of the HTTP port can take the
 * relays of its process down.
 *
 * Why not `Deno.serve`: it has no cap on connections and no header or idle
 * timeout (an idle client is held forever), and when accept() fails with
 * EMFILE it rejects a promise nobody can catch, which ends the process with
 * every relay in it. `node:http` under Deno caps connections, but its accept
 * loop stops for good after one EMFILE and its header timeout does not close
 * idle connections.
 *
 * What this server does:
 * - **Accept** with `acceptEach()` (transport/accept.ts): a failed accept is
 *   counted, logged at most once a second and retried; it never ends the loop.
 * - **At most `maxConnections`.** At the cap, a new connection replaces the one
 *   that has waited longest without sending a complete request (a slow or idle
 *   client); when every connection is busy (a request in progress, an event
 *   stream), the new one is answered 503 and closed.
 * - **Timeouts.** A request's head must arrive within `headerTimeoutMs` of the
 *   connection (or of its first byte on a kept-alive connection, which may idle
 *   for `idleTimeoutMs` before that); a write that does not complete within
 *   `writeTimeoutMs` (a client that stopped reading) closes the connection.
 * - **Requests without a body only** (the API has no other): a request with
 *   `Content-Length` other than 0 or with `Transfer-Encoding` is answered 413;
 *   a request line over `maxHeaderBytes` is answered 414, a head over it 431,
 *   a malformed one 400, each on a closed connection. Requests of a connection
 *   are answered in order (keep-alive, pipelining).
 * - **Responses** are streamed with chunked encoding (to HTTP/1.0 clients as is,
 *   then closed), so Server-Sent Events work; a response body is cancelled when
 *   its connection ends.
 *
 * @module
 */

import { acceptEach, AcceptHealth } from "../transport/mod.ts";
import { Logger, RateLimit } from "../log/mod.ts";

/** Options of {@linkcode Http1Server}. */
export interface Http1Options {
  /** Address to bind. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Answers a request. */
  handler: (request: Request) => Response | Promise<Response>;
  /** Connections held at most (default 128). */
  maxConnections?: number;
  /** Time to receive a request's head, in ms (default 10,000). */
  headerTimeoutMs?: number;
  /** Time a kept-alive connection may wait for its next request, in ms (default 5,000). */
  idleTimeoutMs?: number;
  /** Time one write may take before the connection is closed, in ms (default 30,000). */
  writeTimeoutMs?: number;
  /** Largest request head (request line and headers), in bytes (default 16,384). */
  maxHeaderBytes?: number;
  /** Where refusals, timeouts and errors are logged (rate-limited). */
  logger?: Logger;
}

/** Counters of an {@linkcode Http1Server}. */
export interface Http1Stats {
  /** Connections open now. */
  open: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections answered 503 at the cap. */
  refused: number;
  /** Waiting connections closed at the cap to make room for a new one. */
  evicted: number;
  /** Connections closed because a head or a write took too long. */
  timedOut: number;
  /** Requests answered 400, 413, 414 or 431. */
  badRequests: number;
  /** Whether accept() works now. */
  accepting: boolean;
  /** Failed accept() calls since start. */
  acceptErrors: number;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  414: "URI Too Long",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Header names the server sets itself. */
const OWN_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s]+) HTTP\/1\.([01])$/;
const encoder = new TextEncoder();

/**
 * A running HTTP/1.1 server (see the module documentation).
 *
 * @example
 * ```ts
 * const server = new Http1Server({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handler: () => new Response("ok"),
 * });
 * console.log(server.port);
 * await server.shutdown();
 * ```
 */
export class Http1Server {
  /** Bound address. */
  readonly hostname: string;
  /** Bound port. */
  readonly port: number;
  /** Resolves when the server has stopped accepting and every connection is closed. */
  readonly finished: Promise<void>;
  readonly #listener: Deno.TcpListener;
  readonly #handler: (request: Request) => Response | Promise<Response>;
  readonly #origin: string;
  readonly #log: Logger;
  readonly #health = new AcceptHealth();
  readonly #conns = new Set<Http1Conn>();
  readonly #serving = new Set<Promise<void>>();
  readonly #limitLog = new RateLimit(1000);
  readonly #errorLog = new RateLimit(1000);
  readonly #max: number;
  /** @internal */
  readonly limits: {
    headerTimeoutMs: number;
    idleTimeoutMs: number;
    writeTimeoutMs: number;
    maxHeaderBytes: number;
  };
  #closing = false;
  #accepted = 0;
  #refused = 0;
  #evicted = 0;
  /** @internal */
  timedOut = 0;
  /** @internal */
  badRequests = 0;

  /**
   * Binds and starts accepting.
   *
   * @param options address, handler, limits and logger
   * @throws the error of `Deno.listen` (e.g. `Deno.errors.AddrInUse`)
   */
  constructor(options: Http1Options) {
    this.#listener = Deno.listen({
      transport: "tcp",
      hostname: options.hostname,
      port: options.port,
    });
    const addr = this.#listener.addr;
    this.hostname = addr.hostname;
    this.port = addr.port;
    this.#origin = `http://${
      addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
    }:${addr.port}`;
    this.#handler = options.handler;
    this.#log = options.logger ?? new Logger();
    this.#max = Math.max(1, options.maxConnections ?? 128);
    this.limits = {
      headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 5_000,
      writeTimeoutMs: options.writeTimeoutMs ?? 30_000,
      maxHeaderBytes: options.maxHeaderBytes ?? 16_384,
    };
    const accepting = acceptEach(this.#listener, {
      health: this.#health,
      log: this.#log,
      stopping: () => this.#closing,
      onConnection: (conn) => this.#take(conn as Deno.TcpConn),
    });
    this.finished = accepting.then(async () => {
      while (this.#serving.size > 0) await Promise.allSettled([...this.#serving]);
    });
  }

  /** Whether the server is shutting down. */
  get closing(): boolean {
    return this.#closing;
  }

  /** `http://host:port`, the base of request URLs. */
  get origin(): string {
    return this.#origin;
  }

  /**
   * A snapshot of the counters.
   *
   * @returns the counters
   */
  stats(): Http1Stats {
    return {
      open: this.#conns.size,
      accepted: this.#accepted,
      refused: this.#refused,
      evicted: this.#evicted,
      timedOut: this.timedOut,
      badRequests: this.badRequests,
      accepting: this.#health.accepting && !this.#closing,
      acceptErrors: this.#health.errors,
    };
  }

  /**
   * Stops accepting, closes connections that wait for a request, lets requests
   * in progress finish for up to `timeoutMs`, then closes every connection.
   *
   * @param timeoutMs longest wait for requests in progress (default 2000)
   */
  async shutdown(timeoutMs = 2000): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      for (const c of this.#conns) if (c.waiting) c.close();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([this.finished, late]);
    clearTimeout(timer);
    for (const c of this.#conns) c.close();
    await this.finished;
  }

  /** @internal logs an unexpected failure of a connection, rate-limited */
  logError(message: string, error: unknown): void {
    const suppressed = this.#errorLog.take(Date.now());
    if (suppressed < 0) return;
    this.#log.error(message, {
      error: error instanceof Error ? error.message : String(error),
      suppressed_lines: suppressed,
    });
  }

  /** @internal answers a request */
  handle(request: Request): Response | Promise<Response> {
    return this.#handler(request);
  }

  #take(conn: Deno.TcpConn): void {
    if (this.#closing) {
      conn.close();
      return;
    }
    this.#accepted++;
    if (this.#conns.size >= this.#max) {
      let oldest: Http1Conn | undefined;
      for (const c of this.#conns) {
        if (c.waiting && (oldest === undefined || c.waitingSince < oldest.waitingSince)) oldest = c;
      }
      if (oldest !== undefined) {
        this.#evicted++;
        oldest.close();
        this.#conns.delete(oldest);
        this.#limitWarning("closing the connection that waited longest without a request");
      } else {
        this.#refused++;
        this.#limitWarning("every connection is busy: answering 503");
        refuse(conn);
        return;
      }
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // already reset by the client
    }
    const c = new Http1Conn(conn, this);
    this.#conns.add(c);
    const serving = c.serve().finally(() => {
      this.#conns.delete(c);
      this.#serving.delete(serving);
    });
    this.#serving.add(serving);
  }

  #limitWarning(action: string): void {
    const suppressed = this.#limitLog.take(Date.now());
    if (suppressed < 0) return;
    this.#log.warn(`HTTP connection limit reached: ${action}`, {
      max_connections: this.#max,
      refused: this.#refused,
      evicted: this.#evicted,
      suppressed_lines: suppressed,
    });
  }
}

/** Answers 503 on a connection over the cap and closes it (bounded: 1 s). */
function refuse(conn: Deno.Conn): void {
  const body = "Service Unavailable: too many connections\n";
  const bytes = encoder.encode(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${body.length}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`,
  );
  const timer = setTimeout(() => close(conn), 1000);
  conn.write(bytes).catch(() => {}).finally(() => {
    clearTimeout(timer);
    close(conn);
  });
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** A request head that failed a check: answered with `status` and closed. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Head {
  method: string;
  target: string;
  minor: number;
  headers: [string, string][];
  close: boolean;
}

/** One connection: reads request heads, answers them in order. */
class Http1Conn {
  readonly #conn: Deno.TcpConn;
  readonly #server: Http1Server;
  readonly #buf: Uint8Array;
  #have = 0;
  #closed = false;
  #reading: Promise<number | null> | null = null;
  #responding = false;
  readonly #abort = new AbortController();
  /** Waiting for a request (no request in progress): may be evicted. */
  waiting = true;
  waitingSince = Date.now();

  constructor(conn: Deno.TcpConn, server: Http1Server) {
    this.#conn = conn;
    this.#server = server;
    this.#buf = new Uint8Array(server.limits.maxHeaderBytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    close(this.#conn);
  }

  async serve(): Promise<void> {
    try {
      for (let first = true; !this.#closed && !this.#server.closing; first = false) {
        this.waiting = true;
        this.waitingSince = Date.now();
        let head: Head | null;
        try {
          head = await this.#readHead(first);
        } catch (e) {
          if (!(e instanceof BadRequest)) throw e;
          this.#server.badRequests++;
          await this.#write(errorResponse(e.status, e.message));
          return;
        }
        if (head === null) return;
        this.waiting = false;
        if (!(await this.#answer(head))) return;
      }
    } catch (e) {
      if (!this.#closed && !isDisconnect(e)) this.#server.logError("HTTP connection failed", e);
    } finally {
      this.close();
    }
  }

  /** The next request's head; null at the end of the stream or on a timeout. */
  async #readHead(first: boolean): Promise<Head | null> {
    const { headerTimeoutMs, idleTimeoutMs } = this.#server.limits;
    let started = first || this.#have > 0;
    let timer = this.#deadline(started ? headerTimeoutMs : idleTimeoutMs);
    try {
      let scanned = 0;
      for (;;) {
        const end = findHeadEnd(this.#buf, scanned, this.#have);
        if (end >= 0) {
          const text = latin1(this.#buf.subarray(0, end));
          this.#buf.copyWithin(0, end + 4, this.#have);
          this.#have -= end + 4;
          return parseHead(text);
        }
        scanned = Math.max(0, this.#have - 3);
        if (this.#have === this.#buf.length) {
          const lineEnd = findCrlf(this.#buf, this.#have);
          throw lineEnd < 0
            ? new BadRequest(414, "the request line is too long")
            : new BadRequest(431, "the request headers are too large");
        }
        if ((await this.#readMore()) === null) return null;
        if (!started) {
          // The first byte of a kept-alive connection's next request: the head is due now.
          started = true;
          clearTimeout(timer);
          timer = this.#deadline(headerTimeoutMs);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads more of the stream into the buffer (after what it holds); null at its end.
   * One read at a time: a read started while a response was written (to notice a
   * client that went away) is the one the next head waits for.
   */
  #readMore(): Promise<number | null> {
    this.#reading ??= this.#conn.read(this.#buf.subarray(this.#have)).then(
      (n) => {
        this.#reading = null;
        if (n !== null) this.#have += n;
        return n;
      },
      (e) => {
        this.#reading = null;
        if (this.#closed || isDisconnect(e)) return null;
        throw e;
      },
    );
    return this.#reading;
  }

  /**
   * While a response is written, reads on: a client that closes its connection is
   * noticed at once (its response body is cancelled) rather than at the next write,
   * and bytes of a next request are kept.
   */
  async #watch(): Promise<void> {
    try {
      while (this.#responding && this.#have < this.#buf.length) {
        if ((await this.#readMore()) === null) {
          this.close();
          return;
        }
      }
    } catch {
      this.close();
    }
  }

  /** Closes the connection after `ms` unless cleared. */
  #deadline(ms: number): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      if (this.#closed) return;
      this.#server.timedOut++;
      this.close();
    }, ms);
  }

  /** Answers one request; true when the connection stays open for the next. */
  async #answer(head: Head): Promise<boolean> {
    const server = this.#server;
    let request: Request;
    try {
      request = new Request(server.origin + head.target, {
        method: head.method,
        headers: head.headers,
        signal: this.#abort.signal,
      });
    } catch (e) {
      server.badRequests++;
      await this.#write(errorResponse(400, `the request is malformed (${(e as Error).message})`));
      return false;
    }
    let response: Response;
    try {
      response = await server.handle(request);
    } catch (e) {
      server.logError("HTTP handler failed", e);
      response = new Response("Internal Server Error\n", { status: 500 });
    }
    const keepAlive = head.minor === 1 && !head.close && !server.closing;
    const chunked = head.minor === 1;
    const noBody = head.method === "HEAD" || response.status === 204 ||
      response.status === 304 || response.body === null;
    let text = `HTTP/1.${head.minor} ${response.status} ${
      REASONS[response.status] ?? (response.statusText || "Status")
    }\r\n`;
    response.headers.forEach((value, name) => {
      if (!OWN_HEADERS.has(name) && name !== "set-cookie") text += `${name}: ${value}\r\n`;
    });
    for (const cookie of response.headers.getSetCookie()) text += `set-cookie: ${cookie}\r\n`;
    if (noBody) text += "content-length: 0\r\n";
    else if (chunked) text += "transfer-encoding: chunked\r\n";
    text += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
    if (noBody) {
      await response.body?.cancel().catch(() => {});
      await this.#write(encoder.encode(text));
      return keepAlive;
    }
    const reader = response.body!.getReader();
    let done = false;
    this.#responding = true;
    void this.#watch();
    const cancel = () => void reader.cancel().catch(() => {});
    this.#abort.signal.addEventListener("abort", cancel, { once: true });
    try {
      // The head goes out with the first chunk (or the end): one write, one packet.
      let head: Uint8Array | null = encoder.encode(text);
      for (;;) {
        const next = await reader.read();
        if (next.done) {
          done = true;
          await this.#write(bodyPart(head, null, chunked));
          return keepAlive; // an HTTP/1.0 body ends with the connection
        }
        if (next.value.length === 0) continue;
        await this.#write(bodyPart(head, next.value, chunked));
        head = null;
      }
    } finally {
      this.#responding = false;
      this.#abort.signal.removeEventListener("abort", cancel);
      if (!done) await reader.cancel().catch(() => {});
    }
  }

  /** Writes all of `bytes`; closes the connection when it takes longer than the write timeout. */
  async #write(bytes: Uint8Array): Promise<void> {
    const timer = this.#deadline(this.#server.limits.writeTimeoutMs);
    try {
      for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Parses a request head (without its final blank line). */
function parseHead(text: string): Head {
  const lines = text.replace(/^(\r\n)+/, "").split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]!);
  if (m === null) throw new BadRequest(400, "the request line is malformed");
  const [, method, target, minor] = m;
  if (!target!.startsWith("/") && !(target === "*" && method === "OPTIONS")) {
    throw new BadRequest(400, "the request target must be a path");
  }
  const headers: [string, string][] = [];
  let hosts = 0;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new BadRequest(400, "a header line is malformed");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (/[\0\n\r]/.test(value)) throw new BadRequest(400, "a header value is malformed");
    const lower = name.toLowerCase();
    if (lower === "host") hosts++;
    else if (lower === "content-length" && value !== "0") {
      throw new BadRequest(413, "request bodies are not accepted");
    } else if (lower === "transfer-encoding") {
      throw new BadRequest(413, "request bodies are not accepted");
    } else if (lower === "connection" && /(^|,)\s*close\s*(,|$)/i.test(value)) close = true;
    headers.push([name, value]);
  }
  if (hosts > 1 || (hosts === 0 && minor === "1")) {
    throw new BadRequest(400, "an HTTP/1.1 request needs exactly one Host header");
  }
  return { method: method!, target: target!, minor: Number(minor), headers, close };
}

/** A complete error response that closes the connection. */
function errorResponse(status: number, message: string): Uint8Array {
  const body = `${REASONS[status] ?? "Error"}: ${message}\n`;
  return encoder.encode(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

/** Offset of the `\r\n\r\n` ending a head in `buf[from, to)`, or -1. */
function findHeadEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** Offset of the first `\r\n` in `buf[0, to)`, or -1. */
function findCrlf(buf: Uint8Array, to: number): number {
  for (let i = 0; i + 1 < to; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}

/** Bytes as one character each (HTTP heads are bytes; header values must stay byte strings). */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/**
 * The bytes of one write of a response body: the head, if still unsent, then
 * `data` (as a chunk when `chunked`), or the last chunk when `data` is null.
 */
function bodyPart(head: Uint8Array | null, data: Uint8Array | null, chunked: boolean): Uint8Array {
  const size = chunked
    ? encoder.encode(data === null ? "0\r\n\r\n" : `${data.length.toString(16)}\r\n`)
    : null;
  const length = (head?.length ?? 0) + (size?.length ?? 0) + (data?.length ?? 0) +
    (chunked && data !== null ? 2 : 0);
  const out = new Uint8Array(length);
  let off = 0;
  for (const part of [head, size, data]) {
    if (part === null) continue;
    out.set(part, off);
    off += part.length;
  }
  if (chunked && data !== null) out.set([13, 10], off);
  return out;
}

/** Errors that only mean the client went away. */
function isDisconnect(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.NotConnected;
}
