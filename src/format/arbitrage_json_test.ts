import assert from "node:assert/strict";
import { decodeMessage } from "../protocol/message.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import {
  arbitrageJsonFromMessage,
  arbitrageSignalToJson,
  dexName,
  shortAddress,
} from "./arbitrage_json.ts";
import { vectorBytes } from "../../tests/_support/vectors.ts";

Deno.test("arbitrageJsonFromMessage() turns the spec's example signal into the 8.5 shape", () => {
  const [json, ...rest] = arbitrageJsonFromMessage(
    decodeMessage(vectorBytes("arbitrage_signal_flash_arb")),
  );
  assert.equal(rest.length, 0);
  assert.deepEqual(json, {
    msg_type: "arbitrage_opportunity",
    type: "real_arbitrage",
    timestamp: 1700000001999,
    timestamp_iso: "2023-11-14T22:13:21.999Z",
    pair: "0x0d500b...1270/0x2791bc...4174",
    token_a: "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270",
    token_b: "0x2791bca1f2de4661ed88a30c99a7a9449aa84174",
    pool_a: "0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827",
    pool_b: "0xcd353f79d9fade311fc3119b841e1f456b54e858",
    dex_buy: "QuickSwap",
    dex_sell: "SushiSwap",
    buyExchange: "QuickSwap",
    sellExchange: "SushiSwap",
    estimated_profit: 45.67890123,
    net_profit_usd: 10.62890123,
    max_trade_size: 5000,
    required_capital_usd: 5000,
    spread: 1.5,
    spread_percent: 1.5,
    profit_percent: 0.212578024600,
    net_profit_percent: 0.212578024600,
    gas_fee_usd: 0.05,
    dex_fees_usd: 30,
    slippage_cost_usd: 5,
    slippage_tolerance: 0.5,
    max_gas_price_gwei: 100,
    valid_until: 1700000301,
    priority: 1500,
    executable: true,
    strategy_id: 21,
    signal_id: "1700000001999000000",
    chain_id: 137,
  });
});

Deno.test("arbitrageSignalToJson() is not executable after valid_until", () => {
  const msg = decodeMessage(vectorBytes("arbitrage_signal_flash_arb"));
  const fields = msg.tlvs[0]!.fields!;
  assert.equal(arbitrageSignalToJson(fields, 1_700_000_301_999_999_999n).executable, true);
  assert.equal(arbitrageSignalToJson(fields, 1_700_000_302_000_000_000n).executable, false);
});

Deno.test("arbitrageJsonFromMessage() skips other TLV types", () => {
  const frame = new MessageBuilder({ domain: 2, source: 20 }).begin().addPayload(100, {
    timestamp_ns: 1n,
    uptime_seconds: 1,
    service_type: 20,
    health_status: 0,
    reserved: 0,
  }).build();
  assert.deepEqual(arbitrageJsonFromMessage(decodeMessage(frame)), []);
});

Deno.test("dexName() and shortAddress() follow the dashboard's names", () => {
  assert.deepEqual(
    [300, 301, 302, 400, 401, 402, 404, 101, 9999].map(dexName),
    [
      "Uniswap V2",
      "Uniswap V3",
      "SushiSwap",
      "QuickSwap",
      "SushiSwap",
      "Curve",
      "Balancer",
      "Kraken",
      "Venue 9999",
    ],
  );
  assert.equal(shortAddress("0x7CEB23FD6BC0ADD59E62AC25578270CFF1B9F619"), "0x7ceb23...f619");
});
