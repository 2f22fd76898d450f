import assert from "node:assert/strict";
import { coin, VenueId } from "../protocol/instrument_id.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { decodeMessage } from "../protocol/message.ts";
import {
  formatPipelineEvent,
  GapDetector,
  gapSignalFields,
  isPipelineSignal,
  MarketWalk,
  ordersForSignal,
} from "./pipeline.ts";

const K = VenueId.Kraken;
const C = VenueId.Coinbase;

Deno.test("MarketWalk is reproducible, alternates venues and diverges now and then", () => {
  const a = new MarketWalk(45_000, 3);
  const b = new MarketWalk(45_000, 3);
  const detector = new GapDetector(30);
  let gaps = 0;
  for (let i = 0; i < 400; i++) {
    const t = a.next();
    assert.deepEqual(b.next(), t);
    assert.equal(t.venue, i % 2 === 0 ? K : C);
    assert.equal(t.priceQ8 % 1_000_000n, 0n, "whole cents");
    assert.ok(t.volumeQ8 > 0n);
    if (detector.update(t.venue, t.priceQ8) !== null) gaps++;
  }
  assert.ok(gaps > 0);
});

Deno.test("GapDetector reports a gap once until it closes", () => {
  const d = new GapDetector(30);
  assert.equal(d.update(K, 4_500_000_000_000n), null);
  const gap = d.update(C, 4_520_000_000_000n);
  assert.deepEqual(gap, {
    buyVenue: K,
    sellVenue: C,
    buyPriceQ8: 4_500_000_000_000n,
    sellPriceQ8: 4_520_000_000_000n,
    spreadBps: 44,
  });
  assert.equal(d.update(C, 4_521_000_000_000n), null, "same divergence");
  assert.equal(d.update(K, 4_520_500_000_000n), null, "closed: re-armed");
  assert.equal(d.update(K, 4_480_000_000_000n)?.buyVenue, K);
});

Deno.test("gapSignalFields() builds a consistent ArbitrageSignal that ordersForSignal() prices", () => {
  const ts = 1_763_900_000_000_000_000n;
  const gap = {
    buyVenue: C,
    sellVenue: K,
    buyPriceQ8: 4_500_000_000_000n,
    sellPriceQ8: 4_520_000_000_000n,
    spreadBps: 44,
  };
  const frame = new MessageBuilder({ domain: 2, source: 20 }).begin({ timestamp: ts })
    .addPayload(32, gapSignalFields("BTC-USD", gap, 1_000_000_000_000n, ts)).build();
  const f = decodeMessage(frame).tlvs[0]!.fields!;
  assert.equal(f.expected_profit_usd_q8, 4_400_000_000n);
  assert.equal(
    f.net_profit_usd_q8,
    (f.expected_profit_usd_q8 as bigint) - (f.dex_fees_usd_q8 as bigint) -
      (f.gas_cost_usd_q8 as bigint) - (f.slippage_usd_q8 as bigint),
  );
  assert.equal(f.valid_until, 1_763_900_300);
  assert.equal(f.priority, 440);
  const marks = new Map([[C, gap.buyPriceQ8], [K, gap.sellPriceQ8]]);
  const [buy, sell] = ordersForSignal(f, marks, 7);
  assert.deepEqual(buy, {
    asset_id: coin(C, "BTC-USD").assetId,
    quantity: 22_222_222n, // $10,000 / $45,000
    limit_price: gap.buyPriceQ8,
    order_id: 7,
    venue_id: C,
    asset_type: 51,
    order_flags: 0x12,
  });
  assert.equal(sell!.order_flags, 0x13);
  assert.equal(sell!.venue_id, K);
  assert.equal(sell!.order_id, 8);
  assert.equal(sell!.limit_price, gap.sellPriceQ8);
  assert.equal(sell!.quantity, buy!.quantity);

  const btc = coin(VenueId.Generic, "BTC-USD").assetId;
  assert.equal(isPipelineSignal(f, btc), true);
  assert.equal(isPipelineSignal(f, coin(VenueId.Generic, "ETH-USD").assetId), false);
  assert.equal(isPipelineSignal({ ...f, source_venue: 400 }, btc), false);
});

Deno.test("formatPipelineEvent() prints one line per stage event", () => {
  assert.equal(
    formatPipelineEvent({
      kind: "trade",
      venue: K,
      symbol: "BTC-USD",
      side: 0,
      priceQ8: 4_512_350_000_000n,
      volumeQ8: 12_345_678n,
    }),
    "📈 trade Kraken BTC-USD buy 0.12345678 @ 45123.50",
  );
  assert.match(
    formatPipelineEvent({
      kind: "order",
      orderId: 3,
      side: "sell",
      venue: C,
      symbol: "BTC-USD",
      quantityQ8: 50_000_000n,
      limitPriceQ8: 4_500_000_000_000n,
      sequence: 3n,
    }),
    /^🧾 order #3 sell 0\.5 BTC-USD on Coinbase limit 45000\.00/,
  );
});
