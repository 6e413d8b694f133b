// Instantiation and per-call cost of the core: the raw WebAssembly API (as src/core/core.ts
// uses it) against @assemblyscript/loader, on the same compiled module and the same shared,
// imported memory (docs/CORE.md, "Why not the AssemblyScript loader"). The loader is not a
// dependency: install it in a scratch folder and name its index.js.
//
//   (cd /tmp/scratch && npm install @assemblyscript/loader@0.28)
//   node bench/loader.mjs build/xaeroflux.wasm /tmp/scratch/node_modules/@assemblyscript/loader/index.js
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
const loaderPath = process.argv[3]
const loader = (await import(pathToFileURL(loaderPath).href)).default
const wasm = readFileSync(process.argv[2])
const module = await WebAssembly.compile(wasm)
const memory = new WebAssembly.Memory({ initial: 32, maximum: 16384, shared: true })
const imports = () => ({ env: { memory, abort: () => { throw new Error('abort') } } })
const raw = async () => (await WebAssembly.instantiate(module, imports())).exports
const viaLoader = async () => (await loader.instantiate(module, imports())).exports
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[s.length >> 1] }
async function instTime(fn, n) { const t = performance.now(); for (let i = 0; i < n; i++) await fn(); return (performance.now() - t) * 1000 / n }
const res = { raw: [], loader: [] }
for (let i = 0; i < 200; i++) { await raw(); await viaLoader() } // warm-up
for (let r = 0; r < 7; r++) { res.raw.push(await instTime(raw, 2000)); res.loader.push(await instTime(viaLoader, 2000)) }
console.log('instantiate µs, median of 7 rounds of 2000 (alternating): raw', median(res.raw).toFixed(2), 'loader', median(res.loader).toFixed(2), JSON.stringify({ raw: res.raw.map(x => +x.toFixed(2)), loader: res.loader.map(x => +x.toFixed(2)) }))
// Per call: merkleNode on a non-empty pair (one SHA-256 of 64 bytes) and on an EMPTY pair (no hash).
const e1 = await raw(), e2 = await viaLoader()
const u8 = new Uint8Array(memory.buffer)
const base = e1.heapBase() + 65536
u8.fill(1, base, base + 64)
const zero = base + 4096
function callTime(f, src, n) { const t = performance.now(); for (let i = 0; i < n; i++) f(src, base + 128); return (performance.now() - t) * 1e6 / n }
const calls = { rawHash: [], loaderHash: [], rawEmpty: [], loaderEmpty: [] }
for (let r = 0; r < 7; r++) {
  calls.rawHash.push(callTime(e1.merkleNode, base, 1e6)); calls.loaderHash.push(callTime(e2.merkleNode, base, 1e6))
  calls.rawEmpty.push(callTime(e1.merkleNode, zero, 3e6)); calls.loaderEmpty.push(callTime(e2.merkleNode, zero, 3e6))
}
console.log('ns per merkleNode call, median of 7 rounds:', Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, +median(v).toFixed(1)])))
console.log('helpers:', [['__new', [8, 0]], ['__pin', [base]], ['__newString', ['hi']], ['__newArrayBuffer', [new ArrayBuffer(8)]], ['__getArrayView', [base]], ['__getUint8ArrayView', [base]]].map(([h, a]) => { if (typeof e2[h] !== 'function') return h + ': absent'; try { e2[h](...a); return h + ': ok' } catch (e) { return h + ': ' + e.message } }).join('; '))
console.log('loader index.js bytes', readFileSync(loaderPath).length, 'node', process.version, new Date().toISOString())
