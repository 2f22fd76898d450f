/**
 * Integration-test support for `torq relay`: spawn a real relay on a socket in a
 * temporary directory ({@linkcode startRelay}), talk to it over raw Unix
 * sockets with bounded reads ({@linkcode connect}, {@linkcode readExactly},
 * {@linkcode readFrames}, {@linkcode expectSilence}, {@linkcode subscribe}),
 * and build frames each relay accepts ({@linkcode PROFILES}).
 *
 * Every wait is bounded: a read that does not complete in time fails the test
 * with what was received so far, and a relay that does not start in time is
 * killed and reported with its stderr. {@linkcode RunningRelay.stop} always
 * removes the temporary directory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FrameReader } from "../../src/protocol/frame_reader.ts";
import { MessageBuilder } from "../../src/protocol/builder.ts";
import { encodeHeader, HEADER_SIZE, sealChecksum } from "../../src/protocol/header.ts";
import {
  decodeErrorText,
  encodeSubscribe,
  ERROR_TLV,
  parseSubscribe,
  SUBSCRIBE_TLV,
  SubscribeMode,
} from "../../src/protocol/subscribe.ts";
import { walkTlvs } from "../../src/protocol/tlv.ts";
import { torqArgs } from "../../bench/_torq.ts";
import { concat } from "../../src/io/mod.ts";
import { encodePayload } from "../../src/protocol/payloads.ts";

/** The repository root (where `cli/main.ts` lives). */
export const ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/**
 * `deno` arguments that run the CLI as `bin/torq` (and the compiled binary) do:
 * its V8 flags and its permissions (bench/_torq.ts, shared with the benches). A
 * relay tested with other flags would hide what the shipped one does (Deno
 * refuses /proc without `--allow-all`, which an `-A` test never noticed missing).
 */
export const TORQ_RUN: readonly string[] = torqArgs([]);

/** Default bound of every read helper, in ms. */
export const READ_TIMEOUT_MS = 10_000;

/** A relay domain as `torq relay` spells it. */
export type RelayArg = "market-data" | "signal" | "execution";

/** One parsed `--log-format json` line of the relay. */
export interface LogLine {
  /** ISO time. */
  ts: string;
  /** debug, info, warn or error. */
  level: string;
  /** The message, e.g. `rejected frame`. */
  msg: string;
  /** Relay name. */
  relay?: string;
  /** Connection id (accept order from 0). */
  conn?: number;
  /** Every other field (code, reason, undelivered_frames, dropped, ...). */
  [field: string]: unknown;
}

/** What {@linkcode RunningRelay.stop} reports. */
export interface StopResult {
  /** Exit code. */
  code: number;
  /** Signal that ended the process when it did not exit by itself. */
  signal: Deno.Signal | null;
  /** Everything the relay wrote to stderr. */
  stderr: string;
  /** Whether the socket file still existed after the process ended. */
  socketLeft: boolean;
}

