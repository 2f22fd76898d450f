import assert from "node:assert/strict";
import { LastValues } from "./last_values.ts";
import { MessageBuilder } from "../protocol/builder.ts";
import { encodePayload } from "../protocol/payloads.ts";

const builder = new MessageBuilder({ domain: 1, source: 2 });

/** A Trade frame for instrument `asset` on `venue`, tagged by its price. */
function trade(asset: bigint, venue: number, price: bigint): Uint8Array {
  return builder.begin({ sequence: 1 }).addTlv(
    1,
    encodePayload(1, {
      asset_id: asset,
      price,
      volume: 1n,
      execution_timestamp_ns: 0n,
      venue_id: venue,
      asset_type: 1,
      reserved: 0,
      side: 0,
    }),
  ).build();
}

function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < bytes.length;) {
    const end = off + 32 + v.getUint32(off + 24, true);
    out.push(bytes.subarray(off, end));
    off = end;
  }
  return out;
}

Deno.test("LastValues keeps the last frame per (instrument, type), oldest update first", () => {
  const last = new LastValues(100);
  const a1 = trade(1n, 101, 10n);
  const b1 = trade(2n, 101, 20n);
  const a2 = trade(1n, 101, 11n);
  const c1 = trade(1n, 102, 30n); // same asset id on another venue: another instrument
  for (const f of [a1, b1, a2, c1]) last.update(f, 0, f.length);
  assert.equal(last.size, 3);
  const snap = last.snapshot(() => true);
  assert.equal(snap.frames, 3);
  assert.deepEqual(frames(snap.bytes), [b1, a2, c1]);
});

Deno.test("LastValues evicts the least recently updated pair at its limit, and finds the rest after the shift", () => {
  const last = new LastValues(50);
  const all = Array.from({ length: 500 }, (_, i) => trade(BigInt(i % 80), 100, BigInt(i)));
  for (const f of all) last.update(f, 0, f.length);
  assert.equal(last.size, 50);
  assert.equal(last.evicted, 450, "80 instruments in turn over 50 places: every update misses");
  // The 50 most recently updated instruments, each with its latest frame, in update order.
  assert.deepEqual(frames(last.snapshot(() => true).bytes), all.slice(450));
  // A filter sees each candidate frame.
  assert.equal(last.snapshot((b, s) => b[s + 32 + 2] === 0).frames, 1, "asset id 0 only");
});

Deno.test("LastValues ignores frames without an InstrumentId", () => {
  const last = new LastValues(10);
  const f = new MessageBuilder({ domain: 1, source: 2 }).begin().addTlv(202, new Uint8Array(40))
    .build();
  last.update(f, 0, f.length);
  assert.equal(last.size, 0);
});

Deno.test("LastValues.updateRun updates each frame of a back-to-back run, as update does per frame", () => {
  const one = new LastValues(100);
  const run = new LastValues(100);
  const all = [trade(1n, 101, 10n), trade(2n, 101, 20n), trade(1n, 101, 11n), trade(3n, 102, 30n)];
  const bytes = new Uint8Array(all.reduce((n, f) => n + f.length + 8, 8));
  let at = 8; // the run starts inside the buffer and ends before its end
  for (const f of all) {
    one.update(f, 0, f.length);
    bytes.set(f, at);
    at += f.length;
  }
  run.updateRun(bytes, 8, at);
  assert.equal(run.size, 3);
  assert.deepEqual(frames(run.snapshot(() => true).bytes), frames(one.snapshot(() => true).bytes));
  assert.deepEqual(frames(run.snapshot(() => true).bytes), [all[1], all[2], all[3]]);
});

Deno.test("LastValues stores frames of every length byte for byte (word copy and its tail)", () => {
  const last = new LastValues(100);
  // A Trade and then a vendor TLV of 0-7 bytes: frame lengths cover every remainder mod 8.
  const all = Array.from({ length: 8 }, (_, n) => {
    const value = Uint8Array.from({ length: n }, (_, i) => 0xa0 + i);
    const t = trade(BigInt(n), 101, BigInt(1000 + n));
    return builder.begin({ sequence: 1 }).addTlv(1, t.subarray(34)).addTlv(202, value).build();
  });
  assert.deepEqual(new Set(all.map((f) => f.length % 8)).size, 8);
  for (const f of all) last.update(f, 0, f.length);
  assert.deepEqual(frames(last.snapshot(() => true).bytes), all);
});
