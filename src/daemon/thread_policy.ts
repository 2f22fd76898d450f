/**
 * Keeping the runtime's helper threads from preempting the thread that forwards.
 *
 * A relay forwards on one thread: the process's main thread, where JavaScript
 * runs. Beside it the process has helper threads: V8's workers (background
 * compilation, concurrent GC) and the runtime's I/O threads. When the main
 * thread wakes a helper (a function got hot and is queued for the optimizing
 * compiler), Linux may run the helper at once on the main thread's CPU and
 * leave the main thread waiting until the next load balance, even with the
 * other CPU idle. Measured with `perf sched` on a 2-core machine, a relay at
 * 10,000 msg/s: the main thread preempted by a V8 worker for 4–5 ms at a time,
 * every frame of those milliseconds late (the consumers' p99 is made of them).
 *
 * The fix is the scheduler's own: `SCHED_BATCH` (sched(7)). A batch thread
 * keeps its full share of CPU time (it is not starved when the machine is
 * busy, so GC and compilation never fall behind), but it never preempts a
 * running thread on wake-up; it runs when a CPU is free or when the tick says
 * its turn has come. {@linkcode startBackgroundBatching} puts the helper
 * threads in that class (threads a user already gave another policy are left
 * alone), at start and every few seconds for threads the runtime starts later. Linux only, with `--allow-ffi` (which the `torq`
 * task and the compiled binary have); elsewhere it does nothing.
 *
 * @module
 */

import { glibcFfi, procSelfEntries } from "./proc_self.ts";

/** How often threads started since are looked for, by default. */
export const BATCH_EVERY_MS = 10_000;

/** `SCHED_OTHER` and `SCHED_BATCH` of sched(7). */
const SCHED_OTHER = 0;
const SCHED_BATCH = 3;
/**
 * The helper threads, by name: V8's workers ("V8 DefaultWorker", cut to 15
 * characters) and the runtime's I/O threads. Threads that run JavaScript (the
 * main one, Workers) are left alone: a process they start inherits their
 * policy.
 */
const HELPER = /^(V8 |tokio-runtime)/;

/** What one pass over the process's threads did. */
export interface BatchPass {
  /** Helper threads found. */
  helpers: number;
  /** Of these, moved to `SCHED_BATCH` by this pass. */
  changed: number;
  /** Of these, in `SCHED_BATCH` after this pass (moved now or before). */
  batch: number;
}

/**
 * Moves the process's helper threads to `SCHED_BATCH` now and every `everyMs`
 * (the timer does not keep the process alive).
 *
 * @param everyMs how often to look for new threads
 * @returns whether it runs at all, the first pass, and a function that stops it
 * @example
 * ```ts
 * const batching = startBackgroundBatching();
 * // ... serve ...
 * batching.stop();
 * ```
 */
export function startBackgroundBatching(
  everyMs: number = BATCH_EVERY_MS,
): { active: boolean; first: BatchPass | null; stop: () => void } {
  const sched = openScheduler();
  const first = sched === null ? null : batchHelperThreads(sched);
  if (first === null) return { active: false, first: null, stop: () => {} };
  const timer = setInterval(() => void batchHelperThreads(sched!), everyMs);
  Deno.unrefTimer(timer);
  return { active: true, first, stop: () => clearInterval(timer) };
}

/** A thread's name (`/proc/self/task/<tid>/comm`), "" when it is gone. */
function threadName(tid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/self/task/${tid}/comm`).trim();
  } catch {
    return "";
  }
}

/**
 * One pass: every helper thread of `/proc/self/task` (by its name) that is in
 * `SCHED_OTHER` goes to `SCHED_BATCH`.
 *
 * @returns what it did, or null when the threads cannot be listed
 */
function batchHelperThreads(sched: SchedulerCalls): BatchPass | null {
  const tids = procSelfEntries("task");
  if (tids === null) return null;
  const pass: BatchPass = { helpers: 0, changed: 0, batch: 0 };
  for (const name of tids) {
    const tid = Number(name);
    if (tid === Deno.pid || !HELPER.test(threadName(tid))) continue;
    pass.helpers++;
    const policy = sched.get(tid);
    if (policy === SCHED_BATCH) pass.batch++;
    else if (policy === SCHED_OTHER && sched.set(tid, SCHED_BATCH)) {
      pass.changed++;
      pass.batch++;
    }
  }
  return pass;
}

/** A thread's scheduling policy: read (-1 when it is gone) and set (true when it took). */
interface SchedulerCalls {
  get(tid: number): number;
  set(tid: number, policy: number): boolean;
}

/** `sched_getscheduler` and `sched_setscheduler(tid, policy, {0})`, or null where they cannot be called. */
function openScheduler(): SchedulerCalls | null {
  if (!glibcFfi()) return null;
  try {
    const libc = Deno.dlopen(
      "libc.so.6",
      {
        sched_getscheduler: { parameters: ["i32"], result: "i32" },
        sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
      } as const,
    );
    const param = new Int32Array(1); // struct sched_param { int sched_priority } = { 0 }
    return {
      get: (tid) => libc.symbols.sched_getscheduler(tid),
      set: (tid, policy) => libc.symbols.sched_setscheduler(tid, policy, param) === 0,
    };
  } catch {
    return null; // not glibc
  }
}
