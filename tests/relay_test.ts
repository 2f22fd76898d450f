/**
 * Integration tests of `torq relay`: every case runs the real executable on a
 * socket in a temporary directory and talks to it over raw Unix sockets.
 *
 * One behavioural suite runs against all three relays (market data: performance
 * policy, signal: standard, execution: audit), one relay process per domain
 * shared by its steps; domain-specific steps follow the suite (subscriptions,
 * the audit journal), and tests that need other settings start their own relay
 * (slow consumers, max_connections, stale socket, configuration errors).
 *
 * Ordering between connections is made deterministic without sleeps: the relay
 * accepts connections in connect order, so consumers connected before a
 * producer are registered before the producer's first frame is read; a
 * "witness" frame that must arrive after the frames under test proves the
 * relay has processed them. Negative checks ("nothing else arrived") are fences
 * too: a Subscribe that changes nothing is answered after everything already
 * queued for the connection ({@linkcode nothingQueued}).
 */

import assert from "node:assert/strict";
import {
  assertAllClosed,
  assertFrames,
  close,
  concat,
  connect,
  connectMany,
  corrupt,
  expectSilence,
  helloFrame,
  type LogLine,
  makeFrame,
  makeFrames,
  prng,
  type Profile,
  PROFILES,
  readExactly,
  readFrames,
  readToEnd,
  type RunningRelay,
  runTorq,
  send,
  seqOf,
  sizedFrame,
  startRelay,
  subscribe,
  withPayload,
} from "./_support/relay.ts";
import { vectorBytes } from "./_support/vectors.ts";
import { RELAY_SOURCE } from "../src/protocol/domains.ts";
import { MessageBuilder } from "../src/protocol/builder.ts";
import { encodeSubscribe } from "../src/protocol/subscribe.ts";
import { type JournalRecord, readJournal } from "../src/relay/journal_file.ts";
import { journalRecordToJson } from "../src/tools/journal_view.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Connects `n` clients in order, runs `fn`, closes them all. */
async function withConns(
  path: string,
  n: number,
  fn: (conns: Deno.UnixConn[]) => Promise<void>,
): Promise<void> {
  const conns = await connectMany(path, n);
  try {
    await fn(conns);
  } finally {
    await close(...conns);
  }
}

/**
 * Asserts nothing is queued for `conn` ahead of a fence: a Subscribe adding no
 * pattern is answered after every frame already queued for the connection, and
 * `subscribe()` fails if any other frame comes first. The answer must list `filter`.
 */
async function nothingQueued(conn: Deno.Conn, filter: string[]): Promise<void> {
  const answer = await subscribe(conn, [], "add");
  assert.deepEqual(answer.patterns, filter);
  assert.equal(answer.error, undefined);
}

/** Proves a relay still serves: a new consumer receives a new producer's frames. */
async function assertServes(relay: RunningRelay, p: Profile, tag = 0xee): Promise<void> {
  await withConns(relay.path, 2, async ([c, pr]) => {
    const frames = makeFrames(p, 10, { tag });
    await send(pr!, concat(frames));
    assertFrames(await readFrames(c!, 10), frames, "after the check");
  });
}

/** The relay's journal records, from record `from`. */
function journalRecords(relay: RunningRelay, from = 0): JournalRecord[] {
  return [...readJournal(relay.journal)].slice(from);
}

/** The relay's journal in its JSON view (PROTOCOL.md 7.5, D-40), from record `from`. */
function journalLines(relay: RunningRelay, from = 0): Record<string, unknown>[] {
  return journalRecords(relay, from).map((r) => ({ ...journalRecordToJson(r) }));
}

const isReject = (code: string) => (l: LogLine) => l.msg === "rejected frame" && l.code === code;

// =============================================================================================
// The behavioural suite, once per relay.

