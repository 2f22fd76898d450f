/**
 * One declaration per command. A subcommand file declares its name, options
 * (with types, defaults, choices and value names), positional arguments,
 * examples and exit codes once, with {@linkcode defineCommand}; parsing, the
 * `--help` text and every usage error are generated from that declaration.
 * {@linkcode defineGroup} does the same for commands with subcommands
 * (`torq demo arbitrage|pipeline`, `torq config check|show`).
 *
 * Every command also accepts `-h/--help` and `--verbose`. Old spellings of an
 * option (`aliases`) or an option kept for a release (`deprecated`) are
 * accepted with a one-line notice on stderr. Unknown options, subcommands and
 * domains get a "did you mean".
 *
 * @example
 * ```ts
 * import { Exit } from "./_args.ts";
 *
 * export const command = defineCommand({
 *   name: "torq sub",
 *   description: "Subscribe to a relay and print what arrives.",
 *   positionals: [{ key: "domain", name: "DOMAIN", type: "domain", help: "..." }],
 *   options: {
 *     count: { type: "number", integer: true, min: 1, value: "N", help: "Exit after N frames" },
 *     hex: { type: "boolean", help: "Print each frame as hex" },
 *   },
 *   examples: ["torq sub signal --count 2"],
 *   run: async ({ options, args }) => {
 *     options.count; // number | undefined
 *     args.domain; // "market_data" | "signal" | "execution"
 *     return Exit.OK;
 *   },
 * });
 * ```
 *
 * @module
 */

import type { RelayDomainName } from "../src/config/mod.ts";
import { didYouMean } from "../src/text/mod.ts";
import { CliError, Exit, printOut, UsageError } from "./_args.ts";

// ---------------------------------------------------------------------------------------------
// Declarations.

interface OptionBase {
  /** One line (or a few sentences) for the help; wrapped automatically. */
  help: string;
  /** A one-letter short form, e.g. `o` for `-o`. */
  short?: string;
  /** Help section (default "Options"). */
  group?: string;
  /** Left out of the help (still accepted). */
  hidden?: boolean;
  /**
   * Kept for a release: accepted with a notice on stderr that says this
   * (e.g. `give the domain as an argument: 'torq bench signal'`). Hidden from the help.
   */
  deprecated?: string;
  /** Old long names (without `--`), accepted with a deprecation notice. */
  aliases?: readonly string[];
}

/** `--flag`: true when given. */
export interface BooleanOption extends OptionBase {
  /** The kind. */
  type: "boolean";
  /** Also accept `--no-<name>` (for options that default to true). */
  negatable?: boolean;
  /** The value when not given (default false). */
  default?: boolean;
}

/** `--name VALUE`: text. */
export interface StringOption extends OptionBase {
  /** The kind. */
  type: "string";
  /** The value's name in the help, e.g. `PATH`. */
  value: string;
  /** The value when not given. */
  default?: string;
  /** The only values accepted. */
  choices?: readonly string[];
  /** Repeatable: the values in order (an empty list when not given). */
  multiple?: boolean;
}

/** `--name N`: a number, checked by {@linkcode parseNumber}. */
export interface NumberOption extends OptionBase {
  /** The kind. */
  type: "number";
  /** The value's name in the help, e.g. `N`. */
  value: string;
  /** The value when not given. */
  default?: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
  /** Greater than zero. */
  positive?: boolean;
}

/** One option of a command. */
export type OptionSpec = BooleanOption | StringOption | NumberOption;

/** A positional argument. */
export interface PositionalSpec {
  /** The property of `args` it lands in. */
  key: string;
  /** Its name in the usage line and help, e.g. `DOMAIN`. */
  name: string;
  /** What it is, for the help. */
  help: string;
  /** `domain`: a relay domain (market-data, signal, execution), checked with a "did you mean". */
  type?: "string" | "domain";
  /** May be left out. */
  optional?: boolean;
  /** Takes every remaining argument (a list; must come last). */
  variadic?: boolean;
}

type OptionValue<O> = O extends { type: "boolean" } ? boolean
  : O extends { type: "number" } ? number
  : O extends { type: "string"; multiple: true } ? string[]
  : O extends { type: "string"; choices: readonly (infer C extends string)[] } ? C
  : string;

