import assert from "node:assert/strict";
import { MessageBuilder } from "../protocol/builder.ts";
import { decodeMessage } from "../protocol/message.ts";
import {
  type ArbitrageOpportunity,
  buildSignalFrame,
  DEMO_PAIRS,
  DEMO_VENUES,
  DemoArbitrageGenerator,
  formatPercent2,
  formatUsd2,
  POLYGON_TOKENS,
  sentLine,
  signalFields,
} from "./arbitrage.ts";

const Q8 = 100_000_000n;
const TS = 1_763_900_000_123_456_789n;

function draws(seed: number, n: number): ArbitrageOpportunity[] {
  const gen = new DemoArbitrageGenerator(seed);
  return Array.from({ length: n }, () => gen.next());
}

Deno.test("DemoArbitrageGenerator gives the same opportunities for the same seed", () => {
  assert.deepEqual(draws(7, 50), draws(7, 50));
  assert.notDeepEqual(draws(7, 50), draws(8, 50));
});

Deno.test("DemoArbitrageGenerator.next() draws from the 8.2 distributions", () => {
  const seen = { pairs: new Set<string>(), venues: new Set<number>() };
  for (const o of draws(1, 2_000)) {
    assert.ok(DEMO_PAIRS.includes(o.pair));
    seen.pairs.add(o.pair.name);
    assert.ok(DEMO_VENUES.includes(o.buyVenue) && DEMO_VENUES.includes(o.sellVenue));
    assert.notEqual(o.buyVenue, o.sellVenue);
    seen.venues.add(o.buyVenue).add(o.sellVenue);
    assert.ok(o.spreadBps >= 10 && o.spreadBps <= 300, `spread ${o.spreadBps}`);
    assert.ok(o.capitalQ8 >= 1_000n * Q8 && o.capitalQ8 <= 10_000n * Q8, `capital ${o.capitalQ8}`);
    assert.equal(o.capitalQ8 % 1_000_000n, 0n, "capital is whole cents");
    assert.ok(o.gasCostQ8 >= 5n * Q8 && o.gasCostQ8 <= 20n * Q8, `gas ${o.gasCostQ8}`);
    assert.ok(o.slippagePpm >= 1_000 && o.slippagePpm <= 5_000);
    assert.ok(o.delayMs >= 2_000 && o.delayMs <= 5_000);
    assert.ok(o.priceBuyQ8 >= o.pair.minPriceQ8 && o.priceBuyQ8 <= o.pair.maxPriceQ8);
    assert.ok(o.priceSellQ8 > o.priceBuyQ8);
    assert.match(o.sourcePool, /^0x[0-9a-f]{40}$/);
    assert.match(o.targetPool, /^0x[0-9a-f]{40}$/);
    assert.notEqual(o.sourcePool, o.targetPool);
  }
  assert.equal(seen.pairs.size, 4);
  assert.equal(seen.venues.size, 3);
});

Deno.test("DemoArbitrageGenerator.next() keeps the economics exact", () => {
  let negative = 0;
  for (const o of draws(2, 2_000)) {
    // Every product divides exactly: no amount was rounded.
    assert.equal(o.capitalQ8 * BigInt(o.spreadBps) % 10_000n, 0n);
    assert.equal(o.expectedProfitQ8 * 10_000n, o.capitalQ8 * BigInt(o.spreadBps));
    assert.equal(o.dexFeesQ8 * 1_000n, o.capitalQ8 * 3n, "fees are 0.3 % of size");
    assert.equal(o.slippageQ8 * 1_000_000n, o.capitalQ8 * BigInt(o.slippagePpm));
    assert.equal(o.netProfitQ8, o.expectedProfitQ8 - o.dexFeesQ8 - o.gasCostQ8 - o.slippageQ8);
    if (o.netProfitQ8 < 0n) negative++;
  }
  assert.ok(negative > 0, "small spreads give losses, as in the reference");
});