for (const p of PROFILES) {
  Deno.test(`torq relay ${p.arg}: behavioural suite`, async (t) => {
    const relay = await startRelay(p.arg);
    const fdsAtStart = relay.openFds();
    try {
      await t.step("fans out exact bytes to 1 consumer in order (1,000 frames)", async () => {
        await withConns(relay.path, 2, async ([c, pr]) => {
          const frames = makeFrames(p, 1000);
          await send(pr!, concat(frames));
          assertFrames(await readFrames(c!, 1000), frames);
        });
      });

      await t.step("fans out exact bytes to 4 consumers in order (1,000 frames)", async () => {
        await withConns(relay.path, 5, async (all) => {
          const conns = all.slice(0, 4);
          const pr = all[4]!;
          const frames = makeFrames(p, 1000);
          for (let i = 0; i < frames.length; i += 10) {
            await send(pr, concat(frames.slice(i, i + 10)));
          }
          const bytes = concat(frames);
          const [raw, ...got] = await Promise.all([
            readExactly(conns[0]!, bytes.length), // the raw byte stream, too
            ...conns.slice(1).map((c) => readFrames(c, 1000)),
          ]);
          assert.ok(raw.every((x, i) => x === bytes[i]), "consumer 0: bytes differ");
          got.forEach((g, i) => assertFrames(g, frames, `consumer ${i + 1}`));
          for (const c of conns) await nothingQueued(c, ["*"]);
        });
      });

      await t.step("does not echo frames to their sender, which still consumes", async () => {
        await withConns(relay.path, 3, async ([c, pr, other]) => {
          const frames = makeFrames(p, 10);
          await send(pr!, concat(frames));
          assertFrames(await readFrames(c!, 10), frames);
          // the sender consumes everyone else's frames; an echo would arrive before them
          const theirs = makeFrames(p, 3, { tag: 2 });
          await send(other!, concat(theirs));
          assertFrames(await readFrames(pr!, 3), theirs, "sender as consumer");
          assertFrames(await readFrames(c!, 3), theirs, "consumer");
        });
      });

      await t.step(
        "hello: not forwarded; a hello-first connection is publish-only, a later hello changes nothing",
        async () => {
          // consumers connect before the producers whose frames they must see
          await withConns(relay.path, 4, async ([c, k, h, pr]) => {
            // h: hello first, then a frame -> publish-only, its frame still goes out
            const wH = makeFrame(p, 1, { tag: 1 });
            await send(h!, concat([helloFrame(), wH]));
            assertFrames(await readFrames(c!, 1), [wH], "consumer after h's hello + frame");
            assertFrames(await readFrames(k!, 1), [wH], "k after h's hello + frame");
            // k: a frame first, then a hello -> stays a consumer
            const wK = makeFrame(p, 1, { tag: 2 });
            await send(k!, concat([wK, helloFrame()]));
            const frames = makeFrames(p, 5, { tag: 3 });
            await send(pr!, concat(frames));
            assertFrames(await readFrames(c!, 6), [wK, ...frames], "consumer");
            assertFrames(await readFrames(k!, 5), frames, "k (hello after a frame)");
            await expectSilence(h!, 100);
            await nothingQueued(h!, []);
            await nothingQueued(c!, ["*"]);
          });
        },
      );

      await t.step("reassembles frames dribbled one byte at a time", async () => {
        await withConns(relay.path, 2, async ([c, pr]) => {
          const frames = makeFrames(p, 3);
          const bytes = concat(frames);
          for (let i = 0; i < bytes.length; i++) {
            await send(pr!, bytes.subarray(i, i + 1));
            if (i % 16 === 0) await delay(1);
          }
          assertFrames(await readFrames(c!, 3), frames);
        });
      });

      await t.step("reassembles frames written in random splits", async () => {
        await withConns(relay.path, 2, async ([c, pr]) => {
          const frames = makeFrames(p, 300);
          const bytes = concat(frames);
          const rnd = prng(0x5eed + p.domain);
          const max = 2 * frames[0]!.length;
          for (let off = 0; off < bytes.length;) {
            const n = 1 + Math.floor(rnd() * max);
            await send(pr!, bytes.subarray(off, off + n));
            off += n;
            if (rnd() < 0.1) await delay(1);
          }
          assertFrames(await readFrames(c!, 300), frames);
        });
      });

      await t.step("skips garbage between frames and resynchronises on the magic", async () => {
        await withConns(relay.path, 2, async ([c, pr]) => {
          const frames = makeFrames(p, 7);
          const badVersion = new Uint8Array(40);
          badVersion.set([0xef, 0xbe, 0xad, 0xde, p.domain, 9]);
          const tooLarge = new Uint8Array(32);
          tooLarge.set([0xef, 0xbe, 0xad, 0xde, p.domain, 1, p.source]);
          new DataView(tooLarge.buffer).setUint32(24, 0x7fff_ff00, true);
          const rnd = prng(7);
          const noise = Uint8Array.from({ length: 300 }, () => {
            const x = Math.floor(rnd() * 256);
            return x === 0xef ? 0 : x;
          });
          const garbage = [
            new TextEncoder().encode("this is not a frame\n"),
            Uint8Array.of(0xef, 0xbe, 0xad, 0x00, 1, 2, 3), // broken magic
            badVersion, // magic, version 9
            tooLarge, // payload_size above the limit: lost sync
            noise,
            Uint8Array.of(0xde, 0xad, 0xbe, 0xef), // byte-swapped magic
            Uint8Array.of(0xef, 0xef, 0xbe),
          ];
          await send(pr!, concat(frames.flatMap((f, i) => [garbage[i]!, f])));
          const got = await readFrames(c!, 7);
          assertFrames(got, frames);
          // the producer's connection is still usable
          const more = makeFrames(p, 2, { first: 8 });
          await send(pr!, concat(more));
          assertFrames(await readFrames(c!, 2), more, "after the garbage");
        });
      });

      await t.step(
        "drops frames of another domain (logged WrongDomain), connection kept",
        async () => {
          await withConns(relay.path, 2, async ([c, pr]) => {
            const mark = relay.logs().length;
            let logged: LogLine | undefined;
            // the reject log is rate-limited (1/s per relay): retry until a line is written
            for (let attempt = 1; attempt <= 4 && logged === undefined; attempt++) {
              const wrong = makeFrame(p, attempt, { domain: p.otherDomain, tlv: p.otherTlv });
              const invalid = makeFrame(p, attempt, { domain: 7 });
              const system = makeFrame(p, attempt, { domain: 4, tlv: [100, 16] }); // not a Subscribe
              // a Subscribe is consumed only on the relay's own domain or 4
              const foreignSubscribe = new MessageBuilder({ domain: p.otherDomain, source: 20 })
                .begin().addTlv(113, encodeSubscribe({ mode: 0, patterns: [] })).build();
              const ok = makeFrame(p, attempt, { tag: attempt });
              await send(pr!, concat([wrong, invalid, system, foreignSubscribe, ok]));
              assertFrames(await readFrames(c!, 1), [ok], `attempt ${attempt}`);
              logged = await relay.findLog(isReject("WrongDomain"), 1_100, mark);
            }
            assert.ok(logged, "no 'rejected frame' line with code WrongDomain");
            assert.equal(logged.relay, p.name);
            assert.equal(typeof logged.conn, "number");
            await nothingQueued(c!, ["*"]);
            await nothingQueued(pr!, ["*"]); // no answer to the foreign-domain Subscribe
          });
        },
      );

      await t.step(
        `checksum mismatch ${p.verifiesChecksum ? "dropped" : "forwarded"}; checksum 0 ${
          p.forwardsZeroChecksum ? "forwarded" : "dropped"
        }; malformed TLVs ${p.walksTlvs ? "dropped" : "forwarded"}`,
        async () => {
          await withConns(relay.path, 2, async ([c, pr]) => {
            const bad = corrupt(makeFrame(p, 1));
            const zero = makeFrame(p, 2, { checksum: false });
            // TLV record claiming 200 value bytes where 10 follow (TruncatedTlv), valid checksum
            const malformed = withPayload(
              makeFrame(p, 3),
              Uint8Array.of(p.tlvType, 200, ...new Uint8Array(10)),
            );
            const ok = makeFrame(p, 4);
            const vector = p.domain === 1 ? [vectorBytes("bad_checksum")] : [];
            await send(pr!, concat([bad, zero, malformed, ...vector, ok]));
            const expected = [
              ...(p.verifiesChecksum ? [] : [bad]),
              ...(p.forwardsZeroChecksum ? [zero] : []),
              ...(p.walksTlvs ? [] : [malformed]),
              ...vector,
              ok,
            ];
            assertFrames(await readFrames(c!, expected.length), expected);
            await nothingQueued(c!, ["*"]);
          });
        },
      );

      await t.step(
        `max_message_size: ${p.maxMessageSize} bytes pass, one more loses sync (skipped)`,
        async () => {
          await withConns(relay.path, 2, async ([c, pr]) => {
            const fit = sizedFrame(p, 1, p.maxMessageSize);
            const over = sizedFrame(p, 2, p.maxMessageSize + 1);
            const after = makeFrame(p, 3, { tag: 0x71 });
            await send(pr!, concat([fit, over, after]));
            assertFrames(await readFrames(c!, 2), [fit, after]);
            await nothingQueued(c!, ["*"]);
          });
        },
      );

      await t.step("closes a connection after max_garbage_bytes (1 MiB) of garbage", async () => {
        await withConns(relay.path, 2, async ([c, g]) => {
          const mark = relay.logs().length;
          try {
            await send(g!, new Uint8Array(1_100_000).fill(0x20));
          } catch (e) {
            // the relay may close before it has read everything
            if (
              !(e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset)
            ) {
              throw e;
            }
          }
          assert.equal((await readToEnd(g!)).length, 0);
          const line = await relay.waitForLog(
            (l) => l.msg === "connection closed" && /^garbage: \d+ bytes/.test(String(l.reason)),
            5_000,
            mark,
          );
          assert.equal(line.level, "warn");
          await nothingQueued(c!, ["*"]);
        });
      });

      await t.step("the spec's worked examples of its domain", async () => {
        const names: Record<string, string[]> = {
          market_data: [
            "trade_kraken_btc_usd",
            "quote_coinbase_eth_usd",
            "multi_tlv_trade_and_quote",
            "extended_tlv_order_book",
            "gas_price_hot_path_no_checksum",
          ],
          signal: ["arbitrage_signal_flash_arb", "multi_tlv_signal_identity_economics"],
          // 2023 timestamps: TimestampOutOfWindow (soft), dropped because execution is strict
          execution: ["order_request_limit_ioc", "fill_partial"],
        };
        await withConns(relay.path, 2, async ([c, pr]) => {
          const vectors = names[p.name]!.map(vectorBytes);
          // (order_request_limit_ioc is sequence 1 of source 40: the witness continues it)
          const witness = makeFrame(p, 2, { tag: 0x77 });
          await send(pr!, concat([...vectors, witness]));
          const expected = p.name === "execution" ? [witness] : [...vectors, witness];
          assertFrames(await readFrames(c!, expected.length), expected);
        });
      });

      await t.step("a client disconnecting mid-frame costs nothing else", async () => {
        await withConns(relay.path, 3, async ([c, p1, p2]) => {
          const mark = relay.logs().length;
          const f = makeFrame(p, 1, { tag: 0x31 });
          const half = f.length >> 1;
          await send(p1!, f.subarray(0, half));
          await close(p1!);
          const frames = makeFrames(p, 10, { tag: 0x32 });
          await send(p2!, concat(frames));
          assertFrames(await readFrames(c!, 10), frames);
          const line = await relay.waitForLog(
            (l) => l.msg === "connection closed" && l.reason === "disconnected mid-frame",
            5_000,
            mark,
          );
          assert.equal(line.partial_bytes, half);
          await nothingQueued(c!, ["*"]);
        });
      });

      await t.step("a second relay on the live socket exits 1 with one line", async () => {
        const r = await runTorq([
          "relay",
          p.arg,
          "--socket",
          relay.path,
          "--journal",
          `${relay.dir}/second.jsonl`,
        ]);
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /already listening/);
        const st = Deno.lstatSync(relay.path);
        assert.ok(st.isSocket, "the live socket was removed");
        assert.equal(st.mode! & 0o777, 0o660, "socket_mode");
        await assertServes(relay, p);
      });

      // ---- domain-specific steps ----

      if (p.name === "market_data") {
        await t.step("Subscribe (market data): TLV, add/remove, wildcards, topics", async (t) => {
          await marketDataSubscriptions(t, relay, p);
        });
      }
      if (p.name === "signal") {
        await t.step(
          "Subscribe (signal): extracted topics, refused topic, malformed",
          async (t) => {
            await signalSubscriptions(t, relay, p);
          },
        );
      }
      if (p.name === "execution") {
        await t.step(
          "audit journal: every frame byte-exact with its verdict; hello and Subscribe as CONTROL",
          async () => {
            await auditJournal(relay, p);
          },
        );
        await t.step(
          "audit: soft failures dropped under strict, hard failures dropped",
          async () => {
            await auditRejects(relay, p);
          },
        );
      }

      await t.step(
        "1,000 connect/disconnect cycles leave it serving without leaked fds",
        async () => {
          // Cycles go in batches of 25 (below every relay's max_connections); after each
          // batch we wait until the relay has logged the close of each connection, so
          // none is refused and no frame of a cycle reaches the final check's consumer.
          const f = makeFrame(p, 1, { tag: 0x44 });
          const mark = relay.logs().length;
          // A probe with a recognisable close line (13 partial bytes) gives the id below
          // every cycle's connection id (ids follow accept order).
          const probe = await connect(relay.path);
          await send(probe, f.subarray(0, 13));
          await close(probe);
          const probeId = (await relay.waitForLog(
            (l) => l.msg === "connection closed" && l.partial_bytes === 13,
            5_000,
            mark,
          )).conn!;
          const closed = () =>
            relay.logs().slice(mark).filter((l) =>
              l.msg === "connection closed" && l.conn! > probeId
            );
          for (let i = 0; i < 1000;) {
            for (const end = i + 25; i < end; i++) {
              const x = await connect(relay.path);
              if (i % 4 === 1) await send(x, helloFrame());
              else if (i % 4 === 2) await send(x, f.subarray(0, 20));
              else if (i % 4 === 3) await send(x, f);
              await close(x);
            }
            const deadline = Date.now() + 5_000;
            while (closed().length < i && Date.now() < deadline) await delay(5);
            assert.equal(closed().length, i, "connections closed by the relay");
          }
          assert.ok(
            relay.logs().slice(mark).every((l) => !/max_connections/.test(l.msg)),
            "a cycle was refused",
          );
          await assertServes(relay, p);
          // every connection is closed on our side: the relay must release its fds
          const deadline = Date.now() + 5_000;
          let fds = relay.openFds();
          while (fds > fdsAtStart + 2 && Date.now() < deadline) {
            await delay(20);
            fds = relay.openFds();
          }
          assert.ok(fds <= fdsAtStart + 2, `relay holds ${fds} fds, ${fdsAtStart} at start`);
        },
      );

      await t.step(
        "SIGTERM: queues flushed, clients see end of stream, socket removed, exit 0",
        async () => {
          const [fast, lagging, pr] = await connectMany(relay.path, 3);
          try {
            // More than the kernel buffers hold, so part of it waits in the relay's queue
            // for `lagging` when the signal arrives (10,000 frames: within max_queue_frames).
            const frames = makeFrames(p, 10_000);
            await send(pr!, concat(frames));
            assertFrames(await readFrames(fast!, frames.length), frames, "fast consumer");
            const [res, got] = await Promise.all([
              relay.stop("SIGTERM"),
              readFrames(lagging!, frames.length),
            ]);
            assert.equal(res.code, 0, res.stderr);
            assert.equal(res.socketLeft, false, "socket file left behind");
            assertFrames(got, frames, "lagging consumer (flushed on stop)");
            for (const c of [fast!, lagging!, pr!]) {
              assert.equal((await readToEnd(c, 5_000)).length, 0);
            }
            assert.ok(relay.logs().some((l) => l.msg === "stopped"), "no 'stopped' log line");
          } finally {
            await close(fast!, lagging!, pr!);
          }
        },
      );
    } finally {
      await relay.stop();
      await assertAllClosed();
    }
  });
}

