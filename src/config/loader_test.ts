import assert from "node:assert/strict";
import { DEFAULT_SOCKET_PATHS } from "../protocol/domains.ts";
import { ConfigError, MAX_LISTED_PROBLEMS } from "./errors.ts";
import { MAX_YAML_BYTES } from "./_yaml.ts";
import { loadSchemaFiles, SchemaFileError } from "./tlv_schema_files.ts";
import { formatConfig, loadConfig, parseConfigText, relayConfig } from "./loader.ts";
import { parseOverrides } from "./overrides.ts";
import { DOMAIN_NAMES, validationPolicy } from "./document.ts";
import type { RelayDomainName, TorqConfig } from "./document.ts";

/** PROTOCOL.md 7.10 (both tables), 7.5, 7.6 and 3.4: the defaults of each relay. */
/** The bridge section every relay has by default (disabled). */
const NATS_BRIDGE_DEFAULTS = {
  enabled: false,
  servers: ["nats://127.0.0.1:4222"],
  subject_prefix: "torq",
  subject_topic: false,
  direction: "both",
  token: null,
  user: null,
  password: null,
  creds_file: null,
  jetstream: null,
  reconnect_initial_ms: 100,
  reconnect_max_ms: 5000,
  max_pending_frames: 100000,
} as const;

/** The execution journal's section (PROTOCOL.md 7.5, 7.9; the same defaults on every relay). */
const JOURNAL_DEFAULTS = {
  path: null,
  fsync: "interval",
  fsync_interval_ms: 100,
  max_bytes: 67108864,
  keep: 8,
  max_fail_records_per_second: 100,
};

