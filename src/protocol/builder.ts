/**
 * MessageBuilder (PROTOCOL.md 4.8): writes a header and TLVs into one reusable
 * buffer, fills payload_size and the checksum, and numbers messages 1, 2, 3, …
 * per builder unless the caller gives a sequence **[D-33]**. Building into the
 * reused buffer allocates nothing per message.
 *
 * @module
 */

import { HEADER_SIZE, MAX_MESSAGE_SIZE, sealChecksum, writeU32, writeU64 } from "./header.ts";
import { ErrorCode, FrameError, Status } from "./errors.ts";
import { assertEncodableTlv, tlvEncodedSize, writeTlvHeader } from "./tlv.ts";
import { checkTlvSize, tlvSizeError } from "./registry.ts";
import { encodePayloadInto, payloadLength } from "./payloads.ts";
import { toLegacyDomain } from "./domains.ts";
import { nowMs, writeNsFromMs } from "./clock.ts";

/** Options of a {@linkcode MessageBuilder}. */
export interface BuilderOptions {
  /** Wire relay domain (1–4). */
  domain: number;
  /** SourceType byte written into every header (in the numbering the receiver expects). */
  source: number;
  /** Compute the checksum (default true; false is the hot-path variant writing 0). */
  checksum?: boolean;
  /** Write the domain in the legacy 0–3 numbering **[D-1]**. */
  legacyNumbering?: boolean;
  /** Largest whole message (default 1 MiB). */
  maxMessageSize?: number;
  /** First sequence number of automatic numbering (default 1). */
  firstSequence?: number;
}

/** Per-message header values for {@linkcode MessageBuilder.begin}. */
export interface BeginOptions {
  /** Sequence; default the builder's next number. */
  sequence?: bigint | number;
  /** Timestamp in ns; default now. */
  timestamp?: bigint | number;
  /** Override the builder's source. */
  source?: number;
  /** Override the builder's domain. */
  domain?: number;
  /** Header flags (default 0). */
  flags?: number;
}

/**
 * Builds messages into a reused buffer.
 *
 * @example
 * ```ts
 * const heartbeat = new Uint8Array(16); // a Heartbeat payload
 *
 * const b = new MessageBuilder({ domain: 2, source: 20 });
 * const frame = b.begin().addTlv(100, heartbeat).finish(); // view, valid until next begin()
 * ```
 */
export class MessageBuilder {
  readonly #options: Required<Omit<BuilderOptions, "firstSequence">>;
  #buf: Uint8Array;
  #pos = HEADER_SIZE;
  #nextSequence: number;
  #open = false;
  #view: Uint8Array | null = null;
  /** One DataView over the buffer, for the 64-bit bigint header fields. */
  #dv: DataView;

