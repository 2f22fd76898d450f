/**
 * A frame received from a relay: a view of its bytes with lazy header
 * accessors and a cached full decode.
 *
 * @module
 */

import {
  type DecodedMessage,
  decodeMessage,
  HEADER_SIZE,
  readChecksum,
  readFlags,
  readPayloadSize,
  readRelayDomain,
  readSequence,
  readSource,
  readTimestamp,
} from "../protocol/mod.ts";

/**
 * One received frame. `bytes` is a view of a copy made once per socket read
 * (shared by the frames of that read, never reused by the client), so it stays
 * valid after the iteration moves on. Header fields are read on access; the
 * full decode is done at most once.
 *
 * @example
 * ```ts
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient;
 *
 * for await (const frame of client) {
 *   console.log(frame.source, frame.sequence, frame.decode().tlvs[0]?.name);
 * }
 * ```
 */
export class ReceivedFrame {
  /** The whole frame (header and payload), exactly `32 + payloadSize` bytes. */
  readonly bytes: Uint8Array;
  #decoded: DecodedMessage | undefined;

  /**
   * Wraps a frame without copying it.
   *
   * @param bytes exactly one complete frame
   */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Wire relay domain (1–4). */
  get relayDomain(): number {
    return readRelayDomain(this.bytes, 0);
  }

  /** SourceType byte. */
  get source(): number {
    return readSource(this.bytes, 0);
  }

  /** Header flags. */
  get flags(): number {
    return readFlags(this.bytes, 0);
  }

  /** Producer sequence (0 = unsequenced). */
  get sequence(): bigint {
    return readSequence(this.bytes, 0);
  }

  /** Build time, ns since the Unix epoch. */
  get timestamp(): bigint {
    return readTimestamp(this.bytes, 0);
  }

  /** Bytes of TLV payload. */
  get payloadSize(): number {
    return readPayloadSize(this.bytes, 0);
  }

  /** Stored checksum (0 = not computed). */
  get checksum(): number {
    return readChecksum(this.bytes, 0);
  }

  /** The TLV area (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(HEADER_SIZE);
  }

  /**
   * Decodes the whole message (header checks, checksum, TLV walk, typed
   * payloads); the result is cached.
   *
   * @returns the decoded message
   * @throws {FrameError} when the frame does not decode (e.g. a bad checksum)
   * @example
   * ```ts
   * declare const frame: ReceivedFrame; // an ArbitrageSignal
   *
   * const msg = frame.decode();
   * msg.tlvs.map((t) => t.name); // ["ArbitrageSignal"]
   * ```
   */
  decode(): DecodedMessage {
    return this.#decoded ??= decodeMessage(this.bytes);
  }
}
