/**
 * The people's view of the execution journal (`torq journal show|verify`,
 * `torq decode --file`, `torq replay`): one JSON object or text line per
 * record, following a live journal across rotations, and the journal's
 * accepted frames as a recording. The format itself is in
 * `src/relay/journal_file.ts`.
 *
 * The JSON view has the audit record's fields (PROTOCOL.md 7.5, **[D-40]**):
 * `{"ts","relay","conn","domain","source","sequence","size","result","error"?,"kind"?}`,
 * with `ts` the receive time to the nanosecond (ISO-8601) and `sequence` a
 * decimal string (a u64). A SUMMARY record has `ts`, `relay`, `result` and the
 * counts of the FAIL and CONTROL frames it stands for.
 *
 * @module
 */

import { decodeMessage, FrameError, readSequence } from "../protocol/mod.ts";
import {
  decodeJournalHeader,
  isJournal,
  type JournalDamage,
  type JournalHeader,
  type JournalRecord,
  type JournalResult,
  readJournal,
  readJournalBytes,
  readJournalRecords,
  verifyJournal,
} from "../relay/mod.ts";
import {
  errorToJson,
  formatNsTime,
  type MessageJson,
  messageToJson,
  toHex,
} from "../format/mod.ts";
import type { RecordedFrame } from "./record_file.ts";
import { rotatedFiles } from "../log/mod.ts";
import { sinceNs } from "../text/mod.ts";
import { sleep } from "../io/mod.ts";

/** One record in the JSON view. */
export interface JournalJson {
  /** Receive time, ISO-8601 to the nanosecond. */
  ts: string;
  /** The relay's name. */
  relay: string;
  /** Connection id (absent in a summary). */
  conn?: number;
  /** Header `relay_domain`. */
  domain?: number;
  /** Header `source`. */
  source?: number;
  /** Header `sequence`, decimal. */
  sequence?: string;
  /** Frame size in bytes. */
  size?: number;
  /** PASS, FAIL, CONTROL or SUMMARY. */
  result: JournalResult;
  /** FAIL: the error code. */
  error?: string;
  /** CONTROL: hello, subscribe or recovery. */
  kind?: string;
  /** With `hex`: the frame's bytes. */
  frame_hex?: string;
  /** With `decode`: the decoded frame, or why it does not decode. */
  decoded?: MessageJson | { error: ReturnType<typeof errorToJson> };
  /** SUMMARY: the counts of the frames it stands for (since, fail_frames, errors, …). */
  [summary: string]: unknown;
}

/** Options of the views. */
export interface JournalViewOptions {
  /** Add the decoded frame. */
  decode?: boolean;
  /** Add the frame's bytes as hex. */
  hex?: boolean;
}

/**
 * A record in the JSON view (7.5, **[D-40]**).
 *
 * @param r the record
 * @param options add the decoded frame and/or its hex
 * @returns a JSON-ready object
 * @example
 * ```ts
 * import { readJournal } from "../relay/mod.ts";
 *
 * for (const r of readJournal("execution.journal")) console.log(JSON.stringify(journalRecordToJson(r)));
 * ```
 */
export function journalRecordToJson(
  r: JournalRecord,
  options: JournalViewOptions = {},
): JournalJson {
  const ts = formatNsTime(r.receivedNs) ?? r.receivedNs.toString();
  if (r.result === "SUMMARY") {
    const { since_ns, ...counts } = r.summary!;
    return {
      ts,
      relay: r.relay,
      result: r.result,
      since: formatNsTime(BigInt(since_ns)) ?? since_ns,
      ...counts,
    };
  }
  const f = r.frame;
  const out: JournalJson = {
    ts,
    relay: r.relay,
    conn: r.conn,
    domain: f[4]!,
    source: f[6]!,
    sequence: readSequence(f, 0).toString(),
    size: f.length,
    result: r.result,
  };
  if (r.error !== undefined) out.error = r.error;
  if (r.kind !== undefined) out.kind = r.kind;
  if (options.hex) out.frame_hex = toHex(f);
  if (options.decode) out.decoded = decodedJson(f);
  return out;
}

