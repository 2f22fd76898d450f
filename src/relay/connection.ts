/**
 * One relay connection: what it sends (its FrameReader and input counters),
 * what it is sent (its {@linkcode Outbound} queue and writer), its role and
 * filter. Every connection may do both (PROTOCOL.md 7.3).
 *
 * @module
 */

import { type Filter, FrameReader } from "../protocol/mod.ts";
import type { StreamConn } from "../transport/mod.ts";
import { SequenceState } from "./policy.ts";
import type { SlabPool } from "./slab.ts";
import { Outbound, type OutboundOwner } from "./outbound.ts";

/** Where a connection is in its life. */
export type ConnectionState = "open" | "reading" | "closing";

/** A connection to the relay and its counters. */
export class Connection {
  /** Connection id (from 0, in accept order). */
  readonly id: number;
  /** The transport connection. */
  readonly conn: StreamConn;
  /** When it connected (ms since epoch). */
  readonly connectedAt: number;
  /** Re-framer of what it sends. */
  readonly reader: FrameReader;
  /** What it is sent. */
  readonly out: Outbound;
  /** Audit sequence memory per source. */
  readonly sequences: SequenceState = new SequenceState();
  /** How it came: `accepted` by a listener, or a bridge's label. */
  readonly label: string;
  /** Its filter: null = every frame (never subscribed). */
  filter: Filter | null = null;
  /** Whether a hello made it publish-only before any Subscribe. */
  hello = false;
  /**
   * `open`: reads and is written to; `reading`: delivery stopped (a write
   * failed) but what it sends is still read to its end; `closing`: closed.
   */
  state: ConnectionState = "open";
  /** Why delivery stopped or it was closed. */
  closeReason = "";

  /** Frames received (valid frames, including hellos and control frames). */
  framesIn = 0;
  /** Bytes received (valid frames). */
  bytesIn = 0;
  /** Frames it sent that were rejected. */
  rejected = 0;
  /** Hello frames received. */
  hellos = 0;
  /** Times its reads waited at the relay's producer gate (flow control). */
  stalls = 0;
  /** Milliseconds its reads waited at the gate. */
  stalledMs = 0;
  /** Subscribe log lines written for it (the first few are never rate-limited). */
  subscribeLogs = 0;
  /** Last read (ms since epoch). */
  lastActivity: number;
  /** Since when the frame being received is incomplete (ms since epoch; 0: none is). */
  partialSince = 0;
  /** Since when its queue keeps overflowing (0 = not overflowing). */
  overflowSince = 0;
  /** Read size wanted next (grows when reads fill the buffer, shrinks when they stay small). */
  readSize: number;
  /** Bytes of the largest read since the relay last looked (once a second). */
  largestRead = 0;

  // Pending sub-runs of matched frames (filtered consumers), offsets in the producer's read buffer.
  /** Pending run starts. */
  pendStart: Int32Array = new Int32Array(16);
  /** Pending run ends. */
  pendEnd: Int32Array = new Int32Array(16);
  /** Frames per pending run. */
  pendFrames: Int32Array = new Int32Array(16);
  /** Number of pending runs. */
  pendCount = 0;

  /**
   * @param id connection id
   * @param conn transport connection
   * @param options its label, first read size, payload limit, the relay (writer events) and its
   * write slabs
   */
  constructor(
    id: number,
    conn: StreamConn,
    options: {
      label: string;
      readSize: number;
      maxPayload: number;
      owner: OutboundOwner;
      writeSlabs: SlabPool;
    },
  ) {
    this.id = id;
    this.conn = conn;
    this.label = options.label;
    this.connectedAt = Date.now();
    this.lastActivity = this.connectedAt;
    this.readSize = options.readSize;
    this.reader = new FrameReader({ maxPayload: options.maxPayload, capacity: options.readSize });
    this.out = new Outbound(conn, options.owner, options.writeSlabs);
  }

  /** Whether nothing is delivered to it. */
  get publishOnly(): boolean {
    return this.filter === null ? this.hello : this.filter.publishOnly;
  }

  /** Whether it is still written to. */
  get delivering(): boolean {
    return this.state === "open";
  }

  /**
   * Adds a pending matched run `[s, e)` of `frames` frames, merging with the last
   * when contiguous. Allocation-free unless the arrays grow.
   *
   * @param s run start in the producer's buffer
   * @param e run end
   */
  addPending(s: number, e: number): void {
    const n = this.pendCount;
    if (n > 0 && this.pendEnd[n - 1] === s) {
      this.pendEnd[n - 1] = e;
      this.pendFrames[n - 1]!++;
      return;
    }
    if (n === this.pendStart.length) {
      const grow = (a: Int32Array) => {
        const g = new Int32Array(a.length * 2);
        g.set(a);
        return g;
      };
      this.pendStart = grow(this.pendStart);
      this.pendEnd = grow(this.pendEnd);
      this.pendFrames = grow(this.pendFrames);
    }
    this.pendStart[n] = s;
    this.pendEnd[n] = e;
    this.pendFrames[n] = 1;
    this.pendCount = n + 1;
  }
}
