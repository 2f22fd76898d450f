// Torq dashboard: vanilla ES2020, no build step. Talks to the API of src/http/api.ts:
// loads /api/timeline once, then follows /api/stream (one `stats` event a second and
// sampled `message` events); polls /api/connections, /api/rejects and /healthz.
// However busy the relays are, the page handles one stats event a second and at most
// FEED_CAP rows of messages.
"use strict";

(() => {
  const WINDOW_SECONDS = 900; // 15 min of 1 s points
  const FEED_CAP = 100;
  const FEED_FLUSH_MS = 250;
  const CONNECTIONS_EVERY_MS = 2000;
  const HEALTH_EVERY_MS = 5000;
  const REJECTS_EVERY_MS = 10_000;
  const REJECTS_MIN_GAP_MS = 2000;
  const STALE_AFTER_MS = 3500;
  const QUEUE_WARN = 50; // % of the tighter queue limit: early warning
  const QUEUE_BAD = 90;
  const MIX_WINDOW_S = 10; // TLV mix rates over the last 10 s: calm, yet current

  const params = new URLSearchParams(location.search);
  const TOKEN = params.get("token");
  const AUTH = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};

  // Relay identity colours by wire domain (1 market data, 2 signal, 3 execution).
  const DOMAIN_COLOURS = { 1: "#5ab0ff", 2: "#b692ff", 3: "#f0a35e", 4: "#7b8896" };
  const DOMAIN_SHORT = { 1: "MD", 2: "SIG", 3: "EXE", 4: "SYS" };
  const C = {
    in: "#5ab0ff",
    out: "#3ddc97",
    drop: "#ff6b6b",
    reject: "#f3b53f",
    p50: "#3ddc97",
    p99: "#f3b53f",
    p999: "#ff6b6b",
    axis: "#6b7886",
    grid: "#17202a",
  };

  const state = {
    relays: [], // RelayStats[] of the latest stats event
    services: [], // ServiceRow[] of the latest stats event (torq up's services)
    order: [], // relay names in server order
    domainOf: new Map(), // relay name -> wire domain
    series: new Map(), // relay name -> TimelinePoint[] (oldest first, <= WINDOW_SECONDS)
    latest: new Map(), // relay name -> latest TimelinePoint
    health: new Map(), // relay name -> { accepting, reason }
    selected: "all",
    lastStatsAt: 0,
    serverSkewMs: 0,
    linkState: "connecting",
    mixHist: [], // [{ time, counts: Map<key, number> }], the last MIX_WINDOW_S + 1 seconds
    mixRates: new Map(), // key -> { relay, name, rate, total }
    mixSeconds: 0,
    sampledMix: new Map(), // key -> count, from messages, when stats carry no tlvMix
    connPrev: new Map(), // "relay/id" -> { t, framesIn, framesOut, dropped }
    connections: [],
    rejectTotal: -1,
    rejectsFetchedAt: 0,
    feedOn: { 1: false, 2: true, 3: true, 4: true },
    feedPending: [],
    feedPaused: false,
  };

  // ---- formatting ---------------------------------------------------------------------------

  const INT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const DEC2 = new Intl.NumberFormat("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });

  /** Thousands separators, no decimals. */
  function fmtInt(n) {
    return Number.isFinite(n) ? INT.format(n) : "—";
  }

  /** 5.02 M, 12.3 K, 950: three significant digits above 1,000. */
  function fmtCompact(n) {
    if (!Number.isFinite(n)) return "—";
    const a = Math.abs(n);
    if (a >= 1e9) return sig3(n / 1e9) + " G";
    if (a >= 1e6) return sig3(n / 1e6) + " M";
    if (a >= 1e4) return sig3(n / 1e3) + " K";
    if (a >= 100 || n === Math.round(n)) return INT.format(Math.round(n));
    return n.toFixed(1);
  }

  function sig3(x) {
    const a = Math.abs(x);
    return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }

  /** Counters: exact with separators up to 10 M, then compact. */
  function fmtCount(n) {
    return Math.abs(n) < 1e7 ? fmtInt(n) : fmtCompact(n);
  }

  /** Bytes per second in decimal units: 12.4 MB/s. */
  function fmtBytesRate(n) {
    if (!Number.isFinite(n)) return ["—", ""];
    if (n >= 1e9) return [sig3(n / 1e9), "GB/s"];
    if (n >= 1e6) return [sig3(n / 1e6), "MB/s"];
    if (n >= 1e3) return [sig3(n / 1e3), "KB/s"];
    return [INT.format(n), "B/s"];
  }

  /** Axis ticks of a bytes/s scale: 500 B, 20 KB, 1.5 MB. */
  function fmtBytesAxis(n) {
    if (n === 0) return "0";
    const [v, u] = fmtBytesRate(n);
    return `${Number(v)} ${u.replace("/s", "")}`;
  }

  function fmtBytes(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
    return INT.format(n) + " B";
  }

  /** Microseconds: 850 µs, 1.25 ms, 2.1 s. */
  function fmtUs(us) {
    if (!Number.isFinite(us) || us <= 0) return "—";
    if (us >= 1e6) return (us / 1e6).toFixed(2) + " s";
    if (us >= 1e3) return (us / 1e3).toFixed(us >= 1e4 ? 1 : 2) + " ms";
    return INT.format(us) + " µs";
  }

  /** 3d 04h, 5h 12m, 12m 05s, 42s. */
  function fmtDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return "—";
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = s % 60;
    const p = (x) => String(x).padStart(2, "0");
    if (d > 0) return `${d}d ${p(h)}h`;
    if (h > 0) return `${h}h ${p(m)}m`;
    if (m > 0) return `${m}m ${p(ss)}s`;
    return `${ss}s`;
  }

  function fmtClock(ms) {
    const d = new Date(ms);
    const p = (x, n = 2) => String(x).padStart(n, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  function fmtClockMs(ms) {
    return `${fmtClock(ms)}.${String(new Date(ms).getMilliseconds()).padStart(3, "0")}`;
  }

  function fmtUsd(n) {
    if (typeof n !== "number" || !Number.isFinite(n)) return String(n);
    return (n < 0 ? "−$" : "$") + DEC2.format(Math.abs(n));
  }

  // ---- DOM helpers --------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Builds an element: h("td", { class: "num" }, "12"). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "style") el.style.cssText = v;
        else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function relayColour(name) {
    return DOMAIN_COLOURS[state.domainOf.get(name)] || "#7b8896";
  }

  function relayChip(name) {
    return h("span", { class: "relay-chip", style: `--relay-colour:${relayColour(name)}` }, name);
  }

  // ---- API ----------------------------------------------------------------------------------

  async function api(path) {
    const res = await fetch(path, { headers: AUTH, cache: "no-store" });
    if (!res.ok) throw new Error(`${path} answered HTTP ${res.status}`);
    return res.json();
  }

  function streamUrl() {
    return TOKEN ? `api/stream?token=${encodeURIComponent(TOKEN)}` : "api/stream";
  }

  // ---- timeline -----------------------------------------------------------------------------

  function addPoint(p) {
    let arr = state.series.get(p.name);
    if (!arr) {
      arr = [];
      state.series.set(p.name, arr);
    }
    const last = arr[arr.length - 1];
    if (last && p.t < last.t) return; // older than what we have (timeline after stream)
    if (last && p.t === last.t) arr[arr.length - 1] = p;
    else arr.push(p);
    if (arr.length > WINDOW_SECONDS) arr.splice(0, arr.length - WINDOW_SECONDS);
    state.latest.set(p.name, arr[arr.length - 1]);
  }

  async function loadTimeline() {
    try {
      const res = await api(`api/timeline?seconds=${WINDOW_SECONDS}`);
      for (const [name, points] of Object.entries(res.timeline || {})) {
        const arr = state.series.get(name) || [];
        // Merge: the stream may already have delivered the newest points.
        const byT = new Map();
        for (const p of points) byT.set(p.t, { ...p, name });
        for (const p of arr) byT.set(p.t, p);
        const merged = [...byT.values()].sort((a, b) => a.t - b.t).slice(-WINDOW_SECONDS);
        state.series.set(name, merged);
        if (merged.length) state.latest.set(name, merged[merged.length - 1]);
      }
      renderCharts();
    } catch (e) {
      console.warn("timeline:", e.message);
    }
  }

  // ---- charts -------------------------------------------------------------------------------

  const charts = { msgs: null, bytes: null, lat: null };

  /** Aligned columns over every relay's points: [times(s), per-relay maps]. */
  function aligned() {
    const times = new Set();
    for (const arr of state.series.values()) for (const p of arr) times.add(p.t);
    const ts = [...times].sort((a, b) => a - b).slice(-WINDOW_SECONDS);
    const maps = new Map();
    for (const [name, arr] of state.series) maps.set(name, new Map(arr.map((p) => [p.t, p])));
    return { ts, maps };
  }

  function column(ts, maps, names, f) {
    return ts.map((t) => {
      let sum = null;
      for (const n of names) {
        const p = maps.get(n)?.get(t);
        if (p) sum = (sum || 0) + f(p);
      }
      return sum;
    });
  }

  function selectedNames() {
    return state.selected === "all" ? state.order : [state.selected];
  }

  function chartData() {
    const { ts, maps } = aligned();
    const x = ts.map((t) => t / 1000);
    const names = selectedNames();
    const msgs = [
      x,
      column(ts, maps, names, (p) => p.msgsInPerSec),
      column(ts, maps, names, (p) => p.msgsOutPerSec),
      // Frames lost to slow consumers, and frames refused by validation: two kinds of "not
      // forwarded", drawn apart so a reject is not mistaken for a loss.
      column(ts, maps, names, (p) => Math.max(0, (p.dropsPerSec || 0) - (p.rejectsPerSec || 0))),
      column(ts, maps, names, (p) => p.rejectsPerSec || 0),
    ];
    const bytes = [
      x,
      column(ts, maps, names, (p) => p.bytesInPerSec),
      column(ts, maps, names, (p) => p.bytesOutPerSec),
    ];
    const pos = (v) => (v > 0 ? v : null); // log scale: no zeros
    let lat;
    if (state.selected === "all") {
      lat = [x, ...state.order.map((n) => column(ts, maps, [n], (p) => p.p99Us).map(pos))];
    } else {
      lat = [
        x,
        column(ts, maps, names, (p) => p.p50Us).map(pos),
        column(ts, maps, names, (p) => p.p99Us).map(pos),
        column(ts, maps, names, (p) => p.p999Us).map(pos),
      ];
    }
    return { msgs, bytes, lat };
  }

  /** The last 15 min of data (at least one minute wide), from the data itself: uPlot widens a
   * single point's time range to a day before asking. */
  function xRange(u, _min, _max) {
    const xs = u.data && u.data[0];
    if (!xs || xs.length === 0) {
      const now = Date.now() / 1000;
      return [now - 60, now];
    }
    const last = xs[xs.length - 1];
    const span = Math.min(WINDOW_SECONDS, Math.max(60, last - xs[0]));
    return [last - span, last];
  }

  function logRange(_u, min, max) {
    if (!(min > 0) || !(max > 0)) return [1, 1000];
    const lo = 10 ** Math.floor(Math.log10(min));
    let hi = 10 ** Math.ceil(Math.log10(max));
    if (hi <= lo) hi = lo * 10;
    return [lo, hi];
  }

  function decades(min, max) {
    const out = [];
    if (!(min > 0) || !(max > 0)) return out;
    for (let v = 10 ** Math.floor(Math.log10(min)); v <= max * 1.0001; v *= 10) {
      if (v >= min * 0.9999) out.push(v);
    }
    return out;
  }

  function fmtUsAxis(us) {
    // Frames stamped long ago (a replayed recording, a spec vector) make latencies of years.
    if (us >= 1e9) return `${fmtCompact(us / 1e6)} s`;
    if (us >= 1e6) return `${us / 1e6} s`;
    if (us >= 1e3) return `${us / 1e3} ms`;
    return `${us} µs`;
  }

  // Whole-number tick steps (drops are counts: no 2.5 drops per second).
  const INT_INCRS = [];
  for (let e = 1; e <= 1e12; e *= 10) INT_INCRS.push(e, 2 * e, 5 * e);

  function yRange(_u, _min, max) {
    return [0, max > 0 ? max * 1.12 : 1];
  }

  function axes(yFmt, yExtra, extra) {
    const font = "11px Inter, 'Segoe UI', system-ui, Arial, 'Liberation Sans', sans-serif";
    const base = {
      stroke: C.axis,
      font,
      grid: { stroke: C.grid, width: 1 },
      ticks: { stroke: C.grid, width: 1, size: 4 },
    };
    const list = [
      { ...base, space: 70, size: 26 },
      { ...base, size: labelsWidth, values: (_u, vals) => vals.map(yFmt), ...yExtra },
    ];
    if (extra) list.push({ ...base, ...extra });
    return list;
  }

  /** A y axis as wide as its longest label (at least 50 px), so no label is cut. */
  function labelsWidth(_u, values) {
    const longest = Math.max(0, ...(values || []).map((v) => String(v ?? "").length));
    return Math.max(50, Math.ceil(longest * 6.6) + 14);
  }

  function series(label, stroke, fill, scale) {
    return {
      label,
      stroke,
      width: 1.5,
      fill,
      scale: scale || "y",
      points: { show: false },
      spanGaps: false,
    };
  }

  function makeChart(el, opts, data, legendEl, legendFmt, totals) {
    const size = { width: Math.max(200, el.clientWidth), height: Math.max(80, el.clientHeight) };
    const u = new uPlot(
      {
        ...size,
        ...opts,
        legend: { show: false },
        cursor: { points: { size: 6 }, drag: { x: false, y: false } },
        hooks: {
          setCursor: [(u) => renderLegend(u, legendEl, legendFmt)],
        },
      },
      data,
      el,
    );
    u._legendFmt = legendFmt;
    u._legendEl = legendEl;
    u._totals = totals || [];
    u._colours = opts.series.map((s) => s.stroke);
    return u;
  }

  function renderLegend(u, el, fmt) {
    const n = u.data[0].length;
    const hovering = u.cursor.idx !== null && u.cursor.idx !== undefined;
    const idx = hovering ? u.cursor.idx : n - 1;
    const parts = [];
    for (let i = 1; i < u.series.length; i++) {
      const s = u.series[i];
      let text;
      if (!hovering && (u._totals || [])[i]) {
        // Per-second rates summed over the window: the number of frames.
        let sum = 0;
        for (const v of u.data[i]) sum += v || 0;
        text = `${fmtInt(Math.round(sum))} in ${windowText(u)}`;
      } else {
        text = fmt(idx >= 0 ? u.data[i][idx] : null, i);
      }
      parts.push(
        h(
          "span",
          { style: `--c:${(u._colours || [])[i] || C.axis}` },
          s.label,
          " ",
          h("b", null, text),
        ),
      );
    }
    el.replaceChildren(...parts);
  }

  /** The time the chart shows, e.g. `15 min` or `40 s`. */
  function windowText(u) {
    const xs = u.data[0];
    const span = xs.length > 1 ? xs[xs.length - 1] - xs[0] + 1 : xs.length;
    return span >= 90 ? `${Math.round(span / 60)} min` : `${Math.round(span)} s`;
  }

  function buildCharts() {
    for (const k of Object.keys(charts)) {
      if (charts[k]) charts[k].destroy();
      charts[k] = null;
    }
    const data = chartData();
    charts.msgs = makeChart(
      $("chart-msgs"),
      {
        scales: {
          x: { time: true, range: xRange },
          y: { range: yRange },
          d: { range: (_u, _min, max) => [0, max > 0 ? max * 1.12 : 10] },
        },
        series: [
          {},
          series("in", C.in, "rgba(90,176,255,0.10)"),
          series("out", C.out, null),
          series("drops", C.drop, "rgba(255,107,107,0.18)", "d"),
          series("rejects", C.reject, "rgba(243,181,63,0.14)", "d"),
        ],
        axes: axes(fmtCompact, {}, {
          scale: "d",
          side: 1,
          size: 50,
          incrs: INT_INCRS,
          stroke: "rgba(255,107,107,0.65)",
          grid: { show: false },
          values: (_u, vals) => vals.map(fmtCompact),
        }),
      },
      data.msgs,
      $("legend-msgs"),
      (v) => (v === null || v === undefined ? "—" : fmtCompact(v)),
      // Drops and rejects are events: away from the cursor the legend counts them over the
      // window shown, so a spike in the chart always has its number beside it.
      [false, false, false, true, true],
    );
    charts.bytes = makeChart(
      $("chart-bytes"),
      {
        scales: { x: { time: true, range: xRange }, y: { range: yRange } },
        series: [
          {},
          series("in", C.in, "rgba(90,176,255,0.10)"),
          series("out", C.out, "rgba(61,220,151,0.06)"),
        ],
        axes: axes(fmtBytesAxis, {}),
      },
      data.bytes,
      $("legend-bytes"),
      (v) => (v === null || v === undefined ? "—" : fmtBytesRate(v).join(" ")),
    );
    const latSeries = state.selected === "all"
      ? state.order.map((n) => series(n, relayColour(n), null))
      : [series("p50", C.p50, null), series("p99", C.p99, null), series("p99.9", C.p999, null)];
    setText(
      $("chart-lat").closest(".panel").querySelector("h2 .muted"),
      state.selected === "all" ? "p99 · µs" : "p50 · p99 · p99.9 · µs",
    );
    charts.lat = makeChart(
      $("chart-lat"),
      {
        scales: { x: { time: true, range: xRange }, y: { distr: 3, log: 10, range: logRange } },
        series: [{}, ...latSeries],
        axes: axes((v) => (v === null ? "" : fmtUsAxis(v)), {
          splits: (_u, _i, min, max) => decades(min, max),
        }),
      },
      data.lat,
      $("legend-lat"),
      (v) => (v === null || v === undefined ? "—" : fmtUs(v)),
    );
    for (const u of Object.values(charts)) renderLegend(u, u._legendEl, u._legendFmt);
  }

  function renderCharts() {
    if (!charts.msgs) return buildCharts();
    if (document.hidden) return;
    const data = chartData();
    $("chart-msgs").dataset.points = String(data.msgs[0].length); // for tests and curious eyes
    charts.msgs.setData(data.msgs);
    charts.bytes.setData(data.bytes);
    if (data.lat.length !== charts.lat.series.length) return buildCharts();
    charts.lat.setData(data.lat);
    for (const u of Object.values(charts)) renderLegend(u, u._legendEl, u._legendFmt);
  }

  function watchChartSizes() {
    const ro = new ResizeObserver(() => {
      for (
        const [k, id] of [["msgs", "chart-msgs"], ["bytes", "chart-bytes"], ["lat", "chart-lat"]]
      ) {
        const el = $(id);
        const u = charts[k];
        if (u && el.clientWidth > 0) {
          u.setSize({ width: el.clientWidth, height: Math.max(80, el.clientHeight) });
        }
      }
    });
    for (const id of ["chart-msgs", "chart-bytes", "chart-lat"]) ro.observe($(id));
  }

  function renderRelaySelect() {
    const el = $("relay-select");
    const options = ["all", ...state.order];
    const current = [...el.children].map((b) => b.dataset.name).join(",");
    if (current !== options.join(",")) {
      el.replaceChildren(
        ...options.map((name) =>
          h("button", {
            type: "button",
            role: "tab",
            "data-name": name,
            title: name === "all" ? "All relays summed" : name,
            onclick: () => {
              state.selected = name;
              renderRelaySelect();
              buildCharts();
            },
          }, name === "all" ? "All" : DOMAIN_SHORT[state.domainOf.get(name)] || name)
        ),
      );
    }
    for (const b of el.children) {
      b.setAttribute("aria-selected", String(b.dataset.name === state.selected));
    }
  }

  // ---- relay cards and totals ---------------------------------------------------------------

  function metric(label, value, unit, cls) {
    return h(
      "div",
      { class: "metric" },
      h("span", { class: "k" }, label),
      h("span", { class: `v ${cls || ""}` }, value, unit ? h("small", null, unit) : null),
    );
  }

  function relayState(name) {
    const hs = state.health.get(name);
    if (state.linkState === "down") return ["unknown", "NO DATA", "The dashboard lost the server"];
    if (!hs) return ["up", "UP", ""];
    return hs.accepting ? ["up", "UP", ""] : ["down", "DOWN", hs.reason || "not accepting"];
  }

  function renderRelays() {
    const root = $("relays");
    const cards = state.relays.map((r) => {
      const p = state.latest.get(r.name) || {};
      const [stCls, stText, stWhy] = relayState(r.name);
      const [bin, binU] = fmtBytesRate(p.bytesInPerSec);
      const [bout, boutU] = fmtBytesRate(p.bytesOutPerSec);
      const drops = p.dropsPerSec || 0;
      const rejects = Object.values(r.rejects || {}).reduce((a, b) => a + b, 0);
      return h(
        "article",
        {
          class: "relay",
          "data-relay": r.name,
          "data-state": stCls,
          style: `--relay-colour:${relayColour(r.name)}`,
        },
        h(
          "div",
          { class: "relay-title" },
          h("span", { class: "relay-name" }, r.name),
          h(
            "span",
            { class: `badge policy-${r.policy}` },
            r.policy + (r.strict ? " · strict" : ""),
          ),
          h("span", { class: `state ${stCls}`, title: stWhy }, stText),
        ),
        h("div", { class: "relay-addr", title: r.address }, r.address),
        h(
          "div",
          { class: "relay-meta" },
          h("span", null, "up ", h("b", { class: "num" }, fmtDuration(r.uptimeMs))),
          h(
            "span",
            { title: `${fmtInt(r.connections.total)} accepted since start` },
            "conns ",
            h("b", { class: "num" }, fmtInt(r.connections.current)),
            h("span", { class: "dim" }, ` / ${fmtInt(r.connections.total)}`),
          ),
          r.connections.refused
            ? h("span", null, "refused ", h("b", { class: "num" }, fmtInt(r.connections.refused)))
            : null,
          h(
            "span",
            null,
            "rejected ",
            h("b", { class: `num${rejects ? " bad" : ""}` }, fmtInt(rejects)),
          ),
          r.slowConsumerDisconnects
            ? h(
              "span",
              { title: "Consumers disconnected for being slow" },
              "slow kicks ",
              h("b", { class: "num warn" }, fmtInt(r.slowConsumerDisconnects)),
            )
            : null,
          r.stalls
            ? h(
              "span",
              {
                title: "Times the relay paused reading producers for consumers that keep " +
                  "reading (flow control), and for how long in all",
              },
              "stalls ",
              h("b", { class: "num" }, fmtInt(r.stalls)),
              h("span", { class: "dim" }, ` / ${fmtDuration(r.stalledMs || 0)}`),
            )
            : null,
        ),
        r.recovery
          ? h(
            "div",
            {
              class: "relay-meta relay-recovery",
              title: "Replay window: the relay's most recent frames, for RecoveryRequests " +
                "(PROTOCOL.md 7.9)",
            },
            h(
              "span",
              null,
              "window ",
              h("b", { class: "num" }, fmtInt(r.recovery.windowFrames)),
              h("span", { class: "dim" }, ` frames · ${fmtBytes(r.recovery.windowBytes)}`),
            ),
            r.recovery.windowOldest
              ? h(
                "span",
                null,
                "oldest ",
                h("b", { class: "num" }, fmtDuration(Date.now() - r.recovery.windowOldest)),
              )
              : null,
            r.recovery.lastValues !== null
              ? h(
                "span",
                null,
                "last values ",
                h("b", { class: "num" }, fmtInt(r.recovery.lastValues)),
              )
              : null,
            h(
              "span",
              { title: "RecoveryRequests answered (partial: the window no longer held the start)" },
              "recoveries ",
              h("b", { class: "num" }, fmtInt(r.recovery.requests)),
              r.recovery.partial
                ? h("span", { class: "warn" }, ` (${fmtInt(r.recovery.partial)} partial)`)
                : null,
            ),
          )
          : null,
        ...(r.bridges || []).map((b) =>
          h(
            "div",
            {
              class: "relay-meta relay-bridge",
              "data-bridge": b.kind,
              title: `${b.kind} ${b.address} · ${b.mode}${b.lastError ? ` · ${b.lastError}` : ""}`,
            },
            h(
              "span",
              null,
              `${b.kind} ${b.direction === "out" ? "→" : b.direction === "in" ? "←" : "⇄"} `,
              h("b", null, b.subject),
              h("span", { class: "dim" }, ` ${b.mode}`),
            ),
            h(
              "b",
              { class: b.connected ? "ok" : "bad", "data-bridge-state": b.state || "" },
              b.connected ? "connected" : (b.state || "down"),
            ),
            !b.connected && b.lastError
              ? h("span", { class: "bridge-error", title: b.lastError }, b.lastError)
              : null,
            h("span", null, "pub ", h("b", { class: "num" }, fmtInt(b.published))),
            h("span", null, "recv ", h("b", { class: "num" }, fmtInt(b.received))),
            b.dropped + b.unconfirmed
              ? h(
                "span",
                { title: "Dropped (never handed to the bus) + unconfirmed (flush failed)" },
                "lost ",
                h("b", { class: "num bad" }, fmtInt(b.dropped + b.unconfirmed)),
              )
              : null,
            b.missing
              ? h(
                "span",
                { title: "Sequence numbers missing from received frames" },
                "missing ",
                h("b", { class: "num warn" }, fmtInt(b.missing)),
              )
              : null,
            b.pending + b.lag
              ? h(
                "span",
                { title: "Outbound unconfirmed + inbound not yet read by the relay" },
                "lag ",
                h("b", { class: "num" }, fmtInt(b.pending + b.lag)),
              )
              : null,
            b.reconnects
              ? h("span", null, "reconnects ", h("b", { class: "num" }, fmtInt(b.reconnects)))
              : null,
          )
        ),
        h(
          "div",
          { class: "metrics" },
          metric("msgs in", fmtCompact(p.msgsInPerSec), "/s", "in"),
          metric("msgs out", fmtCompact(p.msgsOutPerSec), "/s", "out"),
          metric("bytes in", bin, binU, ""),
          metric("bytes out", bout, boutU, ""),
          metric("drops", fmtCompact(drops), "/s", drops > 0 ? "hot" : "zero"),
        ),
        h(
          "div",
          { class: "lat", title: "Arrival latency of the frames accepted in the last second" },
          h("span", { class: "k" }, "latency"),
          h("span", { class: "q" }, "p50"),
          h("b", { class: "num" }, fmtUs(p.p50Us)),
          h("span", { class: "q" }, "p99"),
          h("b", { class: "num" }, fmtUs(p.p99Us)),
          h("span", { class: "q" }, "p99.9"),
          h("b", { class: "num" }, fmtUs(p.p999Us)),
        ),
      );
    });
    root.replaceChildren(...cards);

    let tin = 0, tout = 0, tdrop = 0, conns = 0;
    for (const r of state.relays) {
      const p = state.latest.get(r.name) || {};
      tin += p.msgsInPerSec || 0;
      tout += p.msgsOutPerSec || 0;
      tdrop += p.dropsPerSec || 0;
      conns += r.connections.current;
    }
    setText($("total-in"), fmtCompact(tin));
    document.title = `Torq · ${fmtCompact(tin)} msg/s${tdrop > 0 ? " · drops" : ""}`;
    setText($("total-out"), fmtCompact(tout));
    setText($("total-drops"), fmtCompact(tdrop));
    $("total-drops").classList.toggle("hot", tdrop > 0);
    setText($("total-conns"), fmtInt(conns));
    const up = state.relays.filter((r) => relayState(r.name)[0] === "up").length;
    const known = state.linkState !== "down" && state.relays.length > 0;
    setText($("total-up"), known ? `${up}/${state.relays.length} up` : "?");
    $("total-up").className = `value num ${
      !known ? "warn" : up === state.relays.length ? "ok" : "bad"
    }`;
  }

  // ---- alerts -------------------------------------------------------------------------------

  function renderAlerts() {
    const list = [];
    for (const r of state.relays) {
      const [st, , why] = relayState(r.name);
      if (st === "down") list.push(["bad", `${r.name} down${why ? ": " + why : ""}`]);
    }
    const slow = state.connections.filter((c) => c._level === "bad").length;
    const early = state.connections.filter((c) => c._level === "warn").length;
    if (slow) list.push(["bad", `${slow} slow consumer${slow > 1 ? "s" : ""}`]);
    if (early) {
      list.push([
        "warn",
        `early warning: ${early} queue${early > 1 ? "s" : ""} over ${QUEUE_WARN} %`,
      ]);
    }
    for (const s of state.services) {
      if (s.state === "failed") list.push(["bad", `service ${s.name} failed`]);
      else if (s.state === "restarting") list.push(["warn", `service ${s.name} restarting`]);
    }
    let gaps = 0;
    for (const r of state.relays) for (const s of r.sources || []) gaps += s.gaps + s.regressions;
    if (gaps) list.push(["warn", `${fmtInt(gaps)} sequence gaps / regressions`]);
    $("alerts").replaceChildren(
      ...list.map(([cls, text]) => h("span", { class: `alert ${cls}` }, text)),
    );
  }

  // ---- services -----------------------------------------------------------------------------

  function renderServices() {
    const list = state.services;
    $("conns-panel").classList.toggle("has-services", list.length > 0);
    document.querySelector(".services-total").hidden = list.length === 0;
    if (list.length === 0) return;
    const now = Date.now() + state.serverSkewMs;
    const rows = list.map((s) => {
      const exit = s.lastExit === null
        ? "—"
        : `${s.lastExit.signal ? s.lastExit.signal : `status ${s.lastExit.code}`}, ${
          fmtDuration(now - s.lastExit.at)
        } ago`;
      return h(
        "tr",
        { title: s.reason ? `${s.reason}\nlog: ${s.log}` : `log: ${s.log}` },
        h("td", null, s.name),
        h("td", { class: `state-${s.state}` }, s.state),
        h("td", { class: "num" }, s.pid === null ? "—" : String(s.pid)),
        h(
          "td",
          { class: "num muted" },
          s.pid === null || s.startedAt === null ? "—" : fmtDuration(now - s.startedAt),
        ),
        h("td", { class: `num ${s.restarts ? "warn" : "zero"}` }, fmtInt(s.restarts)),
        h("td", { class: "muted" }, exit),
        h("td", { class: "patterns", title: s.command }, s.command),
      );
    });
    $("services").tBodies[0].replaceChildren(...rows);
    const running = list.filter((s) => s.state === "running").length;
    const failed = list.filter((s) => s.state === "failed").length;
    setText(
      $("services-summary"),
      `${running} of ${list.length} running${failed ? ` · ${failed} failed` : ""}`,
    );
    setText($("total-services"), `${running}/${list.length} up`);
    $("total-services").className = `value num ${
      failed ? "bad" : running === list.length ? "ok" : "warn"
    }`;
  }

  // ---- connections --------------------------------------------------------------------------

  function connLevel(c, dropDelta) {
    if (c.queuePercent >= QUEUE_BAD || dropDelta > 0) return "bad";
    if (c.queuePercent > QUEUE_WARN) return "warn";
    return "";
  }

  async function pollConnections() {
    try {
      const res = await api("api/connections?sort=pending&order=desc&limit=200");
      const now = Date.now();
      const next = new Map();
      for (const c of res.connections) {
        const key = `${c.relay}/${c.id}`;
        const prev = state.connPrev.get(key);
        const dt = prev ? (now - prev.t) / 1000 : 0;
        c._inRate = prev && dt > 0 ? Math.max(0, c.framesIn - prev.framesIn) / dt : null;
        c._outRate = prev && dt > 0 ? Math.max(0, c.framesOut - prev.framesOut) / dt : null;
        c._level = connLevel(c, prev ? c.dropped - prev.dropped : 0);
        next.set(key, { t: now, framesIn: c.framesIn, framesOut: c.framesOut, dropped: c.dropped });
      }
      state.connPrev = next;
      const rank = { bad: 0, warn: 1, "": 2 };
      res.connections.sort((a, b) =>
        rank[a._level] - rank[b._level] || b.queuePercent - a.queuePercent ||
        state.order.indexOf(a.relay) - state.order.indexOf(b.relay) || a.id - b.id
      );
      state.connections = res.connections;
      renderConnections();
      renderAlerts();
    } catch (e) {
      console.warn("connections:", e.message);
    }
  }

  function numCell(n, fmt) {
    return h("td", { class: `num${n ? "" : " zero"}` }, (fmt || fmtInt)(n));
  }

  function renderConnections() {
    const now = Date.now() + state.serverSkewMs;
    const rows = state.connections.map((c) => {
      const lvl = c._level;
      const pct = Math.max(0, Math.min(100, c.queuePercent || 0));
      const tag = lvl === "bad"
        ? h("span", { class: "tag bad" }, "SLOW")
        : lvl === "warn"
        ? h("span", { class: "tag warn" }, "EARLY WARNING")
        : null;
      return h(
        "tr",
        {
          class: lvl ? `row-${lvl}` : "",
          title: `connection ${c.id} on ${c.relay}, connected ${
            fmtDuration(now - c.connectedAt)
          } ago; ${fmtInt(c.hellos)} hello, ${fmtBytes(c.garbageBytes)} resynchronised`,
        },
        h("td", { class: "num" }, c.id),
        h("td", null, relayChip(c.relay)),
        h("td", { class: "muted" }, c.role === "publisher" ? "pub" : "sub"),
        h("td", { class: "patterns", title: c.patterns.join(" ") }, c.patterns.join(" ")),
        h("td", { class: "num" }, c._inRate === null ? "…" : fmtCompact(c._inRate)),
        h("td", { class: "num" }, c._outRate === null ? "…" : fmtCompact(c._outRate)),
        numCell(c.framesIn, fmtCount),
        numCell(c.framesOut, fmtCount),
        h(
          "td",
          {
            title: `${fmtInt(c.queueFrames)} frames, ${fmtBytes(c.queueBytes)} queued; high water ${
              fmtBytes(c.queueHighWater)
            }`,
          },
          h(
            "div",
            { class: "qbar" },
            h(
              "div",
              { class: "track" },
              h("div", {
                class: `fill ${lvl}`,
                style: `width:${pct < 1 && c.queueFrames > 0 ? 1 : pct}%`,
              }),
            ),
            h("span", { class: "pct" }, `${Math.round(c.queuePercent || 0)} %`),
            tag,
          ),
        ),
        h("td", { class: `num ${c.dropped ? "bad" : "zero"}` }, fmtCount(c.dropped)),
        h("td", { class: `num ${c.rejected ? "bad" : "zero"}` }, fmtInt(c.rejected)),
        h("td", { class: "num muted" }, fmtDuration(now - c.lastActivity)),
      );
    });
    $("conns").tBodies[0].replaceChildren(...rows);
    $("conns-empty").hidden = rows.length > 0;
    const pubs = state.connections.filter((c) => c.role === "publisher").length;
    const open = state.relays.reduce((a, r) => a + r.connections.current, 0);
    const shown = state.connections.length;
    setText(
      $("conns-summary"),
      shown
        ? `${fmtInt(Math.max(open, shown))} open · ${fmtInt(pubs)} publishers · ${
          fmtInt(shown - pubs)
        } subscribers${open > shown ? ` · top ${fmtInt(shown)} by queue shown` : ""}`
        : "",
    );
  }

  // ---- rejects ------------------------------------------------------------------------------

  // Byte widths of header fields by offset, for highlighting the evidence in the hex dump.
  const FIELD_WIDTH = { 0: 4, 4: 1, 5: 1, 6: 1, 7: 1, 8: 8, 16: 8, 24: 4, 28: 4 };

  function hexDump(hex, offset) {
    const bytes = hex.match(/../g) || [];
    const from = offset === null || offset === undefined ? -1 : offset;
    const to = from < 0 ? -1 : from + (FIELD_WIDTH[from] || 1);
    const out = [];
    for (let line = 0; line < bytes.length; line += 16) {
      out.push(h("span", { class: "o" }, line.toString(16).padStart(4, "0") + "  "));
      for (let i = line; i < Math.min(line + 16, bytes.length); i++) {
        const b = bytes[i];
        const sep = i === line + 7 ? "  " : " ";
        if (i >= from && i < to) out.push(h("mark", null, b), sep);
        else out.push(h("span", { class: "h" }, b), sep);
      }
      out.push("\n");
    }
    return h("pre", { class: "hex" }, ...out);
  }

  async function pollRejects(force) {
    const total = state.relays.reduce(
      (a, r) => a + Object.values(r.rejects || {}).reduce((x, y) => x + y, 0),
      0,
    );
    const now = Date.now();
    const due = force || total !== state.rejectTotal ||
      now - state.rejectsFetchedAt >= REJECTS_EVERY_MS;
    if (!due || now - state.rejectsFetchedAt < REJECTS_MIN_GAP_MS) return;
    state.rejectsFetchedAt = now;
    try {
      const res = await api("api/rejects?limit=50");
      state.rejectTotal = total;
      renderRejects(res.rejects);
    } catch (e) {
      console.warn("rejects:", e.message);
    }
  }

  function renderRejects(list) {
    const items = [...list].sort((a, b) => b.time - a.time).slice(0, 50).map((r) =>
      h(
        "li",
        null,
        h(
          "div",
          { class: "rej-head" },
          h("span", { class: "rej-code" }, r.code),
          relayChip(r.relay),
          h("span", { class: "muted" }, `conn ${r.conn}`),
          h("span", { class: "rej-time num" }, fmtClockMs(r.time)),
        ),
        h("div", { class: "rej-msg" }, r.message),
        h(
          "div",
          { class: "rej-facts" },
          r.offset !== null ? h("span", null, "offset ", h("b", null, r.offset)) : null,
          r.expected !== null
            ? h("span", { class: "exp" }, "expected ", h("b", null, r.expected))
            : null,
          r.actual !== null ? h("span", { class: "act" }, "actual ", h("b", null, r.actual)) : null,
        ),
        r.head ? hexDump(r.head, r.offset) : null,
      )
    );
    $("rejects").replaceChildren(...items);
    $("rejects-empty").hidden = items.length > 0;
  }

  function renderRejectCodes() {
    const counts = new Map();
    for (const r of state.relays) {
      for (const [code, n] of Object.entries(r.rejects || {})) {
        counts.set(code, (counts.get(code) || 0) + n);
      }
    }
    const chips = [...counts].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map((
      [code, n],
    ) => h("span", { class: "chip bad" }, code, h("b", null, fmtCompact(n))));
    $("reject-codes").replaceChildren(...chips);
  }

  // ---- sequence health ----------------------------------------------------------------------

  function renderSources() {
    const rows = [];
    for (const r of state.relays) {
      for (const s of r.sources || []) {
        rows.push(h(
          "tr",
          { class: s.regressions > 0 || s.gaps > 0 ? "row-warn" : "" },
          h(
            "td",
            { title: `SourceType ${s.source} on the ${r.name} relay` },
            h(
              "span",
              { class: "relay-chip", style: `--relay-colour:${relayColour(r.name)}` },
              h("span", { class: "src-name" }, s.name || "unknown"),
            ),
          ),
          numCell(s.frames),
          h("td", { class: "num muted" }, formatSeq(s.lastSequence)),
          h("td", { class: `num ${s.gaps ? "warn" : "zero"}` }, fmtInt(s.gaps)),
          h("td", { class: `num ${s.missing ? "warn" : "zero"}` }, fmtInt(s.missing)),
          h("td", { class: `num ${s.regressions ? "warn" : "zero"}` }, fmtInt(s.regressions)),
        ));
      }
    }
    $("sources").tBodies[0].replaceChildren(...rows);
    $("sources-empty").hidden = rows.length > 0;
  }

  /** A 64-bit decimal string with thousands separators, exactly. */
  function formatSeq(s) {
    return String(s).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // ---- TLV mix ------------------------------------------------------------------------------

  function updateMix(time) {
    const counts = new Map();
    let any = false;
    for (const r of state.relays) {
      if (!r.tlvMix) continue;
      any = true;
      for (const [name, n] of Object.entries(r.tlvMix)) counts.set(`${r.name}\u0000${name}`, n);
    }
    if (!any) return false;
    state.mixHist.push({ time, counts });
    if (state.mixHist.length > MIX_WINDOW_S + 1) state.mixHist.shift();
    const prev = state.mixHist.length > 1 ? state.mixHist[0] : null;
    const dt = prev ? (time - prev.time) / 1000 : 0;
    state.mixSeconds = Math.round(dt);
    state.mixRates = new Map();
    for (const [key, n] of counts) {
      const [relay, name] = key.split("\u0000");
      const before = prev ? prev.counts.get(key) || 0 : n;
      const rate = dt > 0 ? Math.max(0, n - before) / dt : 0;
      state.mixRates.set(key, { relay, name, rate, total: n });
    }
    return true;
  }

  function renderMix(fromCounters) {
    let rows;
    let label;
    if (fromCounters) {
      rows = [...state.mixRates.values()];
      const anyRate = rows.some((r) => r.rate > 0);
      const key = anyRate ? "rate" : "total";
      const sum = rows.reduce((a, r) => a + r[key], 0) || 1;
      rows = rows.map((r) => ({
        ...r,
        value: r[key],
        share: r[key] / sum,
        text: anyRate ? fmtCompact(r.rate) + "/s" : fmtCompact(r.total),
        title: `${r.name} on ${r.relay}: ${fmtInt(r.total)} since start`,
      }));
      label = anyRate
        ? `first TLV per accepted frame · last ${state.mixSeconds} s`
        : "first TLV per accepted frame · since start";
    } else {
      const sum = [...state.sampledMix.values()].reduce((a, b) => a + b, 0) || 1;
      rows = [...state.sampledMix].map(([key, n]) => {
        const [relay, name] = key.split("\u0000");
        return {
          relay,
          name,
          value: n,
          share: n / sum,
          text: fmtInt(n),
          title: `${name} on ${relay}: ${fmtInt(n)} sampled`,
        };
      });
      label = "sampled messages";
    }
    setText($("mix-label"), label);
    rows.sort((a, b) => b.value - a.value);
    const max = rows.length ? rows[0].share || 1 : 1;
    const items = rows.filter((r) => r.value > 0).slice(0, 12).map((r) =>
      h(
        "li",
        { style: `--relay-colour:${relayColour(r.relay)}`, title: r.title },
        h("span", { class: "name" }, r.name),
        h("span", { class: "bar" }, h("i", { style: `width:${(r.share / max) * 100}%` })),
        h("span", { class: "rate" }, r.text),
        h("span", { class: "share" }, `${Math.round(r.share * 100)} %`),
      )
    );
    $("mix").replaceChildren(...items);
    $("mix-empty").hidden = items.length > 0;
  }

  // ---- live feed ----------------------------------------------------------------------------

  const ARB_KV = [
    ["spread", (v) => `${Number(v).toFixed(2)} %`],
    ["net_profit_percent", (v) => `${Number(v).toFixed(2)} %`],
    ["estimated_profit", fmtUsd],
    ["required_capital_usd", fmtUsd],
    ["gas_fee_usd", fmtUsd],
    ["dex_fees_usd", fmtUsd],
    ["slippage_cost_usd", fmtUsd],
    ["priority", String],
    ["executable", (v) => (v ? "yes" : "no")],
    ["chain_id", String],
    ["signal_id", String],
  ];

  function kvLine(pairs) {
    const parts = [];
    for (const [k, v] of pairs) {
      if (parts.length) parts.push(" · ");
      parts.push(k, " ", h("b", null, v));
    }
    return h("div", { class: "f-kv" }, ...parts);
  }

  /** Ids of orders first, instruments last: what a trader scans for. */
  function fieldRank(k) {
    if (k === "order_id" || k === "signal_id") return 0;
    if (k === "asset_id" || k.endsWith("_hash")) return 2;
    return 1;
  }

  /**
   * Fields that carry 8 implied decimals (prices, sizes, USD amounts): the rule of the decoder's
   * text output, FIXED_POINT_NAME in src/tools/decode_format.ts (a test keeps the two equal).
   */
  const FIXED_POINT_NAME =
    /^(price|volume|quantity|fee|total_fees)$|_(price|size|quantity|usd_q8)$/;
  /** Of those, the ones in US dollars. */
  const USD_NAME = /^(price|fee|total_fees)$|_(price|usd_q8)$/;

  /** A raw 8-decimal fixed-point integer (number or decimal string) as exact decimal text. */
  function fmtFixed8(v, usd) {
    let big;
    try {
      big = BigInt(v);
    } catch {
      return String(v);
    }
    const neg = big < 0n;
    const abs = neg ? -big : big;
    const whole = INT.format(abs / 100000000n);
    let frac = (abs % 100000000n).toString().padStart(8, "0").replace(/0+$/, "");
    if (usd && frac.length < 2) frac = frac.padEnd(2, "0");
    const text = frac === "" ? whole : `${whole}.${frac}`;
    return usd ? `${neg ? "−" : ""}$${text}` : `${neg ? "−" : ""}${text}`;
  }

  /** A decoded field for the feed: ids verbatim, fixed-point values as decimals (prices in
   * dollars, as ArbitrageSignals show them), counts with separators, long hex cut. */
  function fieldText(k, v) {
    // The bytes after a header-prefixed layout (D-38): their count; the full message shows the hex.
    if (k === "tail" && typeof v === "string") return `${(v.length - 2) / 2} bytes`;
    if (k.endsWith("_id")) return String(v);
    if (FIXED_POINT_NAME.test(k) && (typeof v === "number" || /^-?\d+$/.test(String(v)))) {
      return fmtFixed8(v, USD_NAME.test(k));
    }
    if (typeof v === "string" && /^-?\d{4,}$/.test(v)) return formatSeq(v);
    if (typeof v === "number" && Math.abs(v) >= 1000) return fmtInt(v);
    if (typeof v === "string" && v.length > 18) return v.slice(0, 10) + "…" + v.slice(-4);
    return String(v);
  }

  function feedRow(m) {
    const d = m.decoded || {};
    const header = d.header || {};
    const tlvs = Array.isArray(d.tlvs) ? d.tlvs : [];
    const first = tlvs[0] || {};
    const type = first.name || (first.type !== undefined ? `type ${first.type}` : "hello");
    const colour = DOMAIN_COLOURS[header.relay_domain] || relayColour(m.relay);
    const a = m.arbitrage;
    let line2, profit, kv;
    if (a) {
      line2 = h(
        "div",
        { class: "f-line" },
        h("span", { class: "f-pair", title: `${a.token_a} / ${a.token_b}` }, a.pair),
        h("span", { class: "f-dex" }, a.dex_buy, h("span", { class: "arrow" }, "→"), a.dex_sell),
      );
      profit = h(
        "span",
        {
          class: `f-profit${a.net_profit_usd < 0 ? " neg" : ""}`,
          title: "net_profit_usd",
        },
        fmtUsd(a.net_profit_usd),
      );
      kv = kvLine(ARB_KV.filter(([k]) => a[k] !== undefined).map(([k, f]) => [k, f(a[k])]));
    } else {
      const fields = first.fields || {};
      const entries = Object.entries(fields)
        .filter(([k]) => k !== "reserved" && k !== "padding")
        .sort((x, y) => fieldRank(x[0]) - fieldRank(y[0]));
      line2 = null;
      profit = h(
        "span",
        { class: "f-src" },
        `${header.source_name || "source " + header.source} · seq ${header.sequence ?? "?"}` +
          (tlvs.length > 1 ? ` · ${tlvs.length} TLVs` : ""),
      );
      kv = entries.length
        ? kvLine(entries.map(([k, v]) => [k, fieldText(k, v)]))
        : d.error
        ? h("div", { class: "f-kv bad" }, d.error.message || d.error.code || "undecodable")
        : null;
    }
    const li = h(
      "li",
      { class: "new", title: "Click for the full message" },
      h(
        "div",
        { class: "f-head" },
        h("span", { class: "f-time" }, fmtClockMs(m.time)),
        h("span", { class: "relay-chip", style: `--relay-colour:${colour}` }),
        h("span", { class: "f-type" }, type),
        profit,
      ),
      line2,
      kv,
    );
    li.addEventListener("click", () => {
      const open = li.querySelector("pre");
      if (open) open.remove();
      else li.append(h("pre", null, JSON.stringify(a ? { ...a, decoded: d } : d, null, 2)));
    });
    return li;
  }

  function onMessage(m) {
    const dom = m.decoded?.header?.relay_domain ?? state.domainOf.get(m.relay);
    // Sampled mix, used only when the relays report no per-type counters.
    if (!state.mixHist.length) {
      const first = m.decoded?.tlvs?.[0];
      if (first) {
        const key = `${m.relay}\u0000${first.name || "type " + first.type}`;
        state.sampledMix.set(key, (state.sampledMix.get(key) || 0) + 1);
      }
    }
    if (!state.feedOn[dom]) return;
    state.feedPending.push(m);
    if (state.feedPending.length > FEED_CAP) {
      state.feedPending.splice(0, state.feedPending.length - FEED_CAP);
    }
  }

  function flushFeed() {
    const pause = $("feed-pause");
    if (state.feedPaused) {
      pause.hidden = false;
      const n = state.feedPending.length;
      setText(
        pause,
        `Paused while the pointer is here${
          n ? ` · ${n}${n >= FEED_CAP ? "+" : ""} new message${n === 1 ? "" : "s"}` : ""
        }`,
      );
      return;
    }
    pause.hidden = true;
    if (!state.feedPending.length) return;
    const list = $("feed");
    const batch = state.feedPending;
    state.feedPending = [];
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) frag.append(feedRow(batch[i]));
    list.prepend(frag);
    while (list.children.length > FEED_CAP) list.lastElementChild.remove();
    $("feed-empty").hidden = list.children.length > 0;
  }

  function renderFeedFilter() {
    const el = $("feed-filter");
    const domains = [2, 3, 1];
    const labels = { 1: "market data", 2: "signals", 3: "execution" };
    el.replaceChildren(
      ...domains.map((d) =>
        h("button", {
          type: "button",
          class: "chip",
          "aria-pressed": String(state.feedOn[d]),
          style: `--relay-colour:${DOMAIN_COLOURS[d]}`,
          onclick: () => {
            state.feedOn[d] = !state.feedOn[d];
            renderFeedFilter();
          },
        }, labels[d])
      ),
    );
    const any = state.feedOn[2] || state.feedOn[3];
    setText(
      $("feed-empty"),
      any
        ? "Waiting for signals and execution messages…"
        : "Waiting for messages of the selected relays…",
    );
  }

  function watchFeedHover() {
    const panel = $("feed-panel");
    panel.addEventListener("mouseenter", () => {
      state.feedPaused = true;
      panel.classList.add("paused");
      flushFeed();
    });
    panel.addEventListener("mouseleave", () => {
      state.feedPaused = false;
      panel.classList.remove("paused");
      flushFeed();
    });
  }

  // ---- stats and stream ---------------------------------------------------------------------

  function onStats(ev) {
    state.lastStatsAt = Date.now();
    state.serverSkewMs = ev.time - Date.now();
    state.relays = ev.relays || [];
    state.services = ev.services || [];
    state.order = state.relays.map((r) => r.name);
    for (const r of state.relays) state.domainOf.set(r.name, r.domain);
    for (const p of ev.points || []) addPoint(p);
    setLink("live");
    setText($("clock"), fmtClock(ev.time));
    renderRelaySelect();
    renderRelays();
    renderServices();
    renderCharts();
    renderSources();
    renderRejectCodes();
    renderMix(updateMix(ev.time));
    renderAlerts();
    pollRejects(false);
  }

  function setLink(s) {
    if (state.linkState === s) return;
    state.linkState = s;
    const el = $("link-state");
    el.dataset.state = s;
    setText(
      $("link-text"),
      { live: "live", connecting: "connecting…", stale: "stale", down: "reconnecting…" }[s] || s,
    );
    document.body.classList.toggle("offline", s === "down" || s === "stale");
    if (s === "down") renderRelays();
  }

  let source = null;
  let hadError = false;

  function connect() {
    if (source) source.close();
    source = new EventSource(streamUrl());
    source.addEventListener("open", () => {
      if (hadError) loadTimeline(); // fill the gap the outage left
      hadError = false;
    });
    source.addEventListener("stats", (e) => {
      try {
        onStats(JSON.parse(e.data));
      } catch (err) {
        console.warn("stats event:", err.message);
      }
    });
    source.addEventListener("message", (e) => {
      try {
        onMessage(JSON.parse(e.data));
      } catch (err) {
        console.warn("message event:", err.message);
      }
    });
    source.addEventListener("error", () => {
      hadError = true;
      setLink("down");
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
  }

  async function pollHealth() {
    try {
      const res = await fetch("healthz", { cache: "no-store" });
      const body = await res.json();
      state.health = new Map(
        (body.relays || []).map((r) => [r.name, { accepting: r.accepting, reason: r.reason }]),
      );
    } catch (_e) {
      state.health = new Map();
    }
  }

  function watchStaleness() {
    setInterval(() => {
      if (state.linkState === "live" && Date.now() - state.lastStatsAt > STALE_AFTER_MS) {
        setLink("stale");
      }
    }, 1000);
  }

  function every(ms, fn) {
    fn();
    setInterval(fn, ms);
  }

  async function start() {
    renderFeedFilter();
    watchFeedHover();
    watchChartSizes();
    watchStaleness();
    setInterval(flushFeed, FEED_FLUSH_MS);
    try {
      const r = await api("api/relays");
      onStats({ time: r.time, relays: r.relays, points: [] });
      setLink("connecting");
    } catch (e) {
      console.warn("relays:", e.message);
    }
    await loadTimeline();
    connect();
    every(CONNECTIONS_EVERY_MS, pollConnections);
    every(HEALTH_EVERY_MS, pollHealth);
    pollRejects(true);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) renderCharts();
    });
  }

  start();
})();
