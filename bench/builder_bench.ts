// MessageBuilder: header + one TLV + checksum into the builder's reused buffer, against the
// hot-path variant without checksum and against a fresh copy per message (build()).
import { MessageBuilder } from "../src/protocol/builder.ts";
import { SIZES } from "./_frames.ts";

for (const size of SIZES) {
  const value = new Uint8Array(size - 32 - 2).fill(7);
  const withCrc = new MessageBuilder({ domain: 1, source: 99 });
  const noCrc = new MessageBuilder({ domain: 1, source: 99, checksum: false });
  // A producer reads the clock once per batch and stamps its messages with it.
  const batch = { timestamp: 1_700_000_000_000_000_000n };
  Deno.bench({
    name: `build with CRC ${size} B (timestamp given)`,
    group: `build ${size} B`,
    baseline: true,
    fn() {
      withCrc.begin(batch).addTlv(202, value).finish();
    },
  });
  Deno.bench({
    name: `build with CRC ${size} B (clock read per message)`,
    group: `build ${size} B`,
    fn() {
      withCrc.begin().addTlv(202, value).finish();
    },
  });
  Deno.bench({
    name: `build without CRC ${size} B`,
    group: `build ${size} B`,
    fn() {
      noCrc.begin().addTlv(202, value).finish();
    },
  });
  Deno.bench({
    name: `build with CRC, copied out ${size} B`,
    group: `build ${size} B`,
    fn() {
      withCrc.begin().addTlv(202, value).build();
    },
  });
}
