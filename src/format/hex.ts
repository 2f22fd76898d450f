/**
 * Hex text for developer tools: lenient parsing of pasted hex dumps (whitespace
 * and `0x` prefixes allowed, errors name the offending character's position)
 * and lowercase formatting.
 *
 * @module
 */

/** A hex text that cannot be parsed; `position` is the 1-based character position. */
export class HexParseError extends SyntaxError {
  /** 1-based position of the offending character in the input text. */
  readonly position: number;

  /**
   * Creates the error.
   *
   * @param message sentence-case message naming the position
   * @param position 1-based character position
   */
  constructor(message: string, position: number) {
    super(message);
    this.name = "HexParseError";
    this.position = position;
  }
}

const DIGITS = "0123456789abcdef";

function digitValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/**
 * Parses hex text into bytes. Whitespace anywhere is ignored and every
 * whitespace-separated word may start with `0x`, so pasted dumps such as
 * `ef be ad de`, `0xefbeadde` or a multi-line listing all work.
 *
 * @param text the hex text
 * @returns the bytes
 * @throws {HexParseError} for a character that is not a hex digit, or an odd number of digits
 * @example
 * ```ts
 * parseHex("0xefbe adde"); // Uint8Array [0xef, 0xbe, 0xad, 0xde]
 * ```
 */
export function parseHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length >>> 1);
  let n = 0;
  let high = -1;
  let lastDigit = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isSpace(code)) continue;
    const wordStart = i === 0 || isSpace(text.charCodeAt(i - 1));
    if (wordStart && code === 48 && (text[i + 1] === "x" || text[i + 1] === "X")) {
      i++;
      continue;
    }
    const d = digitValue(code);
    if (d < 0) {
      const ch = text.codePointAt(i) ?? code;
      throw new HexParseError(
        `Cannot parse hex: character ${JSON.stringify(String.fromCodePoint(ch))} at position ${
          i + 1
        } is not a hex digit`,
        i + 1,
      );
    }
    lastDigit = i + 1;
    if (high < 0) {
      high = d;
    } else {
      out[n++] = (high << 4) | d;
      high = -1;
    }
  }
  if (high >= 0) {
    throw new HexParseError(
      `Cannot parse hex: odd number of hex digits, the digit at position ${lastDigit} has no partner`,
      lastDigit,
    );
  }
  return out.slice(0, n);
}

/**
 * Whether raw input looks like hex text (only hex digits, whitespace and `x`
 * of `0x` prefixes) rather than binary frame bytes. A binary frame starts with
 * `EF BE AD DE`, which is never hex text.
 *
 * @param bytes the input
 * @returns true when every byte is a hex digit, whitespace, `x` or `X`
 * @example
 * ```ts
 * looksLikeHex(new TextEncoder().encode("efbeadde\n")); // true
 * ```
 */
export function looksLikeHex(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (digitValue(b) >= 0 || isSpace(b) || b === 120 || b === 88) continue;
    return false;
  }
  return true;
}

/**
 * Formats bytes as lowercase hex without a prefix.
 *
 * @param bytes the bytes
 * @returns two lowercase hex digits per byte
 * @example
 * ```ts
 * toHex(new Uint8Array([0xef, 0xbe])); // "efbe"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += DIGITS[b >>> 4]! + DIGITS[b & 15]!;
  return s;
}
