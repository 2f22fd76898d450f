/**
 * What the test suite needs besides the npm packages, and the one step that
 * installs it: `npm test` (deno task test) and `.ci/run` run this file first.
 *
 * The tests drive real servers and tools: Debian's `chromium` (the dashboard
 * in a browser), `nats-server` (the NATS bridge) and `systemd-analyze` (the
 * unit file). Each is looked up on the PATH. When one is missing and we run as
 * root with apt-get, the packages are installed; otherwise the run stops with
 * ONE line giving the exact command, so no test that needs a server is skipped
 * in silence.
 *
 * Usage: `deno run --allow-run --allow-env --allow-read --allow-sys tests/_support/prerequisites.ts [--dry-run]`
 * (`--dry-run` prints what would be done and changes nothing).
 *
 * @module
 */

import { join } from "node:path";

/** A program the tests run, and the Debian package that provides it. */
export interface Prerequisite {
  /** The program looked up on the PATH. */
  command: string;
  /** The Debian package that installs it. */
  apt: string;
  /** What needs it, for the message. */
  neededBy: string;
}

/** Everything the suite needs beyond `npm ci`. */
export const PREREQUISITES: readonly Prerequisite[] = [
  { command: "chromium", apt: "chromium", neededBy: "tests/dashboard_browser_test.ts" },
  { command: "nats-server", apt: "nats-server", neededBy: "tests/bridge_test.ts" },
  { command: "systemd-analyze", apt: "systemd", neededBy: "tests/operations_test.ts" },
];

/** What this machine has, as far as the plan is concerned (injectable in tests). */
export interface Machine {
  /** The PATH to search. */
  path: string;
  /** The effective user id (0: root). */
  uid: number;
}

/** What {@linkcode planPrerequisites} decided. */
export type Plan =
  | { action: "none" }
  | { action: "install"; packages: string[]; command: string[][] }
  | { action: "fail"; packages: string[]; line: string };

/**
 * Finds an executable on a PATH.
 *
 * @param command a program name
 * @param path a colon-separated PATH
 * @returns its full path, or null when no PATH entry has it
 */
export function findExecutable(command: string, path: string): string | null {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const file = join(dir, command);
    try {
      const info = Deno.statSync(file);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/**
 * Decides what to do about missing prerequisites.
 *
 * @param machine the PATH and user to plan for
 * @param wanted the prerequisites (default: {@linkcode PREREQUISITES})
 * @returns nothing to do, the apt-get commands to run (root with apt-get), or the one line to stop with
 */
export function planPrerequisites(
  machine: Machine,
  wanted: readonly Prerequisite[] = PREREQUISITES,
): Plan {
  const missing = wanted.filter((p) => findExecutable(p.command, machine.path) === null);
  if (missing.length === 0) return { action: "none" };
  const packages = [...new Set(missing.map((p) => p.apt))];
  const install = ["apt-get", "install", "-y", "--no-install-recommends", ...packages];
  if (machine.uid === 0 && findExecutable("apt-get", machine.path) !== null) {
    return { action: "install", packages, command: [["apt-get", "update", "-qq"], install] };
  }
  const what = missing.map((p) => `${p.command} (${p.neededBy})`).join(", ");
  const sudo = machine.uid === 0 ? "" : "sudo ";
  return {
    action: "fail",
    packages,
    line: `npm test: missing ${what}; install with: ${sudo}apt-get update && ${sudo}${
      install.join(" ")
    }`,
  };
}

async function main(args: string[]): Promise<number> {
  const dryRun = args.includes("--dry-run");
  const machine = { path: Deno.env.get("PATH") ?? "", uid: Deno.uid() ?? -1 };
  const plan = planPrerequisites(machine);
  if (plan.action === "none") return 0;
  if (plan.action === "fail") {
    console.error(plan.line);
    return 1;
  }
  console.error(
    `npm test: installing ${plan.packages.join(", ")} (${
      plan.command.map((c) => c.join(" ")).join(" && ")
    })${dryRun ? " [dry run: nothing done]" : ""}`,
  );
  if (dryRun) return 0;
  for (const [cmd, ...rest] of plan.command) {
    const out = await new Deno.Command(cmd!, {
      args: rest,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
      console.error(`npm test: '${[cmd, ...rest].join(" ")}' failed (exit ${out.code}): ${err}`);
      return 1;
    }
  }
  const still = planPrerequisites(machine);
  if (still.action !== "none") {
    console.error(`npm test: still missing after apt-get: ${still.packages.join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
