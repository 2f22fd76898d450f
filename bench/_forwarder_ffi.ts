/**
 * bench/_forwarder.ts with Deno's async socket layer taken out: the same
 * forwarder (what producers write to one socket is written, as read, to every
 * consumer of another; each read written whole to every consumer before the
 * next read, so it never loses, never reorders and never queues), but its
 * socket I/O goes straight to libc through `Deno.dlopen` (socket, bind,
 * listen, accept4, epoll, read, send, close) from one blocking epoll loop on
 * the main thread: no tokio ops, no promises, no event-loop turns. bench:c
 * runs it beside the C relay, the ops forwarder and Torq, so that one run
 * separates what V8 + JavaScript cost over C (this forwarder / C relay) from
 * what Deno's async socket ops cost (ops forwarder / this one) and from
 * Torq's per-frame work (Torq / this forwarder).
 *
 * Producers' sockets are nonblocking (a read never waits); consumers' are
 * blocking, and `send` is looped until the kernel has taken the whole read, as
 * the ops forwarder awaits each write: a consumer that stops reading stops
 * everything, as it does there. A consumer that disconnects is dropped
 * (`MSG_NOSIGNAL`: EPIPE instead of SIGPIPE); a producer that ends is closed.
 * No framing: the bytes of several producers at once would interleave at read
 * boundaries (bench:c runs one). Linux (glibc) only. It ends on SIGTERM or
 * SIGINT (the main thread stays in `epoll_wait`, so no JS handler could run).
 *
 * Run it with V8's background compilers off: on the 2-core bench machine,
 * measured by the lead, its p99 at 100 k msg/s is ~2.7 ms with concurrent
 * recompilation on and 0.07–0.17 ms (like the C relay) with it off; the ops
 * forwarder's stays at 1–2 ms either way.
 *
 *   deno run -A --v8-flags=--no-concurrent-recompilation,--no-concurrent-sparkplug \
 *     bench/_forwarder_ffi.ts PRODUCERS.sock CONSUMERS.sock
 *
 * @module
 */

const [producerPath, consumerPath] = Deno.args;
if (producerPath === undefined || consumerPath === undefined) {
  console.error("usage: _forwarder_ffi.ts PRODUCERS.sock CONSUMERS.sock");
  Deno.exit(2);
}
if (Deno.build.os !== "linux") {
  console.error(`_forwarder_ffi.ts: Cannot run on ${Deno.build.os}: it calls Linux's epoll`);
  Deno.exit(2);
}

const libc = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
});
const sys = libc.symbols;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 0x1;
const EINTR = 4;
const EAGAIN = 11;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const READ_BYTES = 262_144;
const MAX_EVENTS = 64;

/** `struct epoll_event` is packed on x86_64 (12 bytes), naturally aligned elsewhere (16). */
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const EVENT_DATA = Deno.build.arch === "x86_64" ? 4 : 8;

/** The calling thread's errno, read right after the call that failed. */
function errno(): number {
  return new Deno.UnsafePointerView(sys.__errno_location()!).getInt32();
}

/** Ends the process with one line naming what failed and libc's reason. */
function fail(what: string, code: number): never {
  const reason = Deno.UnsafePointerView.getCString(sys.strerror(code)!);
  console.error(`_forwarder_ffi.ts: Cannot ${what}: ${reason} (errno ${code})`);
  Deno.exit(1);
}

const epoll = sys.epoll_create1(0);
if (epoll < 0) fail("create an epoll instance", errno());
const event = new Uint8Array(EVENT_BYTES);
const eventView = new DataView(event.buffer);

/** Watches `fd` for input; its events carry `token`, which no later socket reuses. */
function watch(fd: number, token: number): void {
  eventView.setUint32(0, EPOLLIN, true);
  eventView.setUint32(EVENT_DATA, token, true);
  eventView.setUint32(EVENT_DATA + 4, 0, true);
  if (sys.epoll_ctl(epoll, EPOLL_CTL_ADD, fd, event) < 0) fail(`watch fd ${fd}`, errno());
}