type AlwaysSet<O> = O extends { type: "boolean" } ? true
  : O extends { multiple: true } ? true
  : O extends { default: string | number } ? true
  : false;

/** The parsed options of a declaration: set ones typed, the others possibly undefined. */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  -readonly [K in keyof T]: AlwaysSet<T[K]> extends true ? OptionValue<T[K]>
    : OptionValue<T[K]> | undefined;
};

type PositionalValue<P> = P extends { variadic: true } ? string[]
  : P extends { type: "domain" }
    ? RelayDomainName | (P extends { optional: true } ? undefined : never)
  : string | (P extends { optional: true } ? undefined : never);

/** The parsed positional arguments, by `key`. */
export type PositionalValues<P extends readonly PositionalSpec[]> = {
  -readonly [E in P[number] as E["key"]]: PositionalValue<E>;
};

/** What a command's `run` receives. */
export interface CommandContext<
  O extends Record<string, OptionSpec>,
  P extends readonly PositionalSpec[],
> {
  /** Parsed options (and `verbose`). */
  options: OptionValues<O> & { verbose: boolean };
  /** Parsed positional arguments. */
  args: PositionalValues<P>;
  /** The full command name, e.g. `torq sub`, for messages. */
  command: string;
  /** Prints one notice line `torq sub: warning: …` on stderr. */
  warn(message: string): void;
  /** The arguments as given after the command name (e.g. to start the command again). */
  argv: readonly string[];
}

/** The declaration of one command. */
export interface CommandSpec<
  O extends Record<string, OptionSpec>,
  P extends readonly PositionalSpec[],
> {
  /** The full name, e.g. `torq sub` or `torq demo arbitrage`. */
  name: string;
  /** One line for a group's list of subcommands (top-level summaries live in cli/main.ts). */
  summary?: string;
  /** Usage lines after the name (default: generated from the positionals). */
  usage?: readonly string[];
  /** What the command does, in paragraphs; wrapped as written. */
  description: string;
  /** Positional arguments, in order. */
  positionals?: P;
  /** Options by long name (without `--`). */
  options: O;
  /** Text sections after the options, e.g. `{ title: "Vectors", body: "…" }`. */
  sections?: readonly { title: string; body: string }[];
  /** Exit codes and what each means (0, 1 and 2 have defaults). */
  exits?: Readonly<Record<number, string>>;
  /** Example command lines. */
  examples: readonly string[];
  /** Runs the command and resolves to its exit code. */
  run(ctx: CommandContext<O, P>): Promise<number>;
}

/** A declared command, as cli/main.ts calls it. */
export interface Command {
  /** The full name. */
  readonly name: string;
  /** One line for a group's listing. */
  readonly summary: string;
  /** The generated help text. */
  help(): string;
  /**
   * Parses the arguments after the name and runs the command.
   *
   * @param argv arguments after the command name
   * @returns the exit code
   */
  run(argv: readonly string[]): Promise<number>;
}

/** Options every command takes. */
const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h", help: "Show this help" },
  verbose: { type: "boolean", help: "Print stack traces of errors" },
} as const satisfies Record<string, OptionSpec>;

const DEFAULT_EXITS: Readonly<Record<number, string>> = {
  0: "success",
  1: "failure (one line on stderr says why)",
  2: "usage error (unknown option, missing or bad argument)",
};

/**
 * Declares a command: parsing, help and usage errors come from `spec`.
 *
 * @param spec the declaration
 * @returns the command
 */
export function defineCommand<
  const O extends Record<string, OptionSpec>,
  const P extends readonly PositionalSpec[] = readonly [],
>(spec: CommandSpec<O, P>): Command {
  const options: Record<string, OptionSpec> = { ...spec.options, ...GLOBAL_OPTIONS };
  return {
    name: spec.name,
    summary: spec.summary ?? "",
    help: () => commandHelp(spec, options),
    async run(argv) {
      const warn = (message: string) => console.error(`${spec.name}: warning: ${message}`);
      try {
        const parsed = parseArgv(spec.name, argv, options, warn);
        if (parsed.values.help === true) {
          await printOut(commandHelp(spec, options));
          return Exit.OK;
        }
        const args = bindPositionals(spec.name, spec.positionals ?? [], parsed.positionals, warn);
        return await spec.run({
          options: parsed.values as OptionValues<O> & { verbose: boolean },
          args: args as PositionalValues<P>,
          command: spec.name,
          warn,
          argv,
        });
      } catch (e) {
        if (e instanceof CliError) e.command ??= spec.name;
        throw e;
      }
    },
  };
}

