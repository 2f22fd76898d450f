// Header field reads: zero-copy accessors against a full typed decode.
import {
  decodeHeader,
  readPayloadSize,
  readRelayDomain,
  readSequenceLow,
  readSource,
} from "../src/protocol/header.ts";
import { frameOfSize, SIZES } from "./_frames.ts";

for (const size of SIZES) {
  const msg = frameOfSize(size);
  let sink = 0;
  Deno.bench({
    name: `zero-copy field reads ${size} B`,
    group: `header ${size} B`,
    baseline: true,
    fn() {
      sink += readRelayDomain(msg, 0) + readSource(msg, 0) + readPayloadSize(msg, 0) +
        readSequenceLow(msg, 0);
    },
  });
  Deno.bench({
    name: `decodeHeader() (bigint fields) ${size} B`,
    group: `header ${size} B`,
    fn() {
      sink += decodeHeader(msg).payloadSize;
    },
  });
  if (sink < 0) console.log(sink);
}
