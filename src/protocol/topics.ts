/**
 * Topics and relay-side filters (PROTOCOL.md 7.8). A frame's topics are its
 * extracted topic, `tlv.<n>` for each TLV type it carries and `source.<n>` for
 * its header source. Patterns are `*`, a prefix ending in `*`, or an exact topic.
 *
 * Matching is allocation-free: `tlv.*`/`source.*` patterns are compiled into
 * 256-entry masks once, extracted topics are interned as small integers with a
 * per-filter verdict cache, and a frame's topic data is computed once per frame.
 *
 * @module
 */

import { readTlvAt, TlvCursor } from "./tlv.ts";

/** How a relay derives a frame's extracted topic (7.8). */
export type ExtractionStrategy =
  | { readonly kind: "source_type" }
  /** `venue_<name>` from the first Trade (1) or Quote (2) TLV, nothing else **[D-39]**. */
  | { readonly kind: "instrument_venue" }
  | { readonly kind: "custom_field"; readonly type: number }
  | { readonly kind: "fixed"; readonly name: string };

const SOURCE_TOPICS: Readonly<Record<number, string>> = {
  1: "market_data_binance",
  2: "market_data_kraken",
  3: "market_data_coinbase",
  4: "market_data_polygon",
  20: "arbitrage_signals",
  21: "market_maker_signals",
  22: "trend_signals",
  40: "execution_orders",
  41: "risk_updates",
  42: "execution_fills",
};

const VENUE_TOPICS: Readonly<Record<number, string>> = {
  1: "nyse",
  2: "nasdaq",
  3: "lse",
  100: "binance",
  101: "kraken",
  102: "coinbase",
  200: "ethereum",
  202: "polygon",
  203: "bsc",
  206: "arbitrum",
  300: "uniswap_v2",
  301: "uniswap_v3",
  302: "sushiswap",
  303: "curve",
  400: "quickswap",
  500: "pancakeswap",
};

/** Most distinct extracted topics a relay interns (custom_field); later ones fall back to the default. */
const MAX_TOPICS = 10_000;

/**
 * The relay's topic registry: interned topic names, the default topic, and
 * whether unknown exact topics may be created by subscribing (`auto_discover`).
 */
export class TopicRegistry {
  readonly #ids = new Map<string, number>();
  readonly #names: string[] = [];
  /** Id of the default topic. */
  readonly defaultId: number;
  /** Whether subscribing to an unknown topic creates it. */
  readonly autoDiscover: boolean;

  /**
   * @param defaultTopic fallback topic
   * @param available initial topics
   * @param autoDiscover create topics on subscribe
   */
  constructor(defaultTopic: string, available: readonly string[], autoDiscover: boolean) {
    this.defaultId = this.intern(defaultTopic);
    for (const t of available) this.intern(t);
    this.autoDiscover = autoDiscover;
  }

  /** Number of interned topics. */
  get size(): number {
    return this.#names.length;
  }

  /**
   * The id of a topic, creating it.
   *
   * @param name topic
   * @returns its id (the default topic's id once the table is full)
   */
  intern(name: string): number {
    const id = this.#ids.get(name);
    if (id !== undefined) return id;
    if (this.#names.length >= MAX_TOPICS) return this.defaultId;
    this.#ids.set(name, this.#names.length);
    this.#names.push(name);
    return this.#names.length - 1;
  }

  /**
   * Whether a topic is known.
   *
   * @param name topic
   * @returns true when interned
   */
  has(name: string): boolean {
    return this.#ids.has(name);
  }

  /**
   * The name of an id.
   *
   * @param id topic id
   * @returns the name
   */
  name(id: number): string {
    return this.#names[id] ?? "";
  }

  /** Every topic name. */
  names(): readonly string[] {
    return this.#names;
  }
}

/**
 * Computes the topic data of frames (once per frame): its source, the TLV types
 * it carries and its extracted topic id. Results live in this object's fields.
 */
export class FrameTopics {
  /** Header source of the last frame. */
  source = 0;
  /** TLV types of the last frame (first `count` entries). */
  readonly types: Uint8Array = new Uint8Array(256);
  /** How many TLV types were found. */
  count = 0;
  /** Extracted topic id. */
  topic = 0;

  readonly #registry: TopicRegistry;
  readonly #strategy: ExtractionStrategy;
  readonly #sourceIds: Int32Array;
  readonly #venueIds = new Map<number, number>();
  readonly #fixedId: number;
  readonly #cursor = new TlvCursor();
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  /**
   * @param registry topic registry
   * @param strategy extraction strategy
   */
  constructor(registry: TopicRegistry, strategy: ExtractionStrategy) {
    this.#registry = registry;
    this.#strategy = strategy;
    this.#sourceIds = new Int32Array(256).fill(registry.defaultId);
    for (const [source, name] of Object.entries(SOURCE_TOPICS)) {
      this.#sourceIds[Number(source)] = registry.intern(name);
    }
    for (const [venue, name] of Object.entries(VENUE_TOPICS)) {
      this.#venueIds.set(Number(venue), registry.intern(`venue_${name}`));
    }
    this.#fixedId = strategy.kind === "fixed" ? registry.intern(strategy.name) : registry.defaultId;
  }

