import assert from "node:assert/strict";
import { UsageError } from "./_args.ts";
import {
  defineCommand,
  defineGroup,
  describeNumber,
  parseNumber,
  relayDomainArg,
} from "./_command.ts";

/** Runs `fn` with console.error captured. */
async function capture(fn: () => Promise<unknown>): Promise<{ value: unknown; errors: string[] }> {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.join(" "));
  try {
    return { value: await fn(), errors };
  } finally {
    console.error = original;
  }
}

function demo(seen: unknown[]) {
  return defineCommand({
    name: "torq demo-cmd",
    description: "Does a thing.",
    positionals: [
      { key: "domain", name: "DOMAIN", type: "domain", help: "market-data, signal or execution" },
      { key: "file", name: "FILE", optional: true, help: "A file" },
    ],
    options: {
      count: {
        type: "number",
        value: "N",
        integer: true,
        positive: true,
        aliases: ["msgs"],
        help: "How many",
      },
      rate: { type: "number", value: "R", min: 0, max: 10, default: 1, help: "How fast" },
      sort: {
        type: "string",
        value: "KEY",
        choices: ["id", "pending"],
        default: "id",
        help: "Order",
      },
      set: { type: "string", value: "K=V", multiple: true, help: "Override" },
      progress: { type: "boolean", negatable: true, default: true, help: "Show progress" },
      output: { type: "string", value: "FILE", short: "o", group: "Output", help: "Where" },
      old: { type: "boolean", help: "Old", deprecated: "use --new" },
    },
    exits: { 1: "it failed" },
    examples: ["torq demo-cmd signal --count 3"],
    run: (ctx) => {
      seen.push({ options: ctx.options, args: ctx.args });
      return Promise.resolve(0);
    },
  });
}

Deno.test("defineCommand() parses typed options, defaults and positionals from the declaration", async () => {
  const seen: unknown[] = [];
  const code = await demo(seen).run([
    "market-data",
    "--count=5",
    "--sort",
    "pending",
    "--set",
    "a=1",
    "--set=b=2",
    "--no-progress",
    "-o",
    "x.bin",
    "f.txt",
  ]);
  assert.equal(code, 0);
  assert.deepEqual(seen, [{
    options: {
      count: 5,
      rate: 1,
      sort: "pending",
      set: ["a=1", "b=2"],
      progress: false,
      output: "x.bin",
      old: false,
      help: false,
      verbose: false,
    },
    args: { domain: "market_data", file: "f.txt" },
  }]);
});

Deno.test("defineCommand() usage errors: one line, a pointer to --help, a did-you-mean", async () => {
  const cmd = demo([]);
  const cases: [string[], string][] = [
    [["signal", "--cuont", "3"], `unknown option '--cuont'; did you mean "--count"?`],
    [["signal", "--count"], "option '--count' needs a value"],
    [["signal", "--count", "0"], `option '--count' expects a positive whole number, got "0"`],
    [["signal", "--count", "1.5"], `option '--count' expects a positive whole number, got "1.5"`],
    [["signal", "--rate", "11"], `option '--rate' expects a number from 0 to 10, got "11"`],
    [
      ["signal", "--sort", "pendng"],
      `option '--sort' expects id or pending, got "pendng"; did you mean "pending"?`,
    ],
    [["signal", "--progress=yes"], "option '--progress' takes no value"],
    [["signal", "-x"], "unknown option '-x'"],
    [[], "missing DOMAIN: market-data, signal or execution"],
    [
      ["signl"],
      `unknown domain "signl": use market-data, signal or execution; did you mean "signal"?`,
    ],
    [["signal", "a", "b"], "unexpected argument 'b'"],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(
      () => cmd.run(argv),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.equal(e.exitCode, 2);
        assert.equal(e.message, `${message} (see 'torq demo-cmd --help')`);
        assert.equal(e.command, "torq demo-cmd");
        return true;
      },
      argv.join(" "),
    );
  }
});

Deno.test("defineCommand() accepts old spellings with one notice each", async () => {
  const seen: { options: Record<string, unknown>; args: Record<string, unknown> }[] = [];
  const { errors } = await capture(() => demo(seen).run(["sig", "--msgs", "3", "--old"]));
  assert.equal(seen[0]!.options.count, 3);
  assert.equal(seen[0]!.args.domain, "signal");
  assert.deepEqual(errors, [
    "torq demo-cmd: warning: '--msgs' is deprecated; use '--count' (the old spelling goes away in the next release)",
    "torq demo-cmd: warning: --old is deprecated: use --new",
    `torq demo-cmd: warning: domain "sig" is deprecated; use 'signal' (the old spelling goes away in the next release)`,
  ]);
});

