/**
 * Relay domains (PROTOCOL.md 3.1) and source types (3.3).
 *
 * @module
 */

/** Relay domains as numbered on the wire (1–4) **[D-1]**. */
export const RelayDomain = {
  MarketData: 1,
  Signal: 2,
  Execution: 3,
  System: 4,
} as const;

/** A wire value of {@linkcode RelayDomain}. */
export type RelayDomain = typeof RelayDomain[keyof typeof RelayDomain];

/** Domain names as used in the registry, config and JSON output. */
export type DomainName = "market_data" | "signal" | "execution" | "system";

/**
 * The wire value of each domain name: the one table of names and numbers
 * (the configuration, `encode`, the benches and the bridge read it).
 *
 * @example
 * ```ts
 * DOMAIN_NUMBERS.signal; // 2
 * ```
 */
export const DOMAIN_NUMBERS: {
  readonly market_data: 1;
  readonly signal: 2;
  readonly execution: 3;
  readonly system: 4;
} = {
  market_data: RelayDomain.MarketData,
  signal: RelayDomain.Signal,
  execution: RelayDomain.Execution,
  system: RelayDomain.System,
};

const DOMAIN_NAMES: readonly (DomainName | undefined)[] = [undefined];
for (const [name, n] of Object.entries(DOMAIN_NUMBERS)) {
  (DOMAIN_NAMES as (DomainName | undefined)[])[n] = name as DomainName;
}

/** Default socket path of each domain's relay (3.4). */
export const DEFAULT_SOCKET_PATHS: Readonly<Record<DomainName, string>> = {
  market_data: "/tmp/torq/market_data.sock",
  signal: "/tmp/torq/signals.sock",
  execution: "/tmp/torq/execution.sock",
  system: "/tmp/torq/system.sock",
};

/**
 * The name of a wire domain value, or `undefined` for 0 and values above 4.
 *
 * @param domain a wire value (1–4)
 * @returns `market_data`, `signal`, `execution`, `system` or `undefined`
 * @example
 * ```ts
 * domainName(2); // "signal"
 * ```
 */
export function domainName(domain: number): DomainName | undefined {
  return DOMAIN_NAMES[domain];
}

/**
 * The wire value of a domain named in any common spelling
 * (`market-data`, `market_data`, `md`, `signals`, `exec`, `1`).
 *
 * @param text the name or number
 * @returns the wire value, or `undefined` when the text names no domain
 * @example
 * ```ts
 * parseDomain("market-data"); // 1
 * ```
 */
export function parseDomain(text: string): RelayDomain | undefined {
  switch (text.trim().toLowerCase().replace(/-/g, "_")) {
    case "1":
    case "md":
    case "market_data":
    case "marketdata":
      return 1;
    case "2":
    case "sig":
    case "signal":
    case "signals":
      return 2;
    case "3":
    case "exe":
    case "exec":
    case "execution":
      return 3;
    case "4":
    case "sys":
    case "system":
      return 4;
    default:
      return undefined;
  }
}

/**
 * Converts a domain byte read with the reference data layer's numbering (0–3)
 * to the wire numbering (1–4) **[D-1]**.
 *
 * @param legacy the legacy value
 * @returns the wire value, or 0 (invalid) when out of range
 */
export function fromLegacyDomain(legacy: number): number {
  return legacy <= 3 ? legacy + 1 : 0;
}

/**
 * Converts a wire domain (1–4) to the legacy numbering (0–3).
 *
 * @param domain the wire value
 * @returns the legacy value
 */
export function toLegacyDomain(domain: number): number {
  if (domain < 1 || domain > 4) {
    throw new RangeError(`Cannot convert domain ${domain}: expected 1–4`);
  }
  return domain - 1;
}

/** Canonical SourceType numbers (3.3), plus 99 TestClient. */
export const SourceType = {
  Unknown: 0,
  BinanceCollector: 1,
  KrakenCollector: 2,
  CoinbaseCollector: 3,
  PolygonCollector: 4,
  GeminiCollector: 5,
  ArbitrageStrategy: 20,
  MarketMaker: 21,
  TrendFollower: 22,
  KrakenSignalStrategy: 23,
  PortfolioManager: 40,
  RiskManager: 41,
  ExecutionEngine: 42,
  Dashboard: 60,
  MetricsCollector: 61,
  StateManager: 62,
  MarketDataRelay: 80,
  SignalRelay: 81,
  ExecutionRelay: 82,
  TestClient: 99,
} as const;

/** A canonical SourceType value. */
export type SourceType = typeof SourceType[keyof typeof SourceType];

/** The reference data layer's older SourceType numbering (3.3), read with `legacyNumbering`. */
export const LegacySourceType = {
  Unknown: 0,
  BinanceCollector: 1,
  CoinbaseCollector: 2,
  KrakenCollector: 3,
  PolygonCollector: 4,
  GeminiCollector: 5,
  ArbitrageStrategy: 10,
  StateManager: 15,
  ExecutionEngine: 20,
  Dashboard: 30,
  TestClient: 99,
} as const;

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([name, value]) => [value, name]));
}

const SOURCE_NAMES = invert(SourceType);
const LEGACY_SOURCE_NAMES = invert(LegacySourceType);

/**
 * The name of a source byte, or `undefined` if the numbering does not define it.
 *
 * @param source the header's source byte
 * @param legacy read with the legacy data-layer numbering
 * @returns e.g. `KrakenCollector`
 * @example
 * ```ts
 * sourceName(2); // "KrakenCollector"
 * sourceName(2, true); // "CoinbaseCollector"
 * ```
 */
export function sourceName(source: number, legacy = false): string | undefined {
  return (legacy ? LEGACY_SOURCE_NAMES : SOURCE_NAMES).get(source);
}

/**
 * Whether the audit policy accepts a source byte: by default it rejects only
 * 0 and values above 100 (as the reference does); `strict` requires a canonical value.
 *
 * @param source the header's source byte
 * @param strict `validation.strict_source_check`
 * @returns true when the source is acceptable
 */
export function isKnownSource(source: number, strict = false): boolean {
  if (strict) return source !== 0 && SOURCE_NAMES.has(source);
  return source !== 0 && source <= 100;
}

/** SourceType a relay writes into frames it originates (its answers to `Subscribe`). */
export const RELAY_SOURCE: Readonly<Record<number, number>> = {
  1: SourceType.MarketDataRelay,
  2: SourceType.SignalRelay,
  3: SourceType.ExecutionRelay,
  4: SourceType.MarketDataRelay,
};
