import type { Core } from '../../src/core/core.js'

/** A hash job on regions of the shared memory, run by any thread's Core. */
export type Job =
  | { kind: 'sha256'; ptr: number; len: number; out: number }
  | { kind: 'root'; ptr: number; len: number; pool: number; out: number }

/** Runs the jobs several times over, so that the threads' work overlaps for a while. */
export function runJobs(core: Core, jobs: Job[]): void {
  for (let round = 0; round < 5; round++) {
    for (const job of jobs) {
      if (job.kind === 'sha256') core.exports.sha256(job.ptr, job.len, job.out)
      else core.exports.merkleRoot(job.ptr, job.len, job.pool, job.out)
    }
  }
}
