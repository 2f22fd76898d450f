import assert from "node:assert/strict";
import { InstrumentCache } from "./instrument_cache.ts";
import { ReceivedFrame } from "./received_frame.ts";
import { readRecording } from "../tools/record_file.ts";
import { decodeMessage } from "../protocol/message.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import {
  coin,
  debugInfo,
  ethereumToken,
  polygonToken,
  pool,
  VenueId,
} from "../protocol/instrument_id.ts";
import { registerSchema, unregisterSchema } from "../protocol/tlv_schema.ts";
import { fromHex, vectorBytes } from "../../tests/_support/vectors.ts";

/**
 * Recorded with `torq record market-data` from a real relay while `torq pub` sent, in order:
 * the spec vectors trade_kraken_btc_usd, quote_coinbase_eth_usd, pool_swap_polygon_univ3,
 * pool_sync_quickswap, multi_tlv_trade_and_quote, extended_tlv_order_book, then a Trade of
 * Binance ETH-USDT with an InstrumentMeta (4) beside it, an InstrumentMeta alone, a PoolTick of
 * the PoolSwap's pool (address only) and a PoolState of a second QuickSwap WMATIC/USDC pool.
 */
const RECORDING = new URL("../../tests/fixtures/market_data_instruments.torq", import.meta.url);

const USDC = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174";
const WETH = "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619";
const WMATIC = "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270";
const UNIV3_POOL = "0x45dda9cb7c25131df268515131f647d726f50608";
const QUICK_POOL = "0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827";
const QUICK_POOL_2 = "0xa374094527e1673a86de625aa59517c5de346d32";

function recordedFrames(): ReceivedFrame[] {
  return [...readRecording(Deno.readFileSync(RECORDING))].map((r) => new ReceivedFrame(r.frame));
}

Deno.test("InstrumentCache learns instruments, pools, tokens and metadata from recorded market data", () => {
  const cache = new InstrumentCache();
  const frames = recordedFrames();
  assert.equal(frames.length, 10);
  for (const f of frames) cache.observe(f);

  assert.deepEqual(cache.stats(), {
    entries: 10,
    instruments: 4,
    pools: 2,
    tokens: 4,
    maxEntries: 10_000,
    evictions: 0,
    messages: 10,
    undecodable: 0,
    unattachedMeta: 1,
  });

  const btc = cache.get(coin(VenueId.Kraken, "BTC-USD"))!;
  assert.equal(btc.kind, "instrument");
  assert.equal(btc.label, "Kraken Coin: BTC-USD");
  assert.equal(btc.seen, 2);
  assert.deepEqual(btc.via, ["Trade", "OrderBook"]);
  assert.equal(btc.firstSeenNs, 1700000000123456789n, "the header time of the first Trade");
  assert.equal(btc.lastSeenNs, 1700000005000100000n);
  assert.deepEqual(cache.get(coin(VenueId.Binance, "BTCUSDT"))!.via, ["Trade", "Quote"]);
  assert.equal(cache.get(coin(VenueId.Coinbase, "ETH-USD"))!.seen, 1);

  const eth = cache.get(coin(VenueId.Binance, "ETH-USDT"))!;
  assert.equal(eth.meta?.length, 1);
  assert.equal(eth.meta![0]!.name, "InstrumentMeta");
  assert.equal(
    new TextDecoder().decode(fromHex(eth.meta![0]!.raw.slice(2))),
    "ETH-USDT tick=0.01 lot=0.0001",
  );
  assert.equal(eth.meta![0]!.firstSeenNs, 1700000010000000000n);
  assert.deepEqual(cache.unattachedMeta().map((m) => m.raw), [
    "0x" + Array.from(new TextEncoder().encode("catalogue v7"), (b) => b.toString(16)).join(""),
  ]);

  // Tokens live on the chain of the pool's venue (6.2): the PoolSwap vector's venue is UniswapV3
  // (301, Ethereum DeFi), so its tokens are Ethereum tokens; QuickSwap (400) is on Polygon.
  const usdc = cache.get(polygonToken(USDC))!;
  assert.equal(usdc.kind, "token");
  assert.equal(usdc.label, "Polygon Token 0x2791bca1f2de4661");
  assert.equal(usdc.address, USDC);
  assert.equal(usdc.decimals, 6);
  assert.equal(usdc.chainId, 137);
  assert.deepEqual(usdc.via, ["PoolSync", "PoolState"]);
  assert.equal(cache.get(polygonToken(WMATIC))!.decimals, 18);
  assert.equal(cache.get(ethereumToken(USDC))!.chainId, 1);
  assert.equal(cache.get(ethereumToken(WETH))!.decimals, 18);

  const swapPool = cache.get(pool(VenueId.UniswapV3, ethereumToken(USDC), ethereumToken(WETH)))!;
  assert.equal(swapPool.kind, "pool");
  assert.equal(swapPool.address, UNIV3_POOL);
  assert.deepEqual(swapPool.tokens, [USDC, WETH]);
  assert.deepEqual(swapPool.tokenDecimals, [6, 18]);
  assert.deepEqual(swapPool.via, ["PoolSwap", "PoolTick"], "the PoolTick found it by address");
  assert.equal(swapPool.seen, 2);
  assert.equal(cache.byAddress(UNIV3_POOL.toUpperCase()), swapPool);

  // Two QuickSwap WMATIC/USDC pools share one pool InstrumentId; both addresses are kept.
  const quick = cache.get(pool(VenueId.QuickSwap, polygonToken(WMATIC), polygonToken(USDC)))!;
  assert.equal(quick.address, QUICK_POOL);
  assert.deepEqual(quick.otherAddresses, [QUICK_POOL_2]);
  assert.equal(quick.poolType, 3);
  assert.equal(quick.feeBps, 30);
  assert.equal(quick.chainId, 137);
  assert.equal(cache.byAddress(QUICK_POOL_2), quick);
});