// =============================================================================================
// Subscriptions.

interface FilterCase {
  name: string;
  patterns: string[];
  mode?: "replace" | "add" | "remove";
  /** Filter the answer must list. */
  filter: string[];
  /** Frames the producer sends; the last one must match the filter. */
  send: Uint8Array[];
  /** Indexes of `send` the subscriber must receive. */
  want: number[];
}

/** Runs filter cases on one subscriber `c` with a default consumer `d` as witness. */
async function runFilterCases(
  t: Deno.TestContext,
  relay: RunningRelay,
  p: Profile,
  cases: FilterCase[],
): Promise<void> {
  const [d, c, pr] = await connectMany(relay.path, 3);
  try {
    for (const k of cases) {
      const list = JSON.stringify(k.patterns);
      const title = `${k.mode ?? "replace"} ${list.length > 40 ? `${list.slice(0, 37)}...` : list}`;
      await t.step(`${title}: ${k.name}`, async () => {
        const ans = await subscribe(c!, k.patterns, k.mode ?? "replace");
        assert.equal(ans.domain, 4);
        assert.equal(ans.source, RELAY_SOURCE[p.domain]);
        assert.equal(ans.mode, 0);
        assert.deepEqual(ans.types, [113]);
        assert.deepEqual(ans.patterns, k.filter);
        await send(pr!, concat(k.send));
        assertFrames(await readFrames(d!, k.send.length), k.send, "default consumer");
        const want = k.want.map((i) => k.send[i]!);
        if (want.length > 0) {
          assertFrames(await readFrames(c!, want.length), want, "subscriber");
        }
        await nothingQueued(c!, k.filter);
      });
    }
  } finally {
    await close(d!, c!, pr!);
  }
}

