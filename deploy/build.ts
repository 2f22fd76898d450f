/**
 * Builds the one-file `torq` for servers (`deno task compile`, `deno task dist`).
 *
 * Both start from the same bundle: `deno bundle` of cli/main.ts into a
 * temporary `app/` directory (main.js and code-split chunks, so a relay process loads
 * no NATS or demo code it does not use; the configuration defaults and the
 * dashboard's assets are inlined as text). Nothing else is embedded.
 *
 * - `compile`: `deno compile` of that bundle into `dist/torq`. It needs Deno's
 *   `denort` runtime, which Deno downloads from its release host; set
 *   DENORT_BIN where that host is out of reach.
 * - `dist`: `dist/torq` as a POSIX sh script (deploy/dist_stub.sh) followed by
 *   a gzip'd tar of the npm `deno` package's binary and the bundle. It runs on
 *   any linux-x64 (glibc) machine with sh, tail, gzip and tar, and unpacks
 *   itself once into a cache directory.
 *
 * The runtime flags (V8 flags and permissions) come from bin/torq, the one
 * place that lists them.
 *
 * Usage: `deno run -A deploy/build.ts compile|dist|bundle [--output PATH]` (bundle: into dist/app)
 *
 * @module
 */

import { createHash } from "node:crypto";
import { VERSION } from "../src/version.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The flags every way of running torq passes to the runtime. */
export interface RuntimeFlags {
  /** The value of `--v8-flags=`. */
  v8Flags: string;
  /** `--allow-…` flags. */
  permissions: string[];
}

/**
 * Reads the runtime flags from bin/torq (`TORQ_V8_FLAGS="…"`, `TORQ_PERMISSIONS="…"`).
 *
 * @param launcher the text of bin/torq (default: read from the checkout)
 * @returns the flags
 * @throws {Error} when a line is missing
 */
export function runtimeFlags(
  launcher: string = Deno.readTextFileSync(`${ROOT}bin/torq`),
): RuntimeFlags {
  const value = (name: string) => {
    const m = new RegExp(`^${name}="([^"]*)"$`, "m").exec(launcher);
    if (m === null) throw new Error(`Cannot find ${name}="…" in bin/torq`);
    return m[1]!;
  };
  return {
    v8Flags: value("TORQ_V8_FLAGS"),
    permissions: value("TORQ_PERMISSIONS").split(/\s+/).filter((w) => w !== ""),
  };
}

/**
 * The `deno compile` arguments for a bundle entry.
 *
 * @param entry the bundle's main.js
 * @param output the executable to write
 * @param flags runtime flags (default: bin/torq's)
 * @returns the arguments after `deno`
 */
export function compileArgs(
  entry: string,
  output: string,
  flags: RuntimeFlags = runtimeFlags(),
): string[] {
  return [
    "compile",
    "--no-config",
    "--no-lock",
    `--v8-flags=${flags.v8Flags}`,
    ...flags.permissions,
    "--output",
    output,
    entry,
  ];
}

async function deno(args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`Cannot ${what}: deno ${args[0]} failed:\n${text.trim()}`);
  return text;
}

/**
 * Bundles cli/main.ts into `dir` (main.js plus chunks).
 *
 * @param dir the output directory
 * @returns the path of main.js
 */
export async function bundle(dir: string): Promise<string> {
  await deno(
    ["bundle", "--quiet", "--platform", "deno", "--code-splitting", "--outdir", dir, "cli/main.ts"],
    "bundle cli/main.ts",
  );
  return `${dir}/main.js`;
}

/**
 * `deno task compile`: `deno compile` of the bundle.
 *
 * @param output the executable to write
 * @returns what deno compile printed (its list of embedded files)
 */
export async function compile(output: string): Promise<string> {
  const build = await Deno.makeTempDir({ prefix: "torq-build-" });
  try {
    return await deno(compileArgs(await bundle(`${build}/app`), output), "compile the bundle");
  } finally {
    await Deno.remove(build, { recursive: true });
  }
}

/**
 * Fills deploy/dist_stub.sh's placeholders.
 *
 * @param stub the template
 * @param values payload id, Deno version and flags
 * @returns the script, whose last line is followed by the payload
 */
export function fillStub(
  stub: string,
  values: { payloadId: string; denoVersion: string; flags: RuntimeFlags },
): string {
  const lines = stub.endsWith("\n") ? stub.split("\n").length : stub.split("\n").length + 1;
  const filled = stub
    .replaceAll("@PAYLOAD_ID@", values.payloadId)
    .replaceAll("@PAYLOAD_LINE@", String(lines))
    .replaceAll("@TORQ_VERSION@", VERSION)
    .replaceAll("@DENO_VERSION@", values.denoVersion)
    .replaceAll("@TORQ_V8_FLAGS@", values.flags.v8Flags)
    .replaceAll("@TORQ_PERMISSIONS@", values.flags.permissions.join(" "));
  const left = /@[A-Z_]+@/.exec(filled);
  if (left !== null) throw new Error(`Cannot fill deploy/dist_stub.sh: ${left[0]} is left`);
  return filled.endsWith("\n") ? filled : filled + "\n";
}

/**
 * `deno task dist`: the self-extracting `dist/torq`.
 *
 * @param output the file to write
 * @returns its size in bytes
 */
export async function dist(output: string): Promise<number> {
  const stage = await Deno.makeTempDir({ prefix: "torq-build-" });
  try {
    await bundle(`${stage}/app`);
    // The runtime this build runs on is the npm `deno` package's binary (linux-x64).
    await Deno.copyFile(Deno.execPath(), `${stage}/deno`);
    await Deno.chmod(`${stage}/deno`, 0o755);
    const tar = await new Deno.Command("sh", {
      args: ["-c", 'tar -C "$1" -cf - --owner=0 --group=0 deno app | gzip -6', "sh", stage],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!tar.success) {
      throw new Error(`Cannot pack the payload: ${new TextDecoder().decode(tar.stderr).trim()}`);
    }
    const payload = tar.stdout;
    const payloadId = createHash("sha256").update(payload).digest("hex").slice(0, 16);
    const stub = fillStub(await Deno.readTextFile(`${ROOT}deploy/dist_stub.sh`), {
      payloadId,
      denoVersion: Deno.version.deno,
      flags: runtimeFlags(),
    });
    const head = new TextEncoder().encode(stub);
    const file = new Uint8Array(head.length + payload.length);
    file.set(head);
    file.set(payload, head.length);
    await Deno.writeFile(output, file, { mode: 0o755 });
    await Deno.chmod(output, 0o755);
    return file.length;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

async function main(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  const i = rest.indexOf("--output");
  const output = i >= 0 && rest[i + 1] !== undefined ? rest[i + 1]! : `${ROOT}dist/torq`;
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  try {
    if (what === "bundle") {
      console.log(await bundle(`${ROOT}dist/app`));
    } else if (what === "compile") {
      console.log((await compile(output)).trim());
      console.log(`built ${output}`);
    } else if (what === "dist") {
      const size = await dist(output);
      console.log(`built ${output} (${(size / 1e6).toFixed(1)} MB, linux-x64)`);
    } else {
      console.error("Usage: deno run -A deploy/build.ts compile|dist|bundle [--output PATH]");
      return 2;
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(
      /denort|dl\.deno\.land|download/i.test(message) && what === "compile"
        ? `deploy/build.ts: ${message}\n(deno compile needs denort: set DENORT_BIN to a denort ${Deno.version.deno} binary, or run 'deno task dist')`
        : `deploy/build.ts: ${message}`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
