import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Worker } from 'node:worker_threads'
import { createHash, randomBytes } from 'node:crypto'
import { defaultRuntime } from '../src/core/default.js'
import { runJobs, type Job } from './helpers/jobs.js'
import { referenceRoot } from './helpers/reference.js'
import { makeKey } from './helpers/keys.js'

const runtime = defaultRuntime()

const { core, map } = runtime

/** Places inputs in the shared memory and returns jobs with the answers they must produce. */
function makeJobs(count: number) {
  const jobs: Job[] = [], expected: string[] = []
  for (let i = 0; i < count; i++) {
    const data = randomBytes(20_000 + i * 1000)
    const ptr = map.alloc(data.length + 32)
    core.u8.set(data, ptr)
    jobs.push({ kind: 'sha256', ptr, len: data.length, out: ptr + data.length })
    expected.push(createHash('sha256').update(data).digest('hex'))
  }
  const keys = Array.from({ length: 20_000 }, (_, i) => makeKey(1_790_000_000_000 + i * 13)).sort(Buffer.compare)
  const ptr = map.alloc(keys.length * 40)
  core.u8.set(Buffer.concat(keys), ptr)
  const pool = map.alloc(core.exports.merklePoolSize() + 32)
  jobs.push({ kind: 'root', ptr, len: keys.length, pool, out: pool + core.exports.merklePoolSize() })
  expected.push(referenceRoot(keys))
  return { jobs, expected }
}

const resultOf = (job: Job) => Buffer.from(core.u8.subarray(job.out, job.out + 32)).toString('hex')

test('the main thread and two workers use the core on one memory at once', async () => {
  const sets = [makeJobs(40), makeJobs(40), makeJobs(40)]
  const workers = sets.slice(1).map(({ jobs }) => {
    const worker = new Worker(new URL('./fixtures/core-worker.js', import.meta.url), {
      workerData: { shared: runtime.shared, workspace: runtime.workspaceFor(), jobs },
    })
    const message = () => new Promise<void>((resolve, reject) => { worker.once('message', () => resolve()); worker.once('error', reject) })
    return { worker, ready: message() }
  })
  await Promise.all(workers.map((w) => w.ready))
  const done = workers.map(({ worker }) => {
    const finished = new Promise<void>((resolve, reject) => { worker.once('message', () => resolve()); worker.once('error', reject) })
    worker.postMessage('go')
    return finished
  })
  runJobs(core, sets[0].jobs) // the main thread works while the workers do
  await Promise.all(done)
  await Promise.all(workers.map(({ worker }) => worker.terminate()))
  for (const { jobs, expected } of sets) jobs.forEach((job, i) => assert.is(resultOf(job), expected[i], `job ${i} (${job.kind})`))
})

test.run()