/** The declaration of a command with subcommands. */
export interface GroupSpec {
  /** The full name, e.g. `torq demo`. */
  name: string;
  /** What the group is for. */
  description: string;
  /** The subcommands by name, loaded when chosen. */
  commands: Readonly<Record<string, () => Command | Promise<Command>>>;
  /** One line per subcommand for the help (the modules are not loaded for it). */
  summaries: Readonly<Record<string, string>>;
  /** Old names of subcommands, accepted with a deprecation notice. */
  aliases?: Readonly<Record<string, string>>;
  /** Example command lines. */
  examples: readonly string[];
}

/**
 * Declares a command whose first argument names a subcommand.
 *
 * @param spec the declaration
 * @returns the command
 */
export function defineGroup(spec: GroupSpec): Command {
  const help = () => {
    const names = Object.keys(spec.commands);
    const width = Math.max(...names.map((n) => n.length));
    return [
      `Usage: ${spec.name} <${names.join("|")}> [options]`,
      "",
      wrap(spec.description, WIDTH),
      "",
      "Commands:",
      ...names.map((n) => `  ${n.padEnd(width)}  ${spec.summaries[n] ?? ""}`),
      "",
      `'${spec.name} <command> --help' shows each one's options.`,
      "",
      "Examples:",
      ...spec.examples.map((e) => `  ${e}`),
    ].join("\n");
  };
  return {
    name: spec.name,
    summary: "",
    help,
    async run(argv) {
      const first = argv.findIndex((a) => !a.startsWith("-"));
      if (first < 0) {
        if (argv.includes("-h") || argv.includes("--help")) {
          await printOut(help());
          return Exit.OK;
        }
        const bad = argv.find((a) => a !== "--verbose");
        if (bad !== undefined) {
          throw new UsageError(spec.name, `unknown option '${bad}'`);
        }
        throw new UsageError(
          spec.name,
          `expected a command: ${Object.keys(spec.commands).join(" or ")}`,
        );
      }
      let name = argv[first]!;
      const alias = spec.aliases?.[name];
      if (alias !== undefined) {
        console.error(
          `${spec.name}: warning: '${name}' is deprecated; use '${alias}' (the old name goes away in the next release)`,
        );
        name = alias;
      }
      const load = Object.hasOwn(spec.commands, name) ? spec.commands[name] : undefined;
      if (load === undefined) {
        throw new UsageError(
          spec.name,
          `unknown command ${JSON.stringify(name)}: use ${Object.keys(spec.commands).join(" or ")}${
            didYouMean(name, Object.keys(spec.commands))
          }`,
        );
      }
      const command = await load();
      return await command.run([...argv.slice(0, first), ...argv.slice(first + 1)]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Values.

/** Constraints of {@linkcode parseNumber}. */
export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean | undefined;
  /** Smallest accepted value (inclusive). */
  min?: number | undefined;
  /** Largest accepted value (inclusive). */
  max?: number | undefined;
  /** Greater than zero. */
  positive?: boolean | undefined;
}

/**
 * What a {@linkcode NumberRule} accepts, in words: `a positive whole number`,
 * `a whole number from 0 to 255`, `a number from 0 to 1,000,000,000`.
 *
 * @param rule the constraints
 * @returns the phrase
 */
export function describeNumber(rule: NumberRule): string {
  const kind = rule.integer ? "whole number" : "number";
  const n = (v: number) => v.toLocaleString("en-US");
  const min = rule.min;
  const max = rule.max;
  if (rule.positive && max === undefined) return `a positive ${kind}`;
  if (rule.positive && max !== undefined) return `a positive ${kind} up to ${n(max)}`;
  if (min !== undefined && max !== undefined) return `a ${kind} from ${n(min)} to ${n(max)}`;
  if (min !== undefined) {
    return min === 0 ? `a ${kind}, 0 or more` : `a ${kind} of at least ${n(min)}`;
  }
  if (max !== undefined) return `a ${kind} up to ${n(max)}`;
  return `a ${kind}`;
}

/**
 * The one number parser of the CLI: decimal text (`_` between digits allowed,
 * e.g. `1_000_000`), checked against `rule`.
 *
 * @param text the value as typed
 * @param rule the constraints
 * @returns the number, or `undefined` when `text` does not satisfy `rule`
 * @example
 * ```ts
 * parseNumber("1_000", { integer: true, positive: true }); // 1000
 * parseNumber("0.5", { integer: true }); // undefined
 * ```
 */
export function parseNumber(text: string, rule: NumberRule): number | undefined {
  const t = text.trim();
  if (!/^[+-]?(\d+(_\d+)*)?(\.\d+)?([eE][+-]?\d+)?$/.test(t) || !/\d/.test(t)) return undefined;
  const n = Number(t.replaceAll("_", ""));
  if (!Number.isFinite(n)) return undefined;
  if (rule.integer && !Number.isSafeInteger(n)) return undefined;
  if (rule.positive && !(n > 0)) return undefined;
  if (rule.min !== undefined && n < rule.min) return undefined;
  if (rule.max !== undefined && n > rule.max) return undefined;
  return n;
}

/** The relay domains as typed on the command line, and their configuration names. */
export const RELAY_DOMAINS: Readonly<Record<string, RelayDomainName>> = {
  "market-data": "market_data",
  signal: "signal",
  execution: "execution",
};

/** Spellings accepted for a release, with a notice. */
const OLD_DOMAIN_SPELLINGS: Readonly<Record<string, string>> = {
  md: "market-data",
  marketdata: "market-data",
  "1": "market-data",
  sig: "signal",
  signals: "signal",
  "2": "signal",
  exe: "execution",
  exec: "execution",
  "3": "execution",
};

/**
 * The one domain check of the CLI: `market-data`, `signal` or `execution`
 * (`market_data`, the configuration's spelling, too). Old short spellings are
 * accepted with a notice; anything else is a usage error with a "did you mean".
 *
 * @param command full command name for the error
 * @param text the argument
 * @param warn prints a deprecation notice
 * @returns the relay's configuration name
 * @throws {UsageError} for an unknown domain
 */
export function relayDomainArg(
  command: string,
  text: string,
  warn: (message: string) => void,
): RelayDomainName {
  const t = text.trim().toLowerCase();
  const direct = RELAY_DOMAINS[t.replaceAll("_", "-")];
  if (direct !== undefined) return direct;
  const old = OLD_DOMAIN_SPELLINGS[t];
  if (old !== undefined) {
    warn(
      `domain ${
        JSON.stringify(text)
      } is deprecated; use '${old}' (the old spelling goes away in the next release)`,
    );
    return RELAY_DOMAINS[old]!;
  }
  throw new UsageError(
    command,
    `unknown domain ${JSON.stringify(text)}: use market-data, signal or execution${
      didYouMean(text, Object.keys(RELAY_DOMAINS))
    }`,
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing.

interface Parsed {
  values: Record<string, unknown>;
  positionals: string[];
}

function parseArgv(
  command: string,
  argv: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
  warn: (message: string) => void,
): Parsed {
  const byShort = new Map<string, string>();
  const byAlias = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.short !== undefined) byShort.set(o.short, name);
    for (const a of o.aliases ?? []) byAlias.set(a, name);
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const set = (name: string, spelled: string, text: string | undefined) => {
    const o = options[name]!;
    if (o.deprecated !== undefined) warn(`${spelled} is deprecated: ${o.deprecated}`);
    if (o.type === "boolean") {
      values[name] = text === undefined;
      return;
    }
    if (text === undefined) throw new UsageError(command, `option '${spelled}' needs a value`);
    if (o.type === "number") {
      const n = parseNumber(text, o);
      if (n === undefined) {
        throw new UsageError(
          command,
          `option '${spelled}' expects ${describeNumber(o)}, got ${JSON.stringify(text)}`,
        );
      }
      values[name] = n;
      return;
    }
    if (o.choices !== undefined && !o.choices.includes(text)) {
      throw new UsageError(
        command,
        `option '${spelled}' expects ${orList(o.choices)}, got ${JSON.stringify(text)}${
          didYouMean(text, o.choices)
        }`,
      );
    }
    if (o.multiple) values[name] = [...(values[name] as string[] | undefined ?? []), text];
    else values[name] = text;
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const spelled = eq < 0 ? a : a.slice(0, eq);
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      let key = spelled.slice(2);
      let negated = false;
      if (!Object.hasOwn(options, key)) {
        const alias = byAlias.get(key);
        const positive = key.startsWith("no-") ? key.slice(3) : undefined;
        if (alias !== undefined) {
          warn(
            `'${spelled}' is deprecated; use '--${alias}' (the old spelling goes away in the next release)`,
          );
          key = alias;
        } else if (
          positive !== undefined && Object.hasOwn(options, positive) &&
          options[positive]!.type === "boolean" && (options[positive] as BooleanOption).negatable
        ) {
          key = positive;
          negated = true;
        } else {
          throw new UsageError(
            command,
            `unknown option '${spelled}'${didYouMean(spelled, visibleLongNames(options))}`,
          );
        }
      }
      const o = options[key]!;
      if (o.type === "boolean") {
        if (inline !== undefined) {
          throw new UsageError(command, `option '${spelled}' takes no value`);
        }
        set(key, spelled, undefined);
        if (negated) values[key] = false;
        continue;
      }
      let text = inline;
      if (text === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("--") && next.length > 2)) {
          throw new UsageError(command, `option '${spelled}' needs a value`);
        }
        text = next;
        i++;
      }
      set(key, spelled, text);
      continue;
    }
    if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      const name = byShort.get(a[1]!);
      if (name === undefined) {
        throw new UsageError(command, `unknown option '${a.slice(0, 2)}'`);
      }
      const o = options[name]!;
      if (o.type === "boolean") {
        if (a.length > 2) throw new UsageError(command, `option '${a.slice(0, 2)}' takes no value`);
        set(name, a, undefined);
        continue;
      }
      let text: string | undefined = a.length > 2 ? a.slice(2) : argv[i + 1];
      if (a.length === 2) {
        if (text === undefined) throw new UsageError(command, `option '${a}' needs a value`);
        i++;
      }
      text ??= "";
      set(name, a.slice(0, 2), text);
      continue;
    }
    positionals.push(a);
  }
  for (const [name, o] of Object.entries(options)) {
    if (values[name] !== undefined) continue;
    if (o.type === "boolean") values[name] = o.default ?? false;
    else if (o.type === "string" && o.multiple) values[name] = [];
    else if (o.default !== undefined) values[name] = o.default;
  }
  return { values, positionals };
}