async function marketDataSubscriptions(
  t: Deno.TestContext,
  relay: RunningRelay,
  p: Profile,
): Promise<void> {
  let n = 0;
  const trade = () => makeFrame(p, ++n, { source: 2, tlv: [1, 40], tag: n & 0xff }); // kraken
  const quote = () => makeFrame(p, ++n, { source: 3, tlv: [2, 56], tag: n & 0xff }); // coinbase
  const ident = () => makeFrame(p, ++n, { source: 4, tlv: [20, 16], tag: n & 0xff }); // TLV 20
  await runFilterCases(t, relay, p, [
    {
      name: "only Trades arrive",
      patterns: ["tlv.1"],
      filter: ["tlv.1"],
      send: [trade(), quote(), trade(), quote(), ident(), trade()],
      want: [0, 2, 5],
    },
    {
      name: "Quotes added",
      patterns: ["tlv.2"],
      mode: "add",
      filter: ["tlv.1", "tlv.2"],
      send: [quote(), ident(), trade()],
      want: [0, 2],
    },
    {
      name: "Trades removed",
      patterns: ["tlv.1"],
      mode: "remove",
      filter: ["tlv.2"],
      send: [trade(), ident(), quote()],
      want: [2],
    },
    {
      name: "tlv.2* matches TLV 2 and 20-29",
      patterns: ["tlv.2*"],
      filter: ["tlv.2*"],
      send: [trade(), quote(), trade(), ident()],
      want: [1, 3],
    },
    {
      name: "source.* matches everything",
      patterns: ["source.*"],
      filter: ["source.*"],
      send: [trade(), quote(), ident()],
      want: [0, 1, 2],
    },
    {
      name: "source.3 matches the header source",
      patterns: ["source.3"],
      filter: ["source.3"],
      send: [trade(), quote(), ident(), quote()],
      want: [1, 3],
    },
    {
      name: "extracted topic (source 2 -> market_data_kraken)",
      patterns: ["market_data_kraken"],
      filter: ["market_data_kraken"],
      send: [quote(), trade(), ident(), trade()],
      want: [1, 3],
    },
    {
      name: "auto_discover: an unknown topic is accepted",
      patterns: ["brand_new_topic", "tlv.20"],
      filter: ["brand_new_topic", "tlv.20"],
      send: [trade(), ident()],
      want: [1],
    },
    {
      name: "a long list travels as an extended TLV",
      patterns: ["tlv.1", ...Array.from({ length: 30 }, (_, i) => `long_topic_name_${i}`)],
      filter: ["tlv.1", ...Array.from({ length: 30 }, (_, i) => `long_topic_name_${i}`)],
      send: [quote(), trade(), quote(), trade()],
      want: [1, 3],
    },
    {
      name: "an empty list is publish-only",
      patterns: [],
      filter: [],
      send: [trade(), quote(), ident()],
      want: [],
    },
  ]);

  await t.step("a long mixed stream with rejects interleaved is filtered exactly", async () => {
    // 20,000 frames in batches of 2,000 (each batch received before the next is sent,
    // so no queue nears max_queue_frames); wrong-domain frames split the relay's runs.
    const [d, h, c, c2, pr] = await connectMany(relay.path, 5);
    try {
      await send(h!, helloFrame()); // publish-only ...
      assert.deepEqual((await subscribe(h!, ["*"], "add")).patterns, ["*"]); // ... until it subscribes
      assert.deepEqual((await subscribe(c!, ["tlv.2", "source.4"])).patterns, [
        "tlv.2",
        "source.4",
      ]);
      assert.deepEqual((await subscribe(c2!, ["market_data_kraken"])).patterns, [
        "market_data_kraken",
      ]);
      const rnd = prng(99);
      for (let batch = 0; batch < 10; batch++) {
        const all: Uint8Array[] = [];
        const good: Uint8Array[] = [];
        const forC: Uint8Array[] = [];
        const forC2: Uint8Array[] = [];
        for (let i = 0; i < 2000; i++) {
          if (rnd() < 0.05) {
            all.push(makeFrame(p, ++n, { domain: 2, tlv: [32, 170] }));
            continue;
          }
          const kind = Math.floor(rnd() * 3);
          const f = kind === 0 ? trade() : kind === 1 ? quote() : ident();
          all.push(f);
          good.push(f);
          (kind === 0 ? forC2 : forC).push(f);
        }
        const [gd, gh, gc, gc2] = await Promise.all([
          readFrames(d!, good.length),
          readFrames(h!, good.length),
          readFrames(c!, forC.length),
          readFrames(c2!, forC2.length),
          send(pr!, concat(all)),
        ]);
        assertFrames(gd, good, `default consumer, batch ${batch}`);
        assertFrames(gh, good, `hello-then-subscribe consumer, batch ${batch}`);
        assertFrames(gc, forC, `["tlv.2","source.4"], batch ${batch}`);
        assertFrames(gc2, forC2, `["market_data_kraken"], batch ${batch}`);
      }
      await nothingQueued(c!, ["tlv.2", "source.4"]);
      await nothingQueued(c2!, ["market_data_kraken"]);
    } finally {
      await close(d!, h!, c!, c2!, pr!);
    }
  });

  await t.step(
    "a publish-only connection still publishes; Subscribe on own domain consumed",
    async () => {
      const [d, c, pr] = await connectMany(relay.path, 3);
      try {
        assert.deepEqual((await subscribe(c!, [])).patterns, []);
        const mine = trade();
        await send(c!, mine);
        assertFrames(
          await readFrames(d!, 1),
          [mine],
          "default consumer gets the publisher's frame",
        );
        // a Subscribe with relay_domain = the relay's domain is consumed as well
        const ans = await subscribe(c!, ["*"], "replace", { domain: p.domain });
        assert.deepEqual(ans.patterns, ["*"]);
        const f = [trade(), quote()];
        await send(pr!, concat(f));
        assertFrames(await readFrames(d!, 2), f, "default consumer (no Subscribe forwarded)");
        assertFrames(await readFrames(c!, 2), f, "subscriber to *");
      } finally {
        await close(d!, c!, pr!);
      }
    },
  );
}

