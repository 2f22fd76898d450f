import assert from "node:assert/strict";
import { Http1Server } from "./http1.ts";
import { Logger } from "../log/logger.ts";

const quiet = new Logger({ sink: () => {} });

/** A server answering `<method> <path> host=<Host>`; `/stream` is an endless event stream. */
function server(options: Partial<ConstructorParameters<typeof Http1Server>[0]> = {}) {
  let streams = 0;
  const cancelled: string[] = [];
  const s = new Http1Server({
    hostname: "127.0.0.1",
    port: 0,
    logger: quiet,
    handler: (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/stream") {
        streams++;
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("data: 1\n\n"));
          },
          cancel() {
            cancelled.push(url.pathname);
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      }
      if (url.pathname === "/cookies") {
        const h = new Headers();
        h.append("set-cookie", "a=1");
        h.append("set-cookie", "b=2");
        return new Response("ok", { headers: h });
      }
      if (url.pathname === "/throw") throw new Error("boom");
      return new Response(
        `${req.method} ${url.pathname}${url.search} host=${req.headers.get("host")}`,
      );
    },
    ...options,
  });
  return { s, streams: () => streams, cancelled };
}

/** Sends raw bytes on a new connection and reads until the server closes it. */
async function exchange(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(text));
    let out = "";
    const decoder = new TextDecoder();
    const buf = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      out += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    return out;
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

Deno.test("Http1Server answers requests in order on one connection, chunked, then honours Connection: close", async () => {
  const { s } = server();
  try {
    const out = await exchange(
      s.port,
      "GET /a?x=1 HTTP/1.1\r\nHost: localhost:1\r\n\r\n" +
        "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n" +
        "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    const responses = out.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 3, out);
    assert.match(responses[0]!, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(responses[0]!, /transfer-encoding: chunked\r\n/);
    assert.match(responses[0]!, /\r\n\r\n1b\r\nGET \/a\?x=1 host=localhost:1\r\n0\r\n\r\n$/);
    assert.match(
      responses[1]!,
      /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 0\r\n\r\n$/,
      "HEAD: no body",
    );
    assert.match(responses[2]!, /connection: close\r\n\r\n/);
    assert.match(responses[2]!, /GET \/c host=h/);
  } finally {
    await s.shutdown();
  }
});

Deno.test("Http1Server answers HTTP/1.0 without chunks and closes; keeps every Set-Cookie", async () => {
  const { s } = server();
  try {
    const out = await exchange(s.port, "GET /x HTTP/1.0\r\n\r\n");
    assert.match(out, /^HTTP\/1\.0 200 OK\r\n/);
    assert.doesNotMatch(out, /chunked/);
    assert.match(out, /connection: close\r\n\r\nGET \/x host=null$/);
    const cookies = await exchange(
      s.port,
      "GET /cookies HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert.match(cookies, /set-cookie: a=1\r\nset-cookie: b=2\r\n/);
  } finally {
    await s.shutdown();
  }
});

Deno.test("Http1Server refuses malformed, oversized and body-carrying requests with a status and closes", async () => {
  const { s } = server({ maxHeaderBytes: 1024 });
  try {
    const cases: [string, RegExp][] = [
      ["GARBAGE\r\n\r\n", /^HTTP\/1\.1 400 Bad Request\r\n[^]*request line is malformed/],
      ["GET /x HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 [^]*exactly one Host header/],
      ["GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /^HTTP\/1\.1 400 [^]*exactly one Host/],
      ["GET http://evil/x HTTP/1.1\r\nHost: a\r\n\r\n", /^HTTP\/1\.1 400 [^]*must be a path/],
      ["GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /^HTTP\/1\.1 400 [^]*header line/],
      ["GET /x HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", /^HTTP\/1\.1 413 /],
      ["POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", /^HTTP\/1\.1 413 /],
      [`GET /${"a".repeat(2000)} HTTP/1.1\r\nHost: a\r\n\r\n`, /^HTTP\/1\.1 414 URI Too Long/],
      [`GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(2000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
      [
        "GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        /GET \/etc\/passwd/,
      ],
    ];
    for (const [request, expected] of cases) {
      assert.match(await exchange(s.port, request), expected, JSON.stringify(request.slice(0, 60)));
    }
    assert.equal(s.stats().badRequests, cases.length - 1);
    // A failing handler is a 500, and the server serves on.
    assert.match(
      await exchange(s.port, "GET /throw HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
      /^HTTP\/1\.1 500 /,
    );
    assert.match(
      await exchange(s.port, "GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
      /^HTTP\/1\.1 200 /,
    );
  } finally {
    await s.shutdown();
  }
});

Deno.test("Http1Server cancels a stream whose client went away, and shutdown ends the rest", async () => {
  const { s, cancelled, streams } = server();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"));
    const buf = new Uint8Array(4096);
    assert.match(
      new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!)),
      /^HTTP\/1\.1 200/,
    );
    assert.equal(streams(), 1);
    conn.close();
    for (let i = 0; i < 100 && cancelled.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(cancelled, ["/stream"], "the body was cancelled when the client left");
    assert.equal(s.stats().open, 0);
    // Another stream stays open until shutdown, which closes it.
    const other = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await other.write(new TextEncoder().encode("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"));
    await other.read(buf);
    await s.shutdown(100);
    assert.equal(s.stats().open, 0);
    other.close();
  } finally {
    await s.shutdown();
  }
});