function bindPositionals(
  command: string,
  specs: readonly PositionalSpec[],
  given: readonly string[],
  warn: (message: string) => void,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = 0;
  for (const p of specs) {
    if (p.variadic) {
      out[p.key] = given.slice(i);
      i = given.length;
      continue;
    }
    const text = given[i];
    if (text === undefined) {
      if (!p.optional) {
        throw new UsageError(command, `missing ${p.name}: ${firstSentence(p.help)}`);
      }
      out[p.key] = undefined;
      continue;
    }
    i++;
    out[p.key] = p.type === "domain" ? relayDomainArg(command, text, warn) : text;
  }
  if (i < given.length) throw new UsageError(command, `unexpected argument '${given[i]}'`);
  return out;
}

function visibleLongNames(options: Readonly<Record<string, OptionSpec>>): string[] {
  return Object.entries(options).filter(([, o]) => !o.hidden && o.deprecated === undefined)
    .map(([n]) => `--${n}`);
}

function orList(items: readonly string[]): string {
  return items.length === 1
    ? items[0]!
    : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function firstSentence(text: string): string {
  return text.split(/(?<=\.)\s/)[0]!.replace(/\.$/, "");
}

// ---------------------------------------------------------------------------------------------
// Help.

/** Width the help is wrapped to. */
const WIDTH = 100;
/** Column where option descriptions start. */
const DESCRIPTION_COLUMN = 24;

/** Splits `text` into lines of at most `width` characters at spaces (longer words stay whole). */
function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let cur = "";
  for (const w of text.trim().split(/\s+/)) {
    if (cur !== "" && cur.length + 1 + w.length > width) {
      out.push(cur);
      cur = w;
    } else cur = cur === "" ? w : `${cur} ${w}`;
  }
  out.push(cur);
  return out;
}

