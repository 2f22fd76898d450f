/**
 * The instrument cache of a consumer: what the traffic it receives says about
 * instruments, pools and tokens, learned message by message and kept in a
 * bounded map keyed by the InstrumentId's lossless {@linkcode cacheKey}
 * (PROTOCOL.md 6.5).
 *
 * What is learned:
 *
 * - **instruments** from the split InstrumentId fields of any decoded TLV
 *   (`asset_id` + `venue_id`/`venue` + `asset_type` [+ `reserved`]: Trade,
 *   Quote, QuoteUpdate, OrderBook, OrderRequest, …) and from packed
 *   InstrumentId values (AssetCorrelation, StateInvalidation) — also in
 *   vendor TLVs whose schema was registered at run time (5.8);
 * - **pools and tokens** from pool TLVs that carry a pool address and two token
 *   addresses (PoolSwap, PoolSync, PoolState, PoolMint, PoolBurn, PoolInfo (200),
 *   and the two pools of an ArbitrageSignal): the tokens as chain tokens (6.4:
 *   `polygonToken(address)` etc., the chain taken from the DEX venue), the pool
 *   as `pool(venue, token0, token1)`, with the full addresses, decimals, pool
 *   type and fee. Pool TLVs that name only the pool address (PoolTick,
 *   PoolLiquidity) refresh a pool already known by that address;
 * - **metadata** from InstrumentMeta (4, opaque): the raw bytes and when they
 *   were first seen, attached to the instruments of the same message (or kept
 *   apart when the message names none).
 *
 * Lookups are O(1) (`Map`); the cache holds at most `maxEntries` entries and
 * evicts the least recently seen or looked-up one (counted). {@linkcode InstrumentCache.dump}
 * and {@linkcode InstrumentCache.toJSON} are the debug views `torq sub --cache` prints.
 *
 * @example
 * ```ts
 * import { coin, VenueId } from "../protocol/mod.ts";
 * import type { RelayClient } from "./mod.ts";
 *
 * declare const client: RelayClient; // subscribed to market data
 *
 * const cache = new InstrumentCache({ maxEntries: 50_000 });
 * for await (const frame of client) cache.observe(frame);
 * cache.get(coin(VenueId.Kraken, "BTC-USD"))?.seen; // messages that named it
 * console.log(cache.dump().join("\n"));
 * ```
 *
 * @module
 */

import {
  AssetType,
  cacheKey,
  debugInfo,
  type DecodedMessage,
  type DecodedTlv,
  decodeMessage,
  type FieldValue,
  type InstrumentId,
  instrumentId,
  type PayloadFields,
  pool,
  venueChainId,
  VenueId,
} from "../protocol/mod.ts";
import { toHex } from "../format/mod.ts";
import { plural } from "../text/mod.ts";
import { ReceivedFrame } from "./received_frame.ts";

/** What an entry describes. */
export type CacheEntryKind = "instrument" | "pool" | "token";

/** Raw metadata seen for an instrument (InstrumentMeta and other opaque metadata TLVs). */
export interface CachedMeta {
  /** TLV type, e.g. 4. */
  readonly type: number;
  /** Its registry name, e.g. `InstrumentMeta`. */
  readonly name: string;
  /** The payload as lowercase hex with `0x`. */
  raw: string;
  /** Header time of the first message that carried it, ns since the epoch. */
  readonly firstSeenNs: bigint;
  /** Header time of the latest one. */
  lastSeenNs: bigint;
}

