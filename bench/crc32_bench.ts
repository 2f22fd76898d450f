// CRC-32 of whole messages: the table-driven TypeScript CRC against node:zlib's crc32.
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32 } from "../src/protocol/crc32.ts";
import { frameOfSize, SIZES } from "./_frames.ts";

for (const size of SIZES) {
  const msg = frameOfSize(size);
  Deno.bench({
    name: `table crc32 ${size} B`,
    group: `crc32 ${size} B`,
    baseline: true,
    fn() {
      crc32(msg);
    },
  });
  Deno.bench({
    name: `node:zlib crc32 ${size} B`,
    group: `crc32 ${size} B`,
    fn() {
      zlibCrc32(msg);
    },
  });
}