/** A relay process started by {@linkcode startRelay}. */
export interface RunningRelay {
  /** Socket path. */
  path: string;
  /** The temporary directory (removed by `stop()`). */
  dir: string;
  /** Execution journal path (`--journal`). */
  journal: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Complete stderr lines so far. */
  stderrLines(): string[];
  /** Complete stdout lines so far (e.g. the `dashboard:` line of `--http`). */
  stdoutLines(): string[];
  /** Stderr lines that parse as JSON log lines, in order. */
  logs(): LogLine[];
  /**
   * Waits for a log line (from index `from` of `logs()`) matching `match`.
   *
   * @returns the line, or `undefined` when none came within `timeoutMs`
   */
  findLog(
    match: (l: LogLine) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<LogLine | undefined>;
  /** Like `findLog()` but fails the test (with the stderr) on timeout. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  /** The relay's process id. */
  readonly pid: number;
  /** Open file descriptors of the relay process (`/proc/<pid>/fd`). */
  openFds(): number;
  /** Whether the process has ended. */
  exited(): boolean;
  /**
   * Signals the process (default SIGTERM), waits for it to end (SIGKILL after 10 s),
   * collects stderr and removes the temporary directory. Idempotent.
   */
  stop(signal?: Deno.Signal): Promise<StopResult>;
}

/** Options of {@linkcode startRelay}. */
export interface StartOptions {
  /** Extra arguments, e.g. `["--set", "relays.signal.performance.max_connections=3"]`. */
  args?: string[];
  /** Socket path instead of `<dir>/x.sock`. */
  socket?: string;
  /** Bound of the start-up wait (default 15 s). */
  timeoutMs?: number;
  /** Environment variables added to the relay's (e.g. `TORQ_CHECK_POOLS: "1"`). */
  env?: Record<string, string>;
  /** Run under `ulimit -n` of this many open files (soft and hard). */
  openFileLimit?: number;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function parseLog(line: string): LogLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line);
    return typeof v === "object" && v !== null && typeof v.msg === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawns `torq relay <domain> --socket <tmp>/x.sock --journal <tmp>/execution.journal
 * --log-format json ...args` from the repository root and waits (bounded) until
 * it logs `listening` — logged right after the socket is bound, so it accepts.
 *
 * @param domain market-data, signal or execution
 * @param options extra arguments, socket path, start-up bound
 * @returns the running relay
 * @throws when the relay exits or does not listen in time (message holds its stderr)
 */
export async function startRelay(
  domain: RelayArg,
  options: StartOptions = {},
): Promise<RunningRelay> {
  const dir = await Deno.makeTempDir({ prefix: "torq_relay_test_" });
  const path = options.socket ?? `${dir}/x.sock`;
  const journal = `${dir}/execution.journal`;
  const args = [
    ...TORQ_RUN,
    "relay",
    domain,
    "--socket",
    path,
    "--journal",
    journal,
    "--log-format",
    "json",
    ...(options.args ?? []),
  ];
  const limit = options.openFileLimit;
  // bash sets the limit and then becomes the relay (exec): the child's pid is the relay's.
  const child = new Deno.Command(limit === undefined ? Deno.execPath() : "bash", {
    args: limit === undefined
      ? args
      : ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, Deno.execPath(), ...args],
    cwd: ROOT,
    env: options.env ?? {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const out: string[] = [];
  const outPump = (async () => {
    let carry = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + text).split("\n");
      carry = parts.pop()!;
      out.push(...parts);
    }
    if (carry !== "") out.push(carry);
  })();
  const lines: string[] = [];
  const parsed: LogLine[] = [];
  const pump = (async () => {
    let carry = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + text).split("\n");
      carry = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        const p = parseLog(l);
        if (p !== undefined) parsed.push(p);
      }
    }
    if (carry !== "") {
      lines.push(carry);
      const p = parseLog(carry);
      if (p !== undefined) parsed.push(p);
    }
  })();
  let status: Deno.CommandStatus | null = null;
  const statusPromise = child.status.then((s) => (status = s));

  let stopping: Promise<StopResult> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<StopResult> => {
    stopping ??= (async () => {
      try {
        if (status === null) {
          try {
            child.kill(signal);
          } catch {
            // already ended
          }
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          statusPromise.then(() => true),
          new Promise<false>((r) => (timer = setTimeout(() => r(false), 10_000))),
        ]);
        clearTimeout(timer);
        if (!ended) {
          try {
            child.kill("SIGKILL");
          } catch {
            // already ended
          }
          await statusPromise;
        }
        await pump;
        await outPump;
        let socketLeft = false;
        try {
          Deno.lstatSync(path);
          socketLeft = true;
        } catch {
          // removed
        }
        const s = status as Deno.CommandStatus | null;
        return {
          code: s?.code ?? -1,
          signal: s?.signal ?? null,
          stderr: lines.join("\n"),
          socketLeft,
        };
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    })();
    return stopping;
  };

  const findLog = async (
    match: (l: LogLine) => boolean,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<LogLine | undefined> => {
    const deadline = Date.now() + timeoutMs;
    for (let i = from;;) {
      for (; i < parsed.length; i++) if (match(parsed[i]!)) return parsed[i];
      if (Date.now() >= deadline || status !== null) {
        // a process that ended may still have lines in the pipe
        if (status !== null) await pump;
        for (; i < parsed.length; i++) if (match(parsed[i]!)) return parsed[i];
        return undefined;
      }
      await delay(10);
    }
  };

  const relay: RunningRelay = {
    path,
    dir,
    journal,
    child,
    stderrLines: () => [...lines],
    stdoutLines: () => [...out],
    logs: () => [...parsed],
    findLog,
    waitForLog: async (match, timeoutMs = 5_000, from = 0) => {
      const line = await findLog(match, timeoutMs, from);
      if (line === undefined) {
        assert.fail(
          `no matching relay log line within ${timeoutMs} ms; stderr:\n${
            lines.slice(-40).join("\n")
          }`,
        );
      }
      return line;
    },
    pid: child.pid,
    openFds: () => [...Deno.readDirSync(`/proc/${child.pid}/fd`)].length,
    exited: () => status !== null,
    stop,
  };

  const listening = await findLog((l) => l.msg === "listening", options.timeoutMs ?? 15_000);
  if (listening === undefined) {
    const r = await stop("SIGKILL");
    throw new Error(
      `torq relay ${domain} did not start (exit ${r.code}${
        r.signal ? `, ${r.signal}` : ""
      }); stderr:\n${r.stderr}`,
    );
  }
  assert.ok(Deno.lstatSync(path).isSocket, `${path} is not a socket after "listening"`);
  return relay;
}

