import assert from "node:assert/strict";
import { parseConfigText } from "./loader.ts";
import { checkConfig, validationPolicy } from "./document.ts";
import type { ConfigProblem, ExtractionStrategy, TorqConfig } from "./document.ts";

/** A valid merged document: the embedded defaults, as plain data. */
function validDocument(): Record<string, unknown> {
  const config = parseConfigText("", "empty.yaml");
  const document = structuredClone(config) as unknown as Record<string, unknown>;
  return document;
}

/** Set a value inside a document by dotted path. */
function setIn(document: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split(".");
  let node = document;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1] as string] = value;
}

function problemsOf(document: unknown): ConfigProblem[] {
  const result = checkConfig(document);
  assert.equal(result.ok, false, "expected the document to be rejected");
  return result.ok ? [] : result.problems;
}

function accepted(document: unknown): TorqConfig {
  const result = checkConfig(document);
  if (!result.ok) assert.fail(result.problems.map((p) => p.message).join("\n"));
  return result.config;
}

Deno.test("checkConfig() accepts the resolved defaults", () => {
  const config = accepted(validDocument());
  assert.equal(config.relays.signal.transport.path, "/tmp/torq/signals.sock");
});

Deno.test("checkConfig() reports wrong types with the value it got", async (t) => {
  const cases: [path: string, value: unknown, message: string][] = [
    ["relays.signal.validation.checksum", "yes", 'expected boolean, got "yes"'],
    ["relays.signal.validation.max_message_size", "big", 'expected integer, got "big"'],
    ["relays.signal.validation.max_message_size", 1.5, "expected integer, got 1.5"],
    ["relays.signal.topics.available", "x", 'expected list, got "x"'],
    ["relays.signal.topics", [], "expected mapping, got a list"],
    ["logging.level", "loud", 'expected one of "debug", "info", "warn" or "error", got "loud"'],
    ["relays.market_data.relay.domain", 2, "expected 1, got 2"],
    ["relays.signal.validation.max_message_size", 16, "expected at least 32, got 16"],
    [
      "relays.signal.validation.max_message_size",
      16777216,
      "expected at most 1048576, got 16777216",
    ],
    ["relays.signal.relay.name", "", 'expected a non-empty string, got ""'],
    ["relays.signal.transport.port", 70000, "expected at most 65535, got 70000"],
    ["http.token", 5, "expected string, got 5"],
    ["bridge", [], "expected mapping, got a list"],
  ];
  for (const [path, value, message] of cases) {
    await t.step(`${path} = ${JSON.stringify(value)}`, () => {
      const document = validDocument();
      setIn(document, path, value);
      const problems = problemsOf(document);
      assert.deepEqual(problems, [{ path: path.split("."), message, at: "value" }]);
    });
  }
});

Deno.test("checkConfig() reports every unknown key at the key", () => {
  const document = validDocument();
  setIn(document, "relays.signal.validation.chekcsum", true);
  setIn(document, "relays.system", {});
  setIn(document, "extra", 1);
  const problems = problemsOf(document);
  assert.deepEqual(
    problems.map((p) => [p.path.join("."), p.message, p.at]).sort(),
    [
      ["relays.signal.validation.chekcsum", 'unknown key; did you mean "checksum"?', "key"],
      ["relays.system", "unknown key", "key"],
      ["extra", "unknown key", "key"],
    ].sort(),
  );
});

Deno.test("checkConfig() accepts every extraction_strategy form", async (t) => {
  const forms: ExtractionStrategy[] = [
    "source_type",
    "instrument_venue",
    { custom_field: 200 },
    { fixed: "orders" },
  ];
  for (const form of forms) {
    await t.step(JSON.stringify(form), () => {
      const document = validDocument();
      setIn(document, "relays.execution.topics.extraction_strategy", form);
      const config = accepted(document);
      assert.deepEqual(config.relays.execution.topics.extraction_strategy, form);
    });
  }
});

Deno.test("checkConfig() rejects malformed extraction_strategy values", async (t) => {
  const base = "relays.signal.topics.extraction_strategy";
  const forms =
    `"source_type", "instrument_venue", {custom_field: <TLV type>} or {fixed: "<topic>"}`;
  const cases: [value: unknown, path: string, message: string][] = [
    ["by_source", base, `expected ${forms}, got "by_source"`],
    [{ custom_field: 0 }, `${base}.custom_field`, "expected a TLV type from 1 to 254, got 0"],
    [{ custom_field: "5" }, `${base}.custom_field`, 'expected a TLV type from 1 to 254, got "5"'],
    [{ fixed: "" }, `${base}.fixed`, 'expected a non-empty topic name, got ""'],
    [{ fixed: "a", custom_field: 1 }, base, `expected ${forms}, got a mapping`],
    [7, base, `expected ${forms}, got 7`],
  ];
  for (const [value, path, message] of cases) {
    await t.step(JSON.stringify(value), () => {
      const document = validDocument();
      setIn(document, base, value);
      assert.deepEqual(problemsOf(document), [{ path: path.split("."), message, at: "value" }]);
    });
  }
});