Deno.test("InstrumentCache.observe() takes frames, bytes and decoded messages alike, and counts what does not decode", () => {
  const bytes = vectorBytes("trade_kraken_btc_usd");
  const a = new InstrumentCache();
  a.observe(new ReceivedFrame(bytes));
  const b = new InstrumentCache();
  b.observe(bytes);
  const c = new InstrumentCache();
  c.observe(decodeMessage(bytes), 42n);
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.equal(c.get(coin(VenueId.Kraken, "BTC-USD"))!.firstSeenNs, 42n, "atNs wins");
  const bad = bytes.slice();
  bad[bad.length - 1]! ^= 0xff;
  assert.equal(a.observe(bad), 0);
  assert.equal(a.stats().undecodable, 1);
  assert.equal(a.stats().messages, 1);
});

Deno.test("InstrumentCache keeps at most maxEntries, evicting the least recently used, and counts evictions", () => {
  const cache = new InstrumentCache({ maxEntries: 3 });
  const b = new MessageBuilder({ domain: 1, source: 1 });
  const trade = (symbol: string) => {
    const id = coin(VenueId.Binance, symbol);
    return b.begin({ timestamp: 1n }).addPayload(1, {
      asset_id: id.assetId,
      price: 1n,
      volume: 1n,
      execution_timestamp_ns: 1n,
      venue_id: id.venue,
      asset_type: id.assetType,
      reserved: 0,
      side: 0,
    }).build();
  };
  for (const s of ["AAA", "BBB", "CCC"]) cache.observe(trade(s));
  assert.ok(cache.get(coin(VenueId.Binance, "AAA")), "a lookup makes AAA the most recent");
  cache.observe(trade("DDD"));
  assert.equal(cache.size, 3);
  assert.equal(cache.stats().evictions, 1);
  assert.equal(cache.has(coin(VenueId.Binance, "BBB")), false, "BBB was least recently used");
  assert.deepEqual([...cache.entries()].map((e) => e.label), [
    "Binance Coin: CCC",
    "Binance Coin: AAA",
    "Binance Coin: DDD",
  ]);
  assert.throws(() => new InstrumentCache({ maxEntries: 0 }), RangeError);
});

