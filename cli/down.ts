/**
 * `torq down`: stop a running `torq up` (services, then relays), reporting
 * what it stopped.
 *
 * @module
 */

import { formatDown, stopStack } from "../src/stack/mod.ts";
import { ControlError } from "../src/stack/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { STACK_OPTIONS, stackDir } from "./_stack.ts";

/** `torq down`. */
export const command = defineCommand({
  name: "torq down",
  description:
    `Stop the torq up running in the socket directory (in the foreground or started with -d): its
services in reverse start order, each with its stop_signal and, after its stop_timeout_ms, SIGKILL;
then its relays (their sockets removed); then the process. Prints what it stopped. When it does not
finish within --timeout, torq up and its services are killed (SIGKILL) and the files they left are
removed. Services left running by a torq up that was killed (found by the environment torq up gives
them) are killed too. With nothing running it says so and exits 0.`,
  options: {
    timeout: {
      type: "number",
      value: "S",
      positive: true,
      default: 60,
      help: "Bound of the graceful stop, in seconds",
    },
    ...STACK_OPTIONS,
  },
  exits: {
    0: "stopped (or nothing was running)",
    1: "something had to be killed or could not be stopped",
  },
  examples: ["torq down", "torq down --socket-dir /tmp/torq-dev", "torq down --timeout 5"],
  async run({ options: values }) {
    const dir = stackDir(values);
    let result;
    try {
      result = await stopStack(dir, { timeoutMs: values.timeout * 1000 });
    } catch (e) {
      if (e instanceof ControlError) throw new CliError(e.message);
      throw e;
    }
    switch (result.how) {
      case "not running":
        await printOut(
          [
            `torq down: no torq up is running in ${dir}`,
            ...result.leftovers.map((p) =>
              `killed ${p.name} (pid ${p.pid}): left running by a torq up that is gone`
            ),
          ].join("\n"),
        );
        return result.leftovers.length === 0 ? Exit.OK : Exit.BAD_INPUT;
      case "stopped":
        await printOut(formatDown(result.report).join("\n"));
        return Exit.OK;
      case "killed":
        await printOut(
          [
            `killed torq up (pid ${result.pid}): ${result.reason}`,
            ...result.services.map((p) => `killed ${p.name} (pid ${p.pid}) and its process group`),
            ...result.removed.map((p) => `removed ${p}`),
          ].join("\n"),
        );
        return Exit.BAD_INPUT;
    }
  },
});
