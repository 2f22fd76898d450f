/**
 * TCP: the same framing and relay semantics as Unix sockets (PROTOCOL.md 7.12),
 * on loopback unless configured otherwise. Nagle's algorithm is turned off on
 * every connection: frames are written whole and latency matters more than
 * packet count.
 *
 * @module
 */

import {
  type StreamConn,
  type Transport,
  TransportError,
  type TransportListener,
} from "./transport.ts";

/** Hostnames that stay on this machine. */
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/i;

/**
 * Whether a hostname is a loopback address.
 *
 * @param hostname host to check
 * @returns true for 127.0.0.0/8, localhost and ::1
 */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/**
 * Parses `tcp://host:port` (or `host:port`).
 *
 * @param text the address
 * @returns hostname and port
 * @throws {TransportError} `other` when it is not host:port
 * @example
 * ```ts
 * parseTcpAddress("tcp://127.0.0.1:7401"); // { hostname: "127.0.0.1", port: 7401 }
 * ```
 */
export function parseTcpAddress(text: string): { hostname: string; port: number } {
  const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) {
    throw new TransportError("other", `"${text}" is not a TCP address: expected tcp://HOST:PORT`);
  }
  return { hostname: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * A TCP endpoint.
 *
 * @example
 * ```ts
 * const t = new TcpTransport("127.0.0.1", 0);
 * const listener = await t.listen();
 * t.address; // "tcp://127.0.0.1:41234" (the port actually bound)
 * ```
 */
export class TcpTransport implements Transport {
  /** Always `tcp`. */
  readonly kind = "tcp";
  readonly #hostname: string;
  #port: number;

  /**
   * @param hostname host to bind or reach
   * @param port port (0 binds a free port)
   */
  constructor(hostname: string, port: number) {
    this.#hostname = hostname;
    this.#port = port;
  }

  /** `tcp://host:port`, with the bound port once listening. */
  get address(): string {
    const host = this.#hostname.includes(":") ? `[${this.#hostname}]` : this.#hostname;
    return `tcp://${host}:${this.#port}`;
  }

  /** Whether the endpoint is loopback only. */
  get loopback(): boolean {
    return isLoopback(this.#hostname);
  }

  /** Binds and listens. */
  listen(): Promise<TransportListener> {
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ transport: "tcp", hostname: this.#hostname, port: this.#port });
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        return Promise.reject(
          new TransportError("in_use", `${this.address} is already in use`, { cause: e }),
        );
      }
      return Promise.reject(
        new TransportError("other", `Cannot listen on ${this.address}: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
    this.#port = (listener.addr as Deno.NetAddr).port;
    return Promise.resolve(noDelay(listener));
  }

  /** Connects (with Nagle off). */
  async connect(): Promise<StreamConn> {
    try {
      const conn = await Deno.connect({
        transport: "tcp",
        hostname: this.#hostname,
        port: this.#port,
      });
      conn.setNoDelay(true);
      return conn;
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused) {
        throw new TransportError(
          "refused",
          `connection refused (nothing listens on ${this.address})`,
          { cause: e },
        );
      }
      throw new TransportError("other", `${(e as Error).message} (${this.address})`, { cause: e });
    }
  }

  /** Nothing to remove for TCP. */
  cleanup(): void {}
}

/** A listener whose accepted connections have Nagle turned off. */
function noDelay(listener: Deno.TcpListener): TransportListener {
  const accept = async (): Promise<Deno.TcpConn> => {
    const conn = await listener.accept();
    conn.setNoDelay(true);
    return conn;
  };
  return {
    accept,
    close: () => listener.close(),
    async *[Symbol.asyncIterator]() {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        yield conn;
      }
    },
  };
}
