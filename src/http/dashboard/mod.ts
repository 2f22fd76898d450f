/**
 * The dashboard page and its assets, embedded in the program: text imports
 * put every file into the module graph, so `deno compile` carries them and the
 * binary reads nothing from beside itself. uPlot's dist files come from the
 * npm package (`uplot` in package.json) the same way. There is no build step.
 *
 * The HTTP server mounts {@linkcode dashboardAssets} by URL path: `/` is the
 * page, the rest live under `/assets/`.
 *
 * @module
 */

import indexHtml from "./index.html" with { type: "text" };
import appJs from "./app.js" with { type: "text" };
import styleCss from "./style.css" with { type: "text" };
import faviconSvg from "./favicon.svg" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

/** One served file. */
export interface DashboardAsset {
  /** Content-Type header value. */
  type: string;
  /** The file's content. */
  body: string | Uint8Array;
}

/** Content types by the asset kinds the dashboard serves. */
export const CONTENT_TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
} as const;

const ASSETS: Readonly<Record<string, DashboardAsset>> = Object.freeze({
  "/": { type: CONTENT_TYPES.html, body: indexHtml },
  "/assets/app.js": { type: CONTENT_TYPES.js, body: appJs },
  "/assets/style.css": { type: CONTENT_TYPES.css, body: styleCss },
  "/assets/favicon.svg": { type: CONTENT_TYPES.svg, body: faviconSvg },
  "/assets/uPlot.min.js": { type: CONTENT_TYPES.js, body: uplotJs },
  "/assets/uPlot.min.css": { type: CONTENT_TYPES.css, body: uplotCss },
});

/**
 * The dashboard's files by URL path: `/` is the page, `/assets/...` the
 * script, styles, icon and the charting library.
 *
 * @returns path → asset (the same frozen object on every call)
 * @example
 * ```ts
 * import { dashboardAssets } from "./mod.ts";
 *
 * dashboardAssets()["/"]?.type; // "text/html; charset=utf-8"
 * ```
 */
export function dashboardAssets(): Readonly<Record<string, DashboardAsset>> {
  return ASSETS;
}
