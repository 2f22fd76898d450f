/**
 * Loads the spec's worked examples (`../shared/spec/vectors.json`) for tests and benches.
 *
 * @module
 */

import { sharedPath } from "./shared.ts";

/** One worked example of vectors.json. */
export interface Vector {
  name: string;
  description: string;
  hex: string;
  length: number;
  expect: "valid" | { error: string };
  fields: {
    header: Record<string, string | number>;
    tlvs: Array<Record<string, unknown>>;
  };
}

/** Path of the spec's vectors.json beside the repository. */
export const VECTORS_URL: string = sharedPath("spec/vectors.json");

/** Every worked example. */
export const VECTORS: readonly Vector[] = JSON.parse(Deno.readTextFileSync(VECTORS_URL));

/**
 * Bytes of a hex string.
 *
 * @param hex lowercase or uppercase hex, no separators
 * @returns the bytes
 */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Lowercase hex of bytes.
 *
 * @param bytes input
 * @returns hex without separators
 */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * The vector of a name, as bytes.
 *
 * @param name vector name
 * @returns its bytes
 */
export function vectorBytes(name: string): Uint8Array {
  const v = VECTORS.find((x) => x.name === name);
  if (v === undefined) throw new Error(`No vector named "${name}"`);
  return fromHex(v.hex);
}
