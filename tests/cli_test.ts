/**
 * Integration tests of the `torq` executable: every case runs the real CLI
 * (`deno run -A cli/main.ts ...`) as a subprocess, against the spec's vectors.
 */

import assert from "node:assert/strict";
import { TLV_TYPES } from "../src/protocol/registry.ts";
import { sealChecksum } from "../src/protocol/header.ts";
import { VERSION } from "../src/version.ts";
import { COMMANDS } from "../cli/main.ts";
import { sharedPath } from "./_support/shared.ts";
import { TORQ_RUN } from "./_support/relay.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

interface Vector {
  name: string;
  hex: string;
  length: number;
  expect: "valid" | { error: string };
  fields: {
    header: Record<string, unknown>;
    tlvs: Record<string, unknown>[];
  };
}

const VECTORS: Vector[] = JSON.parse(
  await Deno.readTextFile(sharedPath("spec/vectors.json")),
);
const VALID = VECTORS.filter((v) => v.expect === "valid");
const INVALID = VECTORS.filter((v) => v.expect !== "valid");

function vector(name: string): Vector {
  const v = VECTORS.find((x) => x.name === name);
  if (v === undefined) throw new Error(`no vector ${name}`);
  return v;
}

function bytesOf(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

async function torq(args: string[], stdin?: string | Uint8Array): Promise<Result> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    bytes: out.stdout,
  };
}

/** Asserts one line on stderr and nothing on stdout. */
function assertOneErrorLine(r: Result, code: number, line?: string | RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  if (typeof line === "string") assert.equal(lines[0], line);
  else if (line !== undefined) assert.match(lines[0]!, line);
}

/** Every member of `expected` appears in `actual` with the same value (arrays element-wise). */
function assertSubset(actual: unknown, expected: unknown, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is not an array`);
    assert.equal(actual.length, expected.length, `${path} length`);
    expected.forEach((e, i) => assertSubset(actual[i], e, `${path}[${i}]`));
  } else if (typeof expected === "object" && expected !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${path} is not an object`);
    for (const [k, e] of Object.entries(expected)) {
      assertSubset((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
    }
  } else {
    assert.equal(actual, expected, path);
  }
}

/** The vector's header in our JSON shape (magic/checksum as numbers, `timestamp`). */
function expectedHeader(v: Vector): Record<string, unknown> {
  const { timestamp_ns, magic, checksum, ...rest } = v.fields.header;
  return {
    ...rest,
    timestamp: timestamp_ns,
    magic: parseInt(String(magic), 16),
    checksum: parseInt(String(checksum), 16),
  };
}

function expectedTlv(t: Record<string, unknown>): Record<string, unknown> {
  const { payload, ...rest } = t;
  return payload === undefined ? rest : { ...rest, fields: payload };
}

Deno.test("torq --help, --version and <cmd> --help", async () => {
  const [help, version, ...commands] = await Promise.all([
    torq(["--help"]),
    torq(["--version"]),
    torq(["tlv-info", "--help"]),
    torq(["decode", "--help"]),
    torq(["encode", "--help"]),
  ]);
  assert.equal(help.code, 0);
  for (const name of ["tlv-info", "decode", "encode"]) {
    assert.match(help.stdout, new RegExp(`^  ${name}\\s+\\S.*$`, "m"));
  }
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), `torq ${VERSION}`);
  for (const r of commands) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: torq /);
    assert.match(r.stdout, /Examples:/);
  }
});

Deno.test("every command's help comes from its declaration: usage, --verbose, exit status, examples", async () => {
  // Every command and subcommand of cli/main.ts's table, in one process.
  const names = Object.keys(COMMANDS).flatMap((n) =>
    n === "demo"
      ? ["demo arbitrage", "demo pipeline", n]
      : n === "config"
      ? ["config check", "config show", n]
      : n === "journal"
      ? ["journal show", "journal verify", n]
      : [n]
  );
  const helps = await Promise.all(names.map((n) => torq([...n.split(" "), "--help"])));
  for (const [i, name] of names.entries()) {
    assert.equal(helps[i]!.code, 0, `${name}: ${helps[i]!.stderr}`);
    const help = helps[i]!.stdout;
    assert.match(help, new RegExp(`^Usage: torq ${name} `), name);
    assert.match(help, /\nExamples:\n {2}\S/, name);
    if (name !== "demo" && name !== "config" && name !== "journal") {
      assert.match(help, /\n {6}--verbose +Print stack traces of errors\n/, name);
      assert.match(
        help,
        /\nExit status:\n {2}0 {2}\S.*\n( {5}\S.*\n)* {2}1 {2}\S.*\n( {5}\S.*\n)* {2}2 {2}usage error/,
        name,
      );
    }
    for (const line of help.split("\n")) {
      assert.ok(line.length <= 100 || /^ {2}torq decode [0-9a-f]+$/.test(line), `${name}: ${line}`);
    }
  }
});