function decodedJson(frame: Uint8Array): MessageJson | { error: ReturnType<typeof errorToJson> } {
  try {
    return messageToJson(decodeMessage(frame, { verifyChecksum: false }));
  } catch (e) {
    if (e instanceof FrameError) return { error: errorToJson(e) };
    throw e;
  }
}

/**
 * A record as one text line: time, connection, result, header source and
 * sequence, size, and the error code or control kind.
 *
 * @param r the record
 * @returns e.g. `2026-07-01T12:00:00.123456789Z  conn 3  FAIL     source 40  seq 12  66 B  ChecksumMismatch`
 */
export function formatJournalLine(r: JournalRecord): string {
  const ts = formatNsTime(r.receivedNs) ?? r.receivedNs.toString();
  if (r.result === "SUMMARY") {
    const s = r.summary!;
    const parts = [
      `${s.fail_frames} FAIL frames (${s.fail_bytes} B${listed(s.errors)})`,
      `${s.control_frames} CONTROL frames (${s.control_bytes} B${listed(s.kinds)})`,
    ];
    return `${ts}  SUMMARY  over the per-second bound since ${
      formatNsTime(BigInt(s.since_ns)) ?? s.since_ns
    }, not stored: ${parts.join(", ")}`;
  }
  const f = r.frame;
  const what = r.error ?? r.kind ?? "";
  return `${ts}  conn ${r.conn}  ${r.result.padEnd(7)}  source ${f[6]}  seq ${
    readSequence(f, 0)
  }  ${f.length} B${what === "" ? "" : `  ${what}`}`;
}

function listed(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? "" : `: ${entries.map(([k, n]) => `${k} ${n}`).join(", ")}`;
}

/** Which records to show. */
export interface JournalFilter {
  /** Only records received at or after this time (ns since the epoch). */
  sinceNs?: bigint;
  /** Only these results. */
  results?: readonly JournalResult[];
  /** Only this connection. */
  conn?: number;
}

/**
 * Whether a record passes a filter (a SUMMARY has no connection: a `conn`
 * filter leaves it out).
 *
 * @param r the record
 * @param filter the filter
 * @returns true to show it
 */
export function matchesFilter(r: JournalRecord, filter: JournalFilter): boolean {
  if (filter.sinceNs !== undefined && r.receivedNs < filter.sinceNs) return false;
  if (filter.results !== undefined && !filter.results.includes(r.result)) return false;
  if (filter.conn !== undefined && (r.result === "SUMMARY" || r.conn !== filter.conn)) return false;
  return true;
}

/**
 * Parses `--since`: an ISO-8601 time, or a duration back from now (`90s`,
 * `15m`, `2h`, `1d`).
 *
 * @param text the option value
 * @param nowMs the current time (ms)
 * @returns ns since the epoch
 * @throws {RangeError} one line for anything else
 * @example
 * ```ts
 * parseSince("15m", Date.now()); // 15 minutes ago, in ns
 * ```
 */
export function parseSince(text: string, nowMs: number): bigint {
  const ns = sinceNs(text, nowMs);
  if (ns === null) {
    throw new RangeError(
      `Cannot parse --since "${text}": expected an ISO time such as 2026-07-01T12:00:00Z or a duration such as 90s, 15m, 2h, 1d`,
    );
  }
  return ns;
}

/**
 * Follows a live journal like `tail -f`: yields the records already in the
 * live file, then each new one as the relay writes it, across rotations: each
 * file is read to its end, then the next one by segment number, even when the
 * relay rotated several times meanwhile (a file already deleted by `keep` is
 * skipped). Stops when `signal` aborts. A record caught mid-write is held back
 * until it is whole.
 *
 * @param path the live file
 * @param options abort signal, poll interval (default 100 ms), damage callback
 * @returns an async iterator of records
 * @example
 * ```ts
 * declare const signal: AbortSignal;
 *
 * for await (const r of followJournal("execution.journal", { signal })) console.log(r.result);
 * ```
 */