async function signalSubscriptions(
  t: Deno.TestContext,
  relay: RunningRelay,
  p: Profile,
): Promise<void> {
  let n = 0;
  const from = (source: number) => makeFrame(p, ++n, { source, tag: n & 0xff });
  const arb = () => from(20); // arbitrage_signals
  const mm = () => from(21); // market_maker_signals
  const trend = () => from(22); // trend_signals
  await runFilterCases(t, relay, p, [
    {
      name: "source 20 -> arbitrage_signals",
      patterns: ["arbitrage_signals"],
      filter: ["arbitrage_signals"],
      send: [arb(), trend(), mm(), arb()],
      want: [0, 3],
    },
  ]);

  await t.step(
    "refused: unknown topic (auto_discover off) or malformed; filter unchanged",
    async () => {
      const [d, c, pr] = await connectMany(relay.path, 3);
      try {
        assert.deepEqual((await subscribe(c!, ["arbitrage_signals"])).patterns, [
          "arbitrage_signals",
        ]);
        for (const mode of ["replace", "add"] as const) {
          const ans = await subscribe(c!, ["nope_topic"], mode);
          assert.equal(ans.domain, 4);
          assert.deepEqual(ans.types, [113, 102]);
          assert.deepEqual(ans.patterns, ["arbitrage_signals"], `${mode}: filter unchanged`);
          assert.match(ans.error ?? "", /TopicNotFound/);
          assert.match(ans.error ?? "", /nope_topic/);
        }
        const bad = await subscribe(c!, ["trend_signals"], "replace", { version: 2 });
        assert.deepEqual(bad.patterns, ["arbitrage_signals"], "malformed: filter unchanged");
        assert.match(bad.error ?? "", /MalformedSubscribe/);
        const badMode = await subscribe(c!, ["trend_signals"], 7);
        assert.deepEqual(badMode.patterns, ["arbitrage_signals"]);
        assert.match(badMode.error ?? "", /MalformedSubscribe/);
        const f = [trend(), arb(), mm(), arb()];
        await send(pr!, concat(f));
        assertFrames(await readFrames(d!, 4), f, "default consumer");
        assertFrames(await readFrames(c!, 2), [f[1]!, f[3]!], "subscriber keeps its filter");
        await nothingQueued(c!, ["arbitrage_signals"]);
      } finally {
        await close(d!, c!, pr!);
      }
    },
  );

  await runFilterCases(t, relay, p, [
    {
      name: "prefix pattern and exact topic",
      patterns: ["arbitrage_*", "trend_signals"],
      filter: ["arbitrage_*", "trend_signals"],
      send: [arb(), mm(), trend()],
      want: [0, 2],
    },
  ]);
}

