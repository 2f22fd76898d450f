/**
 * Frames of 64, 128 and 512 bytes for benches: one TLV of a vendor type whose
 * payload fills the message, checksum computed.
 *
 * @module
 */

import { encodeHeader, HEADER_SIZE, sealChecksum } from "../src/protocol/header.ts";
import { writeTlvHeader } from "../src/protocol/tlv.ts";

/** Message sizes every bench is parameterised by. */
export const SIZES = [64, 128, 512] as const;

/**
 * A valid frame of exactly `size` bytes (domain 1, source 99, one vendor TLV 202).
 *
 * @param size whole message size (≥ 34)
 * @param sequence header sequence
 * @returns the frame
 */
export function frameOfSize(size: number, sequence = 1): Uint8Array {
  const b = new Uint8Array(size);
  const valueLength = size - HEADER_SIZE - (size - HEADER_SIZE - 2 <= 255 ? 2 : 5);
  encodeHeader({
    relayDomain: 1,
    source: 99,
    sequence,
    timestamp: 1_700_000_000_000_000_000n,
    payloadSize: size - HEADER_SIZE,
  }, b);
  const at = writeTlvHeader(b, HEADER_SIZE, 202, valueLength);
  for (let i = at; i < size; i++) b[i] = i & 0xff;
  sealChecksum(b);
  return b;
}