  /**
   * Computes the topic data of the frame `[s, e)`. Malformed TLV areas yield the
   * types found before the fault.
   *
   * @param b buffer
   * @param s frame start
   * @param e frame end
   */
  compute(b: Uint8Array, s: number, e: number): void {
    this.source = b[s + 6]!;
    const c = this.#cursor;
    let n = 0;
    let off = s + 32;
    let venueTopic = -1;
    let customTopic = -1;
    const strategy = this.#strategy;
    while (off < e && n < 256) {
      const next = readTlvAt(b, off, e, c);
      if (next < 0) break;
      this.types[n++] = c.type;
      if (strategy.kind === "instrument_venue" && venueTopic < 0) {
        if (c.type === 1 && c.length >= 34) {
          venueTopic = this.#venue(b[c.valueStart + 32]! | (b[c.valueStart + 33]! << 8));
        } else if (c.type === 2 && c.length >= 50) {
          venueTopic = this.#venue(b[c.valueStart + 48]! | (b[c.valueStart + 49]! << 8));
        }
      } else if (strategy.kind === "custom_field" && customTopic < 0 && c.type === strategy.type) {
        customTopic = this.#custom(b, c.valueStart, c.valueStart + c.length);
      }
      off = next;
    }
    this.count = n;
    switch (strategy.kind) {
      case "source_type":
        this.topic = this.#sourceIds[this.source]!;
        break;
      case "instrument_venue":
        this.topic = venueTopic >= 0 ? venueTopic : this.#registry.intern("venue_unknown");
        break;
      case "custom_field":
        this.topic = customTopic >= 0 ? customTopic : this.#registry.defaultId;
        break;
      case "fixed":
        this.topic = this.#fixedId;
        break;
    }
  }

  #venue(venue: number): number {
    return this.#venueIds.get(venue) ?? this.#registry.intern("venue_unknown");
  }

  /** custom_field: the payload as UTF-8, trimmed (allocates a string; this strategy only). */
  #custom(b: Uint8Array, from: number, to: number): number {
    let text: string;
    try {
      text = this.#decoder.decode(b.subarray(from, to)).trim();
    } catch {
      return this.#registry.defaultId;
    }
    return text === "" ? this.#registry.defaultId : this.#registry.intern(text);
  }
}

/**
 * Whether a pattern matches a topic: `*` all, trailing `*` prefix, else exact.
 *
 * @param pattern the pattern
 * @param topic the topic
 * @returns true on a match
 * @example
 * ```ts
 * patternMatches("tlv.2*", "tlv.20"); // true
 * ```
 */
export function patternMatches(pattern: string, topic: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}

/** Decimal text of 0–255. */
const NUMBER_TEXT: readonly string[] = Array.from({ length: 256 }, (_, n) => String(n));

/**
 * Sets `mask[n]` for every n in 0–255 whose topic `<prefix><n>` the pattern
 * matches, by the rules of {@linkcode patternMatches} but without building 256
 * topic strings per pattern (a pattern that cannot match the prefix costs nothing).
 */
function markNumbered(p: string, prefix: string, mask: Uint8Array): void {
  const wild = p.endsWith("*");
  const stem = wild ? p.slice(0, -1) : p;
  if (wild && prefix.startsWith(stem)) {
    mask.fill(1); // `*`, `t*`, `tlv.*`
    return;
  }
  if (!stem.startsWith(prefix)) return;
  const digits = stem.slice(prefix.length);
  for (let n = 0; n < 256; n++) {
    const text = NUMBER_TEXT[n]!;
    if (wild ? text.startsWith(digits) : text === digits) mask[n] = 1;
  }
}

/**
 * A connection's compiled filter. An empty pattern list means publish-only.
 */
export class Filter {
  /** The patterns in effect, in the order given. */
  readonly patterns: readonly string[];
  /** Matches everything (`*`). */
  readonly all: boolean;
  readonly #tlv = new Uint8Array(256);
  readonly #source = new Uint8Array(256);
  readonly #topicPatterns: string[] = [];
  /** Verdict per topic id: 0 unknown, 1 match, 2 no match. */
  #cache = new Uint8Array(64);
  readonly #registry: TopicRegistry;

  /**
   * @param patterns the patterns
   * @param registry the relay's topic registry
   */
  constructor(patterns: readonly string[], registry: TopicRegistry) {
    this.patterns = patterns;
    this.#registry = registry;
    this.all = patterns.includes("*");
    for (const p of patterns) {
      markNumbered(p, "tlv.", this.#tlv);
      markNumbered(p, "source.", this.#source);
      this.#topicPatterns.push(p);
    }
  }

  /** Whether nothing is ever delivered (publish-only). */
  get publishOnly(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Whether the frame described by `t` matches. Allocation-free once a topic's
   * verdict is cached.
   *
   * @param t the frame's topic data
   * @returns true when at least one pattern matches one topic
   */
  matches(t: FrameTopics): boolean {
    if (this.all) return true;
    if (this.#source[t.source] === 1) return true;
    for (let i = 0; i < t.count; i++) if (this.#tlv[t.types[i]!] === 1) return true;
    const id = t.topic;
    if (id >= this.#cache.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.#cache.length * 2));
      grown.set(this.#cache);
      this.#cache = grown;
    }
    let v = this.#cache[id]!;
    if (v === 0) {
      const name = this.#registry.name(id);
      v = this.#topicPatterns.some((p) => patternMatches(p, name)) ? 1 : 2;
      this.#cache[id] = v;
    }
    return v === 1;
  }
}