Deno.test("InstrumentCache learns from vendor TLVs with a registered schema and from ArbitrageSignal pools", () => {
  try {
    registerSchema({
      type: 210,
      name: "AcmeTopOfBook",
      size: 24,
      fields: [
        { name: "asset_id", offset: 0, type: "u64" },
        { name: "bid_price", offset: 8, type: "i64" },
        { name: "venue_id", offset: 16, type: "u16" },
        { name: "asset_type", offset: 18, type: "u8" },
      ],
    });
    const sol = coin(VenueId.Bybit, "SOL-USD");
    const frame = new MessageBuilder({ domain: 1, source: 1 }).begin().addPayload(210, {
      asset_id: sol.assetId,
      bid_price: 5n,
      venue_id: sol.venue,
      asset_type: sol.assetType,
    }).build();
    const cache = new InstrumentCache();
    assert.equal(cache.observe(frame), 1);
    assert.deepEqual(cache.get(sol)!.via, ["AcmeTopOfBook"]);

    cache.observe(vectorBytes("arbitrage_signal_flash_arb"));
    const pools = [...cache.entries()].filter((e) => e.kind === "pool");
    assert.equal(pools.length, 2, "source and target pool");
    for (const p of pools) {
      assert.deepEqual(p.via, ["ArbitrageSignal"]);
      assert.equal(p.chainId, 137);
      assert.equal(p.tokens?.length, 2);
    }
  } finally {
    unregisterSchema(210);
  }
});

Deno.test("InstrumentCache.dump() and toJSON() show what was learned", () => {
  const cache = new InstrumentCache();
  for (const f of recordedFrames()) cache.observe(f);
  const lines = cache.dump();
  assert.equal(
    lines[0],
    "cache: 10 entries (4 instruments, 2 pools, 4 tokens) from 10 messages, 0 evicted (max 10000), 1 unattached metadata record",
  );
  assert.equal(lines.length, 1 + 10 + 1);
  const btcKey = `0x${(101n << 80n | 51n << 72n | 0x4254432d55534400n).toString(16)}`;
  const btc = lines.find((l) => l.includes("Kraken Coin: BTC-USD"))!;
  assert.match(btc, /^instrument {2}Kraken Coin: BTC-USD +/);
  assert.ok(btc.includes(`key=${btcKey}`), btc);
  assert.ok(btc.includes("seen=2 via=Trade,OrderBook"), btc);
  assert.ok(btc.includes("first=2023-11-14T22:13:20.123456789Z"), btc);
  assert.ok(lines.some((l) => l.startsWith("pool") && l.includes(`address=${UNIV3_POOL}`)));
  assert.ok(lines.some((l) => l.startsWith("token") && l.includes("decimals=6")));
  assert.ok(lines.at(-1)!.startsWith("meta        InstrumentMeta (type 4)  raw=0x"));

  const json = JSON.parse(JSON.stringify(cache));
  assert.equal(json.stats.entries, 10);
  const entry = json.entries.find((e: { label: string }) => e.label === "Kraken Coin: BTC-USD");
  assert.deepEqual(entry, {
    kind: "instrument",
    key: btcKey,
    label: "Kraken Coin: BTC-USD",
    venue: 101,
    asset_type: 51,
    asset_id: "4779518966531048448",
    reserved: 0,
    seen: 2,
    via: ["Trade", "OrderBook"],
    first_seen_ns: "1700000000123456789",
    last_seen_ns: "1700000005000100000",
  });
  assert.equal(debugInfo(coin(VenueId.Kraken, "BTC-USD")), entry.label);
});
