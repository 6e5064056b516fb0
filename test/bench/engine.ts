// Benchmark of the rewrite engine against tcprewrite (a script, not a test:
// it prints figures and asserts no timings).
//
//   npx tsc -p tsconfig.json && node dist/test/bench/engine.js [packets] [workdir]
//
// 1. Builds a pcap of `packets` (default 1,000,000) Ethernet IPv4 TCP frames
//    of one client → VIP connection: timestamps on all, SACK (1–3 blocks) on
//    a fifth of the pure ACKs, payloads 0 (45%), 1–1447 (15%) and 1448 (40%).
//    The frames come from a pool of 8192 distinct packets built with
//    build.ts (the engine keeps nothing between packets, so repeats cost the
//    same as new ones).
// 2. Times the engine's forward rewrite (Δ, τ ≠ 0: address, MAC, ack, SACK,
//    TSecr, both checksums) over all frames in memory, in place, without and
//    with verify; then end to end, file → file (read, rewrite, write).
// 3. Times `tcprewrite --dstipmap=VIP/32:BADDR/32 --fixcsum -i in -o out`
//    on the same file (wall clock, includes process start).
// 4. Untimed check: with Δ = τ = 0 and no MAC our output file must equal
//    tcprewrite's byte for byte past the pcap file header.
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync} from 'node:fs'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapWriter} from '../../analyzer/capture/pcap-writer.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {Engine, TranslationState, type TranslationValues} from '../../replayer/engine/index.js'
import {prng, randInt, randU32, writePcapFile} from './engine-fixtures.js'

const N = Number(process.argv[2] ?? 1_000_000)
const dir = process.argv[3] ?? join(tmpdir(), 'handoff-engine-bench')
const POOL = 8192

const CONN = {cip: '198.51.100.7', cport: 40123, vip: '203.0.113.10', vport: 80, baddr: '10.0.0.2'}
const VALUES: TranslationValues = {...CONN, bmac: '02:00:00:00:0b:0e', fiss: 0x9a3c0000, biss: 0x11220000, fts: 0xfffff000, bts: 0x00001234, wsF: 7, wsB: 7}

function buildPool(): Uint8Array[] {
  const r = prng(2024)
  const pool: Uint8Array[] = []
  let seq = randU32(r)
  let ack = randU32(r)
  let tsv = randU32(r)
  const payloadBuf = new Uint8Array(1448)
  for (let i = 0; i < 1448; i++) payloadBuf[i] = (i * 31 + 7) & 0xff
  for (let i = 0; i < POOL; i++) {
    const x = r()
    const len = x < 0.45 ? 0 : x < 0.6 ? randInt(r, 1, 1447) : 1448
    const sack: Array<[number, number]> = []
    if (len === 0 && r() < 0.2) {
      const n = randInt(r, 1, 3)
      for (let k = 0; k < n; k++) {
        const l = (ack + 1448 * randInt(r, 2, 40)) >>> 0
        sack.push([l, (l + 1448 * randInt(r, 1, 4)) >>> 0])
      }
    }
    pool.push(buildTcpPacket({
      src: CONN.cip, dst: CONN.vip, srcPort: CONN.cport, dstPort: CONN.vport, seq, ack, flags: len > 0 ? 'P.' : '.',
      window: randInt(r, 500, 3000), ipId: i & 0xffff, ttl: 64,
      options: {timestamp: {tsVal: tsv, tsEcr: (tsv - 12345) >>> 0}, sack},
      payload: payloadBuf.subarray(0, len),
      ethernet: {src: '02:00:00:00:cc:01', dst: '02:00:00:00:0f:0e'},
    }))
    seq = (seq + len) >>> 0
    ack = (ack + (r() < 0.5 ? 1448 : 0)) >>> 0
    tsv = (tsv + randInt(r, 0, 3)) >>> 0
  }
  return pool
}

/** Record positions of a little-endian classic pcap: one pass, no per-record allocation. */
function recordOffsets(file: Uint8Array): {start: Int32Array; cap: Int32Array; orig: Int32Array; n: number} {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength)
  if (dv.getUint32(0, true) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap')
  let size = 1 << 16
  let start = new Int32Array(size), cap = new Int32Array(size), orig = new Int32Array(size)
  let n = 0
  for (let o = 24; o + 16 <= file.length; n++) {
    if (n === size) {
      size *= 2
      const grow = (a: Int32Array) => { const b = new Int32Array(size); b.set(a); return b }
      start = grow(start); cap = grow(cap); orig = grow(orig)
    }
    const c = dv.getUint32(o + 8, true)
    start[n] = o + 16
    cap[n] = c
    orig[n] = dv.getUint32(o + 12, true)
    o += 16 + c
  }
  return {start, cap, orig, n}
}

function rewriteAll(eng: Engine, file: Uint8Array, recs: ReturnType<typeof recordOffsets>): number {
  let ok = 0
  const {start, cap, orig, n} = recs
  for (let i = 0; i < n; i++) {
    if (eng.rewriteForward(file, 1, cap[i], orig[i], start[i], i + 1).status === 'ok') ok++
  }
  return ok
}

const fmt = (pps: number) => `${(pps / 1e6).toFixed(2)} M packets/s`
const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9
/** CPU seconds (user + system) of this process since c0: steadier than wall time on a loaded machine. */
const cpuSecs = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / 1e6
}