/** One cached instrument, pool or token. Fields are updated in place as traffic arrives. */
export interface CacheEntry {
  /** The lossless cache key (`cacheKey(id)`). */
  readonly key: bigint;
  /** The InstrumentId. */
  readonly id: InstrumentId;
  /** Instrument, pool or token. */
  readonly kind: CacheEntryKind;
  /** The id's debug text, e.g. `Kraken Coin: BTC-USD`. */
  readonly label: string;
  /** Header time of the first message that named it, ns since the epoch. */
  readonly firstSeenNs: bigint;
  /** Header time of the latest message that named it. */
  lastSeenNs: bigint;
  /** How many TLVs named it. */
  seen: number;
  /** Names of the TLV types it was seen in, first seen first (at most 8). */
  readonly via: string[];
  /** Pools and tokens: the EVM chain id of the venue, when known. */
  chainId?: number;
  /** Pools and tokens: the full 20-byte address (the first seen), lowercase hex with `0x`. */
  address?: string;
  /**
   * Pools: further pool addresses with the same key. A pool InstrumentId is a hash of the DEX
   * venue and the two tokens (6.4), so two pools of one pair on one venue (fee tiers, V2 and V3)
   * share it; the addresses tell them apart (PROTOCOL.md 6.4, D-17).
   */
  otherAddresses?: string[];
  /** Pools: the two token addresses (as the first TLV gave them). */
  tokens?: [string, string];
  /** Pools: the tokens' decimals, when a TLV gave them. */
  tokenDecimals?: [number | null, number | null];
  /** Tokens: decimals, when a TLV gave them. */
  decimals?: number;
  /** Pools: the pool type code of PoolState/PoolInfo. */
  poolType?: number;
  /** Pools: the fee (PoolState `fee_rate`, PoolInfo `fee_tier`, basis points). */
  feeBps?: number;
  /** Metadata TLVs seen with it, by type. */
  meta?: CachedMeta[];
}

/** Options of a {@linkcode InstrumentCache}. */
export interface InstrumentCacheOptions {
  /** Most entries kept (instruments, pools and tokens together); default 10,000. */
  maxEntries?: number;
  /** TLV types treated as raw instrument metadata; default `[4]` (InstrumentMeta). */
  metaTypes?: readonly number[];
}

/** Counters of a {@linkcode InstrumentCache}. */
export interface InstrumentCacheStats {
  /** Entries held. */
  entries: number;
  /** Of which instruments. */
  instruments: number;
  /** Of which pools. */
  pools: number;
  /** Of which tokens. */
  tokens: number;
  /** The bound. */
  maxEntries: number;
  /** Entries evicted to stay within the bound. */
  evictions: number;
  /** Messages observed. */
  messages: number;
  /** Messages that did not decode (ignored). */
  undecodable: number;
  /** Metadata TLVs kept apart because their message named no instrument. */
  unattachedMeta: number;
}

/** Input of {@linkcode InstrumentCache.observe}. */
export type ObservedMessage = ReceivedFrame | DecodedMessage | Uint8Array;

const DEFAULT_MAX_ENTRIES = 10_000;
const MAX_VIA = 8;
const ZERO_ADDRESS = /^0x0{40}$/;

/** The chain venue (6.2) of an EVM chain id. */
const CHAIN_VENUES: ReadonlyMap<number, number> = new Map([
  [1, VenueId.Ethereum],
  [137, VenueId.Polygon],
  [56, VenueId.BinanceSmartChain],
  [42161, VenueId.Arbitrum],
  [10, VenueId.Optimism],
  [43114, VenueId.Avalanche],
  [250, VenueId.Fantom],
]);

/** Token address field pairs of the pool TLVs, with their decimals fields. */
const TOKEN_PAIRS: readonly (readonly [string, string, string, string])[] = [
  ["token0_addr", "token1_addr", "token0_decimals", "token1_decimals"],
  ["token0_address", "token1_address", "token0_decimals", "token1_decimals"],
  ["token_in", "token_out", "amount_in_decimals", "amount_out_decimals"],
];

/**
 * A bounded, LRU-evicting cache of the instruments, pools and tokens a
 * consumer has seen (see the module documentation).
 *
 * @example
 * ```ts
 * import type { ReceivedFrame } from "./mod.ts";
 *
 * declare const frame: ReceivedFrame;
 *
 * const cache = new InstrumentCache();
 * cache.observe(frame); // a ReceivedFrame, a DecodedMessage or frame bytes
 * for (const e of cache.entries()) console.log(e.kind, e.label);
 * ```
 */
