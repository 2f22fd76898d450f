/**
 * A relay client run as its own process by the fault tests, so that it can be
 * killed or stopped (SIGKILL, SIGSTOP/SIGCONT) like a real producer or consumer.
 * It prints `ready` on stdout once connected (and, for `half`, once its bytes
 * are written), then:
 *
 * - `half <socket> <hex>`: writes the bytes (half a frame) and waits to be killed;
 * - `consume <socket> [until]`: reads frames, tracking the sequence (low 32 bits,
 *   offset 8) per source, until the connection ends or a frame with sequence
 *   ≥ `until` arrives; then prints one JSON line ({@linkcode ConsumeReport}) and exits.
 *
 * @module
 */

import { FrameReader } from "../../src/protocol/frame_reader.ts";

/** What `consume` prints. */
export interface ConsumeReport {
  /** Whole frames received. */
  frames: number;
  /** Sequence of the first and last frame (0 when none). */
  first: number;
  /** Sequence of the last frame. */
  last: number;
  /** Jumps ahead of last + 1 (per source). */
  gaps: number;
  /** Sequence numbers skipped by those jumps. */
  missing: number;
  /** Frames whose sequence was not above the last one of their source. */
  duplicates: number;
  /** Whether the connection ended (rather than the `until` frame arriving). */
  eof: boolean;
  /** Bytes of an incomplete frame left when the connection ended. */
  partialBytes: number;
  /** Bytes that were not frames (must be 0). */
  garbageBytes: number;
}

async function consume(path: string, until: number): Promise<ConsumeReport> {
  const conn = await Deno.connect({ transport: "unix", path });
  console.log("ready");
  const reader = new FrameReader();
  const last = new Float64Array(256).fill(-1);
  const report: ConsumeReport = {
    frames: 0,
    first: 0,
    last: 0,
    gaps: 0,
    missing: 0,
    duplicates: 0,
    eof: false,
    partialBytes: 0,
    garbageBytes: 0,
  };
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(reader.writable(65_536));
    } catch {
      n = null; // reset by the relay
    }
    if (n === null) {
      report.eof = true;
      break;
    }
    reader.commit(n);
    let done = false;
    while (reader.next()) {
      const b = reader.buffer;
      const s = reader.frameStart;
      const seq = (b[s + 8]! | (b[s + 9]! << 8) | (b[s + 10]! << 16)) + b[s + 11]! * 16777216;
      const src = b[s + 6]!;
      report.frames++;
      if (report.frames === 1) report.first = seq;
      report.last = seq;
      const prev = last[src]!;
      if (prev >= 0 && seq > prev + 1) {
        report.gaps++;
        report.missing += seq - prev - 1;
      } else if (prev >= 0 && seq <= prev) report.duplicates++;
      if (seq > prev) last[src] = seq;
      if (until > 0 && seq >= until) done = true;
    }
    if (done) break;
  }
  report.partialBytes = reader.buffered;
  report.garbageBytes = reader.garbageBytes;
  conn.close();
  return report;
}

async function half(path: string, hex: string): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path });
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  console.log("ready");
  setInterval(() => {}, 3_600_000); // keep running until killed
}

if (import.meta.main) {
  const [mode, path, arg] = Deno.args;
  if (mode === "half" && path !== undefined && arg !== undefined) {
    await half(path, arg);
  } else if (mode === "consume" && path !== undefined) {
    console.log(JSON.stringify(await consume(path, Number(arg ?? 0))));
  } else {
    console.error("usage: fault_peer.ts half <socket> <hex> | consume <socket> [until]");
    Deno.exit(2);
  }
}