// =============================================================================================
// Audit (execution).

const JOURNAL_KEYS = ["ts", "relay", "conn", "domain", "source", "sequence", "size", "result"];

async function auditJournal(relay: RunningRelay, p: Profile): Promise<void> {
  const mark = journalLines(relay).length;
  await withConns(relay.path, 3, async ([c, pr, pr2]) => {
    const f = (seq: number) => makeFrame(p, seq, { tag: 0x51 });
    const sent = [f(1), f(2), f(3), f(5), f(3), f(6)];
    const fill = makeFrame(p, 1, { source: 42, tlv: [42, 32], tag: 0x52 }); // other source: own sequence
    await send(pr!, concat([...sent, fill]));
    const expected = [sent[0]!, sent[1]!, sent[2]!, sent[3]!, sent[5]!, fill];
    assertFrames(await readFrames(c!, expected.length), expected);
    // sequences are per connection: another connection may start again at 1
    const again = makeFrame(p, 1, { tag: 0x53 });
    await send(pr2!, again);
    assertFrames(await readFrames(c!, 1), [again], "sequence 1 on another connection");

    const lines = journalLines(relay, mark);
    assert.equal(lines.length, 8, JSON.stringify(lines, null, 1));
    // Byte for byte what was sent, rejected frame included.
    assert.deepEqual(journalRecords(relay, mark).map((r) => r.frame), [...sent, fill, again]);
    const want = [
      [40, "1", "PASS"],
      [40, "2", "PASS"],
      [40, "3", "PASS"],
      [40, "5", "PASS"],
      [40, "3", "FAIL", "SequenceRegression"],
      [40, "6", "PASS"],
      [42, "1", "PASS"],
      [40, "1", "PASS"],
    ] as const;
    lines.forEach((l, i) => {
      const [source, sequence, result, error] = want[i]!;
      assert.deepEqual(
        Object.keys(l),
        error === undefined ? JOURNAL_KEYS : [...JOURNAL_KEYS, "error"],
        `line ${i} fields`,
      );
      assert.equal(typeof l.ts, "string");
      assert.ok(Math.abs(Date.parse(l.ts as string) - Date.now()) < 3_600_000, `line ${i} ts`);
      assert.equal(l.relay, "execution");
      assert.equal(typeof l.conn, "number");
      assert.deepEqual(
        { domain: l.domain, source: l.source, sequence: l.sequence, size: l.size },
        { domain: 3, source, sequence, size: 66 },
        `line ${i}`,
      );
      assert.equal(l.result, result, `line ${i} result`);
      assert.equal(l.error, error, `line ${i} error`);
    });
    assert.equal(
      new Set(lines.slice(0, 7).map((l) => l.conn)).size,
      1,
      "one conn id per connection",
    );
    assert.notEqual(lines[7]!.conn, lines[0]!.conn);
  });
  // Control frames are journaled as CONTROL with their kind (D-40), never forwarded.
  const before = journalLines(relay).length;
  await withConns(relay.path, 2, async ([publisher, consumer]) => {
    await send(publisher!, helloFrame());
    await subscribe(consumer!, ["tlv.40"]);
    let control: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && control.length < 2; i++) {
      control = journalLines(relay, before);
      if (control.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      control.map((l) => [l.result, l.kind, l.size, Object.keys(l)]),
      [
        ["CONTROL", "hello", 32, [...JOURNAL_KEYS, "kind"]],
        ["CONTROL", "subscribe", control[1]!.size, [...JOURNAL_KEYS, "kind"]],
      ],
    );
    assert.notEqual(control[0]!.conn, control[1]!.conn);
  });
}

