import assert from "node:assert/strict";
import { RotatingFile } from "../log/rotating_file.ts";
import {
  followLogs,
  formatLogLine,
  type LogLine,
  logSources,
  parseLogTime,
  parseSince,
  readLogs,
  relayLineFilter,
  selectLogs,
  UnknownLogError,
} from "./logs.ts";

const T0 = Date.parse("2026-11-23T14:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

async function withDir(body: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "torq_logs_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function write(path: string, lines: string[]) {
  Deno.writeTextFileSync(path, lines.map((l) => l + "\n").join(""), { append: true });
}

Deno.test("parseLogTime() reads ISO and JSON times; parseSince() durations and dates", () => {
  assert.equal(parseLogTime(`${at(1)} INFO  [signal] listening`), T0 + 1000);
  assert.equal(parseLogTime(`{"ts":"${at(2)}","level":"info","msg":"x"}`), T0 + 2000);
  assert.equal(parseLogTime("torq up: 3 relays running"), null);
  assert.equal(parseSince("10m", T0), T0 - 600_000);
  assert.equal(parseSince("90s", T0), T0 - 90_000);
  assert.equal(parseSince("1.5h", T0), T0 - 5_400_000);
  assert.equal(parseSince(at(5), 0), T0 + 5000);
  assert.equal(parseSince("yesterday", T0), null);
});

Deno.test("readLogs() merges logs by time, keeps the last N of each, honours since", async () => {
  await withDir((dir) => {
    write(`${dir}/feed.log`, [`${at(1)} f1`, `${at(3)} f3`, `${at(5)} f5`]);
    write(`${dir}/strategy.log`, [`${at(2)} s2`, `${at(4)} s4`]);
    write(`${dir}/up.log`, [
      `${at(0)} INFO  [market_data] listening`,
      "torq up: 3 relays running",
      `{"ts":"${at(6)}","level":"info","msg":"x","relay":"signal"}`,
    ]);
    assert.deepEqual(logSources(dir).map((s) => s.name), ["up", "feed", "strategy"]);
    const text = (lines: LogLine[]) => lines.map((l) => `${l.name}:${l.text.split(" ").at(-1)}`);
    const all = readLogs(logSources(dir));
    assert.deepEqual(text(all), [
      "up:listening",
      "up:running",
      "feed:f1",
      "strategy:s2",
      "feed:f3",
      "strategy:s4",
      "feed:f5",
      `up:{"ts":"${at(6)}","level":"info","msg":"x","relay":"signal"}`,
    ]);
    assert.equal(all[1]!.time, T0, "a line without a time takes its predecessor's");
    assert.deepEqual(text(readLogs(selectLogs(dir, ["feed", "strategy"], []), { lines: 1 })), [
      "strategy:s4",
      "feed:f5",
    ]);
    assert.deepEqual(
      text(readLogs(selectLogs(dir, ["feed"], []), { since: T0 + 3000 })),
      ["feed:f3", "feed:f5"],
    );
    const signal = readLogs(selectLogs(dir, ["signal"], ["market_data", "signal", "execution"]));
    assert.deepEqual(signal.map((l) => l.name), ["signal"]);
    assert.throws(
      () => selectLogs(dir, ["nope"], ["signal"]),
      (e) =>
        e instanceof UnknownLogError &&
        e.message === 'Cannot find log "nope": the logs are up, feed, strategy',
    );
  });
});

Deno.test("readLogs() reads rotated files oldest first and long files backwards", async () => {
  await withDir((dir) => {
    const log = RotatingFile.open(`${dir}/feed.log`, { maxBytes: 4096, keep: 3 });
    const enc = new TextEncoder();
    for (let i = 0; i < 300; i++) log.write(enc.encode(`${at(i)} line ${i} ${"x".repeat(40)}\n`));
    log.close();
    assert.ok(log.rotations >= 3);
    const lines = readLogs(logSources(dir), { lines: 5 });
    assert.deepEqual(lines.map((l) => l.text.split(" ")[2]), ["295", "296", "297", "298", "299"]);
    const many = readLogs(logSources(dir));
    const numbers = many.map((l) => Number(l.text.split(" ")[2]));
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), "in order across files");
    assert.equal(numbers.at(-1), 299);
  });
});

Deno.test("relayLineFilter() keeps one relay's text and JSON lines", () => {
  const keep = relayLineFilter("signal");
  assert.ok(keep(`${at(0)} INFO  [signal] listening address=/tmp/x`));
  assert.ok(!keep(`${at(0)} INFO  [market_data] listening`));
  assert.ok(keep(`{"ts":"${at(0)}","level":"warn","msg":"m","relay":"signal"}`));
  assert.ok(!keep(`{"ts":"${at(0)}","level":"warn","msg":"[signal] ","relay":"execution"}`));
});

Deno.test("followLogs() passes on lines written later, across a rotation, and new logs", async () => {
  await withDir(async (dir) => {
    write(`${dir}/feed.log`, [`${at(0)} before`]);
    const log = RotatingFile.open(`${dir}/feed.log`, { maxBytes: 200, keep: 2 });
    const seen: string[] = [];
    const ac = new AbortController();
    const following = followLogs(logSources(dir), {
      signal: ac.signal,
      pollMs: 20,
      rescan: () => logSources(dir),
      onLines: (lines) => seen.push(...lines.map((l) => `${l.name} ${l.text.slice(25)}`)),
    });
    const enc = new TextEncoder();
    const until = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${seen}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      log.write(enc.encode(`${at(1)} after 1\n${at(2)} part`));
      await until("after 1", () => seen.includes("feed after 1"));
      log.write(enc.encode("ial\n"));
      await until("the completed line", () => seen.includes("feed partial"));
      for (let i = 0; i < 6; i++) log.write(enc.encode(`${at(3 + i)} rotating ${i}\n`));
      await until("every line across the rotation", () => seen.includes("feed rotating 5"));
      write(`${dir}/strategy.log`, [`${at(10)} new service`]);
      await until("the new log", () => seen.includes("strategy new service"));
    } finally {
      ac.abort();
      await following;
      log.close();
    }
    assert.ok(log.rotations >= 1);
    assert.deepEqual(seen.filter((l) => l.startsWith("feed")), [
      "feed after 1",
      "feed partial",
      ...[0, 1, 2, 3, 4, 5].map((i) => `feed rotating ${i}`),
    ]);
  });
});

Deno.test("formatLogLine() lines texts up after the names", () => {
  assert.equal(formatLogLine({ name: "feed", time: 0, text: "hi" }, 8), "[feed]     hi");
  assert.equal(formatLogLine({ name: "strategy", time: 0, text: "hi" }, 8), "[strategy] hi");
  assert.equal(formatLogLine({ name: "feed", time: 0, text: "hi" }, 0), "hi");
});
