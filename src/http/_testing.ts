/**
 * Test support for the HTTP layer (not part of the public API): the three real
 * relays in this process on sockets in a temporary directory, frames they
 * accept, and raw connections with bounded waits.
 *
 * @module
 */

import { EXECUTION_LOGIC, MARKET_DATA_LOGIC, Relay, SIGNAL_LOGIC } from "../relay/mod.ts";
import { Logger } from "../log/mod.ts";
import { MessageBuilder } from "../protocol/mod.ts";

/** Longest any helper waits, in ms. */
export const WAIT_MS = 10_000;

/** Relays started by {@linkcode startTestRelays}. */
export interface TestRelays {
  /** Temporary directory holding the sockets and the journal. */
  dir: string;
  /** market_data, signal, execution. */
  relays: Relay[];
  /** The relay of that name. */
  relay(name: string): Relay;
  /** Stops the relays and removes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts the three relays in this process, silent, on sockets in a temporary directory.
 *
 * @param options `sink` receives the relays' log lines (default: dropped)
 * @returns the running relays
 */
export async function startTestRelays(
  options: { sink?: (line: string) => void } = {},
): Promise<TestRelays> {
  const dir = await Deno.makeTempDir({ prefix: "torq-http-" });
  const logger = new Logger({ sink: options.sink ?? (() => {}) });
  const relays = [
    new Relay({ ...MARKET_DATA_LOGIC, socketPath: `${dir}/market_data.sock` }, { logger }),
    new Relay({ ...SIGNAL_LOGIC, socketPath: `${dir}/signals.sock` }, { logger }),
    new Relay(
      {
        ...EXECUTION_LOGIC,
        socketPath: `${dir}/execution.sock`,
        journalPath: `${dir}/execution.journal`,
      },
      { logger },
    ),
  ];
  for (const r of relays) await r.start();
  return {
    dir,
    relays,
    relay(name) {
      const r = relays.find((x) => x.logic.name === name);
      if (r === undefined) throw new Error(`no relay ${name}`);
      return r;
    },
    async stop() {
      await Promise.all(relays.map((r) => r.stop(0)));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * `n` market-data Trade frames (74 bytes each) stamped now, sequences 1…n.
 *
 * @param n how many
 * @returns the frames, concatenated
 */
export function tradeFrames(n: number): Uint8Array {
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const out = new Uint8Array(n * 74);
  for (let i = 0; i < n; i++) {
    const f = b.begin().addPayload(1, {
      asset_id: 4779518966531048448n,
      price: 4512350000000n + BigInt(i),
      volume: 12345678n,
      execution_timestamp_ns: 1700000000000000000n,
      venue_id: 101,
      asset_type: 51,
      reserved: 0,
      side: 0,
    }).finish();
    out.set(f, i * 74);
  }
  return out;
}

/**
 * A signal-domain frame carrying one Heartbeat TLV: the market-data relay
 * drops it as `WrongDomain`.
 *
 * @returns the frame
 */
export function wrongDomainFrame(): Uint8Array {
  const b = new MessageBuilder({ domain: 2, source: 20 });
  return b.begin().addTlv(100, new Uint8Array(16)).finish().slice();
}

/**
 * Connects to a relay's socket.
 *
 * @param relay the relay
 * @returns the connection
 */
export function connect(relay: Relay): Promise<Deno.UnixConn> {
  return Deno.connect({ transport: "unix", path: relay.address });
}

export { writeAll } from "../io/mod.ts";

/**
 * Polls `check` every 10 ms until it returns true, at most {@linkcode WAIT_MS}.
 *
 * @param what description for the failure message
 * @param check the condition
 * @throws Error when it never held
 */
export async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Reads from `conn` until `bytes` bytes arrived, at most {@linkcode WAIT_MS}.
 *
 * @param conn the connection
 * @param bytes how many
 * @returns what arrived
 */
export async function readBytes(conn: Deno.Conn, bytes: number): Promise<Uint8Array> {
  const out = new Uint8Array(bytes);
  let got = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${WAIT_MS} ms: ${got} of ${bytes} bytes`)),
      WAIT_MS,
    );
  });
  try {
    while (got < bytes) {
      const n = await Promise.race([conn.read(out.subarray(got)), timeout]);
      if (n === null) throw new Error(`Connection closed after ${got} of ${bytes} bytes`);
      got += n;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/**
 * Waits for `promise` at most {@linkcode WAIT_MS}.
 *
 * @param what description for the failure message
 * @param promise what to wait for
 * @returns its value
 * @throws Error when it did not settle in time
 */
export async function bounded<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${WAIT_MS} ms: ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
