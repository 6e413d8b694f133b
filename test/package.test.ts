// What the published package holds: its license, its exports map, and docs that stand on their
// own (every link resolves to a file inside the package, every file they name exists, and none
// points outside the repository).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, normalize, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/** The files `npm pack` would publish, relative to the package root. */
const packed: Set<string> = (() => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return new Set(JSON.parse(out)[0].files.map((f: { path: string }) => f.path))
})()

/** Markdown files under `dir` (relative), recursively. */
function markdown(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdown(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [])
}
const docs = ['README.md', 'BENCHMARKS.md', ...markdown('docs')]

/** GitHub's anchor for a heading. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')

test('LICENSE: MIT, the Xaeroflux authors, as package.json says; published', () => {
  assert.is(pkg.license, 'MIT')
  const license = read('LICENSE')
  assert.match(license, /^MIT License/)
  assert.match(license, /Copyright \(c\) \d{4} the Xaeroflux authors/)
  assert.ok(packed.has('LICENSE'))
})

test('exports: the package and its package.json resolve by name', () => {
  const require = createRequire(join(root, 'index.js'))
  assert.is(require.resolve('xaeroflux/package.json'), join(root, 'package.json'))
  assert.is(pkg.exports['.'].types, './dist/src/index.d.ts')
  assert.ok(packed.has('dist/src/index.d.ts') || !existsSync(join(root, 'dist/src/index.d.ts')))
})

test('every doc is published', () => {
  for (const doc of docs) assert.ok(packed.has(doc), `${doc} is not in the package`)
})

test('every relative link of the docs resolves to a published file (and its heading)', () => {
  let links = 0
  for (const doc of docs) {
    for (const [, target] of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue
      const [path, anchor] = target.split('#')
      const file = path === '' ? doc : normalize(join(dirname(doc), path))
      assert.ok(!relative(root, join(root, file)).startsWith('..'), `${doc}: ${target} leaves the package`)
      assert.ok(packed.has(file), `${doc}: ${target} is not a published file`)
      if (anchor) {
        const headings = [...read(file).matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]))
        assert.ok(headings.includes(anchor), `${doc}: no heading #${anchor} in ${file}`)
      }
      links++
    }
  }
  assert.ok(links >= 8, `only ${links} links found: is the pattern broken?`)
})

test('every repository file the docs name exists', () => {
  for (const doc of docs) {
    for (const [path] of read(doc).matchAll(/\b(?:src|assembly|test|bench|docs)\/[\w./-]*\w\.(?:ts|md|json)\b/g)) {
      assert.ok(existsSync(join(root, path)), `${doc} names ${path}, which does not exist`)
    }
  }
})

test('docs and comments cite no file outside the repository', () => {
  const sources = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])
  // docs/dev/ keeps the development journal as it was written (it says so at its top).
  const files = [...docs.filter((d) => !d.startsWith('docs/dev/')), ...['src', 'assembly', 'bench', 'test'].flatMap(sources)]
  for (const file of files) {
    const text = read(file)
    for (const outside of [/\.\.\/shared\b/, /\bDESIGN\.md\b/, /\bissue \d+\b/i]) {
      const m = text.match(outside)
      assert.not.ok(m, `${file} cites "${m?.[0]}", outside the repository`)
    }
  }
})

test.run()
