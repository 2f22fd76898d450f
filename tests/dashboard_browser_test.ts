// The dashboard in a real browser: a real `torq up --demo --http 127.0.0.1:0`
// process, Debian's Chromium driven by puppeteer-core, the page loaded until its
// numbers are live, at 800 and 1400 px: nothing overflows sideways, every table row
// is visible, the header stays on its rows, a reject and a sequence regression show
// where they should, and the page logs no error. The screenshots are kept (their
// paths are printed); the relay's sockets, the browser profile and the processes are
// cleaned up.
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { findExecutable } from "./_support/prerequisites.ts";
import { startNatsServer } from "./_support/nats.ts";
import { TORQ_RUN } from "./_support/relay.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = findExecutable("chromium", Deno.env.get("PATH") ?? "") ?? "/usr/bin/chromium";
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
    args: [...TORQ_RUN, ...args],
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

async function chromiumPresent(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
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

/**
 * In-page layout checks; returns the problems found (none: []).
 * - the page and every panel, table and legend fit their width;
 * - every row of the connections and sequence-health tables lies inside its panel's visible box;
 * - every total of the header sits on one line, and every alert badge is visible.
 */
const LAYOUT = `(() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) problems.push("page is " + root.scrollWidth + " px wide");
  for (const el of document.querySelectorAll(".panel, .relay, .scroll, table.grid, .legend, .topbar")) {
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push((el.id || el.className) + " overflows: " + el.scrollWidth + " > " + el.clientWidth);
    }
  }
  for (const id of ["conns", "sources"]) {
    const box = document.getElementById(id).closest(".scroll").getBoundingClientRect();
    for (const tr of document.querySelectorAll("#" + id + " tbody tr")) {
      const r = tr.getBoundingClientRect();
      if (r.height === 0 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        problems.push(id + " row hidden: " + tr.textContent.slice(0, 40));
      }
    }
  }
  for (const el of document.querySelectorAll(".total, .brand, .link-state")) {
    const lineHeight = parseFloat(getComputedStyle(el).fontSize) * 2;
    if (el.getBoundingClientRect().height > lineHeight) problems.push("wraps: " + el.textContent.trim());
  }
  for (const el of document.querySelectorAll("#alerts .alert")) {
    const r = el.getBoundingClientRect();
    if (r.width < 20 || r.right > root.clientWidth) problems.push("alert hidden: " + el.textContent);
  }
  for (const legend of document.querySelectorAll(".legend")) {
    const box = legend.getBoundingClientRect();
    for (const span of legend.children) {
      const r = span.getBoundingClientRect();
      if (r.right > box.right + 1) problems.push("legend cut: " + span.textContent);
    }
  }
  return problems;
})()`;

/** Loads the page at `width` and waits until it is live and shows the reject and the regression. */
async function openAt(
  browser: Browser,
  url: string,
  width: number,
  errors: string[],
): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width, height: 900 });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${width} px console: ${m.text()}`);
  });
  page.on(
    "pageerror",
    (e) => errors.push(`${width} px page: ${e instanceof Error ? e.message : e}`),
  );
  page.on("requestfailed", (r) => {
    // A page closed by the test aborts its event stream; nothing else may fail.
    if (!page.isClosed()) errors.push(`${width} px request ${r.url()}: ${r.failure()?.errorText}`);
  });
  await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
  const ready = `${LIVE} &&
    /rejects 1 in/.test(document.getElementById("legend-msgs")?.textContent ?? "") &&
    document.querySelectorAll("#alerts .alert").length > 0 &&
    document.querySelectorAll("#sources tbody tr").length >= 5`;
  try {
    await page.waitForFunction(ready, { timeout: WAIT_MS, polling: 250 });
  } catch (e) {
    const shown = await page.evaluate(SUMMARY).catch(() => "(page unavailable)");
    throw new Error(
      `The dashboard at ${width} px did not come alive within ${WAIT_MS} ms: ${shown}\n` +
        `errors: ${errors.join("\n") || "none"}\n${(e as Error).message}`,
    );
  }
  return page;
}

/** Runs `torq <args>` against the demo's sockets; fails on a non-zero exit. */
async function torqOnce(args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...TORQ_RUN, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("dashboard of `torq up --demo` at 800 and 1400 px: live, nothing hidden or cut, no errors", async () => {
  const chromium = CHROMIUM;
  if (!(await chromiumPresent(chromium))) {
    assert.fail(
      `Chromium is missing at ${chromium}. The browser test needs Debian's chromium package: ` +
        "'npm test' installs it when run as root, else: sudo apt-get install -y chromium",
    );
  }
  const sockets = await Deno.makeTempDir({ prefix: "torq-dash-sock-" });
  const profile = await Deno.makeTempDir({ prefix: "torq-dash-chromium-" });
  const shots = await Deno.makeTempDir({ prefix: "torq-dashboard-" });
  const torq = spawnTorq(["up", "--demo", "--http", "127.0.0.1:0", "--socket-dir", sockets]);
  let browser: Browser | null = null;
  try {
    const url = await dashboardUrl(torq);
    // One market-data frame sent to the signal relay (a WrongDomain reject), and one signal
    // frame sent twice (a sequence regression: the alert badge).
    await torqOnce([
      "pub",
      "signal",
      "--socket-dir",
      sockets,
      "--vector",
      "trade_kraken_btc_usd",
      "--force",
    ]);
    await torqOnce([
      "pub",
      "signal",
      "--socket-dir",
      sockets,
      "--vector",
      "arbitrage_signal_flash_arb",
      "--count",
      "2",
    ]);
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const errors: string[] = [];
    for (const width of [800, 1400]) {
      const page = await openAt(browser, url, width, errors);
      console.log(`dashboard at ${width} px: ${await page.evaluate(SUMMARY)}`);
      const problems = await page.evaluate(LAYOUT) as string[];
      const shot = `${shots}/dashboard-${width}.png`;
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      console.log(`dashboard screenshot: ${shot}`);
      assert.deepEqual(problems, [], `layout problems at ${width} px (see ${shot})`);

      // OrderRequest prices in dollars, like the ArbitrageSignal rows.
      const feed = await page.evaluate(
        `[...document.querySelectorAll("#feed li")].map((li) => li.textContent).join("\\n")`,
      ) as string;
      if (/OrderRequest/.test(feed)) assert.match(feed, /limit_price \$\d{1,3}(,\d{3})*\.\d{2}/);
      assert.doesNotMatch(feed, /limit_price \d/);

      if (width === 1400) {
        // The feed pauses while the pointer is over it, and resumes when it leaves.
        await page.hover("#feed-panel");
        await page.waitForFunction(`!document.getElementById("feed-pause").hidden`, {
          timeout: WAIT_MS,
        });
        await page.mouse.move(5, 5);
        await page.waitForFunction(`document.getElementById("feed-pause").hidden`, {
          timeout: WAIT_MS,
        });
      }
      await page.close();
    }
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

Deno.test("dashboard of `torq up` with services shows the services table and a failed service", async () => {
  if (!(await chromiumPresent(CHROMIUM))) {
    assert.fail(`Chromium is missing at ${CHROMIUM} (see the test above)`);
  }
  const sockets = await Deno.makeTempDir({ prefix: "torq-dash-sock-" });
  const profile = await Deno.makeTempDir({ prefix: "torq-dash-chromium-" });
  const config = `${sockets}/stack.yaml`;
  await Deno.writeTextFile(
    config,
    `services:
  steady:
    command: sleep
    args: [600]
  crasher:
    command: sh
    args: [-c, 'exit 4']
    restart_delay_ms: 50
    start_limit_burst: 2
`,
  );
  const torq = spawnTorq([
    "up",
    "--config",
    config,
    "--http",
    "127.0.0.1:0",
    "--socket-dir",
    sockets,
  ]);
  let browser: Browser | null = null;
  try {
    const url = await dashboardUrl(torq);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const errors: string[] = [];
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page: ${e instanceof Error ? e.message : e}`));
    await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    const rows = `[...document.querySelectorAll("#services tbody tr")].map((tr) =>
      [...tr.children].map((td) => td.textContent))`;
    try {
      await page.waitForFunction(
        `${rows}.some((r) => r[0] === "crasher" && r[1] === "failed")`,
        { timeout: WAIT_MS, polling: 250 },
      );
    } catch (e) {
      throw new Error(
        `no failed crasher shown: ${await page.evaluate(rows)}\n${(e as Error).message}`,
      );
    }
    const shown = await page.evaluate(rows) as string[][];
    assert.deepEqual(shown.map((r) => [r[0], r[1], r[4], r[5]?.replace(/, .*/, "")]), [
      ["steady", "running", "0", "—"],
      ["crasher", "failed", "1", "status 4"],
    ]);
    assert.match(shown[0]![2]!, /^\d+$/, "the running service's pid");
    assert.equal(
      await page.evaluate(`document.getElementById("total-services").textContent`),
      "1/2 up",
    );
    const alerts = await page.evaluate(`document.getElementById("alerts").textContent`);
    assert.match(String(alerts), /service crasher failed/);
    assert.equal(
      await page.evaluate(`getComputedStyle(document.querySelector(".services-part")).display`),
      "flex",
      "the services part is shown",
    );
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    try {
      torq.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await torq.child.status;
    await torq.drained;
    await Deno.remove(sockets, { recursive: true });
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});

Deno.test("dashboard shows a bridge that NATS refuses: its state and why", async () => {
  if (!(await chromiumPresent(CHROMIUM))) assert.fail(`Chromium is missing at ${CHROMIUM}`);
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
