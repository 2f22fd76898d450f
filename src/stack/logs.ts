/**
 * Reading a stack's logs (`torq logs`): the last lines of one log or of all,
 * merged by time, and following them as they grow.
 *
 * The logs live in the socket directory: `<service>.log` for each service
 * (each line starts with its ISO time, as the supervisor writes it) and
 * `up.log` for a detached `torq up`'s own log (the relays' and the
 * supervisor's lines, text or JSON). A relay's name selects its lines of
 * `up.log`. Rotated files (`name.log.1` …) are read too, oldest first.
 *
 * @module
 */

import { join } from "node:path";
import { rotatedFiles } from "../log/mod.ts";
import { sinceNs } from "../text/mod.ts";
import { stackFiles } from "./files.ts";

/** One log to read: a name, its live file, and which of its lines belong to it. */
export interface LogSource {
  /** Name printed as `[name]`. */
  name: string;
  /** The live file (rotated ones are `path.1`, `path.2`, …). */
  path: string;
  /** Only lines passing this (a relay's lines of `up.log`). */
  filter?: (line: string) => boolean;
}

/** One line of a log. */
export interface LogLine {
  /** The log's name. */
  name: string;
  /** Time of the line, ms since the epoch (a line without one takes its predecessor's). */
  time: number;
  /** The line as written. */
  text: string;
}

/** A log name that does not exist. */
export class UnknownLogError extends Error {
  /**
   * @param name the name asked for
   * @param known the names there are
   */
  constructor(name: string, known: readonly string[]) {
    super(
      `Cannot find log ${JSON.stringify(name)}: ${
        known.length === 0 ? "there are no logs" : `the logs are ${known.join(", ")}`
      }`,
    );
    this.name = "UnknownLogError";
  }
}

/**
 * The logs of a socket directory: `up` (when `up.log` exists) and every
 * `<name>.log`, sorted by name after `up`.
 *
 * @param dir the socket directory
 * @returns the sources
 */
export function logSources(dir: string): LogSource[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".log") && e.name !== "up.log") {
        names.push(e.name.slice(0, -".log".length));
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  names.sort();
  const out: LogSource[] = names.map((name) => ({ name, path: join(dir, `${name}.log`) }));
  const up = stackFiles(dir).log;
  if (rotatedFiles(up).length > 0) out.unshift({ name: "up", path: up });
  return out;
}

/**
 * The sources for the names asked for: a service's log, `up`, or a relay's
 * lines of `up.log`.
 *
 * @param dir the socket directory
 * @param names names asked for (empty: every log)
 * @param relays relay names (configuration keys and their `relay.name`)
 * @returns the sources
 * @throws {UnknownLogError} for a name that has no log
 */
export function selectLogs(
  dir: string,
  names: readonly string[],
  relays: readonly string[],
): LogSource[] {
  const all = logSources(dir);
  if (names.length === 0) return all;
  return names.map((name) => {
    const found = all.find((s) => s.name === name);
    if (found !== undefined) return found;
    if (relays.includes(name)) {
      return { name, path: stackFiles(dir).log, filter: relayLineFilter(name) };
    }
    throw new UnknownLogError(name, all.map((s) => s.name));
  });
}

/**
 * A filter keeping a relay's lines of a log: text lines tagged `[name]`,
 * JSON lines with `"relay":"name"`.
 *
 * @param relay the relay's name
 * @returns the filter
 * @example
 * ```ts
 * relayLineFilter("signal")("2026-01-01T00:00:00.000Z INFO  [signal] listening"); // true
 * ```
 */
export function relayLineFilter(relay: string): (line: string) => boolean {
  const tag = ` [${relay}] `;
  const field = `"relay":${JSON.stringify(relay)}`;
  return (line) => line.startsWith("{") ? line.includes(field) : line.includes(tag);
}

const ISO_TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\b/;
const JSON_TIME = /^\{"ts":"([^"]+)"/;

/**
 * The time at the start of a log line: an ISO time, or a JSON line's `ts`.
 *
 * @param line the line
 * @returns ms since the epoch, or null
 * @example
 * ```ts
 * parseLogTime("2026-11-23T14:29:08.011Z INFO  listening"); // 1795444148011
 * ```
 */
