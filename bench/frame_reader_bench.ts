// FrameReader scan: re-framing a 256 KiB read of back-to-back frames, as the relay does per read.
import { FrameReader } from "../src/protocol/frame_reader.ts";
import { frameOfSize, SIZES } from "./_frames.ts";

for (const size of SIZES) {
  const count = Math.floor(262_144 / size);
  const chunk = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) chunk.set(frameOfSize(size, i + 1), i * size);
  const reader = new FrameReader({ capacity: chunk.length + 65_536 });
  Deno.bench({
    name: `FrameReader scan ${size} B frames (${count} per read)`,
    group: `frame reader ${size} B`,
    n: 2000,
    fn(b) {
      b.start();
      reader.push(chunk);
      let n = 0;
      while (reader.next()) n++;
      b.end();
      if (n !== count) throw new Error(`expected ${count} frames, got ${n}`);
    },
  });
}