Deno.test("did you mean: subcommands, domains, TLV names, configuration keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_dym_" });
  try {
    await Deno.writeTextFile(
      `${dir}/typo.yaml`,
      "relays:\n  signals:\n    validation:\n      strict: false\n",
    );
    const [command, domain, tlv, key, set] = await Promise.all([
      torq(["rely", "signal"]),
      torq(["sub", "singal"]),
      torq(["tlv-info", "Arbitrage"]),
      torq(["config", "check", `${dir}/typo.yaml`]),
      torq(["config", "show", "--set", "relays.signal.validation.chekcsum=true"]),
    ]);
    assertOneErrorLine(
      command,
      2,
      `torq: unknown command "rely"; did you mean "relay"? (see 'torq --help')`,
    );
    assertOneErrorLine(
      domain,
      2,
      `torq sub: unknown domain "singal": use market-data, signal or execution; did you mean "signal"? (see 'torq sub --help')`,
    );
    assertOneErrorLine(
      tlv,
      1,
      `torq tlv-info: unknown TLV type "Arbitrage"; did you mean "ArbitrageSignal" or "ArbitrageExecution"?`,
    );
    assert.equal(key.code, 1);
    assert.match(
      key.stderr,
      /: relays\.signals: unknown key; did you mean "signal"\? \(line 2 of .*typo\.yaml\)$/m,
    );
    assert.equal(set.code, 1);
    assert.match(
      set.stderr,
      /relays\.signal\.validation\.chekcsum: unknown key; did you mean "checksum"\?/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq rejects unknown commands and options with one line and exit 2", async () => {
  const [command, option, global] = await Promise.all([
    torq(["frob"]),
    torq(["decode", "--frob"]),
    torq(["--frob"]),
  ]);
  assertOneErrorLine(command, 2, `torq: unknown command "frob" (see 'torq --help')`);
  assertOneErrorLine(option, 2, "torq decode: unknown option '--frob' (see 'torq decode --help')");
  assertOneErrorLine(global, 2, "torq: unknown option '--frob' (see 'torq --help')");
});

Deno.test("torq tlv-info", async (t) => {
  const [table, detail, json, unknown, signal] = await Promise.all([
    torq(["tlv-info"]),
    torq(["tlv-info", "32"]),
    torq(["tlv-info", "ArbitrageSignal", "--json"]),
    torq(["tlv-info", "999"]),
    torq(["tlv-info", "--domain", "signal", "--json"]),
  ]);

  await t.step("without argument lists every registry type", () => {
    assert.equal(table.code, 0, table.stderr);
    for (const info of TLV_TYPES) {
      assert.match(
        table.stdout,
        new RegExp(`^\\s+${info.type}\\s+${info.name}\\s+${info.domain}\\s`, "m"),
      );
    }
  });

  await t.step("with a number shows the entry, the relay and the field table", () => {
    assert.equal(detail.code, 0, detail.stderr);
    assert.match(detail.stdout, /^ArbitrageSignal \(type 32\)$/m);
    assert.match(detail.stdout, /signal relay/);
    assert.match(detail.stdout, /^\s+140\s+8\s+i64\s+net_profit_usd_q8$/m);
    assert.match(detail.stdout, /^\s+160\s+2\s+pad\s+reserved$/m);
  });

  await t.step("--json prints the registry entry", () => {
    assert.equal(json.code, 0, json.stderr);
    const entry = JSON.parse(json.stdout);
    assert.equal(entry.type, 32);
    assert.equal(entry.name, "ArbitrageSignal");
    assert.equal(entry.size_kind, "fixed");
    assert.equal(entry.layout_size, 170);
    assert.deepEqual(entry.fields[15], {
      offset: 140,
      name: "net_profit_usd_q8",
      type: "i64",
      size: 8,
    });
  });

  await t.step("--domain filters", () => {
    assert.equal(signal.code, 0, signal.stderr);
    const entries = JSON.parse(signal.stdout) as { domain: string }[];
    assert.ok(entries.length > 0);
    assert.ok(entries.every((e) => e.domain === "signal"));
  });

  await t.step("an unknown type exits 1 naming the valid ranges", () => {
    assertOneErrorLine(
      unknown,
      1,
      `torq tlv-info: unknown TLV type "999": use a number 1–254 or a name such as ArbitrageSignal ` +
        "(assigned: 1–32, 40–49, 60–72, 80–90, 100–108, 110–113, 200–204)",
    );
  });
});