function listenUnix(path: string): number {
  const name = new TextEncoder().encode(path);
  if (name.length > 107) {
    console.error(`_forwarder_ffi.ts: Cannot listen on "${path}": longer than 107 bytes`);
    Deno.exit(2);
  }
  const fd = sys.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("create a Unix socket", errno());
  const address = new Uint8Array(2 + name.length + 1); // sa_family, sun_path, NUL
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(name, 2);
  if (sys.bind(fd, address, address.length) < 0) fail(`bind "${path}"`, errno());
  if (sys.listen(fd, 128) < 0) fail(`listen on "${path}"`, errno());
  return fd;
}

const PRODUCERS = 1;
const CONSUMERS = 2;
const producerListener = listenUnix(producerPath);
const consumerListener = listenUnix(consumerPath);
watch(producerListener, PRODUCERS);
watch(consumerListener, CONSUMERS);

/** Connections by token: an event for a token no longer here is stale and ignored. */
const producers = new Map<number, number>();
const consumers = new Map<number, number>();
let nextToken = CONSUMERS + 1;

function accept(listener: number, into: Map<number, number>, flags: number): void {
  const fd = sys.accept4(listener, null, null, SOCK_CLOEXEC | flags);
  if (fd < 0) return; // EAGAIN (another event took it) or a connection reset before accept
  const token = nextToken++;
  into.set(token, fd);
  watch(fd, token);
}

function drop(from: Map<number, number>, token: number): void {
  sys.close(from.get(token)!); // closing also removes it from the epoll set
  from.delete(token);
}

/** Writes `data` whole to the consumer (blocking); false when it is gone. */
function sendAll(fd: number, data: Uint8Array): boolean {
  let off = 0;
  while (off < data.length) {
    const n = Number(
      sys.send(fd, off === 0 ? data : data.subarray(off), BigInt(data.length - off), MSG_NOSIGNAL),
    );
    if (n >= 0) off += n;
    else if (errno() !== EINTR) return false;
  }
  return true;
}

const buf = new Uint8Array(READ_BYTES);
const scratch = new Uint8Array(256);

function readProducer(token: number): void {
  const n = Number(sys.read(producers.get(token)!, buf, BigInt(READ_BYTES)));
  if (n < 0) {
    const code = errno();
    if (code !== EAGAIN && code !== EINTR) drop(producers, token);
    return;
  }
  if (n === 0) return drop(producers, token);
  const data = buf.subarray(0, n);
  for (const [c, fd] of consumers) if (!sendAll(fd, data)) drop(consumers, c);
}

/** A consumer is readable only when it closed (or sent bytes, which are discarded). */
function checkConsumer(token: number): void {
  const n = Number(sys.recv(consumers.get(token)!, scratch, BigInt(scratch.length), MSG_DONTWAIT));
  const code = n < 0 ? errno() : 0;
  if (n === 0 || (n < 0 && code !== EAGAIN && code !== EINTR)) drop(consumers, token);
}

const events = new Uint8Array(EVENT_BYTES * MAX_EVENTS);
const eventsView = new DataView(events.buffer);
for (;;) {
  const ready = sys.epoll_wait(epoll, events, MAX_EVENTS, -1);
  if (ready < 0) {
    const code = errno();
    if (code === EINTR) continue;
    fail("wait for events", code);
  }
  for (let k = 0; k < ready; k++) {
    const token = eventsView.getUint32(EVENT_BYTES * k + EVENT_DATA, true);
    if (token === PRODUCERS) accept(producerListener, producers, SOCK_NONBLOCK);
    else if (token === CONSUMERS) accept(consumerListener, consumers, 0);
    else if (producers.has(token)) readProducer(token);
    else if (consumers.has(token)) checkConsumer(token);
  }
}
