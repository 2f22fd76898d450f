/**
 * The small interface every transport implements (Unix sockets now; TCP and
 * NATS later): listen for connections, connect to a listener, clean up.
 *
 * @module
 */

/** A byte-stream connection (what `Deno.Conn` provides). */
export interface StreamConn {
  /** Reads into `p`; null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; may write fewer bytes than given. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/** A listening endpoint. */
export interface TransportListener extends AsyncIterable<StreamConn> {
  /**
   * The next connection. Throws what the system's accept() reported (an error with
   * `code`, e.g. `EMFILE`), and `Deno.errors.BadResource` once the listener is closed;
   * unlike the iterator, the listener can be used again after a failure.
   */
  accept(): Promise<StreamConn>;
  /** Stops accepting. */
  close(): void;
}

/** A transport: where a relay listens and how clients reach it. */
export interface Transport {
  /** `unix` (later `tcp`). */
  readonly kind: string;
  /** Printable address, e.g. the socket path. */
  readonly address: string;
  /** Prepares the endpoint and listens. */
  listen(): Promise<TransportListener>;
  /** Connects to the endpoint. */
  connect(): Promise<StreamConn>;
  /** Removes what `listen()` created (e.g. the socket file). */
  cleanup(): void;
}

/**
 * A transport-level failure with a one-line, user-facing message; the error it
 * wraps, if any, is its `cause`.
 *
 * @example
 * ```ts
 * try {
 *   Deno.listen({ transport: "unix", path: "/nonexistent/x.sock" });
 * } catch (e) {
 *   throw new TransportError("other", `Cannot listen on "/nonexistent/x.sock"`, { cause: e });
 * }
 * ```
 */
export class TransportError extends Error {
  /**
   * Short machine-readable reason: `in_use`, `not_socket`, `no_socket`, `refused`, `denied`,
   * `unsafe_dir`, `unsafe_mode`, `other`.
   */
  readonly reason: string;

  /**
   * @param reason machine-readable reason
   * @param message one-line message
   * @param options `cause`: the error this one wraps
   */
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportError";
    this.reason = reason;
  }
}