Deno.test("torq decode --json and torq encode --json", async (t) => {
  const all = VALID.map((v) => v.hex).join("");
  const decoded = await torq(["decode", "--json", "-"], all);
  assert.equal(decoded.code, 0, decoded.stderr);
  const messages = JSON.parse(decoded.stdout) as Record<string, unknown>[];

  await t.step("decodes every valid vector to its header and field values", () => {
    assert.equal(messages.length, VALID.length);
    VALID.forEach((v, i) => {
      const m = messages[i]!;
      assert.deepEqual(Object.keys(m), ["header", "tlvs"]);
      assert.deepEqual(Object.keys(m.header as object), [
        "magic",
        "relay_domain",
        "domain",
        "version",
        "source",
        "source_name",
        "flags",
        "sequence",
        "timestamp",
        "payload_size",
        "checksum",
        "checksum_status",
      ]);
      assertSubset(m.header, expectedHeader(v), `${v.name}.header`);
      assertSubset(m.tlvs, v.fields.tlvs.map(expectedTlv), `${v.name}.tlvs`);
    });
  });

  await t.step("prints offsets, names and the checksum status", () => {
    const trade = messages[0] as {
      header: Record<string, unknown>;
      tlvs: Record<string, unknown>[];
    };
    assert.equal(trade.header.domain, "market_data");
    assert.equal(trade.header.source_name, "KrakenCollector");
    assert.equal(trade.header.checksum_status, "ok");
    assert.deepEqual(Object.keys(trade.tlvs[0]!), [
      "type",
      "name",
      "form",
      "offset",
      "length",
      "fields",
      "payload_hex",
    ]);
    assert.equal(trade.tlvs[0]!.offset, 32);
    const multi = messages[VALID.findIndex((v) => v.name === "multi_tlv_trade_and_quote")] as {
      tlvs: { offset: number }[];
    };
    assert.deepEqual(multi.tlvs.map((x) => x.offset), [32, 74]);
    const hot = messages[VALID.findIndex((v) => v.name === "gas_price_hot_path_no_checksum")] as {
      header: Record<string, unknown>;
    };
    assert.equal(hot.header.checksum_status, "absent");
  });

  await t.step("encode reproduces every valid vector byte for byte", async () => {
    const encoded = await torq(["encode", "--json", "-"], decoded.stdout);
    assert.equal(encoded.code, 0, encoded.stderr);
    assert.equal(encoded.stdout.trim(), all);
  });

  await t.step("encode --raw writes the frame bytes", async () => {
    const out = await torq(["encode", "--json", "-", "--raw"], JSON.stringify(messages[0]));
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.bytes, bytesOf(VALID[0]!.hex));
  });
});

Deno.test("torq decode rejects each negative vector with its error code", async (t) => {
  const results = await Promise.all(INVALID.map((v) => torq(["decode", "--json", v.hex])));
  for (const [i, v] of INVALID.entries()) {
    await t.step(v.name, () => {
      const r = results[i]!;
      assert.equal(r.code, 1);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(out.error), ["code", "message", "offset"]);
      assert.equal(out.error.code, (v.expect as { error: string }).error);
    });
  }
});

