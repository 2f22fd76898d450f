/**
 * Typed payload decoding (`decodePayload`) of the spec's worked examples.
 * Run: `deno bench --allow-read bench/payloads_bench.ts`.
 *
 * @module
 */

import { decodePayload } from "../src/protocol/payloads.ts";
import { fromHex, VECTORS } from "../tests/_support/vectors.ts";

function payloadOf(name: string): Uint8Array {
  const tlv = VECTORS.find((v) => v.name === name)?.fields.tlvs[0];
  if (tlv === undefined) throw new Error(`No vector named "${name}"`);
  return fromHex(tlv.payload_hex as string);
}

const TRADE = payloadOf("trade_kraken_btc_usd");
const ARBITRAGE = payloadOf("arbitrage_signal_flash_arb");

Deno.bench({
  name: "Trade (40 bytes)",
  group: "typed decode",
  baseline: true,
  fn() {
    decodePayload(1, TRADE);
  },
});

Deno.bench({
  name: "ArbitrageSignal (170 bytes)",
  group: "typed decode",
  fn() {
    decodePayload(32, ARBITRAGE);
  },
});