export class InstrumentCache {
  readonly #max: number;
  readonly #metaTypes: ReadonlySet<number>;
  /** Entries by cache key, least recently used first. */
  readonly #entries = new Map<bigint, CacheEntry>();
  /** Pool and token addresses → cache key. */
  readonly #byAddress = new Map<string, bigint>();
  /** Metadata of messages that named no instrument, by type and bytes. */
  readonly #unattached = new Map<string, CachedMeta>();
  #evictions = 0;
  #messages = 0;
  #undecodable = 0;

  /**
   * Makes an empty cache.
   *
   * @param options the bound and the metadata types
   * @throws {RangeError} when `maxEntries` is not a positive integer
   */
  constructor(options: InstrumentCacheOptions = {}) {
    const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create InstrumentCache: maxEntries is ${max}, expected at least 1`,
      );
    }
    this.#max = max;
    this.#metaTypes = new Set(options.metaTypes ?? [4]);
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Learns from one message. A frame that does not decode is counted and ignored.
   *
   * @param input a received frame, a decoded message or the bytes of one frame
   * @param atNs time to record instead of the header timestamp (e.g. the receive time)
   * @returns how many entries the message named
   * @example
   * ```ts
   * import type { RelayClient } from "./mod.ts";
   *
   * declare const client: RelayClient;
   *
   * const cache = new InstrumentCache();
   * for await (const frame of client) cache.observe(frame);
   * ```
   */
  observe(input: ObservedMessage, atNs?: bigint): number {
    let msg: DecodedMessage;
    try {
      msg = input instanceof ReceivedFrame
        ? input.decode()
        : input instanceof Uint8Array
        ? decodeMessage(input)
        : input;
    } catch {
      this.#undecodable++;
      return 0;
    }
    this.#messages++;
    const now = atNs ?? msg.header.timestamp;
    const named: CacheEntry[] = [];
    const metas: DecodedTlv[] = [];
    for (const tlv of msg.tlvs) {
      const via = tlv.name ?? `type ${tlv.type}`;
      if (this.#metaTypes.has(tlv.type)) metas.push(tlv);
      if (tlv.fields === null) continue;
      this.#learnInstruments(tlv.fields, via, now, named);
      this.#learnPools(tlv.fields, via, now, named);
    }
    for (const tlv of metas) this.#attachMeta(tlv, now, named);
    this.#evict();
    return named.length;
  }

  /**
   * The entry of an id or cache key, marked as recently used. O(1).
   *
   * @param idOrKey an InstrumentId or its `cacheKey()`
   * @returns the entry, or `undefined`
   * @example
   * ```ts
   * import { coin, VenueId } from "../protocol/mod.ts";
   *
   * declare const cache: InstrumentCache;
   *
   * cache.get(coin(VenueId.Kraken, "BTC-USD"))?.lastSeenNs;
   * ```
   */
  get(idOrKey: InstrumentId | bigint): CacheEntry | undefined {
    const key = typeof idOrKey === "bigint" ? idOrKey : cacheKey(idOrKey);
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#touch(entry);
    return entry;
  }

  /**
   * Whether an id or key is cached (does not count as a use).
   *
   * @param idOrKey an InstrumentId or its `cacheKey()`
   * @returns true when cached
   */
  has(idOrKey: InstrumentId | bigint): boolean {
    return this.#entries.has(typeof idOrKey === "bigint" ? idOrKey : cacheKey(idOrKey));
  }

  /**
   * The pool or token with a 20-byte address, marked as recently used. O(1).
   *
   * @param address 40 hex digits, with or without `0x`, any case
   * @returns the entry, or `undefined`
   * @example
   * ```ts
   * declare const cache: InstrumentCache;
   *
   * // The Uniswap V3 pool of USDC/WETH: its two token addresses, as a PoolSwap gave them.
   * cache.byAddress("0x45dda9cb7c25131df268515131f647d726f50608")?.tokens;
   * ```
   */
  byAddress(address: string): CacheEntry | undefined {
    const key = this.#byAddress.get(normalizeAddress(address));
    return key === undefined ? undefined : this.get(key);
  }

  /**
   * Every entry, least recently used first.
   *
   * @returns an iterator over the entries
   */
  entries(): IterableIterator<CacheEntry> {
    return this.#entries.values();
  }

  /** Metadata kept apart because its message named no instrument, oldest first. */
  unattachedMeta(): CachedMeta[] {
    return [...this.#unattached.values()];
  }

  /**
   * The cache's counters.
   *
   * @returns entries by kind, bound, evictions, messages
   */
  stats(): InstrumentCacheStats {
    let instruments = 0, pools = 0, tokens = 0;
    for (const e of this.#entries.values()) {
      if (e.kind === "instrument") instruments++;
      else if (e.kind === "pool") pools++;
      else tokens++;
    }
    return {
      entries: this.#entries.size,
      instruments,
      pools,
      tokens,
      maxEntries: this.#max,
      evictions: this.#evictions,
      messages: this.#messages,
      undecodable: this.#undecodable,
      unattachedMeta: this.#unattached.size,
    };
  }

  /**
   * One line for people.
   *
   * @returns e.g. `cache: 5 entries (2 instruments, 1 pool, 2 tokens) from 7 messages, 0 evicted (max 10000)`
   */
  summary(): string {
    const s = this.stats();
    let line = `cache: ${plural(s.entries, "entry", "entries")} (${
      plural(s.instruments, "instrument")
    }, ${plural(s.pools, "pool")}, ${plural(s.tokens, "token")}) from ${
      plural(s.messages, "message")
    }, ${s.evictions} evicted (max ${s.maxEntries})`;
    if (s.undecodable > 0) line += `, ${s.undecodable} undecodable`;
    if (s.unattachedMeta > 0) line += `, ${plural(s.unattachedMeta, "unattached metadata record")}`;
    return line;
  }

  /**
   * The debug view: the summary, then one line per entry (least recently used
   * first) and per unattached metadata record.
   *
   * @returns lines of text
   * @example
   * ```ts
   * declare const trade: Uint8Array; // a Trade of BTC-USD on Kraken
   *
   * const cache = new InstrumentCache();
   * cache.observe(trade);
   * console.error(cache.dump().join("\n"));
   * // cache: 1 entry (1 instrument, 0 pools, 0 tokens) from 1 message, 0 evicted (max 10000)
   * // instrument  Kraken Coin: BTC-USD  key=0x6533004254432d55534400  seen=1 via=Trade  first=2023-11-14T22:13:20.123456789Z
   * ```
   */
  dump(): string[] {
    const lines = [this.summary()];
    const width = Math.max(0, ...[...this.#entries.values()].map((e) => e.label.length));
    for (const e of this.#entries.values()) {
      let line = `${e.kind.padEnd(10)}  ${e.label.padEnd(width)}  key=0x${e.key.toString(16)}` +
        `  seen=${e.seen} via=${e.via.join(",")}  first=${isoNs(e.firstSeenNs)}` +
        (e.lastSeenNs !== e.firstSeenNs ? `  last=${isoNs(e.lastSeenNs)}` : "");
      if (e.chainId !== undefined) line += `  chain=${e.chainId}`;
      if (e.address !== undefined) line += `  address=${e.address}`;
      if (e.otherAddresses !== undefined) line += `  also=${e.otherAddresses.join(",")}`;
      if (e.tokens !== undefined) {
        const [d0, d1] = e.tokenDecimals ?? [null, null];
        line += `  tokens=${e.tokens[0]}${d0 === null ? "" : `(${d0})`}/${e.tokens[1]}${
          d1 === null ? "" : `(${d1})`
        }`;
      }
      if (e.decimals !== undefined) line += `  decimals=${e.decimals}`;
      if (e.poolType !== undefined) line += `  pool_type=${e.poolType}`;
      if (e.feeBps !== undefined) line += `  fee_bps=${e.feeBps}`;
      for (const m of e.meta ?? []) line += `  ${m.name}=${m.raw}`;
      lines.push(line);
    }
    for (const m of this.#unattached.values()) {
      lines.push(
        `${"meta".padEnd(10)}  ${m.name} (type ${m.type})  raw=${m.raw}  first=${
          isoNs(m.firstSeenNs)
        }`,
      );
    }
    return lines;
  }

  /**
   * The debug view as JSON-ready data (64-bit values as decimal strings, the
   * key as hex).
   *
   * @returns `{stats, entries, unattached_meta}`
   */
  toJSON(): Record<string, unknown> {
    return {
      stats: this.stats(),
      entries: [...this.#entries.values()].map((e) => {
        const out: Record<string, unknown> = {
          kind: e.kind,
          key: `0x${e.key.toString(16)}`,
          label: e.label,
          venue: e.id.venue,
          asset_type: e.id.assetType,
          asset_id: e.id.assetId.toString(),
          reserved: e.id.reserved,
          seen: e.seen,
          via: [...e.via],
          first_seen_ns: e.firstSeenNs.toString(),
          last_seen_ns: e.lastSeenNs.toString(),
        };
        if (e.chainId !== undefined) out.chain_id = e.chainId;
        if (e.address !== undefined) out.address = e.address;
        if (e.otherAddresses !== undefined) out.other_addresses = [...e.otherAddresses];
        if (e.tokens !== undefined) out.tokens = [...e.tokens];
        if (e.tokenDecimals !== undefined) out.token_decimals = [...e.tokenDecimals];
        if (e.decimals !== undefined) out.decimals = e.decimals;
        if (e.poolType !== undefined) out.pool_type = e.poolType;
        if (e.feeBps !== undefined) out.fee_bps = e.feeBps;
        if (e.meta !== undefined) out.meta = e.meta.map(metaJson);
        return out;
      }),
      unattached_meta: [...this.#unattached.values()].map(metaJson),
    };
  }

  /** Forgets every entry (counters stay). */
  clear(): void {
    this.#entries.clear();
    this.#byAddress.clear();
    this.#unattached.clear();
  }

  // -------------------------------------------------------------------------------------------

  #touch(entry: CacheEntry): void {
    this.#entries.delete(entry.key);
    this.#entries.set(entry.key, entry);
  }

  /** Finds or makes the entry of an id, counts the sighting, marks it recently used. */
  #see(id: InstrumentId, kind: CacheEntryKind, via: string, now: bigint): CacheEntry {
    const key = cacheKey(id);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        id,
        kind,
        label: debugInfo(id),
        firstSeenNs: now,
        lastSeenNs: now,
        seen: 0,
        via: [],
      };
    } else {
      this.#entries.delete(key);
      if (now > entry.lastSeenNs) entry.lastSeenNs = now;
    }
    this.#entries.set(key, entry);
    entry.seen++;
    if (!entry.via.includes(via) && entry.via.length < MAX_VIA) entry.via.push(via);
    return entry;
  }

  #evict(): void {
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.values().next().value as CacheEntry;
      this.#entries.delete(oldest.key);
      for (const address of [oldest.address, ...(oldest.otherAddresses ?? [])]) {
        if (address !== undefined && this.#byAddress.get(address) === oldest.key) {
          this.#byAddress.delete(address);
        }
      }
      this.#evictions++;
    }
    while (this.#unattached.size > this.#max) {
      this.#unattached.delete(this.#unattached.keys().next().value as string);
      this.#evictions++;
    }
  }

  /** Split InstrumentId fields, and packed InstrumentId values (also inside arrays). */
  #learnInstruments(fields: PayloadFields, via: string, now: bigint, named: CacheEntry[]): void {
    const split = splitInstrument(fields);
    if (split !== undefined) named.push(this.#see(split, "instrument", via, now));
    for (const value of Object.values(fields)) {
      if (Array.isArray(value)) {
        for (const v of value) {
          const id = packedInstrument(v);
          if (id !== undefined) named.push(this.#see(id, "instrument", via, now));
        }
      } else {
        const id = packedInstrument(value);
        if (id !== undefined) named.push(this.#see(id, "instrument", via, now));
      }
    }
  }

  /** Pools named by address with their venue and two tokens (or by address alone, if known). */
  #learnPools(fields: PayloadFields, via: string, now: bigint, named: CacheEntry[]): void {
    const pools: { address: string; venue: number; chainVenue: number | undefined }[] = [];
    const venue = numberOf(fields.venue);
    const poolAddress = addressOf(fields.pool_address);
    if (poolAddress !== undefined && venue !== undefined) {
      pools.push({ address: poolAddress, venue, chainVenue: chainVenueOf(venue) });
    }
    // ArbitrageSignal: two pools on one chain trading token_in/token_out.
    const chainId = numberOf(fields.chain_id);
    for (const side of ["source", "target"] as const) {
      const address = addressOf(fields[`${side}_pool`]);
      const v = numberOf(fields[`${side}_venue`]);
      if (address === undefined || v === undefined) continue;
      const chainVenue = chainId !== undefined ? CHAIN_VENUES.get(chainId) : chainVenueOf(v);
      pools.push({ address, venue: v, chainVenue });
    }
    if (pools.length === 0) return;

    let tokens: [string, string] | undefined;
    let decimals: [number | null, number | null] = [null, null];
    for (const [a, b, da, db] of TOKEN_PAIRS) {
      const t0 = addressOf(fields[a]);
      const t1 = addressOf(fields[b]);
      if (t0 === undefined || t1 === undefined) continue;
      tokens = [t0, t1];
      decimals = [numberOf(fields[da]) ?? null, numberOf(fields[db]) ?? null];
      break;
    }
    const poolType = numberOf(fields.pool_type);
    const fee = numberOf(fields.fee_tier) ?? numberOf(fields.fee_rate);

    for (const p of pools) {
      if (tokens === undefined) {
        // PoolTick, PoolLiquidity: only the address; refresh a pool known by it.
        const key = this.#byAddress.get(p.address);
        const known = key === undefined ? undefined : this.#entries.get(key);
        if (known !== undefined) named.push(this.#see(known.id, known.kind, via, now));
        continue;
      }
      const tokenVenue = p.chainVenue ?? p.venue;
      const chain = venueChainId(tokenVenue);
      const tokenIds = tokens.map((address, i) => {
        const id = tokenId(tokenVenue, address);
        const t = this.#see(id, "token", via, now);
        t.address = address;
        this.#byAddress.set(address, t.key);
        if (chain !== undefined) t.chainId = chain;
        const d = decimals[i];
        if (d !== null && d !== undefined) t.decimals = d;
        named.push(t);
        return id;
      });
      const entry = this.#see(pool(p.venue, tokenIds[0]!, tokenIds[1]!), "pool", via, now);
      if (entry.address === undefined) entry.address = p.address;
      else if (entry.address !== p.address && !entry.otherAddresses?.includes(p.address)) {
        (entry.otherAddresses ??= []).push(p.address);
      }
      this.#byAddress.set(p.address, entry.key);
      entry.tokens ??= [tokens[0], tokens[1]];
      if (decimals[0] !== null || decimals[1] !== null) {
        const sameOrder = entry.tokens[0] === tokens[0];
        const [d0, d1] = sameOrder ? decimals : [decimals[1], decimals[0]];
        const old = entry.tokenDecimals ?? [null, null];
        entry.tokenDecimals = [d0 ?? old[0], d1 ?? old[1]];
      }
      const chainOfPool = venueChainId(p.venue) ?? chain;
      if (chainOfPool !== undefined) entry.chainId = chainOfPool;
      if (poolType !== undefined) entry.poolType = poolType;
      if (fee !== undefined) entry.feeBps = fee;
      named.push(entry);
    }
  }

  #attachMeta(tlv: DecodedTlv, now: bigint, named: readonly CacheEntry[]): void {
    const raw = `0x${toHex(tlv.value)}`;
    const name = tlv.name ?? `type ${tlv.type}`;
    const targets = [...new Set(named)];
    if (targets.length === 0) {
      const key = `${tlv.type}:${raw}`;
      const known = this.#unattached.get(key);
      if (known !== undefined) {
        this.#unattached.delete(key);
        known.lastSeenNs = now;
        this.#unattached.set(key, known);
      } else {
        this.#unattached.set(key, { type: tlv.type, name, raw, firstSeenNs: now, lastSeenNs: now });
      }
      return;
    }
    for (const entry of targets) {
      const list = entry.meta ??= [];
      const known = list.find((m) => m.type === tlv.type);
      if (known === undefined) {
        list.push({ type: tlv.type, name, raw, firstSeenNs: now, lastSeenNs: now });
      } else {
        known.raw = raw;
        known.lastSeenNs = now;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

function numberOf(v: FieldValue | undefined): number | undefined {
  return typeof v === "number" ? v : undefined;
}

function addressOf(v: FieldValue | undefined): string | undefined {
  if (typeof v !== "string" || !/^0x[0-9a-f]{40}$/.test(v) || ZERO_ADDRESS.test(v)) {
    return undefined;
  }
  return v;
}

function normalizeAddress(address: string): string {
  const digits = address.trim().toLowerCase().replace(/^0x/, "");
  return `0x${digits}`;
}

/** `asset_id` + `venue_id`/`venue` + `asset_type` (+ `reserved`), as Trade, Quote, OrderBook, OrderRequest carry them. */
function splitInstrument(fields: PayloadFields): InstrumentId | undefined {
  const assetId = fields.asset_id;
  const venue = numberOf(fields.venue_id) ?? numberOf(fields.venue);
  const assetType = numberOf(fields.asset_type);
  if (typeof assetId !== "bigint" || venue === undefined || assetType === undefined) {
    return undefined;
  }
  const reserved = numberOf(fields.reserved);
  return safeId(
    assetId,
    venue,
    assetType,
    reserved !== undefined && reserved <= 0xff ? reserved : 0,
  );
}

/** A decoded packed InstrumentId (`{asset_id, venue, asset_type, reserved}`), unless all zero. */
function packedInstrument(v: FieldValue): InstrumentId | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const o = v as { readonly [k: string]: FieldValue };
  const assetId = o.asset_id;
  const venue = numberOf(o.venue);
  const assetType = numberOf(o.asset_type);
  const reserved = numberOf(o.reserved);
  if (
    typeof assetId !== "bigint" || venue === undefined || assetType === undefined ||
    reserved === undefined || Object.keys(o).length !== 4
  ) {
    return undefined;
  }
  if (assetId === 0n && venue === 0 && assetType === 0) return undefined;
  return safeId(assetId, venue, assetType, reserved);
}

function safeId(
  assetId: bigint,
  venue: number,
  assetType: number,
  reserved: number,
): InstrumentId | undefined {
  try {
    return instrumentId({ assetId, venue, assetType, reserved });
  } catch {
    return undefined;
  }
}

/** The chain venue a DEX or chain venue's tokens live on (6.2), if any. */
function chainVenueOf(venue: number): number | undefined {
  const chain = venueChainId(venue);
  return chain === undefined ? undefined : CHAIN_VENUES.get(chain);
}

/** A token on a chain venue (6.4): asset id = the address's first 8 bytes, big-endian. */
function tokenId(venue: number, address: string): InstrumentId {
  return instrumentId({
    assetId: BigInt(address.slice(0, 18)),
    venue,
    assetType: AssetType.Token,
  });
}

function metaJson(m: CachedMeta): Record<string, unknown> {
  return {
    type: m.type,
    name: m.name,
    raw: m.raw,
    first_seen_ns: m.firstSeenNs.toString(),
    last_seen_ns: m.lastSeenNs.toString(),
  };
}

/** Nanoseconds since the epoch as ISO-8601 with nine fraction digits. */
function isoNs(ns: bigint): string {
  if (ns <= 0n) return String(ns);
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}
