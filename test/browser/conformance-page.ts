// Runs in Chromium: the store's conformance suite (test/conformance/store-suite.ts) on IndexedDB,
// inline and with two workers, run by uvu. test/browser.test.ts bundles this file and reads the
// report left on `globalThis.xaerofluxReport`: each test's outcome, in the order run. The query
// string gives the corpus size: '?events=10000'.
import './uvu-deferred.js'
import { exec, suite, type Callback } from 'uvu'
import { pageSuites } from './conformance.js'

/** One test, or a hook that failed (its name ends in 'before hook' or 'after hook'). */
export interface Outcome { name: string; ok: boolean; ms: number; error?: string }
export interface ConformanceReport { events: number; outcomes: Outcome[] }

const outcomes: Outcome[] = []

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e)
  const details = (e as { details?: unknown }).details // uvu's diff, in terminal colours
  return e.name === 'Assertion'
    ? `${e.message}${typeof details === 'string' ? `\n${details.replace(/\x1b\[[0-9;]*m/g, '')}` : ''}`
    : String(e.stack ?? e)
}

/** uvu's `suite`, whose tests record their outcome (and hooks their failure) before uvu sees it. */
const recording = ((title = '', context?: object) => {
  const test = suite(title, context)
  type Body = Callback
  const timed = (name: string, body: Body, ok: boolean): Body => async (context) => {
    const started = performance.now()
    try {
      await body(context)
      if (ok) outcomes.push({ name, ok, ms: Math.round(performance.now() - started) })
    } catch (e) {
      outcomes.push({ name, ok: false, ms: Math.round(performance.now() - started), error: describe(e) })
      throw e
    }
  }
  const define = (name: string, body: Body) => test(name, timed(`${title} › ${name}`, body, true))
  return Object.assign(define, test, {
    only: (name: string, body: Body) => test.only(name, timed(`${title} › ${name}`, body, true)),
    before: (body: Body) => test.before(timed(`${title} › before hook`, body, false)),
    after: (body: Body) => test.after(timed(`${title} › after hook`, body, false)),
  })
}) as unknown as typeof suite

async function run(): Promise<ConformanceReport> {
  const events = Number(new URLSearchParams(location.search).get('events'))
  pageSuites({ suite: recording, events })
  // uvu stops at a failed after hook: reported as one more failure, with the tests that ran.
  await exec().catch((e) => outcomes.push({ name: 'uvu', ok: false, ms: 0, error: describe(e) }))
  return { events, outcomes }
}

;(globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport = run().catch((e) => ({ error: String(e?.stack ?? e) }))