export function parseLogTime(line: string): number | null {
  const m = ISO_TIME.exec(line) ?? JSON_TIME.exec(line);
  if (m === null) return null;
  const t = Date.parse(m[1]!);
  return Number.isNaN(t) ? null : t;
}

/**
 * A `--since` value: a duration back from `now` (`90s`, `10m`, `2h`, `1d`) or
 * an ISO date or time (UTC without a zone; the same reading as `torq journal --since`).
 *
 * @param text the value
 * @param now the current time, ms since the epoch
 * @returns ms since the epoch, or null when it is neither
 * @example
 * ```ts
 * parseSince("10m", 600_000); // 0
 * ```
 */
export function parseSince(text: string, now: number): number | null {
  const ns = sinceNs(text, now);
  return ns === null ? null : Number(ns / 1_000_000n);
}

/** Options of {@linkcode readLogs}. */
export interface ReadLogsOptions {
  /** Only lines at or after this time, ms since the epoch. */
  since?: number;
  /** At most this many lines of each log, the last ones (default all). */
  lines?: number;
}

/**
 * The last lines of some logs, merged by time (a line keeps its log's order).
 *
 * @param sources the logs
 * @param options time and line bounds
 * @returns the lines, oldest first
 */
export function readLogs(sources: readonly LogSource[], options: ReadLogsOptions = {}): LogLine[] {
  const merged: LogLine[] = [];
  for (const s of sources) merged.push(...lastLines(s, options));
  // A stable sort: lines of one log keep their order, equal times keep the sources' order.
  return merged.map((l, i) => [l, i] as const).sort((a, b) => a[0].time - b[0].time || a[1] - b[1])
    .map(([l]) => l);
}

/** The last lines of one log (all its files, newest first, read backwards). */
function lastLines(source: LogSource, options: ReadLogsOptions): LogLine[] {
  const max = options.lines ?? Infinity;
  const since = options.since ?? -Infinity;
  const keep = source.filter ?? (() => true);
  const picked: string[] = []; // newest first
  let reachedSince = false;
  for (const path of rotatedFiles(source.path).reverse()) {
    for (const text of linesBackwards(path)) {
      if (!keep(text)) continue;
      const t = parseLogTime(text);
      if (t !== null && t < since) {
        reachedSince = true;
        break;
      }
      picked.push(text);
      if (picked.length >= max) break;
    }
    if (reachedSince || picked.length >= max) break;
  }
  picked.reverse();
  return timed(source.name, picked);
}

/** Gives each line a time: its own, else its predecessor's (else its successor's). */
function timed(name: string, texts: readonly string[]): LogLine[] {
  const times = texts.map(parseLogTime);
  let last = times.find((t) => t !== null) ?? 0;
  return texts.map((text, i) => {
    last = times[i] ?? last;
    return { name, time: last, text };
  });
}

/** The complete lines of a file, last first, read in chunks from its end. */
function* linesBackwards(path: string, chunkSize = 65_536): Generator<string> {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return;
  }
  try {
    const decoder = new TextDecoder();
    let pos = file.statSync().size;
    let tail: Uint8Array = new Uint8Array(0);
    let first = true;
    while (pos > 0) {
      const size = Math.min(chunkSize, pos);
      pos -= size;
      const chunk = new Uint8Array(size + tail.length);
      file.seekSync(pos, Deno.SeekMode.Start);
      for (let off = 0; off < size;) off += file.readSync(chunk.subarray(off, size)) ?? size;
      chunk.set(tail, size);
      let end = chunk.length;
      if (first && end > 0 && chunk[end - 1] === 10) end--;
      first = false;
      for (
        let nl = chunk.lastIndexOf(10, end - 1);
        nl !== -1;
        nl = chunk.lastIndexOf(10, end - 1)
      ) {
        yield decoder.decode(chunk.subarray(nl + 1, end));
        end = nl;
        if (end === 0) break;
      }
      tail = chunk.slice(0, end);
    }
    if (tail.length > 0) yield decoder.decode(tail);
  } finally {
    file.close();
  }
}