async function auditRejects(relay: RunningRelay, p: Profile): Promise<void> {
  const mark = journalLines(relay).length;
  await withConns(relay.path, 2, async ([c, pr]) => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const base = makeFrame(p, 5);
    // A rejected frame never moves its source's sequence (only forwarded ones do).
    const cases: [Uint8Array, string | null][] = [
      [makeFrame(p, 1, { tag: 0x60 }), null],
      [makeFrame(p, 2, { timestamp: nowNs - 3_600_000_000_000n }), "TimestampOutOfWindow"],
      [makeFrame(p, 3, { checksum: false }), "MissingChecksum"],
      [makeFrame(p, 4, { tlv: [1, 40] }), "TlvNotAllowedInDomain"], // Trade on execution
      [withPayload(base, Uint8Array.of(40, 31, ...new Uint8Array(31))), "PayloadSizeMismatch"],
      [makeFrame(p, 6, { tlv: [200, 8] }), "TlvNotAllowedInDomain"], // vendor, allow_vendor off
      [makeFrame(p, 7, { timestamp: nowNs + 600_000_000_000n }), "TimestampOutOfWindow"],
      [makeFrame(p, 200, {}), "SequenceGap"], // 1 -> 200: gap 198 > 100
      [makeFrame(p, 8, { tag: 0x61 }), null], // 1 -> 8: a gap of 6 is tolerated
      [makeFrame(p, 9, { tlv: [100, 16] }), null], // system types 100-119 allowed
      [makeFrame(p, 1, { source: 0, tlv: [40, 32] }), "UnknownSource"],
      [makeFrame(p, 10, { tag: 0x62 }), null],
    ];
    await send(pr!, concat(cases.map(([f]) => f)));
    const expected = cases.filter(([, e]) => e === null).map(([f]) => f);
    assertFrames(await readFrames(c!, expected.length), expected);
    const lines = journalLines(relay, mark);
    assert.deepEqual(
      lines.map((l) => [l.sequence, l.result, l.error ?? null]),
      cases.map(([f, e]) => [String(seqOf(f)), e === null ? "PASS" : "FAIL", e]),
    );
    await nothingQueued(c!, ["*"]);
  });
}

// =============================================================================================
// Slow consumers.

/**
 * Sends `total` frames (built just in time, `batch` per write) in lockstep with
 * `fast`: each batch is sent once `fast` has received the previous one, so the
 * fast consumer's relay queue never holds more than one batch. Continues past
 * `total` (up to `max`) until `until()` is true.
 */
async function lockstep(
  p: Profile,
  pr: Deno.Conn,
  fast: Deno.Conn,
  options: { total: number; batch: number; max: number; until?: () => boolean },
): Promise<number> {
  let sent = 0;
  while (sent < options.total || (options.until !== undefined && !options.until())) {
    assert.ok(sent < options.max, `condition not met after ${sent} frames`);
    const frames = makeFrames(p, options.batch, { first: sent + 1 });
    await send(pr, concat(frames));
    const got = await readFrames(fast, frames.length);
    for (let i = 0; i < got.length; i++) {
      if (seqOf(got[i]!) !== sent + 1 + i) {
        assert.fail(`fast consumer: frame ${sent + i} has sequence ${seqOf(got[i]!)}`);
      }
    }
    assertFrames(got, frames, `fast consumer, batch at ${sent}`);
    sent += frames.length;
  }
  return sent;
}

/**
 * Sequences of the whole frames in `bytes`, which must hold nothing else except
 * possibly one truncated frame at the end: a consumer disconnected while a write
 * to it was in flight gets the part the kernel had taken, then end of stream
 * (unavoidable; readers discard a partial frame at EOF).
 */
function sequencesOf(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off + 32 <= bytes.length) {
    assert.equal(v.getUint32(off, true), 0xdeadbeef, `magic at ${off}`);
    const end = off + 32 + v.getUint32(off + 24, true);
    if (end > bytes.length) break;
    out.push(v.getUint32(off + 8, true));
    off = end;
  }
  return out;
}

Deno.test("torq relay market-data: a stalled consumer loses the oldest frames, then is disconnected", async () => {
  const p = PROFILES[0]!;
  const relay = await startRelay(p.arg, {
    args: [
      "--set",
      "relays.market_data.performance.max_queue_frames=1000",
      "--set",
      "relays.market_data.performance.slow_consumer_timeout_ms=300",
    ],
  });
  // accept order: stalled = conn 0, fast = conn 1, producer = conn 2
  const [stalled, fast, pr] = await connectMany(relay.path, 3);
  try {
    const isDisconnect = (l: LogLine) =>
      l.msg === "connection closed" && l.conn === 0 && /^slow consumer/.test(String(l.reason));
    const sent = await lockstep(p, pr!, fast!, {
      total: 200_000,
      batch: 500,
      max: 2_000_000,
      until: () => relay.logs().some(isDisconnect),
    });
    const drop = await relay.waitForLog((l) => l.msg === "slow consumer: dropped oldest frames");
    assert.equal(drop.conn, 0, "drops logged for the stalled consumer only");
    assert.ok(Number(drop.dropped) > 0);
    const closed = await relay.waitForLog(isDisconnect);
    assert.match(String(closed.reason), /slow consumer: overflowing for \d+ ms/);
    assert.ok(Number(closed.dropped) > 0, "dropped count in the close line");
    assert.ok(
      relay.logs().every((l) => !/slow consumer/.test(l.msg) || l.conn === 0),
      "the fast consumer never overflowed",
    );
    // the stalled consumer gets what was written before it stalled, in order, then end of stream
    const seqs = sequencesOf(await readToEnd(stalled!));
    assert.ok(seqs.length > 0 && seqs.length < sent, `${seqs.length} of ${sent}`);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, "order kept");
  } finally {
    await close(stalled!, fast!, pr!);
    await relay.stop();
    await assertAllClosed();
  }
});

