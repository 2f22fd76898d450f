/**
 * Where the workplace's shared folder is (`../shared`: the spec, its vectors
 * and YAML registry, the C relay of `perf/`), for tests and benches.
 *
 * Looked for, in order: `TORQ_SHARED` (a path), `shared/` beside this
 * checkout, and `shared/` beside the checkout it was cloned from (a fresh
 * `git clone` into /tmp has its origin's `../shared`). When none holds the
 * spec, loading stops with one line saying what to set.
 *
 * @module
 */

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);

function hasSpec(dir: string): boolean {
  try {
    return Deno.statSync(`${dir}/spec/vectors.json`).isFile;
  } catch {
    return false;
  }
}

/** The origin's path when this checkout was cloned from a folder on this machine. */
function originDir(): string | null {
  try {
    const out = new Deno.Command("git", {
      args: ["-C", ROOT, "remote", "get-url", "origin"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const url = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || url === "") return null;
    const path = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
    return path.startsWith("/") ? path.replace(/\/\.git\/?$/, "").replace(/\/$/, "") : null;
  } catch {
    return null;
  }
}

function locate(): string {
  const candidates = [
    Deno.env.get("TORQ_SHARED"),
    `${ROOT}../shared`,
    ...(() => {
      const origin = originDir();
      return origin === null ? [] : [`${origin}/../shared`];
    })(),
  ].filter((d): d is string => d !== undefined && d !== "");
  const found = candidates.find(hasSpec);
  if (found === undefined) {
    throw new Error(
      `Cannot find the shared folder (spec/vectors.json) in ${candidates.join(", ")}: ` +
        "set TORQ_SHARED=/path/to/shared",
    );
  }
  return Deno.realPathSync(found);
}

/** The shared folder, e.g. `/work/shared`. */
export const SHARED_DIR: string = locate();

/**
 * A path inside the shared folder.
 *
 * @param rel e.g. `spec/vectors.json`
 * @returns its absolute path
 */
export function sharedPath(rel: string): string {
  return `${SHARED_DIR}/${rel}`;
}
