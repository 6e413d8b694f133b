import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Xaeroflux } from '../../src/index.js'
import type { Backend, Place } from '../conformance/store-suite.js'

export type { Backend, Place }

/** The Node backends: classic-level on disk and memory-level, inline and with two workers. */
export function backends(): Backend[] {
  const dirs: string[] = []
  const onDisk = (workers: number): Backend => ({
    name: `classic-level, workers ${workers}`,
    open: (o) => {
      const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-'))
      dirs.push(dir)
      return Xaeroflux.open({ workers, ...o, path: dir })
    },
    cleanup: () => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) },
  })
  const inMemory = (workers: number): Backend => ({
    name: `memory-level, workers ${workers}`,
    open: (o) => Xaeroflux.open({ workers, ...o }),
    cleanup: () => {},
  })
  return [onDisk(0), onDisk(2), inMemory(0), inMemory(2)]
}

/** A store on disk (classic-level) in a temporary folder, which `remove` deletes. */
export function place(): Place {
  const { dir, remove } = tempDir()
  return { open: (o) => Xaeroflux.open({ ...o, path: dir }), remove }
}

/** A temporary folder removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
