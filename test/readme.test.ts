// Every ```ts block of README.md must type-check against the package's built types
// (dist/src/index.d.ts, reached through package.json's exports as a user's `import ... from
// 'xaeroflux'` reaches it). Each block becomes a module in a temporary folder, after a preamble
// that declares the free names the README leaves to the reader; `tsc --noEmit` checks them all.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const tsc = join(root, 'node_modules/typescript/bin/tsc')

/** The free names README snippets use, declared as a reader would have them. */
const PREAMBLE = `import type { Xaeroflux as XaerofluxType } from 'xaeroflux'
declare const other: XaerofluxType
declare const bytesFromElsewhere: Uint8Array
declare const from: number, to: number, limit: number
declare const author: string, kind: number, reverse: boolean
`

/** The ```ts blocks of a Markdown text. */
export function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])
}

interface Checked { status: number | null; output: string }

/** Type-checks `snippets`, each as a module of its own, against the built package. */
function typeCheck(snippets: string[]): Checked {
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-readme-'))
  try {
    // A user's node_modules: the package itself, resolved through its exports map.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(root, join(dir, 'node_modules/xaeroflux'), 'dir')
    snippets.forEach((code, i) => writeFileSync(join(dir, `snippet${i + 1}.ts`), `${PREAMBLE}\n${code}\nexport {}\n`))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'],
        strict: true, noEmit: true, skipLibCheck: true,
        types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
      },
      include: ['snippet*.ts'],
    }))
    const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' })
    return { status: run.status, output: `${run.stdout}${run.stderr}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('the built types exist (npm run build)', () => {
  assert.ok(existsSync(join(root, 'dist/src/index.d.ts')))
})

test('README.md has ts blocks, and each one type-checks against the package', () => {
  const blocks = tsBlocks(readFileSync(join(root, 'README.md'), 'utf8'))
  assert.ok(blocks.length > 0, 'README.md has no ```ts block')
  const { status, output } = typeCheck(blocks)
  assert.is(status, 0, `README snippets fail to type-check:\n${output}`)
})

test('the check fails on a snippet that misuses the API (it sees the real types)', () => {
  const { status, output } = typeCheck([
    `import { Xaeroflux } from 'xaeroflux'\nconst db = await Xaeroflux.open({ group: 'g' })\nawait db.append({ kind: 'one', payload: 'x' })`,
  ])
  assert.is.not(status, 0)
  assert.match(output, /snippet1\.ts.*error TS2322/)
})

test('the check fails on an import the package does not export', () => {
  const { status, output } = typeCheck([`import { noSuchExport } from 'xaeroflux'\nnoSuchExport()`])
  assert.is.not(status, 0)
  assert.match(output, /TS2305|TS2724/)
})

test.run()