Deno.test("torq decode text, several frames, raw bytes, legacy numbering, bad input", async (t) => {
  const trade = vector("trade_kraken_btc_usd");
  const quote = vector("quote_coinbase_eth_usd");
  const legacy = bytesOf(trade.hex);
  legacy[4] = 0; // market data in the legacy 0–3 numbering
  sealChecksum(legacy, 0);
  const both = new Uint8Array([...bytesOf(trade.hex), ...bytesOf(quote.hex)]);
  const [text, raw, legacyJson, strict, badHex, badMagic] = await Promise.all([
    torq(["decode", trade.hex + quote.hex]),
    torq(["decode", "--json", "-"], both),
    torq(["decode", "--json", "--legacy-numbering", "-"], legacy),
    torq(["decode", "-"], legacy),
    torq(["decode", "efbeaxde"]),
    torq(["decode", vector("bad_magic_big_endian").hex]),
  ]);

  await t.step("shows decimals, instrument text and frame lines", () => {
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /45123\.5/);
    assert.match(text.stdout, /Kraken Coin: BTC-USD/);
    assert.match(text.stdout, /2023-11-14T22:13:20\.123456789Z/);
    assert.match(text.stdout, /^frame 1 at offset 0$/m);
    assert.match(text.stdout, /^frame 2 at offset 74$/m);
    assert.match(text.stdout, /^\s+checksum\s+0x3b68de0f \(ok\)$/m);
  });

  await t.step("raw bytes on stdin decode as two frames", () => {
    assert.equal(raw.code, 0, raw.stderr);
    const frames = JSON.parse(raw.stdout);
    assert.equal(frames.length, 2);
    assert.equal(frames[1].tlvs[0].name, "Quote");
  });

  await t.step("--legacy-numbering reads domain byte 0", () => {
    assert.equal(legacyJson.code, 0, legacyJson.stderr);
    const m = JSON.parse(legacyJson.stdout);
    assert.equal(m.header.relay_domain, 0);
    assert.equal(m.header.domain, "market_data");
    assert.equal(m.header.source_name, "CoinbaseCollector");
    assertOneErrorLine(strict, 1, /^torq decode: InvalidRelayDomain: /);
  });

  await t.step("bad hex names the character position", () => {
    assertOneErrorLine(badHex, 1, /position 6/);
  });

  await t.step("a validation failure is one readable line", () => {
    assertOneErrorLine(badMagic, 1, /^torq decode: InvalidMagic: .*byte order/);
  });
});

Deno.test("torq decode, encode and tlv-info show a header-prefixed payload's tail (D-38)", async (t) => {
  // A system frame (domain 4, source 80) with one Snapshot of a 32-byte header and 8 state bytes,
  // and one TraceContext of exactly its 32-byte header (no tail).
  const snapshot = new Uint8Array(40);
  const dv = new DataView(snapshot.buffer);
  dv.setBigUint64(0, 18446744073709551615n, true); // sequence: u64 max, printed exactly
  dv.setUint32(16, 7, true); // snapshot_id
  snapshot.set([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3], 32);
  const payload = new Uint8Array([101, 40, ...snapshot, 108, 32, ...new Uint8Array(32)]);
  const frame = new Uint8Array(32 + payload.length);
  const fv = new DataView(frame.buffer);
  fv.setUint32(0, 0xdeadbeef, true);
  frame[4] = 4;
  frame[5] = 1;
  frame[6] = 80;
  fv.setBigUint64(8, 1n, true);
  fv.setBigUint64(16, 1_700_000_000_000_000_000n, true);
  fv.setUint32(24, payload.length, true);
  frame.set(payload, 32);
  sealChecksum(frame, 0);
  const hexText = Array.from(frame, (x) => x.toString(16).padStart(2, "0")).join("");

  await t.step(
    "decode --json: header fields, then tail as hex; encode --json gives the bytes back",
    async () => {
      const r = await torq(["decode", "--json", hexText]);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as { tlvs: { fields: Record<string, unknown> }[] };
      assert.equal(m.tlvs[0]!.fields.sequence, "18446744073709551615");
      assert.equal(m.tlvs[0]!.fields.snapshot_id, 7);
      assert.equal(m.tlvs[0]!.fields.tail, "0xdeadbeef00010203");
      assert.equal("tail" in m.tlvs[1]!.fields, false);
      const back = await torq(["encode", "--json", "-"], r.stdout);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(back.stdout.trim(), hexText);
    },
  );

  await t.step("decode (text) prints the tail as a hex dump", async () => {
    const r = await torq(["decode", hexText]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}tail +8 bytes\n {4}0000 {2}deadbeef00010203$/m);
  });

  await t.step(
    "a PoolCacheHeader shorter than its 64-byte header is PayloadSizeMismatch",
    async () => {
      const short = new Uint8Array([201, 63, ...new Uint8Array(63)]);
      const f = new Uint8Array(32 + short.length);
      f.set(frame.subarray(0, 32));
      new DataView(f.buffer).setUint32(24, short.length, true);
      f.set(short, 32);
      sealChecksum(f, 0);
      const r = await torq([
        "decode",
        Array.from(f, (x) => x.toString(16).padStart(2, "0")).join(""),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /cannot decode fields: PayloadSizeMismatch: Cannot decode PoolCacheHeader: payload is 63 bytes, expected at least 64/,
      );
    },
  );

  await t.step("tlv-info shows the tail row", async () => {
    const r = await torq(["tlv-info", "101"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Layout +reference, 32-byte header \+ tail/);
    assert.match(r.stdout, /^ +32 +0-992 +bytes +tail$/m);
    const j = await torq(["tlv-info", "108", "--json"]);
    assert.deepEqual(JSON.parse(j.stdout).tail, { offset: 32, max_size: 224 });
  });
});