Deno.test("checkConfig() reads socket_mode as octal text or a number", async (t) => {
  const cases: [value: unknown, bits: number | undefined][] = [
    ["0660", 0o660],
    ["660", 0o660],
    ["0o600", 0o600],
    [0o660, 0o660],
    [0o777, 0o777],
    ["0888", undefined],
    [0o1000, undefined],
    [660, undefined],
    [true, undefined],
  ];
  for (const [value, bits] of cases) {
    await t.step(JSON.stringify(value), () => {
      const document = validDocument();
      setIn(document, "relays.signal.transport.socket_mode", value);
      if (bits === undefined) {
        const [problem] = problemsOf(document);
        assert.match(problem?.message ?? "", /^expected permission bits such as "0660" or 0o660/);
      } else {
        assert.equal(accepted(document).relays.signal.transport.socket_mode, bits);
      }
    });
  }
  await t.step("660 (YAML's reading of 0660) gets a hint", () => {
    const document = validDocument();
    setIn(document, "relays.signal.transport.socket_mode", 660);
    assert.match(problemsOf(document)[0]?.message ?? "", /write "0660" or 0o660$/);
  });
});

Deno.test("checkConfig() checks http.listen as host:port", async (t) => {
  const cases: [value: string, ok: boolean][] = [
    ["127.0.0.1:7420", true],
    ["localhost:0", true],
    ["[::1]:8080", true],
    ["0.0.0.0:65535", true],
    ["7420", false],
    ["host:65536", false],
    [":7420", false],
    ["a b:1", false],
  ];
  for (const [value, ok] of cases) {
    await t.step(value, () => {
      const document = validDocument();
      setIn(document, "http.listen", value);
      assert.equal(checkConfig(document).ok, ok);
    });
  }
});

Deno.test("checkConfig() allows backpressure on the execution relay only", () => {
  const document = validDocument();
  setIn(document, "relays.execution.performance.slow_consumer", "backpressure");
  assert.equal(accepted(document).relays.execution.performance.slow_consumer, "backpressure");
  setIn(document, "relays.signal.performance.slow_consumer", "backpressure");
  assert.deepEqual(problemsOf(document), [{
    path: ["relays", "signal", "performance", "slow_consumer"],
    message: 'expected one of "drop" or "disconnect", got "backpressure"',
    at: "value",
  }]);
});

Deno.test("checkConfig() resolves socket paths from socket_dir unless a path is set", () => {
  const document = validDocument();
  setIn(document, "socket_dir", "/run/x/");
  for (const name of ["market_data", "signal", "execution"]) {
    setIn(document, `relays.${name}.transport.path`, null);
  }
  setIn(document, "relays.execution.transport.path", "/elsewhere/exec.sock");
  const config = accepted(document);
  assert.equal(config.relays.market_data.transport.path, "/run/x/market_data.sock");
  assert.equal(config.relays.signal.transport.path, "/run/x/signals.sock");
  assert.equal(config.relays.execution.transport.path, "/elsewhere/exec.sock");

  setIn(document, "socket_dir", null);
  assert.equal(accepted(document).relays.signal.transport.path, "/tmp/torq/signals.sock");
  assert.equal(accepted(document).socket_dir, "/tmp/torq");
});

Deno.test("checkConfig() fills each relay's logging from the shared section", () => {
  const document = validDocument();
  setIn(document, "logging", { level: "warn", format: "json", file: null });
  setIn(document, "relays.execution.logging", { level: "debug" });
  setIn(document, "relays.signal.logging", {});
  const config = accepted(document);
  assert.deepEqual(config.relays.execution.logging, { level: "debug", format: "json", file: null });
  assert.deepEqual(config.relays.signal.logging, { level: "warn", format: "json", file: null });
});

Deno.test("checkConfig() lets relay.max_connections win over performance.max_connections", () => {
  const document = validDocument();
  setIn(document, "relays.signal.relay.max_connections", 7);
  setIn(document, "relays.signal.performance.max_connections", 9);
  const config = accepted(document);
  assert.equal(config.relays.signal.performance.max_connections, 7);
  assert.equal("max_connections" in config.relays.signal.relay, false);
});

