// Fuzz-style robustness: thousands of mutated capture files (seeded PRNG:
// byte flips, truncations, length-field corruption, block splicing) go
// through the parser one-shot and with random chunk boundaries. Never an
// exception other than CaptureError, never a hang, and chunking never
// changes the result. Runs in worker threads so that a hang is caught.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {Worker, isMainThread, parentPort, workerData} from 'node:worker_threads'
import {fileURLToPath} from 'node:url'
import {collect, concat, epb, idb, otherBlock, pb, pcapHeader, pcapRecord, shb, spb, type Collected} from '../../analyzer/capture/testing.js'
import {sharedCaptures} from '../support/env.js'

const CASES_PER_WORKER = 2500
const WORKERS = 4
const TIME_LIMIT_MS = 60000

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = []
  if (existsSync(sharedCaptures)) {
    for (const f of readdirSync(sharedCaptures).sort()) {
      if (!/\.(pcap|pcapng|cap)$/.test(f)) continue
      const p = join(sharedCaptures, f)
      if (statSync(p).size <= 12000) out.push(new Uint8Array(readFileSync(p)))
    }
  }
  const d = Uint8Array.from({length: 40}, (_, i) => i)
  for (const le of [true, false]) {
    out.push(concat(shb(le, {options: [[1, 'c']]}), idb(le, {options: [[9, [9]], [14, [1, 0, 0, 0, 0, 0, 0, 0]]]}), idb(le, {linkType: 0, snapLen: 16, options: [[9, [0x88]]]}),
      epb(le, {ifid: 1, ts: 123456789n, data: d, options: [[1, 'x'], [2, [0, 0, 0, 1]]]}), spb(le, {data: d.subarray(0, 16), origLen: 40}),
      pb(le, {ifid: 0, ts: 5n, data: d.subarray(0, 7)}), otherBlock(le, 5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      shb(!le), idb(!le), epb(!le, {ts: 1n, data: d})))
    out.push(concat(pcapHeader({le, magic: 0xa1b2cd34}), pcapRecord({le, sec: 1, frac: 2, data: d, modified: true}), pcapRecord({le, sec: 1, frac: 2, data: d.subarray(3), modified: true})))
    out.push(concat(pcapHeader({le, magic: 0xa1b23c4d}), pcapRecord({le, sec: 1, frac: 2, data: d}), pcapRecord({le, sec: 3, frac: 4, data: d.subarray(9)})))
  }
  return out
}

/** Unit boundaries of a pcap / pcapng byte array (best effort; stops at nonsense). */
function boundaries(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length)
  const out = [0]
  if (b.length < 24) return out
  if (dv.getUint32(0, true) === 0x0a0d0d0a) {
    let le = true
    let p = 0
    while (p + 12 <= b.length) {
      if (dv.getUint32(p, true) === 0x0a0d0d0a) le = dv.getUint32(p + 8, true) === 0x1a2b3c4d
      const len = dv.getUint32(p + 4, le)
      if (len < 12 || len % 4 !== 0) break
      p += len
      out.push(p)
    }
    return out
  }
  const le = dv.getUint8(0) !== 0xa1
  const hl = (le ? dv.getUint32(0, true) : dv.getUint32(0, false)) === 0xa1b2cd34 ? 24 : 16
  let p = 24
  out.push(p)
  while (p + hl <= b.length) {
    p += hl + dv.getUint32(p + 8, le)
    out.push(p)
  }
  return out
}

