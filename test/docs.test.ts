// `npm run docs`: typedoc builds the API reference of the two public entry points (`xaeroflux`
// and `xaeroflux/net`) from the doc comments, with the repository's typedoc.json (which treats
// every warning as an error: a type the reference names but does not hold, a broken {@link}, a
// public class, function or type without a comment). The test builds it into a temporary folder
// and looks for the public API's names in it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** The names apps and outside checks call, by entry point, then by class or interface. */
const API: Record<string, Record<string, string[]>> = {
  xaeroflux: {
    Xaeroflux: ['open', 'append', 'ingest', 'ingestMany', 'get', 'range', 'subscribe', 'flush', 'root', 'count', 'prove',
      'rebuildIndex', 'reconcile', 'close', 'status', 'multiaddrs', 'peers', 'syncWith'],
    Identity: ['generate', 'fromSecretKey'],
    Event: ['id', 'key', 'kind', 'timestamp', 'group', 'author', 'payload', 'bytes'],
    XaeroError: ['code'],
    Reconciliation: ['open', 'receive', 'need', 'have'],
    OpenOptions: ['path', 'group', 'identity', 'network'],
    RangeOptions: ['from', 'to', 'author', 'kind', 'limit', 'reverse'],
    groupId: [], encodeEvent: [], decodeEvent: [], verifyProof: [], verifyAbsence: [], sha256: [], merkleRoot: [],
    ErrorCodes: [], XaeroErrorCode: [],
  },
  'xaeroflux/net': {
    NetworkOptions: ['listen', 'bootstrap', 'secret', 'maxPeers', 'libp2p'],
    SyncResult: ['rounds', 'bytesSent', 'bytesReceived', 'eventsSent', 'eventsReceived', 'ms'],
    PeerInfo: ['id', 'addrs'],
    createNode: [], xaerofluxService: [], groupNamespace: [],
  },
}

interface Reflection { name: string; children?: Reflection[] }

test('npm run docs: typedoc builds the reference without a warning, and it holds the public API', () => {
  assert.is(pkg.scripts.docs, 'typedoc')
  const out = mkdtempSync(join(tmpdir(), 'xaeroflux-docs-'))
  try {
    const typedoc = join(root, 'node_modules/typedoc/bin/typedoc')
    const run = spawnSync(process.execPath, [typedoc, '--out', out, '--json', join(out, 'api.json')], { cwd: root, encoding: 'utf8' })
    const output = (run.stdout + run.stderr).replace(/\x1b\[[0-9;]*m/g, '')
    assert.is(run.status, 0, output)
    assert.not.match(output, /\[warning\]|\[error\]/)

    const project = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8')) as Reflection
    for (const [entry, names] of Object.entries(API)) {
      const module = project.children?.find((c) => c.name === entry)
      assert.ok(module, `no module ${entry} in the reference`)
      for (const [name, members] of Object.entries(names)) {
        const item = module.children?.find((c) => c.name === name)
        assert.ok(item, `${entry}: ${name} is not in the reference`)
        for (const member of members) assert.ok(item.children?.some((c) => c.name === member), `${entry}: ${name}.${member} is not in the reference`)
      }
    }
    // The HTML reference a reader opens, with a page of the facade's methods.
    assert.ok(existsSync(join(out, 'index.html')))
    const page = readFileSync(join(out, 'classes/xaeroflux.Xaeroflux.html'), 'utf8')
    for (const name of ['open', 'append', 'range', 'subscribe', 'root', 'prove', 'reconcile', 'syncwith', 'multiaddrs', 'peers']) {
      assert.ok(page.includes(`id="${name}"`), `the Xaeroflux page has no section ${name}`)
    }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()
