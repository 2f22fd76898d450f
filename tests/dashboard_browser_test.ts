// The dashboard in a real browser: a real `torq up --demo --http 127.0.0.1:0`
// process, Debian's Chromium driven by puppeteer-core, the page loaded until its
// numbers are live. The screenshot is kept (its path is printed); the relay's
// sockets, the browser profile and the processes are cleaned up.
import assert from "node:assert/strict";
import puppeteer, { type Browser } from "puppeteer-core";
import { startNatsServer } from "./_support/nats.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Bound of every wait: start-up, page load, live numbers. */
const WAIT_MS = 30_000;

/** A `torq up` child with its output collected. */
interface Torq {
  child: Deno.ChildProcess;
  /** Everything written so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when both pipes have closed. */
  drained: Promise<void>;
}

function spawnTorq(args: string[]): Torq {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/main.ts`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const drained = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
  return { child, output: () => text, drained };
}

/** Waits (bounded) for `torq up` to print its dashboard URL. */
async function dashboardUrl(torq: Torq): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let exited = false;
  torq.child.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    const m = /dashboard: (http:\/\/\S+)/.exec(torq.output());
    if (m !== null) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `torq up printed no "dashboard: http://..." line ${
      exited ? "before it exited" : `within ${WAIT_MS} ms`
    }; its output:\n${torq.output()}`,
  );
}

async function chromiumPresent(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** In-page check: the page's numbers are live and every panel has content. */
const LIVE = `(() => {
  const rate = (id) => parseFloat((document.getElementById(id)?.textContent ?? "").replace(/,/g, ""));
  return rate("total-in") > 0 &&
    document.querySelectorAll("#conns tbody tr").length > 0 &&
    document.querySelectorAll("#relays .relay").length === 3 &&
    document.querySelectorAll(".uplot canvas").length >= 3 &&
    Number(document.getElementById("chart-msgs")?.dataset.points ?? 0) >= 3 &&
    document.querySelectorAll("#feed li").length > 0;
})()`;

/** What the page shows, for the failure message and the log. */
const SUMMARY = `JSON.stringify({
  in: document.getElementById("total-in")?.textContent,
  out: document.getElementById("total-out")?.textContent,
  link: document.getElementById("link-text")?.textContent,
  relays: [...document.querySelectorAll("#relays .relay")].map((r) =>
    r.dataset.relay + " " + r.querySelector(".state")?.textContent),
  connections: document.querySelectorAll("#conns tbody tr").length,
  feed: document.querySelectorAll("#feed li").length,
  charts: document.querySelectorAll(".uplot canvas").length,
  points: document.getElementById("chart-msgs")?.dataset.points,
})`;

Deno.test("dashboard of `torq up --demo` shows live rates, connections and a paused feed in Chromium", async () => {
  if (!(await chromiumPresent())) {
    assert.fail(
      `Chromium is missing at ${CHROMIUM}. The browser test needs Debian's chromium package; ` +
        "`.ci/run` installs it (apt-get install -y chromium). Locally: " +
        "`apt-get update && apt-get install -y chromium`",
    );
  }
  const sockets = await Deno.makeTempDir({ prefix: "torq-dash-sock-" });
  const profile = await Deno.makeTempDir({ prefix: "torq-dash-chromium-" });
  const shots = await Deno.makeTempDir({ prefix: "torq-dashboard-" });
  const torq = spawnTorq(["up", "--demo", "--http", "127.0.0.1:0", "--socket-dir", sockets]);
  let browser: Browser | null = null;
  try {
    const url = await dashboardUrl(torq);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page: ${e instanceof Error ? e.message : e}`));
    page.on("requestfailed", (r) => errors.push(`request ${r.url()}: ${r.failure()?.errorText}`));

    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    try {
      await page.waitForFunction(LIVE, { timeout: WAIT_MS, polling: 250 });
    } catch (e) {
      const shown = await page.evaluate(SUMMARY).catch(() => "(page unavailable)");
      throw new Error(
        `The dashboard did not come alive within ${WAIT_MS} ms: ${shown}\n` +
          `errors: ${errors.join("\n") || "none"}\n${(e as Error).message}`,
      );
    }
    console.log(`dashboard: ${await page.evaluate(SUMMARY)}`);

    // The feed pauses while the pointer is over it, and resumes when it leaves.
    await page.hover("#feed-panel");
    await page.waitForFunction(`!document.getElementById("feed-pause").hidden`, {
      timeout: WAIT_MS,
    });
    await page.mouse.move(5, 5);
    await page.waitForFunction(`document.getElementById("feed-pause").hidden`, {
      timeout: WAIT_MS,
    });

    const shot = `${shots}/dashboard.png`;
    await page.screenshot({ path: shot as `${string}.png` });
    console.log(`dashboard screenshot: ${shot}`);
    assert.deepEqual(errors, [], `the page reported errors:\n${errors.join("\n")}`);
  } finally {
    await browser?.close();
    try {
      torq.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        torq.child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 10_000);
    await torq.child.status;
    clearTimeout(timer);
    await torq.drained;
    await Deno.remove(sockets, { recursive: true });
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});

Deno.test("dashboard shows a bridge that NATS refuses: its state and why", async () => {
  if (!(await chromiumPresent())) assert.fail(`Chromium is missing at ${CHROMIUM}`);
  const server = await startNatsServer({ user: "torq", password: "right" });
  const sockets = await Deno.makeTempDir({ prefix: "torq-dash-sock-" });
  const profile = await Deno.makeTempDir({ prefix: "torq-dash-chromium-" });
  const set = (
    key: string,
    value: string,
  ) => ["--set", `relays.signal.bridge.nats.${key}=${value}`];
  const torq = spawnTorq([
    "relay",
    "signal",
    "--socket",
    `${sockets}/signals.sock`,
    "--http",
    "127.0.0.1:0",
    ...set("enabled", "true"),
    ...set("servers", `[${server.url}]`),
    ...set("user", "torq"),
    ...set("password", "wrong"),
  ]);
  let browser: Browser | null = null;
  try {
    const url = await dashboardUrl(torq);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const page = await browser.newPage();
    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    const shown = `(() => {
      const b = document.querySelector(".relay-bridge");
      return b && JSON.stringify({
        state: b.querySelector("[data-bridge-state]")?.textContent,
        error: b.querySelector(".bridge-error")?.textContent,
      });
    })()`;
    await page.waitForFunction(`(${shown}) !== null && (${shown}).includes("Authorization")`, {
      timeout: WAIT_MS,
      polling: 250,
    });
    assert.deepEqual(JSON.parse(await page.evaluate(shown) as string), {
      state: "connecting",
      error: "Authorization Violation",
    });
  } finally {
    await browser?.close();
    torq.child.kill("SIGTERM");
    await torq.child.status;
    await torq.drained;
    await server.stop();
    await Deno.remove(sockets, { recursive: true }).catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
