/**
 * The receiving side of a JetStream bridge: which messages of the durable
 * consumer reach the relay, and when each is acknowledged.
 *
 * A frame can come back in two ways. The consumer redelivers a message whose
 * acknowledgement the server did not get (same stream sequence), and the stream
 * can hold one frame twice, under two stream sequences: a publisher whose
 * acknowledgement was lost publishes the frame again with the same
 * `Nats-Msg-Id`, and the stream's duplicate window is meant to drop it, but it
 * does not survive every server restart (nats-server 2.9 killed with `-9`
 * stores the retry as a new message). Both are skipped and counted
 * (`duplicates`), so each frame reaches the relay once.
 *
 * @module
 */

import { readU32 } from "../protocol/mod.ts";

/** What {@linkcode JetStreamInbound} needs of a consumer's message (a `JsMsg` is one). */
export interface InboundMessage {
  /** Stream sequence. */
  readonly seq: number;
  /** The frame. */
  readonly data: Uint8Array;
  /** Acknowledges the message. */
  ack(): void;
}

/** Options of a {@linkcode JetStreamInbound}. */
export interface JetStreamInboundOptions {
  /** Frames remembered to recognise a second copy in the stream (default 100,000). */
  maxRemembered?: number;
}

/**
 * Identity of a frame: source, sequence, timestamp and checksum. A publisher's
 * retry sends the same bytes, so both copies have one identity.
 *
 * @param b one frame
 * @returns the identity
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * frameKey(frame); // "40:17:0:2645067008:395812350:3735928559"
 * ```
 */
export function frameKey(b: Uint8Array): string {
  return `${b[6]}:${readU32(b, 8)}:${readU32(b, 12)}:${readU32(b, 16)}:${readU32(b, 20)}:${
    readU32(b, 28)
  }`;
}

/**
 * Filters a durable consumer's messages in stream order: a new frame is handed
 * on (`deliver`) and acknowledged once the relay has processed it; a
 * redelivery of a message handed on already is acknowledged again and
 * skipped, one still queued is skipped (its queued copy acknowledges it); a
 * second copy of a frame under another stream sequence is acknowledged and
 * skipped. Skips are counted in `duplicates`.
 *
 * @example
 * ```ts
 * import type { JsMsg } from "@nats-io/jetstream";
 * declare const msg: JsMsg;
 * declare const queue: (frame: Uint8Array, onHanded: () => void) => void;
 *
 * const inbound = new JetStreamInbound(queue);
 * inbound.take(msg);
 * inbound.duplicates;
 * ```
 */
export class JetStreamInbound {
  /** Messages skipped: redeliveries, and frames the stream holds twice. */
  duplicates = 0;
  readonly #deliver: (frame: Uint8Array, onHanded: () => void) => void;
  readonly #max: number;
  #lastSeq = 0;
  #handedSeq = 0;
  /** Identity of each recent frame handed on → its stream sequence (-1: of a previous stream). */
  readonly #seqOf = new Map<string, number>();

  /**
   * Makes a filter.
   *
   * @param deliver queues a frame for the relay; `onHanded` runs once the relay processed it
   * @param options how many frames to remember
   */
  constructor(
    deliver: (frame: Uint8Array, onHanded: () => void) => void,
    options: JetStreamInboundOptions = {},
  ) {
    this.#deliver = deliver;
    this.#max = options.maxRemembered ?? 100_000;
  }

  /** The highest stream sequence taken (0 before the first). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * The stream was created again and its sequence numbers begin at 1: frames
   * remembered from the old stream still count as handed on.
   */
  restart(): void {
    this.#lastSeq = 0;
    this.#handedSeq = 0;
    for (const key of this.#seqOf.keys()) this.#seqOf.set(key, -1);
  }

  /**
   * Takes the consumer's next message.
   *
   * @param m the message
   */
  take(m: InboundMessage): void {
    const seq = m.seq;
    const key = frameKey(m.data);
    const first = this.#seqOf.get(key);
    if (first !== undefined && first !== seq) {
      // The stream stored this frame again under a new sequence: never handed on, so
      // nothing else acknowledges it; the first copy is acknowledged when processed.
      this.duplicates++;
      if (seq > this.#lastSeq) this.#lastSeq = seq;
      m.ack();
      return;
    }
    if (seq <= this.#lastSeq) {
      // A redelivery of a message handed on (its acknowledgement was lost) or still queued.
      this.duplicates++;
      if (seq <= this.#handedSeq) m.ack();
      return;
    }
    this.#lastSeq = seq;
    if (this.#seqOf.size >= this.#max) this.#seqOf.delete(this.#seqOf.keys().next().value!);
    this.#seqOf.set(key, seq);
    this.#deliver(m.data, () => {
      if (seq > this.#handedSeq) this.#handedSeq = seq;
      m.ack();
    });
  }
}