Deno.test("checkConfig() runs cross-field checks", async (t) => {
  await t.step("max_queue_bytes below max_message_size", () => {
    const document = validDocument();
    setIn(document, "relays.signal.performance.max_queue_bytes", 1024);
    assert.deepEqual(problemsOf(document), [{
      path: ["relays", "signal", "performance", "max_queue_bytes"],
      message: "expected at least validation.max_message_size (32768), got 1024",
      at: "value",
    }]);
  });
  await t.step("tcp without a port", () => {
    const document = validDocument();
    setIn(document, "relays.signal.transport.mode", "tcp");
    assert.deepEqual(problemsOf(document), [{
      path: ["relays", "signal", "transport", "port"],
      message: 'expected a port for transport.mode "tcp", got null',
      at: "value",
    }]);
    setIn(document, "relays.signal.transport.port", 0);
    assert.equal(accepted(document).relays.signal.transport.port, 0);
  });
  await t.step("two relays on one socket", () => {
    const document = validDocument();
    setIn(document, "relays.execution.transport.path", "/tmp/torq/signals.sock");
    assert.deepEqual(problemsOf(document), [{
      path: ["relays", "execution", "transport", "path"],
      message: 'socket path "/tmp/torq/signals.sock" is also used by the signal relay',
      at: "value",
    }]);
  });
});

Deno.test("checkConfig() rejects a document that is not a mapping", () => {
  assert.deepEqual(problemsOf(null), [{
    path: [],
    message: "expected mapping, got null",
    at: "value",
  }]);
});

Deno.test("validationPolicy() maps the flags to the policy of PROTOCOL.md 7.5", () => {
  assert.equal(validationPolicy({ checksum: false, audit: false }), "performance");
  assert.equal(validationPolicy({ checksum: true, audit: false }), "standard");
  assert.equal(validationPolicy({ checksum: true, audit: true }), "audit");
  assert.equal(validationPolicy({ checksum: false, audit: true }), "audit");
});

Deno.test("checkConfig() checks relays.<name>.bridge.nats", async (t) => {
  const at = "relays.execution.bridge.nats";
  const cases: [string, unknown, { path: string; message: string; at: "key" | "value" }][] = [
    [
      "direction",
      "sideways",
      {
        path: `${at}.direction`,
        message: 'expected one of "out", "in" or "both", got "sideways"',
        at: "value",
      },
    ],
    [
      "servers",
      ["http://x:1"],
      {
        path: `${at}.servers.0`,
        message: 'expected "nats://HOST:PORT", got "http://x:1"',
        at: "value",
      },
    ],
    [
      "subject_prefix",
      "torq.>",
      {
        path: `${at}.subject_prefix`,
        message: 'expected subject tokens such as "torq" or "site1.torq", got "torq.>"',
        at: "value",
      },
    ],
    [
      "jetstream",
      "yes",
      {
        path: `${at}.jetstream`,
        message: "expected true, false, null or a mapping (stream, storage, durable," +
          ' duplicate_window_ms, ack_timeout_ms), got "yes"',
        at: "value",
      },
    ],
    [
      "jetstream",
      { storage: "disk" },
      {
        path: `${at}.jetstream.storage`,
        message: 'expected "file" or "memory", got "disk"',
        at: "value",
      },
    ],
    [
      "jetstream",
      { retention: "limits" },
      { path: `${at}.jetstream.retention`, message: "unknown key", at: "key" },
    ],
    [
      "user",
      "torq",
      {
        path: `${at}.password`,
        message: "expected user and password together, got only user",
        at: "value",
      },
    ],
  ];
  for (const [key, value, problem] of cases) {
    await t.step(`${key} = ${JSON.stringify(value)}`, () => {
      const document = validDocument();
      setIn(document, `${at}.${key}`, value);
      assert.deepEqual(problemsOf(document), [{
        ...problem,
        path: problem.path.split(".").map((p) => /^\d+$/.test(p) ? Number(p) : p),
      }]);
    });
  }
  await t.step("an enabled bridge needs a server", () => {
    const document = validDocument();
    setIn(document, `${at}.enabled`, true);
    setIn(document, `${at}.servers`, []);
    assert.deepEqual(problemsOf(document).map((p) => p.message), [
      "expected at least one server when the bridge is enabled, got an empty list",
    ]);
  });
  await t.step("jetstream: true and partial mappings resolve with defaults", () => {
    const document = validDocument();
    setIn(document, `${at}.jetstream`, true);
    setIn(document, "relays.signal.bridge.nats.jetstream", { stream: "SIG", storage: "memory" });
    const config = accepted(document);
    assert.deepEqual(config.relays.execution.bridge.nats.jetstream, {
      stream: null,
      storage: "file",
      durable: null,
      duplicate_window_ms: 120_000,
      ack_timeout_ms: 5_000,
    });
    assert.equal(config.relays.signal.bridge.nats.jetstream?.stream, "SIG");
    assert.equal(config.relays.market_data.bridge.nats.jetstream, null);
  });
});
