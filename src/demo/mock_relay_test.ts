import assert from "node:assert/strict";
import { MessageBuilder } from "../protocol/builder.ts";
import { decodeMessage } from "../protocol/message.ts";
import { coin, VenueId } from "../protocol/instrument_id.ts";
import { MockMarketData, receivedLine, tlvNames } from "./mock_relay.ts";

Deno.test("MockMarketData alternates symbols and Trade/Quote, reproducibly", () => {
  const opts = { symbols: ["BTC-USD", "ETH-USD"], seed: 9, venue: VenueId.Coinbase };
  const a = new MockMarketData(opts);
  const b = new MockMarketData(opts);
  const kinds: string[] = [];
  for (let i = 0; i < 40; i++) {
    const m = a.next(1n);
    assert.deepEqual(b.next(1n), m);
    kinds.push(`${m.symbol}/${m.type}`);
    assert.equal(m.fields.asset_id, coin(VenueId.Coinbase, m.symbol).assetId);
    const frame = new MessageBuilder({ domain: 1, source: 99 }).begin().addPayload(m.type, m.fields)
      .build();
    const f = decodeMessage(frame).tlvs[0]!.fields!;
    if (m.type === 2) assert.ok((f.bid_price as bigint) < (f.ask_price as bigint));
    else assert.ok((f.price as bigint) > 0n);
  }
  assert.deepEqual(kinds.slice(0, 4), ["BTC-USD/1", "ETH-USD/1", "BTC-USD/2", "ETH-USD/2"]);
});

Deno.test("MockMarketData starts near the given price", () => {
  const m = new MockMarketData({ symbols: ["XYZ"], prices: { XYZ: 2 }, seed: 1 }).next(1n);
  const p = Number(m.fields.price) / 1e8;
  assert.ok(p > 1.99 && p < 2.01, `price ${p}`);
  assert.throws(() => new MockMarketData({ symbols: [], seed: 1 }), RangeError);
  assert.throws(
    () => new MockMarketData({ symbols: ["A"], prices: { A: 0 }, seed: 1 }),
    RangeError,
  );
});

Deno.test("tlvNames() and receivedLine() describe what a client sent", () => {
  const b = new MessageBuilder({ domain: 1, source: 2 });
  const trade = b.begin().addPayload(1, {
    asset_id: 1n,
    price: 1n,
    volume: 1n,
    execution_timestamp_ns: 1n,
    venue_id: 101,
    asset_type: 51,
    reserved: 0,
    side: 0,
  }).build();
  assert.deepEqual(tlvNames(trade, 0, trade.length), ["Trade"]);
  assert.deepEqual(tlvNames(trade, 0, 32), ["hello"]);
  assert.equal(
    receivedLine(222, 3, ["Trade", "Trade", "Quote"]),
    "📨 Received 222 bytes (3 frames: Trade×2, Quote×1)",
  );
  assert.equal(receivedLine(10, 0, []), "📨 Received 10 bytes (0 frames)");
  assert.equal(receivedLine(74, 1, ["Trade"]), "📨 Received 74 bytes (1 frame: Trade×1)");
});
