/**
 * Runtime schemas and the instrument cache through the real CLI: `--schemas`
 * on decode, tlv-info and sub, schema files listed in the configuration,
 * located errors, and `torq sub --cache` against a running relay.
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  close,
  connect,
  ROOT,
  runTorq,
  send,
  startRelay,
  TORQ_RUN,
} from "./_support/relay.ts";
import { fromHex, vectorBytes } from "./_support/vectors.ts";

const EXAMPLE = "config/schemas/example_vendor.yaml";

/** An AcmeTopOfBook (vendor type 210 of the example schema file) of Kraken ETH-USD. */
const VENDOR_FRAME =
  "efbeadde01010200070000000000000000002a36fe9c9717320000000038cc6fd230004453552d48544580c2387e510000000059d17e5100000000e1f5050000000000c2eb0b00000000650033002a000000";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

Deno.test("torq decode --schemas decodes a vendor TLV field by field", async () => {
  const plain = await runTorq(["decode", VENDOR_FRAME]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(
    plain.stdout,
    /tlv 1 of 1 at offset 32: unassigned \(type 210\), standard, 48 bytes\n {2}unassigned type: raw bytes/,
  );

  const r = await runTorq(["decode", "--schemas", EXAMPLE, VENDOR_FRAME]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /tlv 1 of 1 at offset 32: AcmeTopOfBook \(type 210\), standard, 48 bytes\n/,
  );
  assert.match(r.stdout, /^ {2}instrument +Kraken Coin: ETH-USD$/m);
  assert.match(r.stdout, /^ {2}bid_price +350010000000 \(3500\.1\)$/m);
  assert.match(r.stdout, /^ {2}book_sequence +42$/m);

  const json = await runTorq(["decode", "--json", "--schemas", EXAMPLE, VENDOR_FRAME]);
  assert.equal(json.code, 0, json.stderr);
  const tlv = JSON.parse(json.stdout).tlvs[0];
  assert.equal(tlv.name, "AcmeTopOfBook");
  assert.equal(tlv.fields.ask_price, "350020000000");
});

Deno.test("torq tlv-info --schemas lists and details registered layouts", async () => {
  const one = await runTorq(["tlv-info", "--schemas", EXAMPLE, "AcmeFundingRate"]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^AcmeFundingRate \(type 211\)$/m);
  assert.match(one.stdout, /^ {2}Layout +registered, 32 bytes$/m);
  assert.match(
    one.stdout,
    new RegExp(`^ {2}Notes +Schema registered at run time from ${EXAMPLE}\\.$`, "m"),
  );
  assert.match(one.stdout, /^ +0 +12 +InstrumentId +instrument$/m);
  assert.match(one.stdout, /^ +12 +4 +pad +pad$/m, "the gap is padding");

  const table = await runTorq(["tlv-info", "--schemas", EXAMPLE, "--domain", "market-data"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ +210 +AcmeTopOfBook +market_data +48 bytes +registered$/m);
  assert.match(
    table.stdout,
    /2 layouts are registered: loaded at run time from a schema file\.\n$/,
  );

  const missing = await runTorq(["tlv-info", "AcmeFundingRate"]);
  assert.equal(missing.code, 1);
});

Deno.test("--schemas reports every problem of a schema file with its path and line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_schema_cli_" });
  try {
    const file = `${dir}/schemas.yaml`;
    await Deno.writeTextFile(
      file,
      `types:
  - type: 210
    name: AcmeQuote
    size: 24
    fields:
      - { name: bid, offset: 0, type: i64 }
      - { name: price, offset: 8, type: i64 }
      - { name: ask, offset: 12, type: i64 }
  - type: 1
    name: Trade
    fields:
      - { name: x, offset: 0, type: u8 }
`,
    );
    const r = await runTorq(["decode", "--schemas", file, VENDOR_FRAME]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `torq decode: Cannot load schemas: 2 problems
  ${file}: types[0].fields[2].offset: overlaps "price" at bytes 8–15 (line 8)
  ${file}: types[1].type: type 1 (Trade) already has a reference layout (line 9)
`,
    );

    // The configuration's schemas: list is checked by 'config check' and loaded by 'relay'.
    const config = `${dir}/torq.yaml`;
    await Deno.writeTextFile(config, `schemas:\n  - ${file}\n`);
    const check = await runTorq(["config", "check", config]);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /^torq config check: Cannot load schemas: 2 problems\n/);
    const relay = await runTorq([
      "relay",
      "signal",
      "--config",
      config,
      "--socket",
      `${dir}/s.sock`,
    ]);
    assert.equal(relay.code, 1);
    assert.match(relay.stderr, /^torq relay: Cannot load schemas: 2 problems\n/);

    const missing = await runTorq(["tlv-info", "--schemas", `${dir}/nope.yaml`]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `torq tlv-info: Cannot load schemas: ${dir}/nope.yaml: Cannot read schema file: file not found\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--schemas refuses a field table no payload of the type can hold", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_schema_cli_" });
  try {
    const file = `${dir}/huge.yaml`;
    await Deno.writeTextFile(
      file,
      `types:
  - type: 230
    name: AcmeBlob
    size: variable
    fields:
      - { name: data, offset: 0, type: "u8[100000000]" }
`,
    );
    const r = await runTorq(["tlv-info", "--schemas", file, "AcmeBlob"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `torq tlv-info: Cannot load schemas: ${file}: types[0].fields[0].type: type u8[100000000] takes 100000000 bytes, more than a TLV value can hold (65535) (line 6)
`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq sub --cache --schemas: decodes vendor frames and prints what it learned", async () => {
  const relay = await startRelay("market-data");
  const sub = new Deno.Command(Deno.execPath(), {
    args: [
      ...TORQ_RUN,
      "sub",
      "market-data",
      "--socket",
      relay.path,
      "--count",
      "4",
      "--cache",
      "--schemas",
      EXAMPLE,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const errors = (async () => {
    for await (const t of sub.stderr.pipeThrough(new TextDecoderStream())) stderr += t;
  })();
  const output = new Response(sub.stdout).text();
  const producer = await connect(relay.path);
  try {
    const deadline = Date.now() + 15_000;
    while (!stderr.includes("subscribed to") && Date.now() < deadline) await delay(20);
    assert.ok(stderr.includes("subscribed to"), `torq sub did not subscribe: ${stderr}`);
    await send(
      producer,
      vectorBytes("trade_kraken_btc_usd"),
      vectorBytes("pool_sync_quickswap"),
      vectorBytes("multi_tlv_trade_and_quote"),
      fromHex(VENDOR_FRAME),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      sub.status,
      new Promise<null>((r) => (timer = setTimeout(() => r(null), 15_000))),
    ]);
    clearTimeout(timer);
    if (ended === null) sub.kill("SIGKILL");
    const status = await sub.status;
    await errors;
    const stdout = await output;
    assert.equal(status.code, 0, stderr);
    assert.match(stdout, /AcmeTopOfBook \(type 210\)/);
    const lines = stderr.trimEnd().split("\n");
    const at = lines.findIndex((l) => l.startsWith("cache: "));
    assert.equal(
      lines[at],
      "cache: 6 entries (3 instruments, 1 pool, 2 tokens) from 4 messages, 0 evicted (max 10000)",
    );
    const entries = lines.slice(at + 1);
    assert.ok(entries.some((l) => /^instrument +Kraken Coin: BTC-USD .* via=Trade /.test(l)));
    assert.ok(
      entries.some((l) => /^instrument +Kraken Coin: ETH-USD .* via=AcmeTopOfBook /.test(l)),
    );
    assert.ok(entries.some((l) => /^pool +QuickSwap Pool #\d+ .*address=0x6e7a5faf/.test(l)));
  } finally {
    await close(producer);
    try {
      sub.kill("SIGKILL");
    } catch {
      // ended
    }
    await sub.status;
    await relay.stop();
  }
  await assertAllClosed();
});