  /** @param options domain, source and checksum choice */
  constructor(options: BuilderOptions) {
    this.#options = {
      domain: options.domain,
      source: options.source,
      checksum: options.checksum ?? true,
      legacyNumbering: options.legacyNumbering ?? false,
      maxMessageSize: Math.min(options.maxMessageSize ?? MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE),
    };
    this.#nextSequence = options.firstSequence ?? 1;
    this.#buf = new Uint8Array(4096);
    this.#dv = new DataView(this.#buf.buffer);
  }

  /** The sequence the next `begin()` will use by default. */
  get nextSequence(): number {
    return this.#nextSequence;
  }

  /**
   * Starts a new message, discarding any unfinished one.
   *
   * @param options per-message header values
   * @returns this builder
   */
  begin(options: BeginOptions = {}): this {
    const b = this.#buf;
    const domain = options.domain ?? this.#options.domain;
    // Written byte by byte: this runs once per message.
    b[0] = 0xef;
    b[1] = 0xbe;
    b[2] = 0xad;
    b[3] = 0xde;
    b[4] = this.#options.legacyNumbering ? toLegacyDomain(domain) : domain;
    b[5] = 1;
    b[6] = options.source ?? this.#options.source;
    b[7] = options.flags ?? 0;
    const sequence = options.sequence;
    if (typeof sequence === "bigint") this.#dv.setBigUint64(8, sequence, true);
    else writeU64(b, 8, sequence ?? this.#nextSequence++);
    const timestamp = options.timestamp;
    if (timestamp === undefined) writeNsFromMs(b, 16, nowMs());
    else if (typeof timestamp === "bigint") this.#dv.setBigUint64(16, timestamp, true);
    else writeU64(b, 16, timestamp);
    this.#pos = HEADER_SIZE;
    this.#open = true;
    return this;
  }

  /**
   * Reserves a record of `length` value bytes and returns where to write them
   * (zero-copy building). The view is valid until the next call on this builder.
   *
   * @param type TLV type
   * @param length value length
   * @returns a view of the value's bytes, zero-filled
   * @throws {FrameError} bad type, fixed-size mismatch, or message over the limit
   */
  reserveTlv(type: number, length: number): Uint8Array {
    const at = this.#openRecord(type, length);
    const view = this.#buf.subarray(at, at + length);
    view.fill(0);
    return view;
  }

  /** Checks and writes a record header; returns where its value starts. */
  #openRecord(type: number, length: number): number {
    this.#assertOpen();
    assertEncodableTlv(type, length);
    if (checkTlvSize(type, length) === Status.PayloadSizeMismatch) throw tlvSizeError(type, length);
    this.#ensure(this.#pos + tlvEncodedSize(length));
    const at = writeTlvHeader(this.#buf, this.#pos, type, length);
    this.#pos = at + length;
    return at;
  }

  /**
   * Appends a record with the given value bytes.
   *
   * @param type TLV type
   * @param value payload bytes
   * @returns this builder
   */
  addTlv(type: number, value: Uint8Array): this {
    const at = this.#openRecord(type, value.length);
    this.#buf.set(value, at);
    return this;
  }

  /**
   * Appends a record encoded from typed fields (see `encodePayload`).
   *
   * @param type a TLV type with a layout
   * @param fields field values
   * @returns this builder
   */
  addPayload(type: number, fields: Record<string, unknown>): this {
    const view = this.reserveTlv(type, payloadLength(type, fields));
    encodePayloadInto(type, fields, view, 0);
    return this;
  }

  /**
   * Finishes the message: payload_size and checksum are filled in.
   *
   * @returns a view of the frame in the builder's buffer, valid until the next `begin()`
   */
  finish(): Uint8Array {
    this.#assertOpen();
    const b = this.#buf;
    writeU32(b, 24, this.#pos - HEADER_SIZE);
    writeU32(b, 28, 0);
    if (this.#options.checksum) sealChecksum(b, 0);
    this.#open = false;
    // Messages of one size reuse one view: no allocation per message.
    const view = this.#view;
    if (view !== null && view.buffer === b.buffer && view.length === this.#pos) return view;
    return (this.#view = b.subarray(0, this.#pos));
  }

  /**
   * Finishes the message and returns a copy the caller owns.
   *
   * @returns a new array holding the frame
   */
  build(): Uint8Array {
    return this.finish().slice();
  }

  #assertOpen(): void {
    if (!this.#open) throw new Error("Cannot add to message: call begin() first");
  }

  #ensure(size: number): void {
    if (size > this.#options.maxMessageSize) {
      throw new FrameError(
        ErrorCode.PayloadTooLarge,
        `Cannot build message: ${size} bytes exceed the limit of ${this.#options.maxMessageSize}`,
        {
          field: "message_size",
          expected: `<= ${this.#options.maxMessageSize}`,
          actual: size,
          details: { message_size: size, limit: this.#options.maxMessageSize },
        },
      );
    }
    if (size <= this.#buf.length) return;
    let n = this.#buf.length;
    while (n < size) n *= 2;
    const grown = new Uint8Array(Math.min(n, MAX_MESSAGE_SIZE));
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
    this.#dv = new DataView(grown.buffer);
  }
}
