/**
 * Cuts a process's output into lines as it arrives: bytes in, complete lines
 * out (without the newline and a trailing `\r`), a partial line kept until its
 * end comes or the stream ends. A line longer than `maxLineBytes` is cut into
 * pieces of that size, so one runaway line cannot hold unbounded memory.
 *
 * @module
 */

/**
 * A streaming line splitter over UTF-8 bytes.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const s = new LineSplitter((line) => lines.push(line));
 * s.push(new TextEncoder().encode("one\ntw"));
 * s.push(new TextEncoder().encode("o\n"));
 * s.end();
 * lines; // ["one", "two"]
 * ```
 */
export class LineSplitter {
  readonly #onLine: (line: string) => void;
  readonly #max: number;
  readonly #decoder = new TextDecoder();
  #carry = "";

  /**
   * @param onLine called with each complete line
   * @param maxLineBytes longest line before it is cut (default 64 KiB; counted in UTF-16 units)
   */
  constructor(onLine: (line: string) => void, maxLineBytes = 65_536) {
    this.#onLine = onLine;
    this.#max = maxLineBytes;
  }

  /**
   * Feeds bytes; calls `onLine` for every line they complete.
   *
   * @param chunk the next bytes
   */
  push(chunk: Uint8Array): void {
    this.#feed(this.#decoder.decode(chunk, { stream: true }));
  }

  /** Ends the stream: a partial last line is passed on. */
  end(): void {
    this.#feed(this.#decoder.decode());
    if (this.#carry !== "") this.#emit(this.#carry);
    this.#carry = "";
  }

  #feed(text: string): void {
    const all = this.#carry + text;
    let start = 0;
    for (let nl = all.indexOf("\n"); nl !== -1; nl = all.indexOf("\n", start)) {
      this.#emit(all.slice(start, nl));
      start = nl + 1;
    }
    let rest = all.slice(start);
    while (rest.length > this.#max) {
      this.#onLine(rest.slice(0, this.#max));
      rest = rest.slice(this.#max);
    }
    this.#carry = rest;
  }

  #emit(line: string): void {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    for (let i = 0; i < text.length; i += this.#max) {
      this.#onLine(text.slice(i, i + this.#max));
    }
    if (text.length === 0) this.#onLine("");
  }
}
