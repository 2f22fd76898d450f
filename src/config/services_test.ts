import assert from "node:assert/strict";
import { formatConfig, parseConfigText } from "./loader.ts";
import { ConfigError } from "./errors.ts";
import { SERVICE_DEFAULTS, serviceStartOrder } from "./services.ts";

function problems(text: string): [line: number | undefined, path: string, message: string][] {
  try {
    parseConfigText(text, "torq.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => [i.line, i.path, i.message]);
  }
  assert.fail("expected the configuration to be rejected");
}

Deno.test("services: none by default", () => {
  assert.deepEqual(parseConfigText("", "torq.yaml").services, {});
  assert.deepEqual(parseConfigText("services:\n", "torq.yaml").services, {});
});

Deno.test("services: defaults are filled in, arguments and variables become text", () => {
  const config = parseConfigText(
    [
      "services:",
      "  feed:",
      "    command: torq",
      "    args: [demo, pipeline, --rate, 5, --verbose, true]",
      "    environment: {EXCHANGE: kraken, DEPTH: 10}",
      "    after: [market_data]",
      "    restart: always",
      "",
    ].join("\n"),
    "torq.yaml",
  );
  assert.deepEqual(config.services, {
    feed: {
      ...SERVICE_DEFAULTS,
      command: "torq",
      args: ["demo", "pipeline", "--rate", "5", "--verbose", "true"],
      environment: { EXCHANGE: "kraken", DEPTH: "10" },
      after: ["market_data"],
      restart: "always",
    },
  });
});

Deno.test("services: a bad entry is reported with its path and line", () => {
  const text = [
    "services:", // 1
    "  feed:", // 2
    "    command: torq", // 3
    "    after: [market_data, strategy]", // 4
    "  strategy:", // 5
    "    restart: sometimes", // 6
    "    stop_timeout_ms: -1", // 7
    "  portfolio:", // 8
    "    command: x", // 9
    "    after: [nope]", // 10
    "    colour: red", // 11
    "",
  ].join("\n");
  assert.deepEqual(problems(text), [
    [6, "services.strategy.command", "required key is missing"],
    [
      6,
      "services.strategy.restart",
      'expected one of "always", "on-failure" or "never", got "sometimes"',
    ],
    [7, "services.strategy.stop_timeout_ms", "expected at least 0, got -1"],
    [11, "services.portfolio.colour", "unknown key"],
  ]);
});

Deno.test("services: names, references, cycles and delays are checked across entries", () => {
  const text = [
    "services:", // 1
    "  a:", // 2
    "    command: x", // 3
    "    after: [b]", // 4
    "  b:", // 5
    "    command: x", // 6
    "    after: [a, market_data]", // 7
    "  c:", // 8
    "    command: x", // 9
    "    after: [nope]", // 10
    "  signal:", // 11
    "    command: x", // 12
    "  up:", // 13
    "    command: x", // 14
    '  "bad name":', // 15
    "    command: x", // 16
    "  d:", // 17
    "    command: x", // 18
    "    restart_delay_ms: 5000", // 19
    "    restart_max_delay_ms: 100", // 20
    "",
  ].join("\n");
  assert.deepEqual(problems(text), [
    [4, "services.a.after", "dependency cycle: a → b → a"],
    [
      10,
      "services.c.after[0]",
      'expected a relay (market_data, signal, execution) or a service name, got "nope"',
    ],
    [11, "services.signal", '"signal" is the name of a relay; choose another service name'],
    [13, "services.up", '"up" is reserved for torq up\'s own files; choose another service name'],
    [
      15,
      "services.bad name",
      'expected a service name of letters, digits, "_", "-" and "." (at most 64, starting with a letter or digit), got "bad name"',
    ],
    [20, "services.d.restart_max_delay_ms", "expected at least restart_delay_ms (5000), got 100"],
  ]);
});

Deno.test("serviceStartOrder() starts dependencies first, else keeps the file's order", () => {
  const config = parseConfigText(
    [
      "services:",
      "  portfolio: {command: x, after: [strategy, execution]}",
      "  feed: {command: x, after: [market_data]}",
      "  strategy: {command: x, after: [feed]}",
      "  watcher: {command: x}",
      "",
    ].join("\n"),
    "torq.yaml",
  );
  assert.deepEqual(serviceStartOrder(config.services), [
    "feed",
    "strategy",
    "portfolio",
    "watcher",
  ]);
});

Deno.test("formatConfig() prints services so that the output loads back", () => {
  const config = parseConfigText(
    "services:\n  feed: {command: torq, args: [demo], environment: {A: b}}\n",
    "torq.yaml",
  );
  assert.deepEqual(parseConfigText(formatConfig(config), "shown.yaml"), config);
});