function mutate(src: Uint8Array, all: Uint8Array[], r: () => number): Uint8Array {
  let b: Uint8Array = src.slice()
  const ri = (n: number) => Math.floor(r() * n)
  const rounds = 1 + ri(3)
  for (let k = 0; k < rounds; k++) {
    const bs = boundaries(b).filter((x) => x <= b.length)
    switch (ri(7)) {
      case 0: { // byte flips
        const n = 1 + ri(8)
        for (let i = 0; i < n && b.length > 0; i++) b[ri(b.length)] = ri(256)
        break
      }
      case 1: // truncation
        b = b.slice(0, ri(b.length + 1))
        break
      case 2: { // length-field corruption at a unit boundary (pcap caplen at +8, pcapng length at +4 or the trailer)
        if (bs.length < 2) break
        const at = bs[ri(bs.length)]
        const field = at + [4, 8, 20, 24, -4][ri(5)]
        if (field < 0 || field + 4 > b.length) break
        const dv = new DataView(b.buffer, b.byteOffset, b.length)
        const old = dv.getUint32(field, true)
        const choices = [0, 1, 11, 12, 13, old + 4, old - 4, old + 1, 0xffffffff, 0x10000000, 0x10000004, ri(1 << 16), ri(2 ** 32)]
        dv.setUint32(field, choices[ri(choices.length)] >>> 0, r() < 0.5)
        break
      }
      case 3: { // block splicing: a unit from another file inserted at a boundary
        const other = all[ri(all.length)]
        const obs = boundaries(other)
        if (obs.length < 2 || bs.length < 1) break
        const i = ri(obs.length - 1)
        const piece = other.subarray(obs[i], Math.min(other.length, obs[i + 1]))
        const at = bs[ri(bs.length)]
        b = concat(b.subarray(0, at), piece, b.subarray(at))
        break
      }
      case 4: { // remove or duplicate a unit
        if (bs.length < 3) break
        const i = 1 + ri(bs.length - 2)
        const s = bs[i]
        const e = Math.min(b.length, bs[i + 1] ?? b.length)
        b = r() < 0.5 ? concat(b.subarray(0, s), b.subarray(e)) : concat(b.subarray(0, e), b.subarray(s, e), b.subarray(e))
        break
      }
      case 5: { // insert random bytes
        const n = 1 + ri(12)
        const at = ri(b.length + 1)
        b = concat(b.subarray(0, at), Uint8Array.from({length: n}, () => ri(256)), b.subarray(at))
        break
      }
      default: { // set an option length / a 16-bit field to something odd
        if (b.length < 4) break
        const at = ri(b.length - 2)
        new DataView(b.buffer, b.byteOffset, b.length).setUint16(at, [0, 1, 0xffff, ri(65536)][ri(4)], r() < 0.5)
      }
    }
  }
  return b
}

function summary(c: Collected) {
  return {
    packets: c.packets,
    interfaces: c.interfaces,
    warnings: c.warnings,
    error: c.error ? [c.error.code, c.error.offset, c.error.message] : null,
  }
}

function runBatch(seed: number, cases: number): {codes: Record<string, number>; packets: number; worstMs: number} {
  const all = seeds()
  const r = rng(seed)
  const codes: Record<string, number> = {}
  let packets = 0
  let worstMs = 0
  for (let i = 0; i < cases; i++) {
    const src = all[Math.floor(r() * all.length)]
    const m = mutate(src, all, r)
    const t0 = performance.now()
    const one = collect(m) // anything but a CaptureError propagates and fails the test
    const max = 1 + Math.floor(r() * (r() < 0.5 ? 16 : 4096))
    const chunked = collect(m, () => 1 + Math.floor(r() * max))
    worstMs = Math.max(worstMs, performance.now() - t0)
    assert.deepEqual(summary(chunked), summary(one), `case ${i} (seed ${seed}): chunked parsing differs`)
    const code = one.error?.code ?? 'ok'
    codes[code] = (codes[code] ?? 0) + 1
    packets += one.packets.length
  }
  return {codes, packets, worstMs}
}

if (!isMainThread && workerData?.fuzzSeed !== undefined) {
  try {
    parentPort!.postMessage({ok: true, result: runBatch(workerData.fuzzSeed, workerData.cases)})
  } catch (e) {
    parentPort!.postMessage({ok: false, error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)})
  }
} else if (isMainThread) {
  test(`fuzz: ${WORKERS * CASES_PER_WORKER} mutated captures, one-shot vs random chunks`, {timeout: TIME_LIMIT_MS + 5000}, async () => {
    const self = fileURLToPath(import.meta.url)
    const run = (seed: number) => new Promise<{codes: Record<string, number>; packets: number; worstMs: number}>((resolve, reject) => {
      const w = new Worker(self, {workerData: {fuzzSeed: seed, cases: CASES_PER_WORKER}})
      const timer = setTimeout(() => {
        void w.terminate()
        reject(new Error(`fuzz worker ${seed} did not finish within ${TIME_LIMIT_MS} ms (hang?)`))
      }, TIME_LIMIT_MS)
      w.once('message', (m: {ok: boolean; result?: {codes: Record<string, number>; packets: number; worstMs: number}; error?: string}) => {
        clearTimeout(timer)
        void w.terminate()
        if (m.ok) resolve(m.result!)
        else reject(new Error(m.error))
      })
      w.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
    const results = []
    // two at a time
    for (let i = 0; i < WORKERS; i += 2) results.push(...await Promise.all([run(1000 + i), run(1001 + i)]))
    const codes: Record<string, number> = {}
    for (const r of results) for (const [k, v] of Object.entries(r.codes)) codes[k] = (codes[k] ?? 0) + v
    const worst = Math.max(...results.map((r) => r.worstMs))
    assert.ok(worst < 2000, `one case took ${worst} ms`)
    // the mutations reach the error paths
    for (const c of ['ok', 'truncated-header', 'truncated-record', 'bad-block-length', 'block-length-mismatch', 'bad-magic']) {
      assert.ok((codes[c] ?? 0) > 0, `no case ended with '${c}': ${JSON.stringify(codes)}`)
    }
  })
}