Deno.test("DEMO_PAIRS use the real Polygon token addresses", () => {
  assert.deepEqual(
    DEMO_PAIRS.map((p) => [p.name, p.tokenIn, p.tokenOut]),
    [
      ["WMATIC/USDC", POLYGON_TOKENS.WMATIC, POLYGON_TOKENS.USDC],
      ["WETH/USDC", POLYGON_TOKENS.WETH, POLYGON_TOKENS.USDC],
      ["WBTC/USDC", POLYGON_TOKENS.WBTC, POLYGON_TOKENS.USDC],
      ["LINK/USDC", POLYGON_TOKENS.LINK, POLYGON_TOKENS.USDC],
    ],
  );
  assert.equal(POLYGON_TOKENS.WMATIC, "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270");
  assert.equal(POLYGON_TOKENS.USDC, "0x2791bca1f2de4661ed88a30c99a7a9449aa84174");
});

Deno.test("buildSignalFrame() builds a checksummed ArbitrageSignal by the 5.4 rules", () => {
  const opp = new DemoArbitrageGenerator(3).next();
  const builder = new MessageBuilder({ domain: 2, source: 20 });
  const msg = decodeMessage(buildSignalFrame(builder, opp, TS).slice());
  assert.equal(msg.checksumStatus, "ok");
  assert.equal(msg.header.relayDomain, 2);
  assert.equal(msg.header.source, 20);
  assert.equal(msg.header.sequence, 1n);
  assert.equal(msg.header.timestamp, TS);
  assert.equal(msg.size, 32 + 2 + 170);
  const t = msg.tlvs[0]!;
  assert.equal(t.name, "ArbitrageSignal");
  const f = t.fields!;
  assert.equal(f.strategy_id, 21);
  assert.equal(f.chain_id, 137);
  assert.equal(f.signal_id, TS);
  assert.equal(f.timestamp_ns, TS);
  assert.equal(f.valid_until, 1_763_900_000 + 300);
  assert.equal(f.priority, opp.spreadBps * 10);
  assert.equal(f.slippage_tolerance_bps, 50);
  assert.equal(f.max_gas_price_gwei, 100);
  assert.equal(f.source_venue, opp.buyVenue);
  assert.equal(f.target_venue, opp.sellVenue);
  assert.equal(f.token_in, opp.pair.tokenIn);
  assert.equal(f.token_out, opp.pair.tokenOut);
  assert.equal(f.source_pool, opp.sourcePool);
  assert.equal(f.target_pool, opp.targetPool);
  assert.equal(f.required_capital_usd_q8, opp.capitalQ8);
  assert.equal(f.net_profit_usd_q8, opp.netProfitQ8);
  assert.equal(decodeMessage(buildSignalFrame(builder, opp, TS).slice()).header.sequence, 2n);
});

Deno.test("signalFields() caps priority at 65535", () => {
  const opp = { ...new DemoArbitrageGenerator(3).next(), spreadBps: 7_000 };
  assert.equal(signalFields(opp, TS).priority, 65_535);
});

Deno.test("formatUsd2() and formatPercent2() round half away from zero", async (t) => {
  const usd: [bigint, string][] = [
    [0n, "0.00"],
    [1_062_890_123n, "10.63"],
    [1_062_500_000n, "10.63"],
    [1_062_499_999n, "10.62"],
    [-693_000_000n, "-6.93"],
    [-500_000n, "-0.01"],
    [-499_999n, "0.00"],
  ];
  for (const [q8, text] of usd) {
    await t.step(`formatUsd2(${q8}) = ${text}`, () => assert.equal(formatUsd2(q8), text));
  }
  assert.equal(formatPercent2(1_062_890_123n, 500_000_000_000n), "0.21");
  assert.equal(formatPercent2(-4_500_000_000n, 500_000_000_000n), "-0.90");
  assert.equal(formatPercent2(1n, 0n), "0.00");
});

Deno.test("sentLine() prints the 8.2 console line", () => {
  const opp = { ...new DemoArbitrageGenerator(3).next(), netProfitQ8: 6_188_000_000n };
  const pct = formatPercent2(opp.netProfitQ8, opp.capitalQ8);
  assert.equal(
    sentLine(opp),
    `📊 Sent arbitrage opportunity: ${opp.pair.name} $61.88 profit (${pct}%)`,
  );
});