export async function* followJournal(
  path: string,
  options: { signal?: AbortSignal; pollMs?: number; onCorrupt?: (d: JournalDamage) => void } = {},
): AsyncGenerator<JournalRecord, void, undefined> {
  const pollMs = options.pollMs ?? 100;
  const chunk = new Uint8Array(1 << 20);
  let done = -1; // segment of the last file read to its end
  while (!options.signal?.aborted) {
    const next = await openNext(path, done);
    if (next === null) {
      await sleep(pollMs, options.signal);
      continue;
    }
    const { file, name } = next;
    try {
      const ino = (await file.stat()).ino;
      let buf = new Uint8Array(0);
      let base = 0;
      let header: JournalHeader | null = null;
      const readMore = async (): Promise<boolean> => {
        let any = false;
        for (;;) {
          const n = await file.read(chunk);
          if (n === null || n === 0) return any;
          const grown = new Uint8Array(buf.length + n);
          grown.set(buf);
          grown.set(chunk.subarray(0, n), buf.length);
          buf = grown;
          any = true;
        }
      };
      for (;;) {
        await readMore();
        if (header === null && buf.length >= 32) {
          const length = new DataView(buf.buffer).getUint16(10, true);
          if (buf.length >= length) {
            header = decodeJournalHeader(buf, name);
            buf = buf.slice(header.length);
            base = header.length;
          }
        }
        if (header !== null) {
          const read = readJournalRecords(buf, 0, header, {
            file: name,
            base,
            ...(options.onCorrupt === undefined ? {} : { onCorrupt: options.onCorrupt }),
          });
          let step = read.next();
          for (; !step.done; step = read.next()) yield step.value;
          buf = buf.slice(step.value);
          base += step.value;
        }
        if (options.signal?.aborted) return;
        let live: number | null = null;
        try {
          live = (await Deno.stat(path)).ino;
        } catch {
          // between the rotation's rename and the new file: look again
        }
        if (live !== null && live !== ino && header !== null) {
          // Rotated away: it gets no more writes. Read what is left, then go on to the next segment.
          if (await readMore()) continue;
          done = header.segment;
          break;
        }
        await sleep(pollMs, options.signal);
      }
    } finally {
      file.close();
    }
  }
}

/**
 * Opens the file to follow after segment `done`: the live file at first; then
 * the rotated file with the smallest segment above `done`, else the live file.
 */
async function openNext(
  path: string,
  done: number,
): Promise<{ file: Deno.FsFile; name: string } | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    let name = path;
    let want = -1;
    if (done >= 0) {
      for (const f of rotatedFiles(path)) {
        if (f === path) continue;
        const segment = segmentOf(f);
        if (segment !== null && segment > done && (want < 0 || segment < want)) {
          want = segment;
          name = f;
        }
      }
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(name, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // renamed meanwhile: look again
      throw e;
    }
    // A rotation between the look and the open moves names: check the segment we got.
    if (want < 0 || segmentOf(name, file) === want) return { file, name };
    file.close();
  }
  return null;
}

/** The segment number in a journal file's header, or null when it has none yet. */
function segmentOf(name: string, open?: Deno.FsFile): number | null {
  const head = new Uint8Array(28);
  try {
    const file = open ?? Deno.openSync(name, { read: true });
    try {
      let got = 0;
      while (got < head.length) {
        const n = file.readSync(head.subarray(got));
        if (n === null || n === 0) return null;
        got += n;
      }
    } finally {
      if (open === undefined) file.close();
      else open.seekSync(0, Deno.SeekMode.Start);
    }
  } catch {
    return null;
  }
  return isJournal(head) ? new DataView(head.buffer).getUint32(24, true) : null;
}

/**
 * The records of a journal file (or, with `all`, of its rotated set oldest
 * first) that pass the filter; corrupt regions are reported and skipped.
 *
 * @param path the file
 * @param options rotated set, filter, damage callbacks
 * @returns an iterator of records
 */
