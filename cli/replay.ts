/**
 * `torq replay FILE [DOMAIN]`: play a recording back into a relay.
 *
 * @module
 */

import { DOMAIN_NAMES, type RelayDomainName } from "../src/config/mod.ts";
import {
  damageLine,
  journalAsRecording,
  loadRecording,
  parseReplayFrom,
  parseReplayRate,
  type Recording,
  recordingDomain,
  RecordingError,
  ReplayError,
  type ReplayFrom,
  replayPolicy,
  replayProblems,
  type ReplayRate,
  replaySummary,
  runReplay,
} from "../src/tools/mod.ts";
import { interruptOnSignals } from "./_interrupt.ts";
import { isJournal, JournalError } from "../src/relay/mod.ts";
import { configFromArgs } from "./_config.ts";
import { CliError, Exit, readInputFile, UsageError } from "./_args.ts";
import { countOption } from "./_options.ts";
import { defineCommand, RELAY_DOMAINS, relayDomainArg } from "./_command.ts";
import { relayTarget, TARGET_OPTIONS } from "./_target.ts";

const COMMAND = "torq replay";

/** `torq replay`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Play a recording made by 'torq record' (or an execution journal: the frames the relay
accepted, with their receive times) back into a relay, byte for byte, with the original
spacing between frames (--rate 1x), faster or slower, as fast as possible, or at a fixed rate. The
relay is the recording's domain's (or DOMAIN's), at its configured socket, in --socket-dir, or at
--socket. The connection sends a hello first, so the relay never writes to it. Frames of another
domain than the relay's are refused unless --force, and so are frames the relay's validation policy
would refuse (checked by the configuration's relays.<domain> section before sending): they are not
sent, and are reported in one line. A recording whose last record is torn is replayed up to it, and
the damage is reported. Ends with a one-line summary on stderr (also on Ctrl-C).`,
  positionals: [
    { key: "file", name: "FILE", help: "A recording made by 'torq record'" },
    {
      key: "domain",
      name: "DOMAIN",
      type: "domain",
      optional: true,
      help: "market-data, signal or execution (default: the recording's domain)",
    },
  ],
  options: {
    rate: {
      type: "string",
      value: "RATE",
      help: "1x (original spacing), 2x, 0.5x, max, or N/s (default 1x)",
    },
    from: {
      type: "string",
      value: "SEQ|TIME",
      help: "Start at the first frame whose header sequence is >= SEQ, or that was received at " +
        "or after an ISO time",
    },
    loop: { type: "boolean", help: "Repeat the recording (until --count frames, or Ctrl-C)" },
    count: countOption("Stop after N frames"),
    force: {
      type: "boolean",
      help: "Send frames of another domain, and frames the relay would refuse, too",
    },
    to: {
      type: "string",
      value: "TARGET",
      help: "A domain or a socket path (old spelling)",
      deprecated: "give the domain as an argument ('torq replay FILE signal') and a socket " +
        "with --socket",
    },
    ...TARGET_OPTIONS,
  },
  exits: { 0: "replayed", 1: "bad recording, refused frame or relay not running" },
  examples: [
    "torq replay signals.torq",
    "torq replay trades.torq market-data --rate max",
    "torq replay trades.torq --socket /tmp/md.sock --rate 500/s --loop --count 100000",
    "torq replay signals.torq signal --from 2026-11-23T14:29:08Z --rate 2x",
  ],
  async run({ options, args, warn }) {
    let domainArg: RelayDomainName | undefined = args.domain;
    let socket = options.socket;
    if (options.to !== undefined) {
      // The old --to <domain|socket>.
      const to = options.to;
      const isDomain = RELAY_DOMAINS[to.toLowerCase().replaceAll("_", "-")] !== undefined ||
        !(to.includes("/") || to.endsWith(".sock"));
      if (isDomain) {
        if (domainArg !== undefined) {
          throw new UsageError(COMMAND, "give the domain once, as an argument");
        }
        domainArg = relayDomainArg(COMMAND, to, warn);
      } else {
        if (socket !== undefined) {
          throw new UsageError(COMMAND, "give the socket once, with --socket");
        }
        socket = to;
      }
    }
    let rate: ReplayRate | undefined;
    let from: ReplayFrom | undefined;
    try {
      rate = options.rate === undefined ? undefined : parseReplayRate(options.rate);
      from = options.from === undefined ? undefined : parseReplayFrom(options.from);
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(COMMAND, e.message);
      throw e;
    }
    const file = args.file;
    const bytes = await readInputFile(file);
    let recording: Recording;
    try {
      recording = isJournal(bytes) ? journalAsRecording(bytes, file) : loadRecording(bytes);
    } catch (e) {
      if (e instanceof RecordingError) throw new CliError(`${e.code}: ${e.message} (${file})`);
      if (e instanceof JournalError) throw new CliError(`${e.code}: ${e.message}`);
      throw e;
    }
    if (recording.records.length === 0 && recording.damage) {
      throw new CliError(damageLine(recording.damage, 0, file));
    }
    const config = configFromArgs(options);
    // The relay: DOMAIN, else the recording's; its path from --socket, --socket-dir or the config.
    const recorded = recordingDomain(recording);
    const name = domainArg ??
      (recorded !== undefined && recorded >= 1 && recorded <= 3
        ? DOMAIN_NAMES[recorded - 1]
        : undefined);
    let domain: number | undefined;
    let path: string;
    if (name !== undefined) {
      const target = relayTarget(COMMAND, name, { ...options, socket });
      domain = domainArg === undefined ? undefined : target.domain;
      path = target.path;
    } else if (socket !== undefined) {
      path = socket;
    } else {
      throw new UsageError(
        COMMAND,
        `${file} names no relay domain: give the DOMAIN argument (market-data, signal or execution)`,
      );
    }
    using stop = interruptOnSignals();
    try {
      const result = await runReplay({
        recording,
        domain,
        path,
        from,
        ...(rate === undefined ? {} : { rate }),
        loop: options.loop,
        count: options.count,
        force: options.force,
        policyFor: (d) => replayPolicy(config, d),
        signal: stop.signal,
      });
      console.error(replaySummary(result, file));
      const problems = replayProblems(result, recording, file);
      if (problems.length > 0) throw new CliError(problems.join("; "));
    } catch (e) {
      if (e instanceof ReplayError) throw new CliError(e.message);
      throw e;
    }
    return Exit.OK;
  },
});