const SPEC_DEFAULTS = {
  market_data: {
    relay: {
      domain: 1,
      name: "market_data",
      description: "High-throughput market data relay",
      echo: false,
      legacy_domain_numbering: false,
      hello_marks_publisher: true,
    },
    transport: {
      mode: "unix_socket",
      path: "/tmp/torq/market_data.sock",
      socket_mode: 0o660,
      address: null,
      port: null,
      use_topology: false,
      buffer_size: null,
      allow_foreign_dir: false,
      allow_world_socket: false,
    },
    validation: {
      checksum: false,
      audit: false,
      strict: false,
      max_message_size: 65536,
      allow_vendor: false,
      strict_source_check: false,
      max_sequence_gap: 100,
      max_future_ms: 5000,
      max_age_ms: 60000,
    },
    topics: {
      default: "market_data_all",
      available: [
        "market_data_polygon",
        "market_data_ethereum",
        "market_data_kraken",
        "market_data_binance",
      ],
      auto_discover: true,
      extraction_strategy: "source_type",
      cleanup_interval_ms: null,
    },
    performance: {
      target_throughput: 1_000_000,
      buffer_size: 65536,
      max_connections: 1000,
      batch_size: 100,
      monitoring: true,
      max_latency_ms: null,
      max_queue_frames: 10000,
      max_queue_bytes: 67108864,
      slow_consumer: "drop",
      slow_consumer_timeout_ms: 5000,
      max_block_ms: 100,
      producer_stall: true,
      slow_consumer_stall_ms: 5,
      max_producer_stall_ms: 5,
      max_stall_total_ms: 100,
      partial_frame_timeout_ms: 10000,
      write_stall_timeout_ms: 30000,
      idle_timeout_ms: 0,
      max_garbage_bytes: 1048576,
    },
    logging: { level: "info", format: "text", file: null },
    bridge: { nats: NATS_BRIDGE_DEFAULTS },
    journal: JOURNAL_DEFAULTS,
    recovery: {
      enabled: true,
      window_frames: 1000000,
      window_bytes: 67108864,
      last_values: 100000,
    },
  },
  signal: {
    relay: {
      domain: 2,
      name: "signal",
      description: "Reliable signal relay with validation",
      echo: false,
      legacy_domain_numbering: false,
      hello_marks_publisher: true,
    },
    transport: {
      mode: "unix_socket",
      path: "/tmp/torq/signals.sock",
      socket_mode: 0o660,
      address: null,
      port: null,
      use_topology: false,
      buffer_size: null,
      allow_foreign_dir: false,
      allow_world_socket: false,
    },
    validation: {
      checksum: true,
      audit: false,
      strict: true,
      max_message_size: 32768,
      allow_vendor: false,
      strict_source_check: false,
      max_sequence_gap: 100,
      max_future_ms: 5000,
      max_age_ms: 60000,
    },
    topics: {
      default: "signals_all",
      available: ["arbitrage_signals", "trend_signals", "risk_signals"],
      auto_discover: false,
      extraction_strategy: "source_type",
      cleanup_interval_ms: null,
    },
    performance: {
      target_throughput: 100_000,
      buffer_size: 32768,
      max_connections: 100,
      batch_size: 50,
      monitoring: true,
      max_latency_ms: null,
      max_queue_frames: 10000,
      max_queue_bytes: 67108864,
      slow_consumer: "drop",
      slow_consumer_timeout_ms: 5000,
      max_block_ms: 100,
      producer_stall: true,
      slow_consumer_stall_ms: 5,
      max_producer_stall_ms: 5,
      max_stall_total_ms: 100,
      partial_frame_timeout_ms: 10000,
      write_stall_timeout_ms: 30000,
      idle_timeout_ms: 0,
      max_garbage_bytes: 1048576,
    },
    logging: { level: "info", format: "text", file: null },
    bridge: { nats: NATS_BRIDGE_DEFAULTS },
    journal: JOURNAL_DEFAULTS,
    recovery: { enabled: true, window_frames: 100000, window_bytes: 16777216, last_values: 0 },
  },
  execution: {
    relay: {
      domain: 3,
      name: "execution",
      description: "Secure execution relay with full audit",
      echo: false,
      legacy_domain_numbering: false,
      hello_marks_publisher: true,
    },
    transport: {
      mode: "unix_socket",
      path: "/tmp/torq/execution.sock",
      socket_mode: 0o660,
      address: null,
      port: null,
      use_topology: false,
      buffer_size: null,
      allow_foreign_dir: false,
      allow_world_socket: false,
    },
    validation: {
      checksum: true,
      audit: true,
      strict: true,
      max_message_size: 16384,
      allow_vendor: false,
      strict_source_check: false,
      max_sequence_gap: 100,
      max_future_ms: 5000,
      max_age_ms: 60000,
    },
    topics: {
      default: "execution_all",
      available: ["orders", "fills", "cancellations"],
      auto_discover: false,
      extraction_strategy: { fixed: "execution" },
      cleanup_interval_ms: null,
    },
    performance: {
      target_throughput: 50_000,
      buffer_size: 16384,
      max_connections: 50,
      batch_size: 10,
      monitoring: true,
      max_latency_ms: null,
      max_queue_frames: 10000,
      max_queue_bytes: 67108864,
      slow_consumer: "disconnect",
      slow_consumer_timeout_ms: 5000,
      max_block_ms: 100,
      producer_stall: true,
      slow_consumer_stall_ms: 5,
      max_producer_stall_ms: 5,
      max_stall_total_ms: 100,
      partial_frame_timeout_ms: 10000,
      write_stall_timeout_ms: 30000,
      idle_timeout_ms: 0,
      max_garbage_bytes: 1048576,
    },
    logging: { level: "info", format: "text", file: null },
    bridge: { nats: NATS_BRIDGE_DEFAULTS },
    journal: JOURNAL_DEFAULTS,
    recovery: { enabled: true, window_frames: 100000, window_bytes: 16777216, last_values: 0 },
  },
} as const;

/** loadConfig() with an in-memory user file. */
function loadWith(text: string, options: Parameters<typeof loadConfig>[0] = {}): TorqConfig {
  return loadConfig({ file: "my.yaml", readFile: () => text, ...options });
}