export function* journalRecords(
  path: string,
  options: {
    all?: boolean;
    filter?: JournalFilter;
    onCorrupt?: (d: JournalDamage) => void;
    onTornTail?: (d: JournalDamage) => void;
  } = {},
): Generator<JournalRecord, void, undefined> {
  const read = readJournal(path, {
    rotated: options.all ?? false,
    onCorrupt: options.onCorrupt ?? (() => {}),
    ...(options.onTornTail === undefined ? {} : { onTornTail: options.onTornTail }),
  });
  const filter = options.filter ?? {};
  for (const r of read) if (matchesFilter(r, filter)) yield r;
}

/**
 * What `torq journal verify` prints: one line per file and whether every file
 * is whole.
 *
 * @param path the file (with `all`, its rotated set)
 * @param all include the rotated files
 * @returns the lines and whether the journal verifies (no unreadable file, no corrupt record, no torn tail)
 */
export function verifyLines(path: string, all: boolean): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  for (const f of verifyJournal(path, { rotated: all })) {
    if (f.error !== null) {
      ok = false;
      lines.push(`${f.file}: ${f.error}`);
      continue;
    }
    const r = f.results;
    const counts = `PASS ${r.PASS}, FAIL ${r.FAIL}, CONTROL ${r.CONTROL}, SUMMARY ${r.SUMMARY}`;
    const problems = [
      ...f.corrupt.map((d) =>
        `corrupt record at offset ${d.offset} (${d.bytes} bytes: ${d.reason})`
      ),
      ...(f.tornTail === null ? [] : [
        `torn tail at offset ${f.tornTail.offset} (${f.tornTail.bytes} bytes: ${f.tornTail.reason})`,
      ]),
    ];
    if (problems.length > 0) ok = false;
    if (f.header === null) {
      lines.push(`${f.file}: empty (a new file, no record written yet): ok`);
      continue;
    }
    lines.push(
      `${f.file}: ${f.header!.relay} segment ${
        f.header!.segment
      }, ${f.records} records (${counts}), ${f.bytes} bytes: ${
        problems.length === 0 ? "ok" : problems.join("; ")
      }`,
    );
  }
  return { lines, ok };
}

/**
 * A journal file as a recording for `torq replay`: its accepted (PASS) frames
 * with their receive times, in order; rejected and control frames are left
 * out (the relay never forwarded them). The domain and start time come from
 * the file header.
 *
 * @param bytes the journal file
 * @param file its name, for errors
 * @returns domain, start time and records, as `loadRecording()` gives them
 * @throws {JournalError} for a file that is not a journal or a corrupt record
 */
export function journalAsRecording(
  bytes: Uint8Array,
  file: string,
): { domain: number; startNs: bigint; records: RecordedFrame[] } {
  const header = decodeJournalHeader(bytes, file);
  const records: RecordedFrame[] = [];
  for (const r of readJournalBytes(bytes, file)) {
    if (r.result !== "PASS") continue;
    records.push({
      receivedNs: r.receivedNs,
      frame: r.frame,
      offset: r.offset,
      index: records.length,
    });
  }
  return { domain: header.domain, startNs: header.createdNs, records };
}

/**
 * The frames of a journal file for `torq decode`: accepted and control frames
 * back to back; rejected (FAIL) frames are counted, not included (they may not
 * decode: `torq journal show --result FAIL --decode` shows them with their
 * errors).
 *
 * @param bytes the journal file
 * @param file its name, for errors
 * @returns the frames and how many FAIL frames were left out
 * @throws {JournalError} for a file that is not a journal or a corrupt record
 */
export function journalFrames(
  bytes: Uint8Array,
  file: string,
): { frames: Uint8Array; failed: number } {
  const parts: Uint8Array[] = [];
  let failed = 0;
  let size = 0;
  for (const r of readJournalBytes(bytes, file)) {
    if (r.result === "FAIL") failed++;
    else if (r.result !== "SUMMARY") {
      parts.push(r.frame);
      size += r.frame.length;
    }
  }
  const frames = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    frames.set(p, off);
    off += p.length;
  }
  return { frames, failed };
}
