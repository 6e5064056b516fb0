// Benchmarks for the capture layer and `inspect` (run on demand with
// `npm run bench`; never part of the tests). Prints, in one run:
//  - our streaming reader against a minimal JS pcap record walk (aim ≥ 60 %),
//  - `handoff inspect` against `tcpdump -r F -w /dev/null` (aim ≥ 0.7×).
// Each figure is the best of BENCH_RUNS rounds (default 3).
import {execFileSync, spawnSync} from 'node:child_process'
import {closeSync, openSync, readSync} from 'node:fs'

import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {cliBin} from '../support/env.js'
import {benchTrace} from './trace.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const PACKETS = Number(process.env.BENCH_PACKETS ?? 2_000_000)

/** The least a JS reader can do: read 1 MiB chunks, hop from record header to record header. */
function minimalWalk(path: string): number {
  const fd = openSync(path, 'r')
  const buf = Buffer.alloc(1 << 20)
  let carry = 0
  let packets = 0
  let pos = 24
  let fileOff = 0
  for (;;) {
    const n = readSync(fd, buf, carry, buf.length - carry, fileOff)
    if (n === 0) break
    fileOff += n
    const end = carry + n
    while (pos + 16 <= end) {
      const cap = buf.readUInt32LE(pos + 8)
      if (pos + 16 + cap > end) break
      packets++
      pos += 16 + cap
    }
    buf.copy(buf, 0, pos, end)
    carry = end - pos
    pos = 0
  }
  closeSync(fd)
  return packets
}

function ourReader(path: string): number {
  let packets = 0
  readCaptureSync(path, {onPacket: () => { packets++ }})
  return packets
}

function ourReaderAndDecoder(path: string): number {
  const d = new PacketDecoder()
  let tcp = 0
  readCaptureSync(path, {onPacket: (r) => { if (d.decode(r.linkType, r.data, r.capLen, r.origLen).transport === 'tcp') tcp++ }})
  return tcp
}

function command(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'ignore', 'pipe']})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return 0
}

function fmt(sec: number, packets: number): string {
  return `${sec.toFixed(3).padStart(8)} s  ${(packets / sec / 1e6).toFixed(2).padStart(6)} M packets/s`
}

const trace = benchTrace(PACKETS)
console.log(`trace: ${trace.path}: ${trace.packets.toLocaleString('en')} packets, ${(trace.bytes / 1e6).toFixed(0)} MB (best of ${RUNS} runs each)`)
minimalWalk(trace.path) // warm the page cache

// This machine's page cache is not steady: the same read loop varies several
// times over between runs. So each round runs every reader once, back to
// back, and each keeps its best round.
const walk = {sec: Infinity, result: 0}
const reader = {sec: Infinity, result: 0}
const decode = {sec: Infinity, result: 0}
for (let i = 0; i < RUNS; i++) {
  for (const [m, fn] of [[walk, minimalWalk], [reader, ourReader], [decode, ourReaderAndDecoder]] as const) {
    const t0 = process.hrtime.bigint()
    m.result = fn(trace.path)
    m.sec = Math.min(m.sec, Number(process.hrtime.bigint() - t0) / 1e9)
  }
}
if (walk.result !== trace.packets || reader.result !== trace.packets) throw new Error(`packet counts differ: walk ${walk.result}, reader ${reader.result}, expected ${trace.packets}`)
console.log(`minimal JS record walk         ${fmt(walk.sec, trace.packets)}`)
console.log(`handoff reader                 ${fmt(reader.sec, trace.packets)}   = ${(100 * walk.sec / reader.sec).toFixed(0)} % of the minimal walk (aim ≥ 60 %)`)
console.log(`handoff reader + decoder       ${fmt(decode.sec, trace.packets)}   = ${(100 * walk.sec / decode.sec).toFixed(0)} % of the minimal walk`)

let tcpdumpVersion = ''
try { tcpdumpVersion = execFileSync('tcpdump', ['--version'], {encoding: 'utf8'}).split('\n')[0] } catch { /* absent */ }
if (tcpdumpVersion === '') {
  console.log('tcpdump not installed: inspect ratio not measured')
} else {
  const td = {sec: Infinity, result: 0}
  const insp = {sec: Infinity, result: 0}
  const inspJson = {sec: Infinity, result: 0}
  const inspNoVerify = {sec: Infinity, result: 0}
  const runs: [typeof td, string, string[]][] = [
    [td, 'tcpdump', ['-r', trace.path, '-w', '/dev/null']],
    [insp, process.execPath, [cliBin, 'inspect', trace.path]],
    [inspJson, process.execPath, [cliBin, 'inspect', trace.path, '--json']],
    [inspNoVerify, process.execPath, [cliBin, 'inspect', trace.path, '--no-verify']],
  ]
  for (let i = 0; i < RUNS; i++) {
    for (const [m, cmd, args] of runs) {
      const t0 = process.hrtime.bigint()
      command(cmd, args)
      m.sec = Math.min(m.sec, Number(process.hrtime.bigint() - t0) / 1e9)
    }
  }
  console.log(`tcpdump -r F -w /dev/null      ${fmt(td.sec, trace.packets)}   (${tcpdumpVersion})`)
  console.log(`handoff inspect F              ${fmt(insp.sec, trace.packets)}   = ${(td.sec / insp.sec).toFixed(2)}× tcpdump's pass-through (aim ≥ 0.7×)`)
  console.log(`handoff inspect F --json       ${fmt(inspJson.sec, trace.packets)}   = ${(td.sec / inspJson.sec).toFixed(2)}× (every conversation in the JSON)`)
  console.log(`handoff inspect --no-verify    ${fmt(inspNoVerify.sec, trace.packets)}   = ${(td.sec / inspNoVerify.sec).toFixed(2)}× (checksums not verified)`)
  const start = {sec: Infinity, result: 0}
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint()
    command(process.execPath, [cliBin, '--version'])
    start.sec = Math.min(start.sec, Number(process.hrtime.bigint() - t0) / 1e9)
  }
  console.log(`(of which CLI start-up: ${start.sec.toFixed(3)} s, measured as handoff --version)`)
}

