import assert from "node:assert/strict";
import { isLoopback } from "./tcp.ts";

Deno.test("isLoopback() accepts only loopback names", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) {
    assert.equal(isLoopback(h), false, h);
  }
});
