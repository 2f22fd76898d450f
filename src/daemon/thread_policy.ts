/**
 * Keeping V8's worker threads from preempting the thread that forwards.
 *
 * A relay forwards on one thread: the process's main thread, where JavaScript
 * runs. Beside it V8 keeps worker threads for background compilation and
 * concurrent GC. When the main thread wakes one (a function got hot and is
 * queued for the optimizing compiler), Linux may run the worker at once on the
 * main thread's CPU and leave the main thread waiting until the next load
 * balance, even with the other CPU idle. Measured with `perf sched` on a 2-core
 * machine, a relay at 10,000 msg/s: the main thread preempted by a V8 worker
 * for 4–5 ms at a time, every frame of those milliseconds late (the consumers'
 * p99 is made of them).
 *
 * The fix is the scheduler's own: `SCHED_BATCH` (sched(7)). A batch thread
 * keeps its full share of CPU time (it is not starved when the machine is
 * busy, so GC and compilation never fall behind), but it never preempts a
 * running thread on wake-up; it runs when a CPU is free or when the tick says
 * its turn has come. (`SCHED_IDLE` would also let the main thread preempt the
 * workers, but a GC helper the main thread waits for then starves while the
 * machine is busy: p99 up to 12 ms at 100,000 msg/s, measured; `nice 19` did not
 * stop the preemption.) {@linkcode startBackgroundBatching} puts V8's workers
 * in that class (threads a user already gave another policy are left alone),
 * at start and every few seconds for workers started later. Other threads are
 * left alone: a thread that runs JavaScript (the runtime runs test files on
 * its I/O threads) would pass the class to every process it starts. Linux
 * only, with `--allow-ffi` and `--allow-all` (which `torq` has); elsewhere it
 * does nothing.
 *
 * @module
 */

import { glibcFfi, procSelfEntries } from "./proc_self.ts";

/** How often threads started since are looked for, by default. */
export const BATCH_EVERY_MS = 10_000;

/** `SCHED_OTHER` and `SCHED_BATCH` of sched(7). */
const SCHED_OTHER = 0;
const SCHED_BATCH = 3;
/** V8's worker threads, by name ("V8 DefaultWorker", cut to 15 characters). */
const V8_WORKER = /^V8 /;

/** What one pass over the process's threads did. */
export interface BatchPass {
  /** V8 workers found. */
  workers: number;
  /** Of these, moved to `SCHED_BATCH` by this pass. */
  changed: number;
  /** Of these, in `SCHED_BATCH` after this pass (moved now or before). */
  batch: number;
}

/**
 * Moves V8's worker threads to `SCHED_BATCH` now and every `everyMs`
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
  if (sched === null) return { active: false, first: null, stop: () => {} };
  const first = batchWorkers(sched);
  if (first === null) {
    sched.close();
    return { active: false, first: null, stop: () => {} };
  }
  const timer = setInterval(() => void batchWorkers(sched), everyMs);
  Deno.unrefTimer(timer);
  return {
    active: true,
    first,
    stop: () => {
      clearInterval(timer);
      sched.close();
    },
  };
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
 * One pass: every V8 worker of `/proc/self/task` (by its name) that is in
 * `SCHED_OTHER` goes to `SCHED_BATCH`.
 *
 * @returns what it did, or null when the threads cannot be listed
 */
function batchWorkers(sched: SchedulerCalls): BatchPass | null {
  const tids = procSelfEntries("task");
  if (tids === null) return null;
  const pass: BatchPass = { workers: 0, changed: 0, batch: 0 };
  for (const name of tids) {
    const tid = Number(name);
    if (tid === Deno.pid || !V8_WORKER.test(threadName(tid))) continue;
    pass.workers++;
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
  /** Closes the library handle. */
  close(): void;
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
      close: () => libc.close(),
    };
  } catch {
    return null; // not glibc
  }
}