Deno.test("defineCommand() generates the help: usage, arguments, groups, defaults, exit codes, examples", () => {
  const help = demo([]).help();
  assert.match(help, /^Usage: torq demo-cmd <DOMAIN> \[FILE\] \[options\]\n\nDoes a thing\.\n/);
  assert.match(
    help,
    /\nArguments:\n {2}DOMAIN +market-data, signal or execution\n {2}FILE +A file\n/,
  );
  assert.match(help, /\nOutput:\n {2}-o, --output FILE +Where\n/);
  assert.match(help, /\n {6}--count N +How many\n/);
  assert.match(help, /\n {6}--rate R +How fast \(default 1\)\n/);
  assert.match(help, /\n {6}--set K=V +Override \(repeatable\)\n/);
  assert.match(help, /\n {6}--\[no-\]progress +Show progress \(default on\)\n/);
  assert.match(
    help,
    /\n {2}-h, --help +Show this help\n {6}--verbose +Print stack traces of errors\n/,
  );
  assert.doesNotMatch(help, /--old|--msgs/, "deprecated spellings are not advertised");
  assert.match(
    help,
    /\nExit status:\n {2}0 {2}success\n {2}1 {2}it failed\n {2}2 {2}usage error[^\n]*\n\nExamples:\n {2}torq demo-cmd signal --count 3$/,
  );
  for (const line of help.split("\n")) assert.ok(line.length <= 100, line);
});

Deno.test("defineGroup() dispatches, suggests and warns about old names", async () => {
  const ran: string[] = [];
  const sub = (name: string) =>
    defineCommand({
      name: `torq g ${name}`,
      description: name,
      options: {},
      examples: [],
      run: () => {
        ran.push(name);
        return Promise.resolve(0);
      },
    });
  const group = defineGroup({
    name: "torq g",
    description: "A group.",
    commands: {
      arbitrage: () => Promise.resolve(sub("arbitrage")),
      pipeline: () => Promise.resolve(sub("pipeline")),
    },
    summaries: { arbitrage: "A", pipeline: "P" },
    aliases: { arb: "arbitrage" },
    examples: ["torq g arbitrage"],
  });
  assert.equal(await group.run(["pipeline"]), 0);
  const { errors } = await capture(() => group.run(["arb"]));
  assert.deepEqual(ran, ["pipeline", "arbitrage"]);
  assert.deepEqual(errors, [
    "torq g: warning: 'arb' is deprecated; use 'arbitrage' (the old name goes away in the next release)",
  ]);
  await assert.rejects(() => group.run(["pipelne"]), {
    message:
      `unknown command "pipelne": use arbitrage or pipeline; did you mean "pipeline"? (see 'torq g --help')`,
  });
  assert.match(group.help(), /^Usage: torq g <arbitrage\|pipeline> \[options\]\n/);
});

Deno.test("parseNumber() is the one number parser: digits, _ separators, rules", () => {
  assert.equal(parseNumber("1_000_000", { integer: true }), 1_000_000);
  assert.equal(parseNumber(" 42 ", { integer: true, positive: true }), 42);
  assert.equal(parseNumber("0.5", { positive: true }), 0.5);
  assert.equal(parseNumber("1e3", { integer: true }), 1000);
  assert.equal(parseNumber("0", { positive: true }), undefined);
  assert.equal(parseNumber("abc", {}), undefined);
  assert.equal(parseNumber("", {}), undefined);
  assert.equal(parseNumber("0x10", {}), undefined);
  assert.equal(parseNumber("256", { integer: true, min: 0, max: 255 }), undefined);
  assert.equal(describeNumber({ integer: true, min: 0, max: 255 }), "a whole number from 0 to 255");
  assert.equal(describeNumber({ positive: true }), "a positive number");
  assert.equal(describeNumber({ integer: true, min: 0 }), "a whole number, 0 or more");
});

Deno.test("relayDomainArg() is the one domain check", () => {
  const warnings: string[] = [];
  const warn = (m: string) => void warnings.push(m);
  assert.equal(relayDomainArg("torq x", "market-data", warn), "market_data");
  assert.equal(relayDomainArg("torq x", "market_data", warn), "market_data");
  assert.equal(relayDomainArg("torq x", "Signal", warn), "signal");
  assert.deepEqual(warnings, []);
  assert.equal(relayDomainArg("torq x", "exec", warn), "execution");
  assert.equal(warnings.length, 1);
  assert.throws(() => relayDomainArg("torq x", "system", warn), {
    message: `unknown domain "system": use market-data, signal or execution (see 'torq x --help')`,
  });
});