/** Options of {@linkcode followLogs}. */
export interface FollowLogsOptions {
  /** Receives the new lines of each poll, oldest first. */
  onLines: (lines: LogLine[]) => void;
  /** Ends the follow. */
  signal: AbortSignal;
  /** Finds the logs again each second (to follow services that start writing later). */
  rescan?: () => LogSource[];
  /** Poll period, ms (default 200). */
  pollMs?: number;
}

interface Cursor {
  source: LogSource;
  ino: number | null;
  offset: number;
  carry: string;
}

/**
 * Follows logs from their current ends: each poll passes on the complete
 * lines written since, across a rotation (the rest of the rotated file, then
 * the new one). Returns when `signal` aborts.
 *
 * @param sources the logs
 * @param options where lines go, when to stop
 */
export async function followLogs(
  sources: readonly LogSource[],
  options: FollowLogsOptions,
): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  const cursors = new Map<string, Cursor>();
  const add = (source: LogSource, fromStart: boolean) => {
    const key = `${source.name}\0${source.path}`;
    if (cursors.has(key)) return;
    const info = statOrNull(source.path);
    cursors.set(key, {
      source,
      ino: info?.ino ?? null,
      offset: fromStart ? 0 : info?.size ?? 0,
      carry: "",
    });
  };
  for (const s of sources) add(s, false);
  let lastScan = Date.now();
  while (!options.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs);
      options.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (options.rescan !== undefined && Date.now() - lastScan >= 1000) {
      lastScan = Date.now();
      for (const s of options.rescan()) add(s, true);
    }
    const batch: LogLine[] = [];
    for (const c of cursors.values()) batch.push(...poll(c));
    if (batch.length > 0) options.onLines(readOrder(batch));
  }
}

function readOrder(lines: LogLine[]): LogLine[] {
  return lines.map((l, i) => [l, i] as const).sort((a, b) => a[0].time - b[0].time || a[1] - b[1])
    .map(([l]) => l);
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** New complete lines of one log since its cursor. */
function poll(c: Cursor): LogLine[] {
  const texts: string[] = [];
  const info = statOrNull(c.source.path);
  if (info === null) return [];
  if (c.ino !== null && info.ino !== c.ino) {
    // Rotated: finish the old file (now name.1, same inode), then start the new one.
    const old = rotatedFiles(c.source.path).find((p) =>
      p !== c.source.path && statOrNull(p)?.ino === c.ino
    );
    if (old !== undefined) texts.push(...readFrom(c, old, Infinity));
    if (c.carry !== "") texts.push(c.carry);
    c.carry = "";
    c.offset = 0;
  }
  c.ino = info.ino;
  if (info.size < c.offset) c.offset = 0; // truncated
  texts.push(...readFrom(c, c.source.path, info.size));
  const keep = c.source.filter ?? (() => true);
  const now = Date.now();
  return texts.filter(keep).map((text) => ({
    name: c.source.name,
    time: parseLogTime(text) ?? now,
    text,
  }));
}

function readFrom(c: Cursor, path: string, end: number): string[] {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return [];
  }
  try {
    const size = Math.min(end, file.statSync().size);
    if (size <= c.offset) return [];
    const bytes = new Uint8Array(size - c.offset);
    file.seekSync(c.offset, Deno.SeekMode.Start);
    for (let off = 0; off < bytes.length;) {
      const n = file.readSync(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    c.offset = size;
    const parts = (c.carry + new TextDecoder().decode(bytes)).split("\n");
    c.carry = parts.pop() ?? "";
    return parts;
  } finally {
    file.close();
  }
}

/**
 * One line as `torq logs` prints it: `[name] text`, names padded to `width`
 * so the texts line up; just the text for a single log.
 *
 * @param line the line
 * @param width the widest name (0: no prefix)
 * @returns the printed line
 * @example
 * ```ts
 * formatLogLine({ name: "feed", time: 0, text: "hello" }, 8); // "[feed]     hello"
 * ```
 */
export function formatLogLine(line: LogLine, width: number): string {
  if (width === 0) return line.text;
  return `${`[${line.name}]`.padEnd(width + 2)} ${line.text}`;
}