function main(): void {
  mkdirSync(dir, {recursive: true})
  const input = join(dir, 'in.pcap')
  const ours = join(dir, 'ours.pcap')
  const theirs = join(dir, 'tcprewrite.pcap')
  let t0 = process.hrtime.bigint()
  const pool = buildPool()
  const frames: Uint8Array[] = new Array(N)
  for (let i = 0; i < N; i++) frames[i] = pool[i % POOL]
  writePcapFile(input, 1, frames)
  const orig = readFileSync(input)
  console.log(`built ${N} packets (${(orig.length / 1e6).toFixed(0)} MB, mean frame ${((orig.length - 24) / N - 16).toFixed(0)} B) in ${secs(t0).toFixed(1)} s: ${input}`)
  const recs = recordOffsets(orig)

  // In memory, in place; warm up on a copy first so the JIT has settled.
  const state = TranslationState.fromValues(VALUES)
  const warm = Buffer.from(orig)
  rewriteAll(new Engine(state), warm, recs)
  const runs: number[] = []
  const cpuRuns: number[] = []
  for (let k = 0; k < 3; k++) {
    const buf = Buffer.from(orig)
    t0 = process.hrtime.bigint()
    const c0 = process.cpuUsage()
    const ok = rewriteAll(new Engine(state), buf, recs)
    runs.push(secs(t0))
    cpuRuns.push(cpuSecs(c0))
    if (ok !== N) throw new Error(`only ${ok} of ${N} rewritten`)
  }
  const memBest = Math.min(...runs)
  const memCpu = Math.min(...cpuRuns)
  console.log(`engine forward, in memory:           ${fmt(N / memBest)} wall, ${fmt(N / memCpu)} CPU (best of 3: ${runs.map((s) => s.toFixed(3)).join(' / ')} s wall)`)

  {
    const buf = Buffer.from(orig)
    t0 = process.hrtime.bigint()
    rewriteAll(new Engine(state, {verify: true}), buf, recs)
    const s = secs(t0)
    console.log(`engine forward, in memory, verify:   ${fmt(N / s)} (${s.toFixed(3)} s)`)
  }

  // End to end: file → file, streaming as the replayer does: our reader hands
  // each record over in its 1 MiB chunk buffer, the engine rewrites it in
  // place there, our writer appends it. Constant memory, no whole-file buffers.
  t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  const parts: string[] = []
  {
    const eng = new Engine(state)
    const w = PcapWriter.open(ours, {linkType: 1})
    let ok = 0
    readCaptureSync(input, {
      onPacket: (r) => {
        if (eng.rewriteForward(r.buffer, r.linkType, r.capLen, r.origLen, r.dataOffset, r.index).status === 'ok') ok++
        w.writePacket(r.tsSec, r.tsNsec, r.data, r.origLen)
      },
    })
    w.close()
    if (ok !== N) throw new Error(`file -> file: only ${ok} of ${N} rewritten`)
    parts.push('streaming read + rewrite + write')
  }
  const e2e = secs(t0)
  const e2eCpu = cpuSecs(c0)
  console.log(`engine forward, file -> file:        ${fmt(N / e2e)} wall, ${fmt(N / e2eCpu)} CPU (${e2e.toFixed(3)} s wall, ${e2eCpu.toFixed(3)} s CPU: ${parts.join(', ')})`)

  // tcprewrite, same file. The shell's `times` reports the child's CPU time.
  const cmd = `tcprewrite --dstipmap=${CONN.vip}/32:${CONN.baddr}/32 --fixcsum -i ${input} -o ${theirs}`
  console.log(`running: ${cmd}`)
  t0 = process.hrtime.bigint()
  const p = spawnSync('sh', ['-c', `${cmd} && times`], {encoding: 'utf8'})
  const tr = secs(t0)
  if (p.status !== 0) {
    console.log(`tcprewrite failed (${p.status}): ${p.stderr || p.error}`)
    return
  }
  // Second line of `times`: children's user and system time, e.g. "0m6.123s 0m0.456s".
  const child = (p.stdout.trim().split('\n').pop() ?? '').match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/)
  const trCpu = child ? Number(child[1]) * 60 + Number(child[2]) + Number(child[3]) * 60 + Number(child[4]) : NaN
  console.log(`tcprewrite --dstipmap --fixcsum:     ${fmt(N / tr)} wall, ${fmt(N / trCpu)} CPU (${tr.toFixed(3)} s wall, ${trCpu.toFixed(3)} s CPU)`)
  console.log(`ratio, engine in memory / tcprewrite:  ${(tr / memBest).toFixed(1)}x wall, ${(trCpu / memCpu).toFixed(1)}x CPU`)
  console.log(`ratio, engine file->file / tcprewrite: ${(tr / e2e).toFixed(1)}x wall, ${(trCpu / e2eCpu).toFixed(1)}x CPU`)

  // Untimed: the pure address change must give tcprewrite's bytes exactly.
  {
    const buf = readFileSync(input)
    const pure = TranslationState.fromValues({...CONN, delta: 0, tau: 0})
    const ok = rewriteAll(new Engine(pure), buf, recordOffsets(buf))
    const t = readFileSync(theirs)
    const same = ok === N && t.length === buf.length && Buffer.compare(buf.subarray(24), t.subarray(24)) === 0
    console.log(`check: Δ = τ = 0 output ${same ? 'IDENTICAL to' : 'DIFFERS from'} tcprewrite's past the file header (${ok} rewritten)`)
  }
  if (process.env.KEEP_BENCH_FILES === undefined) rmSync(dir, {recursive: true, force: true})
}

main()