/** Result of {@linkcode runTorq}. */
export interface TorqResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Runs `torq <args>` to completion (bounded: killed after `timeoutMs`).
 *
 * @param args arguments after `torq`
 * @param timeoutMs longest run (default 15 s)
 * @returns exit code and output
 */
export async function runTorq(args: string[], timeoutMs = 15_000): Promise<TorqResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Clients over raw sockets. Each connection keeps one outstanding read (reused
// by the next call after a timeout) and the bytes received but not yet consumed.

interface ReadState {
  chunk: Uint8Array;
  pending: Promise<number | null> | null;
  held: Uint8Array[];
  heldBytes: number;
  eof: boolean;
}

const states = new WeakMap<Deno.Conn, ReadState>();
/** Connections opened by {@linkcode connect} and not yet closed by {@linkcode close}. */
const live = new Set<Deno.Conn>();

function stateOf(conn: Deno.Conn): ReadState {
  let s = states.get(conn);
  if (s === undefined) {
    s = { chunk: new Uint8Array(262_144), pending: null, held: [], heldBytes: 0, eof: false };
    states.set(conn, s);
  }
  return s;
}

/** Next bytes from the socket: a copy, `null` at end of stream, or "timeout". */
async function pull(conn: Deno.Conn, s: ReadState, deadline: number): Promise<
  Uint8Array | null | "timeout"
> {
  if (s.eof) return null;
  if (s.pending === null) {
    s.pending = conn.read(s.chunk);
    s.pending.catch(() => {}); // a read cancelled by close() must not be unhandled
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let n: number | null | "timeout";
  try {
    n = await Promise.race([
      s.pending,
      new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } catch (e) {
    s.pending = null;
    if (e instanceof Deno.errors.ConnectionReset) {
      s.eof = true;
      return null;
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
  if (n === "timeout") return "timeout";
  s.pending = null;
  if (n === null) {
    s.eof = true;
    return null;
  }
  return s.chunk.slice(0, n);
}

function takeHeld(s: ReadState): Uint8Array {
  const out = new Uint8Array(s.heldBytes);
  let off = 0;
  for (const h of s.held) {
    out.set(h, off);
    off += h.length;
  }
  s.held = [];
  s.heldBytes = 0;
  return out;
}

function putBack(s: ReadState, bytes: Uint8Array): void {
  if (bytes.length === 0) return;
  s.held.unshift(bytes);
  s.heldBytes += bytes.length;
}

/**
 * Connects to a relay socket.
 *
 * @param path socket path
 * @returns the connection (close it with {@linkcode close})
 */
export async function connect(path: string): Promise<Deno.UnixConn> {
  const conn = await Deno.connect({ transport: "unix", path });
  live.add(conn);
  return conn;
}

/**
 * Asserts every connection made by {@linkcode connect} was closed (Deno's resource
 * sanitizer does not report leaked Unix connections), closing any left over.
 */
export async function assertAllClosed(): Promise<void> {
  const n = live.size;
  await close(...live);
  assert.equal(n, 0, `${n} client connection(s) left open`);
}

/**
 * Connects several clients one after another (so the relay accepts them in this order).
 *
 * @param path socket path
 * @param n how many
 * @returns the connections
 */
export async function connectMany(path: string, n: number): Promise<Deno.UnixConn[]> {
  const out: Deno.UnixConn[] = [];
  for (let i = 0; i < n; i++) out.push(await connect(path));
  return out;
}

/**
 * Closes connections and waits (bounded) for their outstanding reads to settle.
 *
 * @param conns connections
 */
export async function close(...conns: Deno.Conn[]): Promise<void> {
  for (const conn of conns) {
    live.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
    const p = states.get(conn)?.pending;
    if (p !== null && p !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        p.then(() => {}, () => {}),
        new Promise<void>((r) => (timer = setTimeout(r, 1_000))),
      ]);
      clearTimeout(timer);
    }
  }
}

/**
 * Writes all bytes (looping over partial writes).
 *
 * @param conn connection
 * @param bytes what to send
 */
export async function send(conn: Deno.Conn, ...bytes: Uint8Array[]): Promise<void> {
  for (const b of bytes) {
    let off = 0;
    while (off < b.length) off += await conn.write(off === 0 ? b : b.subarray(off));
  }
}

/**
 * Reads exactly `n` bytes.
 *
 * @param conn connection
 * @param n byte count
 * @param timeoutMs bound of the whole read
 * @returns the bytes
 * @throws AssertionError on timeout or end of stream (with the count received)
 */
export async function readExactly(
  conn: Deno.Conn,
  n: number,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<Uint8Array> {
  const s = stateOf(conn);
  const deadline = Date.now() + timeoutMs;
  while (s.heldBytes < n) {
    const c = await pull(conn, s, deadline);
    if (c === "timeout") {
      assert.fail(`readExactly: received ${s.heldBytes} of ${n} bytes within ${timeoutMs} ms`);
    }
    if (c === null) assert.fail(`readExactly: connection ended after ${s.heldBytes} of ${n} bytes`);
    s.held.push(c);
    s.heldBytes += c.length;
  }
  const all = takeHeld(s);
  putBack(s, all.slice(n));
  return all.subarray(0, n);
}

/**
 * Reads exactly `count` whole frames, re-framed with a FrameReader. Fails if the
 * relay wrote anything that is not a frame.
 *
 * @param conn connection
 * @param count frames wanted
 * @param timeoutMs bound of the whole read
 * @returns the frames (copies), in arrival order
 * @throws AssertionError on timeout or end of stream (with the count received)
 */
export async function readFrames(
  conn: Deno.Conn,
  count: number,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<Uint8Array[]> {
  const s = stateOf(conn);
  const deadline = Date.now() + timeoutMs;
  const reader = new FrameReader({ capacity: 262_144 });
  if (s.heldBytes > 0) reader.push(takeHeld(s));
  const frames: Uint8Array[] = [];
  while (frames.length < count) {
    const f = reader.nextFrame();
    if (f !== undefined) {
      frames.push(f.slice());
      continue;
    }
    const c = await pull(conn, s, deadline);
    if (c === "timeout" || c === null) {
      putBack(s, reader.buffer.slice(reader.position, reader.position + reader.buffered));
      assert.fail(
        `readFrames: received ${frames.length} of ${count} frames (+${reader.buffered} bytes) ${
          c === null ? "before the connection ended" : `within ${timeoutMs} ms`
        }`,
      );
    }
    reader.push(c);
  }
  assert.equal(reader.garbageBytes, 0, "the relay wrote bytes that are not frames");
  putBack(s, reader.buffer.slice(reader.position, reader.position + reader.buffered));
  return frames;
}

/**
 * Reads everything until the peer closes.
 *
 * @param conn connection
 * @param timeoutMs bound
 * @returns the bytes received before end of stream
 * @throws AssertionError when the stream does not end in time
 */
export async function readToEnd(conn: Deno.Conn, timeoutMs = READ_TIMEOUT_MS): Promise<Uint8Array> {
  const s = stateOf(conn);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await pull(conn, s, deadline);
    if (c === "timeout") {
      assert.fail(`readToEnd: the connection did not end within ${timeoutMs} ms`);
    }
    if (c === null) return takeHeld(s);
    s.held.push(c);
    s.heldBytes += c.length;
  }
}

/**
 * Asserts that nothing arrives for `ms` (and nothing is already buffered).
 *
 * @param conn connection
 * @param ms how long to listen
 */
export async function expectSilence(conn: Deno.Conn, ms = 200): Promise<void> {
  const s = stateOf(conn);
  assert.equal(s.heldBytes, 0, `expected silence, but ${s.heldBytes} bytes were already received`);
  const c = await pull(conn, s, Date.now() + ms);
  if (c === "timeout") return;
  if (c === null) assert.fail("expected silence, but the relay closed the connection");
  s.held.push(c);
  s.heldBytes += c.length;
  assert.fail(`expected silence, but received ${c.length} bytes: ${hex(c.subarray(0, 48))}…`);
}

/** The relay's answer to a Subscribe. */
export interface SubscribeAnswer {
  /** The answer frame. */
  frame: Uint8Array;
  /** Its relay_domain (4). */
  domain: number;
  /** Its source (the relay's SourceType). */
  source: number;
  /** Mode of its Subscribe TLV (0). */
  mode: number;
  /** The filter now in effect. */
  patterns: string[];
  /** Reason text of an Error TLV (refused Subscribe), if any. */
  error?: string;
  /** TLV types of the answer, in order. */
  types: number[];
}

/**
 * Sends a Subscribe (TLV 113) and returns the parsed answer. Fails if another
 * frame arrives before the answer.
 *
 * @param conn connection
 * @param patterns patterns
 * @param mode replace (default), add or remove, or a raw mode number
 * @param options `domain` of the request (default 4, System), `version` of the record
 * @returns the answer
 */
export async function subscribe(
  conn: Deno.Conn,
  patterns: readonly string[],
  mode: keyof typeof SubscribeMode | number = "replace",
  options: { domain?: number; version?: number; timeoutMs?: number } = {},
): Promise<SubscribeAnswer> {
  const m = typeof mode === "number" ? mode : SubscribeMode[mode];
  const frame = new MessageBuilder({ domain: options.domain ?? 4, source: 20 })
    .begin({ sequence: 0 })
    .addTlv(SUBSCRIBE_TLV, encodeSubscribe({ mode: m, patterns, version: options.version ?? 1 }))
    .build();
  await send(conn, frame);
  const [answer] = await readFrames(conn, 1, options.timeoutMs ?? READ_TIMEOUT_MS);
  return parseAnswer(answer!);
}

/**
 * Parses a Subscribe answer frame.
 *
 * @param frame the frame
 * @returns its content
 */
export function parseAnswer(frame: Uint8Array): SubscribeAnswer {
  const tlvs = walkTlvs(frame, HEADER_SIZE, frame.length);
  const sub = tlvs.find((t) => t.type === SUBSCRIBE_TLV);
  assert.ok(
    frame[4] === 4 && sub !== undefined,
    `expected a Subscribe answer (domain 4, TLV 113), got domain ${frame[4]} TLVs [${
      tlvs.map((t) => t.type)
    }]`,
  );
  const req = parseSubscribe(sub.value);
  const err = tlvs.find((t) => t.type === ERROR_TLV);
  return {
    frame,
    domain: frame[4]!,
    source: frame[6]!,
    mode: req.mode,
    patterns: req.patterns,
    ...(err === undefined ? {} : { error: decodeErrorText(err.value) }),
    types: tlvs.map((t) => t.type),
  };
}

// ---------------------------------------------------------------------------------------------
// Frames.

/**
 * The reference producers' hello: 32-byte header, magic, domain 1, version 1,
 * source 2, everything else 0 (PROTOCOL.md 7.3).
 *
 * @returns the frame
 */
export function helloFrame(): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  encodeHeader({ relayDomain: 1, source: 2 }, b);
  return b;
}

/** How to build frames a relay accepts, and what its policy does with bad ones. */
export interface Profile {
  /** `torq relay` argument. */
  arg: RelayArg;
  /** Relay name in logs and config. */
  name: "market_data" | "signal" | "execution";
  /** Wire domain. */
  domain: 1 | 2 | 3;
  /** Source of generated frames. */
  source: number;
  /** TLV type of generated frames. */
  tlvType: number;
  /** Its value length. */
  tlvLength: number;
  /** A domain this relay must drop. */
  otherDomain: number;
  /** A TLV (type, length) valid in `otherDomain`. */
  otherTlv: readonly [number, number];
  /** Whether a corrupt non-zero checksum is dropped. */
  verifiesChecksum: boolean;
  /** Whether a frame with checksum 0 is forwarded. */
  forwardsZeroChecksum: boolean;
  /** Whether a malformed TLV area is dropped. */
  walksTlvs: boolean;
  /** Default `validation.max_message_size` (whole message). */
  maxMessageSize: number;
}

/** The three relays. */
export const PROFILES: readonly Profile[] = [
  {
    arg: "market-data",
    name: "market_data",
    domain: 1,
    source: 2,
    tlvType: 1,
    tlvLength: 40,
    otherDomain: 2,
    otherTlv: [32, 170],
    verifiesChecksum: false,
    forwardsZeroChecksum: true,
    walksTlvs: false,
    maxMessageSize: 65_536,
  },
  {
    arg: "signal",
    name: "signal",
    domain: 2,
    source: 20,
    tlvType: 32,
    tlvLength: 170,
    otherDomain: 3,
    otherTlv: [40, 32],
    verifiesChecksum: true,
    forwardsZeroChecksum: true,
    walksTlvs: true,
    maxMessageSize: 32_768,
  },
  {
    arg: "execution",
    name: "execution",
    domain: 3,
    source: 40,
    tlvType: 40,
    tlvLength: 32,
    otherDomain: 1,
    otherTlv: [1, 40],
    verifiesChecksum: true,
    forwardsZeroChecksum: false,
    walksTlvs: true,
    maxMessageSize: 16_384,
  },
];

/** Options of {@linkcode makeFrames}. */
export interface FrameOptions {
  /** First sequence (default 1); frames are numbered consecutively. */
  first?: number;
  /** Header source (default the profile's). */
  source?: number;
  /** Header domain (default the profile's). */
  domain?: number;
  /** TLV type and length (default the profile's). */
  tlv?: readonly [number, number];
  /** Compute the checksum (default true). */
  checksum?: boolean;
  /** Byte written at value offset 8, to tell otherwise equal frames apart. */
  tag?: number;
  /** Header timestamp in ns (default now). */
  timestamp?: bigint;
}

/**
 * A Trade (TLV 1) of instrument `asset` on Kraken with sequence `seq`; its price
 * (default `seq`) tells otherwise equal frames apart. For last-value snapshots.
 *
 * @param builder the builder (its source and domain)
 * @param seq the sequence
 * @param asset the instrument's asset_id
 * @param price the price field
 * @returns the frame
 */
export function tradeFrame(
  builder: MessageBuilder,
  seq: number,
  asset: number,
  price: number = seq,
): Uint8Array {
  return builder.begin({ sequence: seq }).addTlv(
    1,
    encodePayload(1, {
      asset_id: BigInt(asset),
      price: BigInt(price),
      volume: 1n,
      execution_timestamp_ns: 0n,
      venue_id: 101,
      asset_type: 1,
      reserved: 0,
      side: 0,
    }),
  ).build();
}

/**
 * Frames a relay of `profile` accepts: current timestamp, consecutive
 * sequences, one TLV whose value starts with the sequence (u32 LE).
 *
 * @param profile the relay
 * @param count how many
 * @param options sequence, source, domain, TLV, checksum
 * @returns the frames
 */
export function makeFrames(
  profile: Profile,
  count: number,
  options: FrameOptions = {},
): Uint8Array[] {
  const b = new MessageBuilder({
    domain: options.domain ?? profile.domain,
    source: options.source ?? profile.source,
    checksum: options.checksum ?? true,
  });
  const [type, length] = options.tlv ?? [profile.tlvType, profile.tlvLength];
  const first = options.first ?? 1;
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const seq = first + i;
    b.begin(
      options.timestamp === undefined
        ? { sequence: seq }
        : { sequence: seq, timestamp: options.timestamp },
    );
    const v = b.reserveTlv(type, length);
    new DataView(v.buffer, v.byteOffset, v.byteLength).setUint32(0, seq >>> 0, true);
    if (length > 8) v[8] = options.tag ?? 0;
    for (let j = 9; j < length; j++) v[j] = (seq + j) & 0xff;
    out.push(b.build());
  }
  return out;
}

/**
 * One frame (see {@linkcode makeFrames}).
 *
 * @param profile the relay
 * @param sequence its sequence
 * @param options source, domain, TLV, checksum
 * @returns the frame
 */
export function makeFrame(
  profile: Profile,
  sequence: number,
  options: FrameOptions = {},
): Uint8Array {
  return makeFrames(profile, 1, { ...options, first: sequence })[0]!;
}

/**
 * A frame of exactly `size` bytes: the profile's TLV, then an extended-form
 * filler record (type 113, bytes 0x11) taking the rest.
 *
 * @param profile the relay
 * @param sequence its sequence
 * @param size whole message size (at least 32 + tlvLength + 2 + 5)
 * @returns the frame
 */
export function sizedFrame(profile: Profile, sequence: number, size: number): Uint8Array {
  const head = makeFrame(profile, sequence);
  const filler = size - head.length - 5;
  assert.ok(filler >= 256, `size ${size} too small for an extended filler`);
  const tlv = new Uint8Array(5 + filler).fill(0x11);
  tlv.set([255, 0, 113, filler & 0xff, filler >> 8]);
  return withPayload(head, concat([head.subarray(HEADER_SIZE), tlv]));
}

/**
 * Copies a frame with one payload byte flipped, keeping its stored checksum.
 *
 * @param frame a frame with a payload
 * @returns the corrupt copy
 */
export function corrupt(frame: Uint8Array): Uint8Array {
  const c = frame.slice();
  c[c.length - 1]! ^= 0x5a;
  return c;
}

/**
 * Rebuilds a frame around another payload (payload_size and checksum updated).
 *
 * @param frame template (its header is kept)
 * @param payload new TLV area
 * @param checksum recompute the checksum (default true; false writes 0)
 * @returns the frame
 */
export function withPayload(frame: Uint8Array, payload: Uint8Array, checksum = true): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  out.set(frame.subarray(0, HEADER_SIZE));
  out.set(payload, HEADER_SIZE);
  new DataView(out.buffer).setUint32(24, payload.length, true);
  new DataView(out.buffer).setUint32(28, 0, true);
  if (checksum) sealChecksum(out, 0);
  return out;
}

/**
 * The sequence of a frame (low 32 bits).
 *
 * @param frame a frame
 * @returns its sequence
 */
export function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(8, true);
}

export { concat };

/**
 * Lowercase hex.
 *
 * @param bytes input
 * @returns hex
 */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const x of bytes) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * Asserts two frame lists are byte-identical, naming the first difference.
 *
 * @param actual received
 * @param expected sent
 * @param what context for the message
 */