/** The ConfigError thrown by `fn`. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadConfig() defaults equal the spec's values for every relay", async (t) => {
  const config = loadConfig();
  for (const name of DOMAIN_NAMES) {
    await t.step(name, () => {
      assert.deepEqual(relayConfig(config, name), SPEC_DEFAULTS[name]);
    });
  }
  assert.equal(config.socket_dir, "/tmp/torq");
  assert.deepEqual(config.logging, { level: "info", format: "text", file: null });
  assert.deepEqual(config.http, {
    listen: "127.0.0.1:7420",
    token: null,
    allowed_hosts: [],
    max_connections: 128,
    header_timeout_ms: 10_000,
    idle_timeout_ms: 5_000,
  });
  assert.deepEqual(config.schemas, []);
  assert.deepEqual(config.bridge, {});
});

Deno.test("loadConfig() default socket paths match the protocol module (PROTOCOL.md 3.4)", () => {
  const config = loadConfig();
  for (const name of DOMAIN_NAMES) {
    assert.equal(config.relays[name].transport.path, DEFAULT_SOCKET_PATHS[name]);
  }
});

Deno.test("loadConfig() default policies are performance / standard / audit", () => {
  const config = loadConfig();
  const policies = DOMAIN_NAMES.map((name) => validationPolicy(config.relays[name].validation));
  assert.deepEqual(policies, ["performance", "standard", "audit"]);
});

Deno.test("loadConfig() needs no environment or file permission without a user file", {
  permissions: { env: false, read: false },
}, () => {
  assert.equal(loadConfig().relays.signal.relay.domain, 2);
});

Deno.test("loadConfig() applies the environment overlay", async (t) => {
  await t.step("development is the default", () => {
    assert.deepEqual(loadConfig({ env: "development" }), loadConfig());
  });
  await t.step("staging", () => {
    const config = loadConfig({ env: "staging" });
    assert.equal(config.socket_dir, "/tmp/torq-staging");
    assert.equal(config.relays.market_data.transport.path, "/tmp/torq-staging/market_data.sock");
    assert.equal(config.logging.format, "json");
  });
  await t.step("production loads and validates", () => {
    const config = loadConfig({ env: "production" });
    assert.equal(config.socket_dir, "/run/torq");
    assert.equal(config.relays.market_data.transport.path, "/run/torq/market_data.sock");
    assert.equal(config.relays.signal.transport.path, "/run/torq/signals.sock");
    assert.equal(config.relays.execution.transport.path, "/run/torq/execution.sock");
    assert.deepEqual(config.logging, { level: "warn", format: "json", file: null });
    assert.equal(config.relays.market_data.logging.level, "warn");
    assert.equal(config.relays.execution.logging.level, "info");
    assert.equal(config.relays.market_data.performance.max_connections, 5000);
    assert.equal(config.relays.market_data.performance.batch_size, 1000);
    assert.equal(config.relays.execution.performance.max_connections, 100);
    assert.equal(config.relays.signal.performance.max_connections, 100);
    assert.equal(config.relays.market_data.validation.max_message_size, 1048576);
    assert.equal(config.relays.execution.validation.max_future_ms, 2000);
    assert.equal(config.relays.execution.validation.max_age_ms, 30000);
    assert.equal(config.relays.execution.validation.max_sequence_gap, 50);
    // Policies are unchanged.
    assert.equal(validationPolicy(config.relays.execution.validation), "audit");
    assert.deepEqual(config.relays.execution.topics.extraction_strategy, { fixed: "execution" });
  });
  await t.step("TORQ_ENV selects it; the env option wins over TORQ_ENV", () => {
    assert.equal(loadConfig({ environ: { TORQ_ENV: "staging" } }).socket_dir, "/tmp/torq-staging");
    const config = loadConfig({ env: "production", environ: { TORQ_ENV: "staging" } });
    assert.equal(config.socket_dir, "/run/torq");
    assert.equal(loadConfig({ environ: { TORQ_ENV: "" } }).socket_dir, "/tmp/torq");
  });
  await t.step("an unknown environment is an error", () => {
    const error = configError(() => loadConfig({ environ: { TORQ_ENV: "prod" } }));
    assert.deepEqual(error.issues, [{
      path: "",
      message: 'Unknown environment "prod": expected "development", "staging" or "production"',
      source: "environment variable TORQ_ENV",
    }]);
  });
});

Deno.test("loadConfig() layers the user file over the overlay", () => {
  const config = loadWith(
    [
      "socket_dir: /srv/torq",
      "relays:",
      "  signal:",
      "    validation:",
      "      strict: false",
      "    topics:",
      "      available: [a, b]",
      "  execution:",
      "    transport:",
      "      path: /x/exec.sock",
    ].join("\n"),
    { env: "production" },
  );
  assert.equal(config.socket_dir, "/srv/torq");
  assert.equal(config.relays.signal.transport.path, "/srv/torq/signals.sock");
  assert.equal(config.relays.execution.transport.path, "/x/exec.sock");
  // Deep merge keeps the siblings; lists replace.
  assert.equal(config.relays.signal.validation.strict, false);
  assert.equal(config.relays.signal.validation.checksum, true);
  assert.deepEqual(config.relays.signal.topics.available, ["a", "b"]);
  // The overlay's values survive where the file says nothing.
  assert.equal(config.relays.market_data.performance.max_connections, 5000);
});

Deno.test("loadConfig() treats an empty section as no change", () => {
  const config = loadWith("relays:\n  signal:\n    validation:\n    # strict: false\nlogging:\n");
  assert.deepEqual(config, loadConfig());
});

Deno.test("loadConfig() applies environment variables", async (t) => {
  await t.step("shared settings", () => {
    const config = loadConfig({
      environ: {
        TORQ_SOCKET_DIR: "/run/t",
        TORQ_LOG_LEVEL: "DEBUG",
        TORQ_LOG_FORMAT: "json",
        TORQ_HTTP_LISTEN: "0.0.0.0:9000",
        TORQ_HTTP_TOKEN: "s3cret",
        UNRELATED: "x",
      },
    });
    assert.equal(config.socket_dir, "/run/t");
    assert.equal(config.relays.execution.transport.path, "/run/t/execution.sock");
    assert.deepEqual(config.logging, { level: "debug", format: "json", file: null });
    assert.equal(config.relays.signal.logging.level, "debug");
    assert.deepEqual(
      [config.http.listen, config.http.token],
      ["0.0.0.0:9000", "s3cret"],
    );
  });
  await t.step("the spec's validation variables", () => {
    const config = loadConfig({
      environ: {
        TORQ_MAX_MESSAGE_SIZE_MARKET: "4096",
        TORQ_MAX_MESSAGE_SIZE_SIGNAL: "8192",
        TORQ_MAX_MESSAGE_SIZE_EXECUTION: "16000",
        TORQ_TIMESTAMP_MAX_DRIFT: "2.5",
        TORQ_SEQUENCE_MAX_GAP: "7",
      },
    });
    const sizes = DOMAIN_NAMES.map((n) => config.relays[n].validation.max_message_size);
    assert.deepEqual(sizes, [4096, 8192, 16000]);
    for (const name of DOMAIN_NAMES) {
      assert.equal(config.relays[name].validation.max_future_ms, 2500);
      assert.equal(config.relays[name].validation.max_sequence_gap, 7);
      assert.equal(config.relays[name].validation.max_age_ms, 60000);
    }
  });
  await t.step("they win over the user file", () => {
    const config = loadWith("logging:\n  level: error\nsocket_dir: /from/file\n", {
      environ: { TORQ_LOG_LEVEL: "warn" },
    });
    assert.equal(config.logging.level, "warn");
    assert.equal(config.socket_dir, "/from/file");
  });
  await t.step("empty values count as unset", () => {
    assert.deepEqual(
      loadConfig({ environ: { TORQ_LOG_LEVEL: "", TORQ_SEQUENCE_MAX_GAP: " " } }),
      loadConfig(),
    );
  });
  await t.step("bad values are errors naming the variable", () => {
    const error = configError(() =>
      loadConfig({
        environ: {
          TORQ_LOG_LEVEL: "loud",
          TORQ_SEQUENCE_MAX_GAP: "many",
          TORQ_TIMESTAMP_MAX_DRIFT: "-1",
          TORQ_MAX_MESSAGE_SIZE_EXECUTION: "9999999",
          TORQ_HTTP_LISTEN: "9000",
        },
      })
    );
    assert.deepEqual(error.issues, [
      {
        path: "relays.*.validation.max_future_ms",
        message: 'expected a number of seconds, got "-1"',
        source: "environment variable TORQ_TIMESTAMP_MAX_DRIFT",
      },
      {
        path: "relays.*.validation.max_sequence_gap",
        message: 'expected a whole number, got "many"',
        source: "environment variable TORQ_SEQUENCE_MAX_GAP",
      },
      {
        path: "logging.level",
        message: 'expected one of "debug", "info", "warn" or "error", got "loud"',
        source: "environment variable TORQ_LOG_LEVEL",
      },
      {
        path: "http.listen",
        message: 'expected "host:port" with a port from 0 to 65535, got "9000"',
        source: "environment variable TORQ_HTTP_LISTEN",
      },
      {
        path: "relays.execution.validation.max_message_size",
        message: "expected at most 1048576, got 9999999",
        source: "environment variable TORQ_MAX_MESSAGE_SIZE_EXECUTION",
      },
    ]);
    assert.match(error.message, /\(environment variable TORQ_LOG_LEVEL\)/);
  });
});

Deno.test("loadConfig() command-line overrides win over everything", () => {
  const config = loadWith("relays:\n  signal:\n    validation:\n      strict: false\n", {
    env: "production",
    environ: { TORQ_SEQUENCE_MAX_GAP: "7", TORQ_LOG_LEVEL: "error" },
    overrides: {
      logging: { level: "debug" },
      relays: {
        signal: { validation: { strict: true, max_sequence_gap: 3 } },
        market_data: { performance: { max_connections: 10 } },
      },
    },
  });
  assert.equal(config.logging.level, "debug");
  assert.equal(config.relays.signal.validation.strict, true);
  assert.equal(config.relays.signal.validation.max_sequence_gap, 3);
  assert.equal(config.relays.execution.validation.max_sequence_gap, 7);
  assert.equal(config.relays.market_data.performance.max_connections, 10);
});

Deno.test("loadConfig() does not change the overrides object it is given", () => {
  const overrides = { relays: { signal: { relay: { max_connections: 5 } } } };
  const copy = structuredClone(overrides);
  loadConfig({ overrides });
  assert.deepEqual(overrides, copy);
});

Deno.test("loadConfig() reports an unknown key with its path and line", () => {
  const text = [
    "# my settings",
    "relays:",
    "  signal:",
    "    validation:",
    "      chekcsum: true",
  ].join("\n");
  const error = configError(() => loadWith(text));
  assert.deepEqual(error.issues, [{
    path: "relays.signal.validation.chekcsum",
    message: 'unknown key; did you mean "checksum"?',
    file: "my.yaml",
    line: 5,
  }]);
  assert.equal(
    error.message,
    'Cannot load configuration: relays.signal.validation.chekcsum: unknown key; did you mean "checksum"? (line 5 of my.yaml)',
  );
  assert.equal(error.name, "ConfigError");
  assert.ok(error instanceof Error);
});

Deno.test("loadConfig() reports a wrong type with its path, line and value", () => {
  const text = "relays:\n  signal:\n    validation:\n      checksum: yes\n";
  const error = configError(() => loadWith(text));
  assert.deepEqual(error.issues, [{
    path: "relays.signal.validation.checksum",
    message: 'expected boolean, got "yes"',
    file: "my.yaml",
    line: 4,
  }]);
  assert.match(
    error.message,
    /relays\.signal\.validation\.checksum: expected boolean, got "yes" \(line 4 of my\.yaml\)/,
  );
});

Deno.test("loadConfig() collects every problem, in file order", () => {
  const text = [
    "socket_dir: 5", //                               1
    "logging:", //                                    2
    "  level: verbose", //                            3
    "relays:", //                                     4
    "  market_data:", //                              5
    "    validation:", //                             6
    "      checksum: 1", //                           7
    "    topics:", //                                 8
    "      extraction_strategy: {custom_field: 0}", //  9
    "  signal:", //                                  10
    "    performance:", //                           11
    "      slow_consumer: backpressure", //          12
    "  system: {}", //                               13
    "htpp: {}", //                                   14
  ].join("\n");
  const error = configError(() => loadWith(text));
  assert.deepEqual(
    error.issues.map((i) => [i.line, i.path, i.message]),
    [
      [1, "socket_dir", "expected string, got 5"],
      [3, "logging.level", 'expected one of "debug", "info", "warn" or "error", got "verbose"'],
      [7, "relays.market_data.validation.checksum", "expected boolean, got 1"],
      [
        9,
        "relays.market_data.topics.extraction_strategy.custom_field",
        "expected a TLV type from 1 to 254, got 0",
      ],
      [
        12,
        "relays.signal.performance.slow_consumer",
        'expected one of "drop" or "disconnect", got "backpressure"',
      ],
      [13, "relays.system", "unknown key"],
      [14, "htpp", 'unknown key; did you mean "http"?'],
    ],
  );
  assert.ok(error.issues.every((i) => i.file === "my.yaml"));
  assert.match(error.message, /^Cannot load configuration: 7 problems\n/);
  assert.equal(error.message.split("\n").length, 8);
});

Deno.test("loadConfig() attributes a problem to the layer that set the value", () => {
  const error = configError(() =>
    loadWith("relays:\n  signal:\n    validation:\n      strict: maybe\n", {
      overrides: { relays: { execution: { relay: { echo: "no" } } } },
    })
  );
  assert.deepEqual(error.issues, [
    {
      path: "relays.signal.validation.strict",
      message: 'expected boolean, got "maybe"',
      file: "my.yaml",
      line: 4,
    },
    {
      path: "relays.execution.relay.echo",
      message: 'expected boolean, got "no"',
      source: "command-line override",
    },
  ]);
});

Deno.test("loadConfig() reports YAML syntax errors with their line", () => {
  const error = configError(() => loadWith("relays:\n  signal:\n    relay: [1\n"));
  assert.equal(error.issues.length, 1);
  assert.equal(error.issues[0]?.file, "my.yaml");
  assert.equal(error.issues[0]?.line, 3);
  assert.match(error.issues[0]?.message ?? "", /^Cannot parse YAML: /);
  const cases: [text: string, line: number, message: RegExp][] = [
    ["logging: {}\nlogging: {}\n", 2, /unique/],
    ["relays:\n\t- 1\n", 2, /Tabs/],
    ['http:\n  token: "abc\n', 2, /quote/],
  ];
  for (const [text, line, message] of cases) {
    const [issue] = configError(() => loadWith(text)).issues;
    assert.equal(issue?.line, line, text);
    assert.match(issue?.message ?? "", message);
  }
});

Deno.test("loadConfig() rejects a file whose top level is not a mapping", () => {
  const error = configError(() => loadWith("- a\n- b\n"));
  assert.deepEqual(error.issues, [{
    path: "",
    message: "Cannot use file: expected a mapping at the top level, got a list",
    file: "my.yaml",
    line: 1,
  }]);
});

Deno.test("loadConfig() accepts an empty file", () => {
  assert.deepEqual(loadWith(""), loadConfig());
  assert.deepEqual(loadWith("# nothing\n"), loadConfig());
});

Deno.test("loadConfig() reads the user file with Deno.readTextFileSync by default", () => {
  const file = new URL("../../config/environments/staging.yaml", import.meta.url).pathname;
  assert.equal(loadConfig({ file }).socket_dir, "/tmp/torq-staging");
  const missing = new URL("./no_such_file.yaml", import.meta.url).pathname;
  const error = configError(() => loadConfig({ file: missing }));
  assert.deepEqual(error.issues, [{
    path: "",
    message: "Cannot read configuration file: file not found",
    file: missing,
  }]);
});

Deno.test("loadConfig() lets relay.max_connections win over performance.max_connections", async (t) => {
  await t.step("both in one file", () => {
    const config = loadWith(
      "relays:\n  market_data:\n    relay:\n      max_connections: 5000\n" +
        "    performance:\n      max_connections: 2000\n",
    );
    assert.equal(config.relays.market_data.performance.max_connections, 5000);
  });
  await t.step("over the default of the performance key", () => {
    const config = loadWith("relays:\n  execution:\n    relay:\n      max_connections: 7\n");
    assert.equal(config.relays.execution.performance.max_connections, 7);
  });
  await t.step("a higher layer can still change the cap", () => {
    const config = loadWith("relays:\n  signal:\n    relay:\n      max_connections: 7\n", {
      overrides: { relays: { signal: { performance: { max_connections: 9 } } } },
    });
    assert.equal(config.relays.signal.performance.max_connections, 9);
  });
  await t.step("a bad value is reported at its own key", () => {
    const error = configError(() =>
      loadWith("relays:\n  signal:\n    relay:\n      max_connections: 0\n")
    );
    assert.deepEqual(error.issues, [{
      path: "relays.signal.relay.max_connections",
      message: "expected at least 1, got 0",
      file: "my.yaml",
      line: 4,
    }]);
  });
});

Deno.test("loadConfig() accepts every extraction_strategy form and replaces, not merges", async (t) => {
  const cases: [yaml: string, expected: unknown][] = [
    ["source_type", "source_type"],
    ["instrument_venue", "instrument_venue"],
    ["{custom_field: 21}", { custom_field: 21 }],
    ["\n        custom_field: 21", { custom_field: 21 }],
    ["{fixed: orders}", { fixed: "orders" }],
  ];
  for (const [yaml, expected] of cases) {
    await t.step(yaml.trim(), () => {
      // The execution default is {fixed: execution}: a mapping must replace it, not merge into it.
      const config = loadWith(
        `relays:\n  execution:\n    topics:\n      extraction_strategy: ${yaml}\n`,
      );
      assert.deepEqual(config.relays.execution.topics.extraction_strategy, expected);
    });
  }
});

Deno.test("loadConfig() reads socket_mode written with a leading zero as octal", async (t) => {
  const cases: [yaml: string, bits: number][] = [
    ["0660", 0o660],
    ["0640", 0o640],
    ['"0600"', 0o600],
    ["0o600", 0o600],
    ["384", 384],
  ];
  for (const [yaml, bits] of cases) {
    await t.step(yaml, () => {
      const config = loadWith(`relays:\n  signal:\n    transport:\n      socket_mode: ${yaml}\n`);
      assert.equal(config.relays.signal.transport.socket_mode, bits);
    });
  }
  await t.step("0668 is not octal", () => {
    const error = configError(() =>
      loadWith("relays:\n  signal:\n    transport:\n      socket_mode: 0668\n")
    );
    assert.equal(error.issues[0]?.path, "relays.signal.transport.socket_mode");
    assert.equal(error.issues[0]?.line, 4);
    assert.match(error.issues[0]?.message ?? "", /got "0668"$/);
  });
});

Deno.test("loadConfig() keeps the bridge section and extra schema files", () => {
  const config = loadWith(
    "bridge:\n  nats: { url: nats://127.0.0.1:4222 }\nschemas: [a.yaml, b.yaml]\n",
  );
  assert.deepEqual(config.bridge, { nats: { url: "nats://127.0.0.1:4222" } });
  assert.deepEqual(config.schemas, ["a.yaml", "b.yaml"]);
});

Deno.test("parseConfigText() layers a text over the embedded defaults only", () => {
  const config = parseConfigText(
    "relays:\n  signal:\n    validation:\n      strict: false\n",
    "x.yaml",
  );
  assert.equal(config.relays.signal.validation.strict, false);
  assert.equal(config.socket_dir, "/tmp/torq");
  const error = configError(() => parseConfigText("http:\n  listen: [1]\n", "x.yaml"));
  assert.equal(error.issues[0]?.file, "x.yaml");
  assert.equal(error.issues[0]?.line, 2);
});

Deno.test("formatConfig() prints YAML that loads back to the same configuration", async (t) => {
  for (const env of ["development", "staging", "production"]) {
    await t.step(env, () => {
      const config = loadConfig({
        env,
        overrides: { relays: { signal: { topics: { extraction_strategy: { custom_field: 7 } } } } },
      });
      const text = formatConfig(config);
      assert.deepEqual(parseConfigText(text, "shown.yaml"), config);
    });
  }
  const text = formatConfig(loadConfig());
  assert.match(text, /^socket_dir: \/tmp\/torq\n/);
  assert.match(text, /socket_mode: 0o660\n/);
  assert.match(text, /extraction_strategy:\n\s+fixed: execution\n/);
});

Deno.test("formatConfig() hides the HTTP token when asked", () => {
  const config = loadConfig({ environ: { TORQ_HTTP_TOKEN: "s3cret" } });
  assert.match(formatConfig(config), /token: s3cret/);
  const redacted = formatConfig(config, { redact: true });
  assert.doesNotMatch(redacted, /s3cret/);
  assert.match(redacted, /token: <redacted>/);
  assert.match(formatConfig(loadConfig(), { redact: true }), /token: null/);
});

Deno.test("relayConfig() returns one relay and rejects other names", () => {
  const config = loadConfig();
  assert.equal(relayConfig(config, "execution"), config.relays.execution);
  assert.throws(
    () => relayConfig(config, "system" as RelayDomainName),
    RangeError,
  );
});

Deno.test("parseOverrides() turns KEY=VALUE pairs into an overrides document", () => {
  const overrides = parseOverrides([
    "relays.signal.validation.strict=false",
    "relays.signal.validation.max_message_size=4096",
    "logging.level=debug",
    "relays.execution.topics.extraction_strategy={fixed: orders}",
    "http.token=a=b",
  ]);
  assert.deepEqual(overrides, {
    relays: {
      signal: { validation: { strict: false, max_message_size: 4096 } },
      execution: { topics: { extraction_strategy: { fixed: "orders" } } },
    },
    logging: { level: "debug" },
    http: { token: "a=b" },
  });
  const config = loadConfig({ overrides });
  assert.equal(config.relays.signal.validation.strict, false);
  const error = configError(() => parseOverrides(["nokey", "=1", "a..b=1"]));
  assert.equal(error.issues.length, 3);
  assert.equal(error.issues[0]?.message, 'Cannot use override "nokey": expected KEY=VALUE');
});

Deno.test("loadConfig() reads the journal section and names its bad values", () => {
  const text = [
    "relays:",
    "  execution:",
    "    journal:",
    "      path: /var/lib/torq/execution.journal",
    "      fsync: always",
    "      max_fail_records_per_second: null",
    "",
  ].join("\n");
  const journal = loadWith(text).relays.execution.journal;
  assert.deepEqual(journal, {
    path: "/var/lib/torq/execution.journal",
    fsync: "always",
    fsync_interval_ms: 100,
    max_bytes: 67108864,
    keep: 8,
    max_fail_records_per_second: null,
  });
  const bad = "relays:\n  execution:\n    journal:\n      fsync: sometimes\n      keep: 0\n";
  const error = configError(() => loadWith(bad));
  assert.deepEqual(error.issues.map((i) => [i.path, i.message, i.line]), [
    [
      "relays.execution.journal.fsync",
      'expected one of "always", "interval" or "never", got "sometimes"',
      4,
    ],
    ["relays.execution.journal.keep", "expected at least 1, got 0", 5],
  ]);
});

Deno.test("parseOverrides() reads socket_mode with a leading zero as octal, as a file does", () => {
  const overrides = parseOverrides([
    "relays.signal.transport.socket_mode=0640",
    "relays.execution.transport.socket_mode=0o600",
  ]);
  const config = loadConfig({ overrides });
  assert.equal(config.relays.signal.transport.socket_mode, 0o640);
  assert.equal(config.relays.execution.transport.socket_mode, 0o600);
});

Deno.test("loadConfig() lists at most 20 problems, then counts the rest", () => {
  const text = ["logging:", ...Array.from({ length: 5_000 }, (_, i) => `  k${i}: 1`)].join("\n");
  const error = configError(() => loadWith(text));
  assert.equal(error.issues.length, 5_000, "every problem is kept in issues");
  const lines = error.message.split("\n");
  assert.equal(lines[0], "Cannot load configuration: 5000 problems");
  assert.equal(lines.length, 1 + MAX_LISTED_PROBLEMS + 1);
  assert.equal(lines[1], "  logging.k0: unknown key (line 2 of my.yaml)");
  assert.equal(lines[20], "  logging.k19: unknown key (line 21 of my.yaml)");
  assert.equal(lines[21], "  … and 4980 more");
  // Lines are found through an index, not by scanning: the last key's line is right too.
  assert.deepEqual(error.issues[4_999], {
    path: "logging.k4999",
    message: "unknown key",
    file: "my.yaml",
    line: 5_001,
  });
});

Deno.test("loadConfig() finds a repeated key in a large mapping, with its line", () => {
  const keys = Array.from({ length: 3_000 }, (_, i) => `  k${i}: 1`);
  keys.push("  k17: 2");
  const error = configError(() => loadWith(["logging:", ...keys].join("\n")));
  assert.deepEqual(error.issues, [{
    path: "",
    message: 'Cannot parse YAML: Map keys must be unique: "k17" is repeated',
    file: "my.yaml",
    line: 3_002,
  }]);
  // Equal values of different types are different keys, as the YAML package has it.
  assert.doesNotThrow(() => loadWith('bridge:\n  1: a\n  "1": b\n'));
});

Deno.test("loadConfig() refuses a file over 1 MiB with one line, before parsing it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "torq_config_test_" });
  try {
    await t.step("a regular file: its size is named", () => {
      const file = `${dir}/big.yaml`;
      Deno.writeTextFileSync(file, "#".repeat(MAX_YAML_BYTES + 1));
      const error = configError(() => loadConfig({ file }));
      assert.equal(
        error.message,
        "Cannot load configuration: Cannot use file: it has 1048577 bytes, more than the 1 MiB " +
          `(1048576 bytes) a configuration or schema file may have (${file})`,
      );
      Deno.writeTextFileSync(file, "#".repeat(MAX_YAML_BYTES));
      assert.deepEqual(loadConfig({ file }), loadConfig(), "exactly 1 MiB is fine");
    });
    await t.step("a pipe is read no further than the limit", () => {
      const fifo = `${dir}/fifo`;
      new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
      // A writer that would go on for 8 MiB; the reader stops after 1 MiB + 1 byte.
      const writer = new Deno.Command("sh", {
        args: ["-c", `head -c 8388608 /dev/zero | tr '\\0' '#' > ${fifo}`],
      }).spawn();
      const error = configError(() => loadConfig({ file: fifo }));
      assert.match(error.message, /Cannot use file: it has more than the 1 MiB \(1048576 bytes\)/);
      writer.kill();
      return writer.status.then(() => {});
    });
    await t.step("schema files have the same limit", () => {
      const file = `${dir}/big_schema.yaml`;
      Deno.writeTextFileSync(file, "#".repeat(MAX_YAML_BYTES + 10));
      assert.throws(
        () => loadSchemaFiles([file]),
        (e: unknown) =>
          e instanceof SchemaFileError &&
          e.message === `Cannot load schemas: ${file}: Cannot use file: it has 1048586 bytes, ` +
              "more than the 1 MiB (1048576 bytes) a configuration or schema file may have",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