for (const mode of ["disconnect", "backpressure"] as const) {
  Deno.test(`torq relay execution: slow_consumer=${mode} disconnects a stalled consumer, nothing lost silently`, async () => {
    const p = PROFILES[2]!;
    const relay = await startRelay(p.arg, {
      args: [
        "--set",
        "relays.execution.performance.max_queue_frames=100",
        "--set",
        `relays.execution.performance.slow_consumer=${mode}`,
      ],
    });
    const [stalled, fast, pr] = await connectMany(relay.path, 3);
    try {
      const isDisconnect = (l: LogLine) =>
        l.msg === "connection closed" && l.conn === 0 && /^slow consumer/.test(String(l.reason));
      const sent = await lockstep(p, pr!, fast!, {
        total: 5_000,
        batch: 50,
        max: 200_000,
        until: () => relay.logs().some(isDisconnect),
      });
      const closed = await relay.waitForLog(isDisconnect);
      assert.match(
        String(closed.reason),
        mode === "disconnect"
          ? /queue over its limit/
          : /still full after blocking producers for 100 ms/,
      );
      assert.ok(Number(closed.undelivered_frames) > 0, JSON.stringify(closed));
      assert.equal(closed.dropped, 0);
      if (mode === "backpressure") {
        await relay.waitForLog((l) => l.msg === "backpressure: pausing producers" && l.conn === 0);
      }
      // what the stalled consumer got is a gap-free prefix, then end of stream
      const seqs = sequencesOf(await readToEnd(stalled!));
      assert.ok(seqs.length < sent, `${seqs.length} of ${sent}`);
      seqs.forEach((s, i) => assert.equal(s, i + 1, "gap in a disconnect-policy stream"));
      await assertServes(relay, p);
    } finally {
      await close(stalled!, fast!, pr!);
      await relay.stop();
      await assertAllClosed();
    }
  });
}

// =============================================================================================
// Connections, sockets, configuration.

Deno.test("torq relay signal: max_connections refuses further connections", async () => {
  const p = PROFILES[1]!;
  const relay = await startRelay(p.arg, {
    args: ["--set", "relays.signal.performance.max_connections=3"],
  });
  const conns: Deno.UnixConn[] = [];
  try {
    conns.push(...await connectMany(relay.path, 3));
    const [a, b, c] = conns;
    const f1 = makeFrame(p, 1);
    await send(c!, f1); // all three accepted once a and b (connected before c) receive it
    assertFrames(await readFrames(a!, 1), [f1]);
    assertFrames(await readFrames(b!, 1), [f1]);
    const mark = relay.logs().length;
    const d = await connect(relay.path);
    conns.push(d);
    assert.equal((await readToEnd(d, 5_000)).length, 0, "the 4th connection is closed at once");
    const line = await relay.waitForLog((l) => /max_connections/.test(l.msg), 5_000, mark);
    assert.equal(line.max_connections, 3);
    // the first three are unaffected
    const f2 = makeFrame(p, 1, { tag: 2 });
    await send(b!, f2);
    assertFrames(await readFrames(a!, 1), [f2]);
    assertFrames(await readFrames(c!, 1), [f2]);
    // a freed slot is usable again
    const mark2 = relay.logs().length;
    await close(c!);
    await relay.waitForLog((l) => l.msg === "connection closed", 5_000, mark2);
    const e = await connect(relay.path);
    conns.push(e);
    const f3 = makeFrame(p, 1, { tag: 3 });
    await send(e, f3);
    assertFrames(await readFrames(a!, 1), [f3], "frame of the connection after a slot was freed");
    assertFrames(await readFrames(b!, 1), [f3]);
    const f4 = makeFrame(p, 2, { tag: 4 });
    await send(a!, f4);
    assertFrames(await readFrames(e, 1), [f4], "the new connection consumes");
  } finally {
    await close(...conns);
    await relay.stop();
    await assertAllClosed();
  }
});

Deno.test("torq relay: a stale socket file is removed and bound", async () => {
  const p = PROFILES[1]!;
  const first = await startRelay(p.arg);
  try {
    first.child.kill("SIGKILL"); // no cleanup: the socket file stays behind
    await first.child.status;
    assert.ok(Deno.lstatSync(first.path).isSocket, "expected a stale socket file");
    await assert.rejects(connect(first.path), Deno.errors.ConnectionRefused);
    const second = await startRelay(p.arg, { socket: first.path });
    try {
      await assertServes(second, p);
    } finally {
      const r = await second.stop("SIGINT"); // SIGINT stops as gracefully as SIGTERM
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.socketLeft, false);
    }
  } finally {
    await first.stop();
    await assertAllClosed();
  }
});

Deno.test("torq relay: refuses to replace a path that is not a socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torq_relay_test_" });
  try {
    const path = `${dir}/x.sock`;
    await Deno.writeTextFile(path, "precious");
    const r = await runTorq(["relay", "signal", "--socket", path]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /not a socket/);
    assert.equal(await Deno.readTextFile(path), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torq relay: configuration errors name the setting's path", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "torq_relay_test_" });
  try {
    const cases: [string, string, RegExp][] = [
      ["signal", "relays.signal.validation.checksum=yes", /expected boolean/],
      ["market-data", "relays.market_data.performance.max_queue_frames=abc", /expected integer/],
      ["signal", "relays.signal.performance.max_conections=3", /unknown key/],
      [
        "market-data",
        "relays.market_data.performance.slow_consumer=backpressure",
        /expected one of/,
      ],
    ];
    for (const [domain, set, why] of cases) {
      await t.step(`--set ${set}`, async () => {
        const r = await runTorq(["relay", domain, "--socket", `${dir}/x.sock`, "--set", set]);
        assert.equal(r.code, 1, r.stderr);
        const path = set.slice(0, set.indexOf("="));
        const line = r.stderr.split("\n").find((l) => l.includes(path));
        assert.ok(line !== undefined, `no line naming ${path}:\n${r.stderr}`);
        assert.match(line, why);
        assert.throws(() => Deno.lstatSync(`${dir}/x.sock`), Deno.errors.NotFound);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