export function assertFrames(
  actual: readonly Uint8Array[],
  expected: readonly Uint8Array[],
  what = "frames",
): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (a.length !== e.length || a.some((x, j) => x !== e[j])) {
      assert.fail(
        `${what}: frame ${i} differs (seq ${seqOf(a)} vs ${seqOf(e)})\n  got:      ${
          hex(a.subarray(0, 64))
        }\n  expected: ${hex(e.subarray(0, 64))}`,
      );
    }
  }
  assert.equal(actual.length, expected.length, `${what}: frame count`);
}

/**
 * Asserts two byte streams are identical, naming the first differing offset.
 * Use it instead of `assert.deepEqual` on large arrays: building that one's
 * diff of two megabyte arrays takes minutes, so a failure looks like a hang.
 *
 * @param actual received
 * @param expected sent
 * @param what context for the message
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const from = Math.max(0, i - 8);
  assert.fail(
    `${what}: first difference at byte ${i} of ${expected.length} (got ${actual.length} bytes)\n` +
      `  got:      ${hex(actual.subarray(from, i + 24))}\n` +
      `  expected: ${hex(expected.subarray(from, i + 24))}`,
  );
}

/**
 * A small deterministic PRNG (mulberry32).
 *
 * @param seed seed
 * @returns a function giving numbers in [0, 1)
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