/** Wraps each over-long line of a paragraph, keeping its indentation; short lines stay as written. */
function wrap(text: string, width: number): string {
  return text.split("\n").map((line) => {
    if (line.length <= width) return line;
    const lead = /^\s*/.exec(line)![0];
    return wrapWords(line, width - lead.length).map((l) => lead + l).join("\n");
  }).join("\n");
}

/** `prefix` then `text` wrapped to the width, continuation lines indented as far as `prefix`. */
function hanging(prefix: string, text: string): string {
  const pad = " ".repeat(prefix.length);
  return wrapWords(text, WIDTH - prefix.length).map((l, i) => (i === 0 ? prefix : pad) + l)
    .join("\n");
}

function optionLabel(name: string, o: OptionSpec): string {
  const long = o.type === "boolean" && o.negatable ? `--[no-]${name}` : `--${name}`;
  const value = o.type === "boolean" ? "" : ` ${o.value}`;
  return `${o.short === undefined ? "    " : `-${o.short}, `}${long}${value}`;
}

function optionText(o: OptionSpec): string {
  let text = o.help;
  const shown = o.type === "boolean" ? (o.default ? "on" : undefined) : o.default;
  if (shown !== undefined && !/\(default/.test(text)) text += ` (default ${shown})`;
  if (o.type === "string" && o.multiple && !/repeatable/.test(text)) text += " (repeatable)";
  return text;
}

function helpRows(rows: readonly [string, string][]): string[] {
  return rows.map(([label, text]) => {
    const first = `  ${label}`;
    if (first.length <= DESCRIPTION_COLUMN - 2) {
      return hanging(first.padEnd(DESCRIPTION_COLUMN), text);
    }
    return `${first}\n${hanging(" ".repeat(DESCRIPTION_COLUMN), text)}`;
  });
}

function commandHelp<O extends Record<string, OptionSpec>, P extends readonly PositionalSpec[]>(
  spec: CommandSpec<O, P>,
  options: Readonly<Record<string, OptionSpec>>,
): string {
  const positionals = spec.positionals ?? [];
  const generated = positionals.map((p) => {
    const n = p.variadic ? `${p.name}...` : p.name;
    return p.optional || p.variadic ? `[${n}]` : `<${n}>`;
  }).join(" ");
  const usage = spec.usage ?? [`${generated}${generated === "" ? "" : " "}[options]`];
  const lines = [
    ...usage.map((u, i) => `${i === 0 ? "Usage: " : "       "}${spec.name} ${u}`),
    "",
    wrap(spec.description, WIDTH),
  ];
  if (positionals.length > 0) {
    lines.push("", "Arguments:", ...helpRows(positionals.map((p) => [p.name, p.help])));
  }
  const groups = new Map<string, [string, string][]>();
  for (const [name, o] of Object.entries(options)) {
    if (o.hidden || o.deprecated !== undefined) continue;
    const group = o.group ?? "Options";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push([optionLabel(name, o), optionText(o)]);
  }
  // "Options" last, so that help and verbose end the list.
  const order = [...groups.keys()].filter((g) => g !== "Options").concat(["Options"]);
  for (const g of order) {
    const rows = groups.get(g);
    if (rows !== undefined) lines.push("", `${g}:`, ...helpRows(rows));
  }
  for (const s of spec.sections ?? []) lines.push("", `${s.title}:`, s.body);
  const exits = { ...DEFAULT_EXITS, ...spec.exits };
  lines.push(
    "",
    "Exit status:",
    ...Object.entries(exits).map(([code, text]) => hanging(`  ${code}  `, text)),
    "",
    "Examples:",
    ...spec.examples.map((e) => `  ${e}`),
  );
  return lines.join("\n");
}
